"""An existing environment read as the stub reads it: its ``pyvenv.cfg``, its base interpreter, its ``bin/`` names.

Nothing here imports virtualenv or starts an interpreter: the ``virtualenv-symlink-safe`` command judges an
environment from its files alone, so converting one costs little more than starting Python once. For the same reason
it imports nothing a bare start has not loaded: paths are strings handled by ``os.path`` (``pathlib`` and the ``re``
it needs took half a start to import), names and versions are read by hand, the classes are written out rather than
made by ``dataclasses``, and ``typing`` is read only by type checkers.
"""

from __future__ import annotations

import os
import stat

from .names import is_interpreter_name

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import ClassVar

#: The string every stub carries in an ELF note within its first ``STUB_HEAD`` bytes (``src/stub/stub.c``).
STUB_MARKER = b"virtualenv-symlink-safe stub marker 1"
STUB_HEAD = 4096
#: Bounds the stub itself uses (rules 2.5, 3.3 and 3.4).
MAX_STUB_SIZE = 4 * 1024 * 1024
MAX_CFG_SIZE = 1024 * 1024
MAX_LINK_STEPS = 40
MAX_NESTING = 8


class Refused(Exception):  # noqa: N818  # a refusal, reported in one line with its status, is not an error of ours
    """An environment the command cannot work on; ``status`` is the command's exit status for it."""

    status: ClassVar[int] = 1


class NotAnEnvironment(Refused):
    """The path is not a virtual environment: missing, not a folder, no ``pyvenv.cfg``, or a broken one."""

    status = 3


class ForeignLayout(Refused):
    """A conda environment or a Windows layout (``Scripts/``): no ``bin/python`` the stub could stand in for."""

    status = 4


class BaseUnusable(Refused):
    """``pyvenv.cfg`` leads to no usable base interpreter (contract rules 3.1 to 3.3)."""

    status = 5


class Unserved(Refused):
    """The base interpreter is one the stub cannot serve: the creator's refusal reasons, ELF mismatch included."""

    status = 6


class NotWritable(Refused):
    """``bin/`` (or the folder holding the destination lock) cannot be written."""

    status = 7


class Unfinished(Refused):
    """A creation of the environment was interrupted: its files are not to be trusted."""

    status = 8


class Base:
    """The base interpreter the stub would run for an environment.

    :param path: the path as ``pyvenv.cfg`` gives it (or ``home`` joined with a name)
    :param key: the key it came from: ``base-executable``, ``executable`` or ``home``
    :param cfg: the ``pyvenv.cfg`` that named it: the environment's own, or a further one when bases were stubs
    :param through: stubs met as bases on the way (rule 3.3), in order

    """

    __slots__ = ("cfg", "key", "path", "through")

    def __init__(self, path: str, key: str, cfg: str, through: tuple[str, ...] = ()) -> None:
        self.path = path
        self.key = key
        self.cfg = cfg
        self.through = through


class Environment:
    """An environment on disk with a ``pyvenv.cfg`` and a ``bin/`` folder.

    :param path: the environment's folder, absolute but not resolved
    :param keys: ``pyvenv.cfg`` read as CPython and the stub read it: the first value of each key, keys lower case

    """

    __slots__ = ("keys", "path")

    def __init__(self, path: str, keys: dict[str, str]) -> None:
        self.path = path
        self.keys = keys

    @property
    def bin_dir(self) -> str:
        """The ``bin/`` folder."""
        return os.path.join(self.path, "bin")

    @property
    def cfg(self) -> str:
        """The ``pyvenv.cfg`` file."""
        return os.path.join(self.path, "pyvenv.cfg")

    def interpreter_names(self) -> list[str]:
        """List the interpreter names in ``bin/``, ``python`` first, then in name order.

        :returns: the names present, whatever they are now

        """
        names = sorted(entry.name for entry in os.scandir(self.bin_dir) if is_interpreter_name(entry.name))
        return sorted(names, key=lambda name: name != "python")

    def base(self) -> Base:
        """Find the base interpreter as the stub does (contract rules 3.1 to 3.3).

        :returns: the base interpreter

        :raises BaseUnusable: when the stub would fail to find a usable one

        """
        return find_base(self.cfg, self.keys)


