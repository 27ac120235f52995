"""Make an existing environment symlink-safe (``convert``), or plain again (``revert``).

``convert`` makes every interpreter name in ``bin/`` the stub, laid out as the creator lays it out: one file, the
other names hard links to it (contract rule 8). ``revert`` puts back what virtualenv's builtin creators make: the
first name a symlink to the base interpreter, the others symlinks to that first name. The base interpreter is the
one the stub decides on (:func:`~virtualenv_symlink_safe.decision.decide`), so a conversion uses exactly the
decision the stub will make.

Both hold the destination lock the creator holds, so they never race a creation or each other, and write only
inside the environment's own ``bin/``, through no link: the environment and its ``bin/`` are opened once, every
new entry is made there under an unguessable name (:mod:`virtualenv_symlink_safe.stub`), and all of them are made
before any is renamed into place. What leads out of the environment, or to the base interpreter's own file, is
refused before anything is made.
"""

from __future__ import annotations

import errno
import filecmp
import os
import stat
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .decision import Decision, decide
from .environment import (
    MAX_CFG_SIZE,
    MAX_LINK_STEPS,
    is_executable_file,
    is_interpreter_name,
    is_stub,
    open_environment,
)
from .errors import (
    BaseUnusable,
    ChangeFailed,
    NotAnEnvironment,
    NotWritable,
    Refused,
    Unfinished,
    UnsafeLayout,
    Unserved,
)
from .stub import (
    link_made,
    new_file,
    open_folder,
    remove_stale_temporaries,
    stub_copy_made,
    stub_resource,
    symlink_made,
    temporaries,
    temporary_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import BinaryIO

    from .environment import Environment

#: The stub's statuses (``docs/reference/exit-statuses.rst``) that mean the environment leads to no usable base.
_NO_BASE = frozenset({106, 107, 108, 109})


@dataclass
class Plan:
    """What ``convert`` or ``revert`` does to one environment."""

    env: Environment
    """The environment."""
    decision: Decision
    """The stub's decision for the environment's first interpreter name."""
    changes: dict[str, str] = field(default_factory=dict)
    """Each name to change, with what it is now."""
    keep: list[str] = field(default_factory=list)
    """Names already as wanted, rewritten along with the changed ones so they stay one file."""
    unknown: dict[str, str] = field(default_factory=dict)
    """Names left alone because they are neither the base nor a stub, with what they are."""
    cfg_line: str | None = None
    """A line ``convert`` adds to ``pyvenv.cfg`` so the stub finds the interpreter the environment runs on now."""
    links: dict[str, str] = field(default_factory=dict)
    """For ``revert``: each name and the target of the symlink it becomes."""
    base_override: tuple[Path, str] | None = None
    """The base and key once :attr:`cfg_line` is added, when it is."""

    @property
    def base(self) -> Path:
        """The base interpreter the environment runs on once changed."""
        if self.base_override is not None:
            return self.base_override[0]
        if self.decision.launcher is not None:  # contract rule 10.2: the environment's base as named is the launcher
            return self.decision.launcher
        assert self.decision.base is not None  # noqa: S101  # a plan is made only from a decision with a base
        return self.decision.base

    @property
    def key(self) -> str:
        """The ``pyvenv.cfg`` key naming :attr:`base`."""
        return self.base_override[1] if self.base_override is not None else self.decision.key or ""

    @property
    def cfg(self) -> Path:
        """The ``pyvenv.cfg`` that names :attr:`base`."""
        return self.env.cfg if self.base_override is not None else self.decision.cfg or self.env.cfg

    @property
    def changed(self) -> bool:
        """Whether there is anything to do."""
        return bool(self.changes or self.cfg_line)


@dataclass(frozen=True)
class Outcome:
    """What happened to one environment."""

    plan: Plan
    """What was decided."""
    done: bool
    """Whether files were changed (``False`` for a dry run or when nothing was to do)."""
    removed: tuple[str, ...] = ()
    """Temporaries an interrupted run had left in ``bin/``, removed this time."""


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        return a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _describe(path: Path) -> str:
    return f"a symlink to {path.readlink()}" if path.is_symlink() else "a file"


def _decided(env: Environment, names: list[str]) -> Decision:
    """Ask the stub what it runs as ``bin/<first name>``; refuse what it would refuse, or another environment."""
    decision = decide(env.bin_dir / names[0])
    message = (decision.message or "").removeprefix("symlink-safe: ")
    if decision.status in _NO_BASE:
        raise BaseUnusable(message)
    if decision.status:
        raise NotAnEnvironment(message)
    if decision.cfg is None or decision.base is None or not _same_file(decision.cfg, env.cfg):
        why = "; ".join(f"ignored {cfg} ({reason})" for cfg, reason in decision.ignored)
        msg = f"the stub started as {decision.invoked} takes {decision.cfg}, not {env.cfg}{f': {why}' if why else ''}"
        raise NotAnEnvironment(msg)
    return decision


def _first_hop_out(path: Path) -> Path:
    """Follow links within ``bin/`` to the first target outside it, made absolute: what the creator linked to."""
    step = path
    for _ in range(MAX_LINK_STEPS):
        if not step.is_symlink():
            break
        step = step.parent / step.readlink()
        if Path(os.path.normpath(step.parent)) != path.parent:
            break
    return Path(os.path.normpath(step))


def _origin(env: Environment, name: str, base_real: Path) -> Path | None:
    """Where a name that is not a stub comes from: the real file it links to, or a file in ``home`` it copies."""
    path = env.bin_dir / name
    if path.is_symlink():
        return _first_hop_out(path) if is_executable_file(path) else None
    home = Path(env.keys.get("home", ""))
    if not env.keys.get("home") or not home.is_dir():
        return None
    for candidate in sorted(home.iterdir()):
        if not is_interpreter_name(candidate.name) or candidate == base_real or not is_executable_file(candidate):
            continue
        if _same_bytes(path, candidate):
            return candidate
    return None


def plan_convert(env: Environment) -> Plan:
    """Decide what ``convert`` does to ``env``, changing nothing.

    :param env: the environment

    :returns: the plan

    :raises Refused: when the environment cannot be converted

    """
    names = _interpreter_names(env)
    plan = Plan(env, _decided(env, names))
    base_real = Path(os.path.realpath(plan.base))
    ours = stub_resource()
    others: dict[str, str] = {}
    for name in names:
        path = env.bin_dir / name
        if is_stub(path):
            if not path.is_symlink() and _same_bytes(path, ours):
                plan.keep.append(name)
            else:
                plan.changes[name] = _describe(path) if path.is_symlink() else "the stub of another version"
        elif _same_file(path, base_real) or _same_bytes(path, base_real):
            what = "a symlink to" if path.is_symlink() else "a copy of"
            plan.changes[name] = f"{what} the base interpreter {plan.base}"
        else:
            others[name] = _describe(path)
    if others and plan.key == "home" and not plan.decision.nested:
        others = _adopt_origin(plan, others, base_real)
    for name, what in others.items():
        plan.unknown[name] = f"{what}, neither the base interpreter {plan.base} nor a stub"
    if plan.changes:
        _check_served(plan)
    _check_layout(plan)
    return plan


def _interpreter_names(env: Environment) -> list[str]:
    _check_own_bin(env)
    if not (names := env.interpreter_names()):
        msg = f"{env.path} has no interpreter in bin/ (no python, python3 or pypy3 there)"
        raise NotAnEnvironment(msg)
    return names


def _check_served(plan: Plan) -> None:
    from .refusals import refusal_reason_for  # noqa: PLC0415  # only here: it reads the compiled stub's ELF header

    facts = plan.env.facts(plan.base)
    if facts is None:
        env = plan.env
        msg = f"cannot tell the version of {plan.base} from {env.cfg} or its name; add version = X.Y to {env.cfg}"
        raise Unserved(msg)
    implementation, version = facts
    reason = refusal_reason_for(implementation=implementation, version_info=version, executable=str(plan.base))
    if reason is not None:
        msg = f"the stub cannot serve {plan.base}: {reason}"
        raise Unserved(msg)


def _check_own_bin(env: Environment) -> None:
    """Refuse a ``bin/`` that is a link: what would be written there lands elsewhere (another folder, the base's)."""
    if env.bin_dir.is_symlink():
        msg = (
            f"{env.bin_dir} is a symlink to {env.bin_dir.readlink()}: only an environment's own bin/ folder is "
            "changed, never one a link leads to; nothing was changed"
        )
        raise UnsafeLayout(msg)


def _check_layout(plan: Plan) -> None:
    """Refuse to replace the base interpreter's own file, or to rewrite a ``pyvenv.cfg`` that is a link."""
    base_real = Path(os.path.realpath(plan.base))
    for name in (*plan.changes, *plan.keep):
        if name == base_real.name and _same_file(base_real.parent, plan.env.bin_dir):
            msg = (
                f"{plan.env.bin_dir / name} is the base interpreter's own file ({plan.base}): changing it would "
                "replace the interpreter itself; nothing was changed"
            )
            raise UnsafeLayout(msg)
    if plan.cfg_line and plan.env.cfg.is_symlink():
        msg = f"{plan.env.cfg} is a symlink: convert would have to rewrite the file it leads to; nothing was changed"
        raise UnsafeLayout(msg)


def _adopt_origin(plan: Plan, others: dict[str, str], base_real: Path) -> dict[str, str]:
    """Make the interpreter the names run on the base, when ``pyvenv.cfg`` names only a folder that guesses wrong.

    PyPy's ``python -m venv`` writes only ``home`` and ``version``, and ``python3`` in Debian's ``/usr/bin`` is
    CPython: the stub would start CPython. Adding ``base-executable`` names the interpreter the environment runs on.
    """
    env = plan.env
    origins = {name: _origin(env, name, base_real) for name in others}
    found = {Path(os.path.realpath(origin)) for origin in origins.values() if origin}
    if len(found) != 1 or not all(origins.values()):
        return others
    origin = next(origin for origin in origins.values() if origin)
    plan.cfg_line = f"base-executable = {origin}"
    for name, what in others.items():
        how = what if (env.bin_dir / name).is_symlink() else f"a copy of {origin}"
        plan.changes[name] = f"{how}, the interpreter the environment runs on"
    plan.base_override = (origin, "base-executable")
    return {}


def plan_revert(env: Environment) -> Plan:
    """Decide what ``revert`` does to ``env``, changing nothing.

    The first name virtualenv's builtin creator would give (``python`` for CPython, ``pypy`` for PyPy, which sorts
    first) becomes a symlink to the base interpreter, the other stub names symlinks to that first name. A first
    name that is such a symlink already (a revert was interrupted) stays, and the others link to it.

    :param env: the environment

    :returns: the plan

    :raises Refused: when the environment cannot be reverted

    """
    names = _interpreter_names(env)
    plan = Plan(env, _decided(env, names))
    facts = env.facts(plan.base)
    pypy = facts[0] == "PyPy" if facts else Path(os.path.realpath(plan.base)).name.startswith("pypy")
    stubs = [name for name in names if not (env.bin_dir / name).is_symlink() and is_stub(env.bin_dir / name)]
    linked = [name for name in names if (env.bin_dir / name).is_symlink() and _same_file(env.bin_dir / name, plan.base)]
    ordered = sorted(names) if pypy else sorted(names, key=lambda name: name != "python")
    candidates = [name for name in ordered if name in stubs or name in linked]
    if not stubs or not candidates:
        return plan
    head = candidates[0]
    for name in stubs:
        plan.changes[name] = "the stub"
        plan.links[name] = str(plan.base) if name == head else head
    _check_layout(plan)
    return plan


def _folder_error(exception: OSError, where: Path) -> Refused:
    if exception.errno in {errno.ELOOP, errno.ENOTDIR}:  # a link or a file where the folder was planned
        msg = f"{where} is no longer a folder of its own (a link was put in its place); nothing was changed"
        return UnsafeLayout(msg)
    msg = f"cannot open {where}: {exception.strerror}; nothing was changed"
    return NotWritable(msg)


def _check_writable(folder: Path) -> None:
    """Refuse a folder this process may not create files in, without creating one to find out."""
    if os.access(folder, os.W_OK | os.X_OK, effective_ids=os.access in os.supports_effective_ids):
        return
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        why = "a read-only file system"
    elif os.geteuid() == 0:
        why = "an immutable flag, or a file system that refuses root"
    else:
        why = "permission denied"
    msg = f"{folder} is not writable: {why}; nothing was changed"
    raise NotWritable(msg)


def convert(path: str | os.PathLike[str], *, dry_run: bool = False) -> Outcome:
    """Make the environment at ``path`` symlink-safe.

    :param path: the environment's folder
    :param dry_run: only decide, change nothing

    :returns: the outcome

    :raises Refused: when the environment cannot be converted; nothing was changed
    :raises ChangeFailed: when changing files failed part-way; each name is whole

    """
    return _change(path, plan_convert, _apply_convert, dry_run=dry_run)


def revert(path: str | os.PathLike[str], *, dry_run: bool = False) -> Outcome:
    """Make the environment at ``path`` plain again: its interpreter names symlinks, as virtualenv makes them.

    :param path: the environment's folder
    :param dry_run: only decide, change nothing

    :returns: the outcome

    :raises Refused: when the environment cannot be reverted; nothing was changed
    :raises ChangeFailed: when changing files failed part-way; each name is whole

    """
    return _change(path, plan_revert, _apply_revert, dry_run=dry_run)


def _locked(env: Environment, work: Callable[[], Outcome]) -> Outcome:
    """Do ``work`` holding the lock a creation takes, refusing an environment whose creation did not finish.

    The lock's file lives inside the environment. When this call made it and then changed nothing (a refusal, a
    failure, nothing to do), it removes it again, still holding the lock, so the environment is byte for byte as it
    was; a process waiting on the removed file finds it gone once it holds it and locks the new one instead.
    """
    from .creation import LOCK_NAME, Creation, LockUnavailable, unfinished  # noqa: PLC0415  # only when changing

    dest = env.path.resolve()
    lock_file = dest / LOCK_NAME
    made_here = not lock_file.exists() and not lock_file.is_symlink()
    try:
        with Creation(dest, clear=False).held():
            outcome = None
            try:
                if (left := unfinished(dest)) is not None:
                    msg = f"{env.path}: {left} ({left.path}); create it again with virtualenv"
                    raise Unfinished(msg)
                outcome = work()
            finally:
                if made_here and (outcome is None or not outcome.done):
                    lock_file.unlink(missing_ok=True)
            return outcome
    except LockUnavailable as exception:
        raise NotWritable(str(exception)) from None


def _change(
    path: str | os.PathLike[str],
    plan_for: Callable[[Environment], Plan],
    apply: Callable[[Plan, int, int], None],
    *,
    dry_run: bool,
) -> Outcome:
    env = open_environment(path)
    plan = plan_for(env)
    if dry_run:
        return Outcome(plan, done=False)
    if plan.changed:  # refused before the lock is taken, which may leave a file beside the environment
        _check_writable(env.bin_dir)
        if plan.cfg_line:
            _check_writable(env.path)

    def locked() -> Outcome:
        with ExitStack() as stack:
            try:  # the environment as named, once; everything after goes through this descriptor
                env_fd = stack.enter_context(_opened(os.open(env.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)))
            except OSError as exception:
                raise _folder_error(exception, env.path) from None
            plan = plan_for(env)  # decided again under the lock: another conversion may have run meanwhile
            try:
                bin_fd = stack.enter_context(open_folder("bin", dir_fd=env_fd))
                planned = env.path.stat(), env.bin_dir.stat()
            except OSError as exception:
                raise _folder_error(exception, env.bin_dir) from None
            if not all(map(os.path.samestat, (os.fstat(env_fd), os.fstat(bin_fd)), planned)):
                msg = f"{env.path} changed while it was being read (a folder was moved or linked); nothing was changed"
                raise UnsafeLayout(msg)
            try:
                removed = tuple(remove_stale_temporaries(bin_fd))
                if plan.changed:
                    apply(plan, env_fd, bin_fd)
            except OSError as exception:
                where = f"{exception.filename}: " if exception.filename else ""
                msg = f"{env.path}: {where}{exception.strerror or exception}; run the command again to finish"
                raise ChangeFailed(msg) from None
        return Outcome(plan, done=plan.changed, removed=removed)

    return _locked(env, locked)


def _cfg_with_line(env_fd: int, line: str) -> tuple[bytes, os.stat_result]:
    """Read ``pyvenv.cfg`` through the environment's descriptor, no link followed: its bytes and ``line``, its stat."""
    fd = os.open("pyvenv.cfg", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=env_fd)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            msg = "pyvenv.cfg is not a regular file"
            raise OSError(msg)
        data = file.read(MAX_CFG_SIZE + 1)
    separator = b"" if data.endswith(b"\n") or not data else b"\n"
    return data + separator + line.encode("utf-8", "surrogateescape") + b"\n", info


def _apply_convert(plan: Plan, env_fd: int, bin_fd: int) -> None:
    # listed through the descriptor, not the path: bin/ may have been swapped for a link since it was opened
    listed = (name for name in os.listdir(bin_fd) if name in plan.changes or name in plan.keep)
    names = sorted(listed, key=lambda name: (name != "python", name))
    if not names:
        msg = f"{plan.env.bin_dir} changed while it was converted (a folder was moved or linked); nothing was changed"
        raise UnsafeLayout(msg)
    with ExitStack() as stack, temporaries(bin_fd) as made:
        renames: list[tuple[str, int, str]] = []
        if plan.cfg_line:
            made.append(cfg := _cfg_made(bin_fd, env_fd, plan.cfg_line, stack))
            renames.append((cfg, env_fd, "pyvenv.cfg"))
        made.append(stub := stub_copy_made(bin_fd))
        renames.append((stub, bin_fd, names[0]))
        for name in names[1:]:
            made.append(link := link_made(bin_fd, stub))
            renames.append((link, bin_fd, name))
        _rename_all(bin_fd, renames, made)


def _cfg_made(folder: int, env_fd: int, line: str, stack: ExitStack) -> str:
    """Put ``pyvenv.cfg`` with ``line`` added into ``folder`` under a temporary name, with the old one's mode.

    Root rewriting a user's file gives it back to its owner, through the file written, when ``stack`` closes: by then
    the file is renamed into place, and until then it is root's, as every temporary of the run is.
    """
    text, old = _cfg_with_line(env_fd, line)

    def write(file: BinaryIO) -> None:
        file.write(text)
        if os.geteuid() == 0 and old.st_uid != 0:
            written = stack.enter_context(_opened(os.dup(file.fileno())))
            stack.callback(os.fchown, written, old.st_uid, old.st_gid)

    return _made(folder, write, stat.S_IMODE(old.st_mode))


def _made(folder: int, write: Callable[[BinaryIO], object], mode: int) -> str:
    name = temporary_name()
    new_file(folder, name, write, mode)
    return name


@contextmanager
def _opened(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


def _apply_revert(plan: Plan, env_fd: int, bin_fd: int) -> None:  # noqa: ARG001  # revert writes in bin/ only
    with temporaries(bin_fd) as made:
        renames = []
        for name, target in plan.links.items():
            made.append(link := symlink_made(bin_fd, target))
            renames.append((link, bin_fd, name))
        _rename_all(bin_fd, renames, made)


def _rename_all(bin_fd: int, renames: list[tuple[str, int, str]], made: list[str]) -> None:
    """Put every prepared entry in place, each in one rename; a temporary renamed is no longer ours to remove.

    Where another user may write (root changing a user's environment), that user can rename a file of their own over
    a temporary before it is renamed into place. Nothing is written through it, but the run would report a change it
    did not make; so each temporary is checked to be this user's before its rename and each name to hold it after.
    """
    placed = []
    for temporary, folder, name in renames:
        entry = os.stat(temporary, dir_fd=bin_fd, follow_symlinks=False)
        if entry.st_uid != os.geteuid():
            raise _replaced(name)
        os.replace(temporary, name, src_dir_fd=bin_fd, dst_dir_fd=folder)
        made.remove(temporary)
        placed.append((folder, name, entry))
    for folder, name, entry in placed:
        if not os.path.samestat(os.stat(name, dir_fd=folder, follow_symlinks=False), entry):
            raise _replaced(name)


def _replaced(name: str) -> OSError:
    return OSError(errno.EBUSY, "another process replaced it while it was being put in place", name)


__all__ = [
    "Outcome",
    "Plan",
    "convert",
    "open_environment",
    "plan_convert",
    "plan_revert",
    "revert",
]
