"""An existing environment's files, as far as no stub can tell them: its layout, its ``bin/`` names, its metadata.

Which base interpreter an environment runs, and through which ``pyvenv.cfg``, is the stub's decision alone (contract
rules 2 and 3): :mod:`virtualenv_symlink_safe.decision` asks it. What is left here is what the stub does not decide:
whether a folder has a virtual environment's layout, which names in ``bin/`` are interpreters, whether a file is a
stub, and the implementation and version ``pyvenv.cfg`` records. Nothing here imports virtualenv or starts a program.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import ForeignLayout, NotAnEnvironment
from .names import is_interpreter_name

#: The string every stub carries in an ELF note within its first ``STUB_HEAD`` bytes (``src/stub/stub.c``).
STUB_MARKER = b"virtualenv-symlink-safe stub marker 1"
STUB_HEAD = 4096
#: The stub's own bounds (rules 2.5, 3.3 and 3.4), as ``src/stub/stub.c`` defines them.
MAX_STUB_SIZE = 4 * 1024 * 1024
MAX_CFG_SIZE = 1024 * 1024
MAX_LINK_STEPS = 40
MAX_NESTING = 8

_MAJOR_MINOR = re.compile(r"(\d+)\.(\d+)")


@dataclass(frozen=True)
class Environment:
    """An environment on disk with a ``pyvenv.cfg`` and a ``bin/`` folder."""

    path: Path
    """The environment's folder, absolute but not resolved: links in it are the user's to name."""
    keys: dict[str, str]
    """``pyvenv.cfg``: the first value of each key, keys in lower case."""

    @property
    def bin_dir(self) -> Path:
        """The ``bin/`` folder."""
        return self.path / "bin"

    @property
    def cfg(self) -> Path:
        """The ``pyvenv.cfg`` file."""
        return self.path / "pyvenv.cfg"

    def interpreter_names(self) -> list[str]:
        """List the interpreter names in ``bin/``, ``python`` first, then in name order.

        :returns: the names present, whatever they are now

        """
        names = sorted(entry.name for entry in self.bin_dir.iterdir() if is_interpreter_name(entry.name))
        return sorted(names, key=lambda name: name != "python")

    def facts(self, base: Path) -> tuple[str, tuple[int, int]] | None:
        """Tell the implementation and language version of ``base``, from ``pyvenv.cfg`` or else the base's file name.

        :param base: the base interpreter the stub runs

        :returns: e.g. ``("CPython", (3, 12))``, or ``None`` when neither tells the version

        """
        real = Path(os.path.realpath(base)).name
        implementation = self.keys.get("implementation") or ("PyPy" if real.startswith("pypy") else "CPython")
        implementation = {"cpython": "CPython", "pypy": "PyPy"}.get(implementation.lower(), implementation)
        named = re.search(r"\d.*", real)
        for text in (self.keys.get("version_info", ""), self.keys.get("version", ""), named[0] if named else ""):
            if (version := major_minor(text)) is not None:
                return implementation, version
        return None


def major_minor(text: str) -> tuple[int, int] | None:
    """Read the ``X.Y`` a text starts with, as ``pyvenv.cfg`` gives versions (``3.12.1``, ``3.13.0.final.0``).

    :param text: the text

    :returns: the major and minor version, ``None`` when the text does not start with ``X.Y``

    """
    if (match := _MAJOR_MINOR.match(text)) is None:
        return None
    return int(match[1]), int(match[2])


def open_environment(path: str | os.PathLike[str]) -> Environment:
    """Check that ``path`` is a virtual environment of the POSIX layout, and read its ``pyvenv.cfg``.

    :param path: the environment's folder

    :returns: the environment

    :raises NotAnEnvironment: when it is not one
    :raises ForeignLayout: when it is a conda environment or has the Windows layout

    """
    folder = Path(path).absolute()
    if not folder.exists():
        msg = f"{folder} does not exist"
        raise NotAnEnvironment(msg)
    if not folder.is_dir():
        msg = f"{folder} is not a folder; name the environment's folder, not a file in it"
        raise NotAnEnvironment(msg)
    if not (folder / "pyvenv.cfg").is_file():
        if (folder / "conda-meta").is_dir():
            msg = f"{folder} is a conda environment, not a virtual environment (no pyvenv.cfg); conda is not served"
            raise ForeignLayout(msg)
        msg = f"{folder} is not a virtual environment: it has no pyvenv.cfg"
        raise NotAnEnvironment(msg)
    if not (folder / "bin").is_dir():
        if (folder / "Scripts").is_dir():
            msg = f"{folder} has the Windows layout (Scripts/ instead of bin/), which the stub does not serve"
            raise ForeignLayout(msg)
        msg = f"{folder} is not a virtual environment: it has no bin/ folder"
        raise NotAnEnvironment(msg)
    try:
        keys = read_cfg(folder / "pyvenv.cfg")
    except ValueError as exception:
        raise NotAnEnvironment(str(exception)) from None
    return Environment(folder, keys)


def read_cfg(cfg: str | os.PathLike[str]) -> dict[str, str]:
    """Read ``pyvenv.cfg`` for its metadata, with the stub's bound on its size.

    :param cfg: the file

    :returns: the first value of each key, keys lower case

    :raises ValueError: when the file is unreadable, not a regular file, larger than 1 MiB or holds NUL bytes

    """
    try:
        data = _read_bounded(cfg, MAX_CFG_SIZE + 1)
    except OSError as exception:
        msg = f"cannot read {cfg}: {exception.strerror}"
        raise ValueError(msg) from None
    if data is None:
        msg = f"pyvenv.cfg is not a regular file: {cfg}"
        raise ValueError(msg)
    if len(data) > MAX_CFG_SIZE:
        msg = f"pyvenv.cfg larger than 1 MiB: {cfg}"
        raise ValueError(msg)
    if b"\0" in data:
        msg = f"pyvenv.cfg is not text (it holds NUL bytes): {cfg}"
        raise ValueError(msg)
    keys: dict[str, str] = {}
    for line in data.decode("utf-8", "surrogateescape").split("\n"):  # "\n" alone ends a line, as for the stub
        key, sep, value = line.partition("=")
        if sep:
            keys.setdefault(key.strip().lower(), value.strip())
    return keys


def _read_bounded(path: str | os.PathLike[str], size: int) -> bytes | None:
    """Read at most ``size`` bytes of a regular file (after links); ``None`` for anything else, without waiting."""
    # O_NONBLOCK: a FIFO put in a file's place must not hang the command; only regular files are read.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return file.read(size)


def is_stub(path: Path) -> bool:
    """Tell whether a file (after symlinks) is a stub of any plugin version, as the stub tells it (rule 3.3).

    :param path: the file

    :returns: ``True`` for a stub

    """
    try:
        if path.stat().st_size > MAX_STUB_SIZE:
            return False
        head = _read_bounded(path, STUB_HEAD)
    except OSError:
        return False
    return head is not None and STUB_MARKER in head


def is_executable_file(path: Path) -> bool:
    """Tell whether ``path`` is an executable regular file after symlinks, as rule 3.2 asks of a base.

    :param path: the file

    :returns: ``True`` when it can be run

    """
    try:
        return path.is_file() and os.access(path, os.X_OK)
    except OSError:
        return False


__all__ = [
    "Environment",
    "NotAnEnvironment",
    "is_executable_file",
    "is_interpreter_name",
    "is_stub",
    "major_minor",
    "open_environment",
    "read_cfg",
]