def major_minor(text: str) -> tuple[int, int] | None:
    """Read the ``X.Y`` a text starts with, as ``pyvenv.cfg`` gives versions (``3.12.1``, ``3.13.0.final.0``).

    :param text: the text

    :returns: the major and minor version, ``None`` when the text does not start with ``X.Y``

    """
    major = _leading_digits(text)
    minor = _leading_digits(text[len(major) + 1 :])
    if major and minor and text[len(major)] == ".":
        return int(major), int(minor)
    return None


def _leading_digits(text: str) -> str:
    end = 0
    while end < len(text) and text[end].isdecimal():
        end += 1
    return text[:end]


def open_environment(path: str | os.PathLike[str]) -> Environment:
    """Check that ``path`` is a virtual environment of the POSIX layout, and read its ``pyvenv.cfg``.

    :param path: the environment's folder

    :returns: the environment

    :raises NotAnEnvironment: when it is not one
    :raises ForeignLayout: when it is a conda environment or has the Windows layout

    """
    path = os.path.abspath(path)
    if not os.path.exists(path):
        msg = f"{path} does not exist"
        raise NotAnEnvironment(msg)
    if not os.path.isdir(path):
        msg = f"{path} is not a folder; name the environment's folder, not a file in it"
        raise NotAnEnvironment(msg)
    cfg = os.path.join(path, "pyvenv.cfg")
    if not os.path.isfile(cfg):
        if os.path.isdir(os.path.join(path, "conda-meta")):
            msg = f"{path} is a conda environment, not a virtual environment (no pyvenv.cfg); conda is not served"
            raise ForeignLayout(msg)
        msg = f"{path} is not a virtual environment: it has no pyvenv.cfg"
        raise NotAnEnvironment(msg)
    if not os.path.isdir(os.path.join(path, "bin")):
        if os.path.isdir(os.path.join(path, "Scripts")):
            msg = f"{path} has the Windows layout (Scripts/ instead of bin/), which the stub does not serve"
            raise ForeignLayout(msg)
        msg = f"{path} is not a virtual environment: it has no bin/ folder"
        raise NotAnEnvironment(msg)
    try:
        keys = read_cfg(cfg)
    except ValueError as exception:
        raise NotAnEnvironment(str(exception)) from None
    return Environment(path, keys)


def read_cfg(cfg: str) -> dict[str, str]:
    """Read ``pyvenv.cfg`` as the stub does (rules 3.1 and 3.4).

    :param cfg: the file

    :returns: the first value of each key, keys lower case

    :raises ValueError: when the file is unreadable, larger than 1 MiB or holds NUL bytes

    """
    try:
        with open(cfg, "rb") as file:
            data = file.read(MAX_CFG_SIZE + 1)
    except OSError as exception:
        msg = f"cannot read {cfg}: {exception.strerror}"
        raise ValueError(msg) from None
    if len(data) > MAX_CFG_SIZE:
        msg = f"pyvenv.cfg larger than 1 MiB: {cfg}"
        raise ValueError(msg)
    if b"\0" in data:
        msg = f"pyvenv.cfg is not text (it holds NUL bytes): {cfg}"
        raise ValueError(msg)
    keys: dict[str, str] = {}
    for line in data.decode("utf-8", "surrogateescape").split("\n"):
        key, sep, value = line.partition("=")
        if sep:
            keys.setdefault(key.strip().lower(), value.strip())  # Unicode white space, as the stub and CPython
    return keys


def is_stub(path: str | os.PathLike[str]) -> bool:
    """Tell whether a file (after symlinks) is a stub of any plugin version, as the stub tells it (rule 3.3).

    :param path: the file

    :returns: ``True`` for a stub

    """
    try:
        with open(path, "rb") as file:  # str or Path alike
            if os.fstat(file.fileno()).st_size > MAX_STUB_SIZE:
                return False
            head = file.read(STUB_HEAD)
    except OSError:
        return False
    return STUB_MARKER in head


def is_executable_file(path: str) -> bool:
    """Tell whether ``path`` is an executable regular file after symlinks, as rule 3.2 asks of a base.

    :param path: the file

    :returns: ``True`` when it can be run

    """
    try:
        info = os.stat(path)  # one call, no Path object
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and os.access(path, os.X_OK)


def _version(keys: dict[str, str]) -> tuple[int, int] | None:
    for key in ("version_info", "version"):
        if (version := major_minor(keys.get(key, ""))) is not None:
            return version
    return None


