"""Make an interpreter installation symlink-safe (``convert PREFIX``), or plain again (``revert PREFIX``).

An installation is a folder with no ``pyvenv.cfg`` whose ``bin/`` holds a real interpreter (``python3.12``): a pyenv
version, a uv-managed Python, a python-build-standalone tree, a ``/usr/local`` build. ``convert`` gives each real
interpreter file in ``bin/`` a second name beside it, its *companion* ``.python3.12.symlink-safe-real`` (a hard link:
the same file, in the same folder, so ``$ORIGIN`` and CPython's search for its prefix are unchanged), then puts a copy
of the stub in its place in one ``rename``: the *launcher* (contract rule 10). ``revert`` renames each companion back
over its name: the very file that was there, its bytes, mode and times.

At every instant each name is the real interpreter or a launcher whose companion exists, so a run killed anywhere
leaves a working interpreter, and running the command again finishes. Both hold a lock in the prefix, as a creation
holds one in its destination, and remove it again when they made it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .environment import STUB_HEAD, STUB_MARKER, major_minor
from .errors import ChangeFailed, NotAnEnvironment, NotWritable, Refused, Status, Unserved
from .names import is_interpreter_name
from .stub import (
    link_made,
    open_folder,
    remove_stale_temporaries,
    stub_copy_made,
    stub_resource,
    temporaries,
)

if TYPE_CHECKING:
    from collections.abc import Callable

#: A launcher's companion is ``.NAME`` and this, beside it (contract rule 10.1; the stub's ``COMPANION_SUFFIX``).
COMPANION_SUFFIX = ".symlink-safe-real"
#: How long a package manager's query may take before the command gives up asking.
QUERY_TIMEOUT = 60


class PackageManaged(Refused):
    """A file ``convert`` would change belongs to a package manager (dpkg, rpm): it is the manager's to change."""

    status = Status.PACKAGE_MANAGED


class NotYours(Refused):
    """The installation, or a file in it, belongs to another user than the one running the command."""

    status = Status.NOT_YOURS


def companion_name(name: str) -> str:
    """Give the companion's name of the interpreter name ``name``: ``python3.12`` -> ``.python3.12.symlink-safe-real``.

    :param name: an interpreter's file name

    :returns: the companion's file name

    """
    return f".{name}{COMPANION_SUFFIX}"


def is_installation(path: str | os.PathLike[str]) -> bool:
    """Tell whether ``path`` is an interpreter installation's prefix, converted or not, rather than an environment.

    :param path: a folder

    :returns: ``True`` for a folder without ``pyvenv.cfg`` whose ``bin/`` holds an interpreter file or a companion

    """
    folder = Path(path)
    if os.path.lexists(folder / "pyvenv.cfg") or not (folder / "bin").is_dir():
        return False
    try:
        entries = list(os.scandir(folder / "bin"))
    except OSError:
        return False
    return any(_interpreter_file(entry) or _is_companion(entry.name) for entry in entries)


def _is_companion(name: str) -> bool:
    return (
        name.startswith(".")
        and name.endswith(COMPANION_SUFFIX)
        and is_interpreter_name(name[1 : -len(COMPANION_SUFFIX)])
    )


def _interpreter_file(entry: os.DirEntry[str]) -> bool:
    return is_interpreter_name(entry.name) and entry.is_file(follow_symlinks=False)


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(STUB_HEAD)
    except OSError:
        return b""


@dataclass
class InstallationPlan:
    """What ``convert`` or ``revert`` does to one installation."""

    prefix: Path
    """The installation's prefix, as named."""
    changes: dict[str, str] = field(default_factory=dict)
    """Each interpreter name to change, with what it is now."""
    keep: list[str] = field(default_factory=list)
    """Names already as wanted."""
    unknown: dict[str, str] = field(default_factory=dict)
    """Names left alone, with why."""

    @property
    def bin_dir(self) -> Path:
        """The installation's ``bin/``."""
        return self.prefix / "bin"

    @property
    def changed(self) -> bool:
        """Whether there is anything to do."""
        return bool(self.changes)


@dataclass(frozen=True)
class InstallationOutcome:
    """What happened to one installation."""

    plan: InstallationPlan
    """What was decided."""
    done: bool
    """Whether files were changed."""


def _state(bin_dir: Path, name: str) -> tuple[str, str]:
    """Say what ``bin/name`` is: ``real``, ``launcher``, ``half`` or ``stale`` (a real name, a companion), ``other``."""
    path, companion = bin_dir / name, bin_dir / companion_name(name)
    head = _head(path)
    has_companion = companion.is_file() and not companion.is_symlink()
    if STUB_MARKER in head:
        if has_companion:
            return "launcher", "a launcher"
        return "other", "a stub without its companion " + companion.name
    if not head.startswith(b"\x7fELF"):
        return "other", "not an ELF program"
    if has_companion and path.samefile(companion):
        return "half", f"the interpreter, its companion {companion.name} made by an interrupted run"
    if has_companion:  # the interpreter was installed again over its launcher
        return "stale", f"the interpreter, {companion.name} beside it an older one"
    return "real", "the interpreter"