def _base_in_home(keys: dict[str, str]) -> str | None:
    stem = "pypy" if keys.get("implementation", "").lower() == "pypy" else "python"
    names = [f"{stem}3", stem]
    if (version := _version(keys)) is not None:
        names.insert(0, f"{stem}{version[0]}.{version[1]}")
    for name in names:
        if is_executable_file(candidate := os.path.join(keys["home"], name)):
            return candidate
    return None


def _base_named(cfg: str, keys: dict[str, str]) -> tuple[str, str]:
    """Rules 3.1 and 3.2 for one ``pyvenv.cfg``: the key and the usable path it names."""
    for key in ("base-executable", "executable"):
        if key in keys:
            value = keys[key]
            if not is_executable_file(value):
                why = "does not exist" if not os.path.lexists(value) else "is not an executable file"
                msg = f"the base interpreter from {key!r} in {cfg} {why}: {value}"
                raise BaseUnusable(msg)
            return key, value
    if "home" in keys:
        if (found := _base_in_home(keys)) is None:
            msg = f"no python interpreter in 'home' of {cfg}: {keys['home']}"
            raise BaseUnusable(msg)
        return "home", found
    msg = f"no base-executable, executable or home key in {cfg}"
    raise BaseUnusable(msg)


def find_base(cfg: str, keys: dict[str, str]) -> Base:
    """Find the base interpreter named by ``pyvenv.cfg``, going on through stubs met as bases (rules 3.1-3.3).

    :param cfg: the environment's ``pyvenv.cfg``
    :param keys: its keys, from :func:`read_cfg`

    :returns: the base interpreter, never a stub

    :raises BaseUnusable: when the stub would fail to find a usable one

    """
    through: list[str] = []
    seen = [os.stat(cfg)]
    for _ in range(MAX_NESTING + 1):
        key, path = _base_named(cfg, keys)
        if not is_stub(path):
            return Base(path, key, cfg, tuple(through))
        through.append(path)
        found = find_cfg(os.path.abspath(path))
        if found is None:
            msg = f"the base interpreter {path} named in {cfg} is a stub outside any environment"
            raise BaseUnusable(msg)
        cfg = found[0]
        info = os.stat(cfg)
        if any(os.path.samestat(info, earlier) for earlier in seen):
            msg = f"environments whose bases lead back to each other, at {cfg}"
            raise BaseUnusable(msg)
        seen.append(info)
        try:
            keys = read_cfg(cfg)
        except ValueError as exception:
            raise BaseUnusable(str(exception)) from None
    msg = f"environments nested more than {MAX_NESTING} deep, at {cfg}"
    raise BaseUnusable(msg)


def same_file(a: str, b: str) -> bool:
    """Tell whether two paths lead to one file; ``False`` when either cannot be reached."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _cfg_beside(directory: str) -> str | None:
    for folder in (os.path.dirname(directory), directory):  # the parent first, as CPython looks
        if os.path.isfile(candidate := os.path.join(folder, "pyvenv.cfg")):
            return candidate
    return None


def find_cfg(path: str) -> tuple[str, str, list[str]] | None:
    """Walk from ``path`` to the first environment met, as the stub does (rules 2.1 to 2.3, without 2.6).

    :param path: an absolute path, the first step

    :returns: the ``pyvenv.cfg`` found, the venv path it gives, and the links followed; ``None`` when none is met

    """
    step, followed = path, list[str]()
    for _ in range(MAX_LINK_STEPS + 1):
        lexical = os.path.normpath(step)
        if (lexical == step or same_file(lexical, step)) and (cfg := _cfg_beside(os.path.dirname(lexical))):
            return cfg, lexical, followed
        real = os.path.realpath(os.path.dirname(step))
        if cfg := _cfg_beside(real):
            return cfg, os.path.join(real, os.path.basename(step)), followed
        if not os.path.islink(step):
            return None
        target = os.readlink(step)
        step = os.path.join(real, target)  # an absolute target replaces the folder
        followed.append(step)
    return None


__all__ = [
    "Base",
    "BaseUnusable",
    "Environment",
    "ForeignLayout",
    "NotAnEnvironment",
    "NotWritable",
    "Refused",
    "Unfinished",
    "Unserved",
    "find_base",
    "find_cfg",
    "is_executable_file",
    "is_interpreter_name",
    "is_stub",
    "major_minor",
    "open_environment",
    "read_cfg",
    "same_file",
]