def _names(bin_dir: Path) -> list[str]:
    """List the interpreter names in ``bin/`` that are files, not links: those that are, or were, an interpreter."""
    with os.scandir(bin_dir) as entries:
        listed = list(entries)
    names = {entry.name for entry in listed if _interpreter_file(entry)}
    names |= {entry.name[1 : -len(COMPANION_SUFFIX)] for entry in listed if _is_companion(entry.name)}
    return sorted(name for name in names if os.path.lexists(bin_dir / name) and not (bin_dir / name).is_symlink())


def plan_convert(prefix: Path) -> InstallationPlan:
    """Decide what ``convert`` does to the installation at ``prefix``, changing nothing.

    :param prefix: the installation's prefix

    :returns: the plan

    :raises Refused: when the installation is not the user's to change, or not one the stub can serve

    """
    plan = InstallationPlan(prefix)
    ours = stub_resource().read_bytes() if stub_resource().is_file() else b""
    for name in _names(plan.bin_dir):
        state, what = _state(plan.bin_dir, name)
        if state == "launcher" and (plan.bin_dir / name).read_bytes() == ours:
            plan.keep.append(name)
        elif state in {"real", "half", "stale", "launcher"}:
            plan.changes[name] = what if state != "launcher" else "the launcher of another version"
        else:
            plan.unknown[name] = what
    if not plan.changes and not plan.keep and not plan.unknown:
        msg = f"{prefix}: bin/ holds no interpreter file (python3.X, pypy3.X): not an interpreter installation"
        raise NotAnEnvironment(msg)
    _check_ours(plan)
    for name in plan.changes:
        path = plan.bin_dir / name
        _check_served(path, path if STUB_MARKER not in _head(path) else plan.bin_dir / companion_name(name))
    return plan


def plan_revert(prefix: Path) -> InstallationPlan:
    """Decide what ``revert`` does to the installation at ``prefix``, changing nothing.

    :param prefix: the installation's prefix

    :returns: the plan

    :raises Refused: when the installation is not the user's to change

    """
    plan = InstallationPlan(prefix)
    for name in _names(plan.bin_dir):
        state, what = _state(plan.bin_dir, name)
        if state in {"launcher", "half", "stale"}:
            plan.changes[name] = what
        elif state == "real":
            plan.keep.append(name)
        else:
            plan.unknown[name] = what
    _check_ours(plan)
    return plan


def _check_served(path: Path, real: Path) -> None:
    from .refusals import refusal_reason_for  # noqa: PLC0415  # it reads the compiled stub's ELF header

    version = major_minor(path.name.removeprefix("pypy").removeprefix("python"))
    implementation = "PyPy" if path.name.startswith("pypy") else "CPython"
    if version is None:  # python3, pypy3: a build that names its interpreter file without the minor version
        version = (3, 99)
    reason = refusal_reason_for(implementation=implementation, version_info=version, executable=str(real))
    if reason is not None:
        msg = f"the stub cannot serve {path}: {reason}; nothing was changed"
        raise Unserved(msg)


def _check_ours(plan: InstallationPlan) -> None:
    """Refuse what is not the user's to change: another user's files, a package manager's, a read-only file system."""
    me = os.geteuid()
    paths = [plan.bin_dir, *(plan.bin_dir / name for name in plan.changes)]
    for path in paths:
        owner = path.lstat().st_uid
        if owner != me:
            msg = (
                f"{path} belongs to uid {owner}, not to uid {me} who runs this: an installation is changed only by "
                "its owner; nothing was changed"
            )
            raise NotYours(msg)
    for path in paths[1:]:
        if (manager := package_manager_of(path)) is not None:
            msg = f"{path} belongs to {manager}: change it through the package manager, not here; nothing was changed"
            raise PackageManaged(msg)
    if plan.changes and os.statvfs(plan.bin_dir).f_flag & os.ST_RDONLY:
        msg = f"{plan.bin_dir} is on a read-only file system; nothing was changed"
        raise NotWritable(msg)


def package_manager_of(path: Path) -> str | None:
    """Say which package manager's database lists ``path`` (as named, or resolved), asking dpkg and rpm themselves.

    :param path: a file

    :returns: ``the dpkg package NAME`` or ``the rpm package NAME``, or ``None`` when neither lists it

    """
    candidates = dict.fromkeys([str(path.absolute()), os.path.realpath(path)])
    for program, arguments in (("dpkg-query", ["-S", "--"]), ("rpm", ["-q", "--qf", "%{NAME}\\n", "-f", "--"])):
        if (found := shutil.which(program)) is None:
            continue
        for candidate in candidates:
            try:
                result = subprocess.run(  # the package manager's own query tool, found on PATH
                    [found, *arguments, candidate],
                    capture_output=True,
                    text=True,
                    timeout=QUERY_TIMEOUT,
                    check=False,
                    env={**os.environ, "LC_ALL": "C"},
                )
            except (OSError, subprocess.TimeoutExpired):
                continue
            if result.returncode == 0 and result.stdout.strip():
                owner = result.stdout.strip().splitlines()[0]
                name = owner.split(":")[0] if program == "dpkg-query" else owner
                return f"the {'dpkg' if program == 'dpkg-query' else 'rpm'} package {name}"
    return None


def convert_installation(path: str | os.PathLike[str], *, dry_run: bool = False) -> InstallationOutcome:
    """Make the interpreter installation at ``path`` symlink-safe: each interpreter file becomes a launcher.

    :param path: the installation's prefix
    :param dry_run: only decide, change nothing

    :returns: the outcome

    :raises Refused: when the installation cannot be converted; nothing was changed
    :raises ChangeFailed: when changing files failed part-way; every name still runs the interpreter

    """
    return _change(Path(path).absolute(), plan_convert, _apply_convert, dry_run=dry_run)


def revert_installation(path: str | os.PathLike[str], *, dry_run: bool = False) -> InstallationOutcome:
    """Make the interpreter installation at ``path`` plain again: each companion renamed back over its name.

    :param path: the installation's prefix
    :param dry_run: only decide, change nothing

    :returns: the outcome

    :raises Refused: when the installation cannot be reverted; nothing was changed
    :raises ChangeFailed: when changing files failed part-way; every name still runs the interpreter

    """
    return _change(Path(path).absolute(), plan_revert, _apply_revert, dry_run=dry_run)


def _change(
    prefix: Path,
    plan_for: Callable[[Path], InstallationPlan],
    apply: Callable[[InstallationPlan, int], None],
    *,
    dry_run: bool,
) -> InstallationOutcome:
    from .creation import LOCK_NAME, Creation, LockUnavailable  # noqa: PLC0415  # only when changing

    plan = plan_for(prefix)
    if dry_run or not plan.changed:
        return InstallationOutcome(plan, done=False)
    if not os.access(plan.bin_dir, os.W_OK | os.X_OK) or not os.access(prefix, os.W_OK | os.X_OK):
        msg = f"{plan.bin_dir} is not writable; nothing was changed"
        raise NotWritable(msg)
    dest = prefix.resolve()
    try:
        with Creation(dest, clear=False).held():
            try:
                plan = plan_for(prefix)  # decided again under the lock: another run may have finished meanwhile
                with open_folder(plan.bin_dir) as bin_fd:
                    remove_stale_temporaries(bin_fd)
                    if plan.changed:
                        apply(plan, bin_fd)
            except OSError as exception:
                where = f"{exception.filename}: " if exception.filename else ""
                msg = f"{prefix}: {where}{exception.strerror or exception}; run the command again to finish"
                raise ChangeFailed(msg) from None
            finally:  # an installation keeps no file of ours but launchers and companions; a waiter locks anew
                (dest / LOCK_NAME).unlink(missing_ok=True)
    except LockUnavailable as exception:
        raise NotWritable(str(exception)) from None
    return InstallationOutcome(plan, done=plan.changed)


def _apply_convert(plan: InstallationPlan, bin_fd: int) -> None:
    for name in plan.changes:
        companion = companion_name(name)
        info = os.stat(name, dir_fd=bin_fd, follow_symlinks=False)
        with temporaries(bin_fd) as made:
            if STUB_MARKER not in _head(plan.bin_dir / name):  # the name is the real file: give it its companion
                made.append(link := link_made(bin_fd, name))
                if not os.path.samestat(os.stat(link, dir_fd=bin_fd, follow_symlinks=False), info):
                    msg = f"{plan.bin_dir / name}: a copy was made where a hard link was needed; nothing was changed"
                    raise NotWritable(msg)
                os.replace(link, companion, src_dir_fd=bin_fd, dst_dir_fd=bin_fd)
                made.remove(link)
            made.append(stub := stub_copy_made(bin_fd))
            os.replace(stub, name, src_dir_fd=bin_fd, dst_dir_fd=bin_fd)
            made.remove(stub)


def _apply_revert(plan: InstallationPlan, bin_fd: int) -> None:
    for name in plan.changes:
        companion = companion_name(name)
        if STUB_MARKER in _head(plan.bin_dir / name):  # the launcher: its companion goes back in its place
            os.replace(companion, name, src_dir_fd=bin_fd, dst_dir_fd=bin_fd)
        else:  # the name is an interpreter (an interrupted convert, or one installed again): the companion goes
            os.unlink(companion, dir_fd=bin_fd)


__all__ = [
    "COMPANION_SUFFIX",
    "InstallationOutcome",
    "InstallationPlan",
    "NotYours",
    "PackageManaged",
    "companion_name",
    "convert_installation",
    "is_installation",
    "package_manager_of",
    "plan_convert",
    "plan_revert",
    "revert_installation",
]
