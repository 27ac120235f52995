"""Make an existing environment symlink-safe (``convert``), or plain again (``revert``).

``convert`` makes every interpreter name in ``bin/`` the stub, laid out as the creator lays it out: one file, the
other names hard links to it (contract rule 8). ``revert`` puts back what virtualenv's builtin creators make: the
first name a symlink to the base interpreter, the others symlinks to that first name. Both hold the destination lock
the creator holds, so they never race a creation or each other, and replace each name atomically.
"""

from __future__ import annotations

import filecmp
import os

from .environment import (
    MAX_LINK_STEPS,
    BaseUnusable,
    NotAnEnvironment,
    NotWritable,
    Unfinished,
    Unserved,
    is_executable_file,
    is_interpreter_name,
    is_stub,
    major_minor,
    open_environment,
    same_file,
)
from .stub import install_stub, replace_atomically, stub_resource

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: the command's cost is mostly imports
if TYPE_CHECKING:
    from collections.abc import Callable

    from .environment import Base, Environment

#: The status of an environment whose ``bin/`` holds names that are neither its base nor a stub, left alone.
STATUS_UNKNOWN_NAMES = 9


class Plan:
    """What ``convert`` or ``revert`` does to one environment.

    :param env: the environment
    :param base: its base interpreter

    """

    def __init__(self, env: Environment, base: Base) -> None:
        self.env = env
        self.base = base
        #: Each name to change, with what it is now.
        self.changes: dict[str, str] = {}
        #: Names already as wanted, rewritten along with the changed ones so they stay one file.
        self.keep: list[str] = []
        #: Names left alone because they are neither the base nor a stub, with what they are.
        self.unknown: dict[str, str] = {}
        #: A line ``convert`` adds to ``pyvenv.cfg`` so the stub finds the interpreter the environment runs on now.
        self.cfg_line: str | None = None
        #: For ``revert``: each name and the target of the symlink it becomes.
        self.links: dict[str, str] = {}

    @property
    def changed(self) -> bool:
        """Whether there is anything to do."""
        return bool(self.changes or self.cfg_line)


def _same_bytes(a: str, b: str) -> bool:
    try:
        return filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _describe(path: str) -> str:
    if os.path.islink(path):
        return f"a symlink to {os.readlink(path)}"
    return "a file"


def _facts(env: Environment, base: Base) -> tuple[str, tuple[int, ...]]:
    """Tell the implementation and version of the base, from ``pyvenv.cfg`` or else from its file name."""
    real = os.path.basename(os.path.realpath(base.path))
    implementation = env.keys.get("implementation") or ("PyPy" if real.startswith("pypy") else "CPython")
    implementation = {"cpython": "CPython", "pypy": "PyPy"}.get(implementation.lower(), implementation)
    digits = next((index for index, char in enumerate(real) if char.isdecimal()), len(real))
    for text in (env.keys.get("version_info", ""), env.keys.get("version", ""), real[digits:]):
        if (version := major_minor(text)) is not None:
            return implementation, version
    msg = f"cannot tell the version of {base.path} from {env.cfg} or its name; add version = X.Y to {env.cfg}"
    raise Unserved(msg)


def _first_hop_out(path: str) -> str:
    """Follow links within ``bin/`` to the first target outside it, made absolute: what the creator linked to."""
    step = path
    for _ in range(MAX_LINK_STEPS):
        if not os.path.islink(step):
            break
        step = os.path.join(os.path.dirname(step), os.readlink(step))
        if _parts(os.path.dirname(step)) != _parts(os.path.dirname(path)):
            break
    return os.path.normpath(step)


def _parts(path: str) -> list[str]:
    """Split a path as pathlib compares paths: empty and ``.`` components dropped, ``..`` kept, as links need."""
    return ["/" if path.startswith("/") else "", *(part for part in path.split("/") if part not in {"", "."})]


def _origin(env: Environment, name: str, base_real: str) -> str | None:
    """Where a name that is not a stub comes from: the real file it links to, or a file in ``home`` it copies."""
    path = os.path.join(env.bin_dir, name)
    if os.path.islink(path):
        return _first_hop_out(path) if is_executable_file(path) else None
    home = env.keys.get("home", "")
    entries = sorted(os.listdir(home)) if home and os.path.isdir(home) else []
    candidates = [os.path.join(home, entry) for entry in entries if is_interpreter_name(entry)]
    for candidate in candidates:
        if candidate != base_real and is_executable_file(candidate) and _same_bytes(path, candidate):
            return candidate
    return None


def plan_convert(env: Environment) -> Plan:
    """Decide what ``convert`` does to ``env``, changing nothing.

    :param env: the environment

    :returns: the plan

    :raises BaseUnusable: when the stub would find no usable base interpreter
    :raises Unserved: when the stub cannot serve the base interpreter

    """
    from .refusals import refusal_reason_for  # noqa: PLC0415  # only here: it reads the compiled stub's ELF header

    base = env.base()
    base_real = os.path.realpath(base.path)
    plan = Plan(env, base)
    if not env.interpreter_names():
        msg = f"{env.path} has no interpreter in bin/ (no python, python3 or pypy3 there)"
        raise NotAnEnvironment(msg)
    ours = stub_resource()
    others: dict[str, str] = {}
    for name in env.interpreter_names():
        path = os.path.join(env.bin_dir, name)
        if is_stub(path):
            if not os.path.islink(path) and _same_bytes(path, ours):
                plan.keep.append(name)
            else:
                plan.changes[name] = "the stub of another version" if not os.path.islink(path) else _describe(path)
        elif same_file(path, base_real) or _same_bytes(path, base_real):
            what = "a symlink to" if os.path.islink(path) else "a copy of"
            plan.changes[name] = f"{what} the base interpreter {base.path}"
        else:
            others[name] = _describe(path)
    if others and base.key == "home" and not base.through:
        others = _adopt_origin(plan, others, base_real)
    for name, what in others.items():
        plan.unknown[name] = f"{what}, neither the base interpreter {plan.base.path} nor a stub"
    if plan.changes:
        base = plan.base
        implementation, version = _facts(env, base)
        reason = refusal_reason_for(implementation=implementation, version_info=version, executable=base.path)
        if reason is not None:
            msg = f"the stub cannot serve {base.path}: {reason}"
            raise Unserved(msg)
    return plan


def _adopt_origin(plan: Plan, others: dict[str, str], base_real: str) -> dict[str, str]:
    """Make the interpreter the names run on the base, when ``pyvenv.cfg`` names only a folder that guesses wrong.

    PyPy's ``python -m venv`` writes only ``home`` and ``version``, and ``python3`` in Debian's ``/usr/bin`` is
    CPython: the stub would start CPython. Adding ``base-executable`` names the interpreter the environment runs on.
    """
    env = plan.env
    origins = {name: _origin(env, name, base_real) for name in others}
    found = {os.path.realpath(origin) for origin in origins.values() if origin}
    if len(found) != 1 or not all(origins.values()):
        return others
    origin = next(origin for origin in origins.values() if origin)
    plan.cfg_line = f"base-executable = {origin}"
    for name, what in others.items():
        how = what if os.path.islink(os.path.join(env.bin_dir, name)) else f"a copy of {origin}"
        plan.changes[name] = f"{how}, the interpreter the environment runs on"
    plan.base = type(plan.base)(origin, "base-executable", env.cfg)
    return {}


def plan_revert(env: Environment) -> Plan:
    """Decide what ``revert`` does to ``env``, changing nothing.

    The first name virtualenv's builtin creator would give (``python`` for CPython, ``pypy`` for PyPy, which sorts
    first) becomes a symlink to the base interpreter, the other stub names symlinks to that first name.

    :param env: the environment

    :returns: the plan

    :raises BaseUnusable: when no usable base interpreter is found to link to

    """
    base = env.base()
    plan = Plan(env, base)
    stubs = [name for name in env.interpreter_names() if not os.path.islink(os.path.join(env.bin_dir, name))]
    stubs = [name for name in stubs if is_stub(os.path.join(env.bin_dir, name))]
    pypy = _facts(env, base)[0] == "PyPy"
    ordered = sorted(stubs) if pypy else sorted(stubs, key=lambda name: name != "python")
    for index, name in enumerate(ordered):
        plan.changes[name] = "the stub"
        plan.links[name] = base.path if index == 0 else ordered[0]
    return plan


def _check_writable(folder: str) -> None:
    """Create and remove a file in ``folder``: permissions, read-only mounts and immutable flags all show."""
    probe = os.path.join(folder, f".symlink-safe-probe-{os.getpid()}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exception:
        msg = f"{folder} is not writable: {exception.strerror}; nothing was changed"
        raise NotWritable(msg) from None
    os.close(fd)
    os.unlink(probe)


def _symlink_to(target: str) -> Callable[[str], None]:
    return lambda tmp: os.symlink(target, tmp)


def _add_cfg_line(cfg: str, line: str) -> None:
    with open(cfg, encoding="utf-8", errors="surrogateescape") as file:
        text = file.read()
    mode = os.stat(cfg).st_mode & 0o7777

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as file:
            file.write(f"{text}{'' if text.endswith(chr(10)) or not text else chr(10)}{line}\n")
        os.chmod(tmp, mode)

    replace_atomically(cfg, write)


class Outcome:
    """What happened to one environment.

    :param plan: what was decided
    :param done: whether files were changed (``False`` for a dry run or when nothing was to do)

    """

    def __init__(self, plan: Plan, *, done: bool) -> None:
        self.plan = plan
        self.done = done


def _locked(env: Environment, work: Callable[[], Outcome]) -> Outcome:
    """Do ``work`` holding the lock a creation takes, refusing an environment whose creation did not finish."""
    from .creation import Creation, LockUnavailable, unfinished  # noqa: PLC0415  # only when a change is made

    dest = os.path.realpath(env.path)
    try:
        with Creation(dest, clear=False).held():
            if (left := unfinished(dest)) is not None:
                msg = f"{env.path}: {left} ({left.path}); create it again with virtualenv"
                raise Unfinished(msg)
            return work()
    except LockUnavailable as exception:
        raise NotWritable(str(exception)) from None


def convert(path: str | os.PathLike[str], *, dry_run: bool = False) -> Outcome:
    """Make the environment at ``path`` symlink-safe.

    :param path: the environment's folder
    :param dry_run: only decide, change nothing

    :returns: the outcome

    :raises Refused: when the environment cannot be converted; nothing was changed

    """
    return _change(path, plan_convert, _apply_convert, dry_run=dry_run)


def revert(path: str | os.PathLike[str], *, dry_run: bool = False) -> Outcome:
    """Make the environment at ``path`` plain again: its interpreter names symlinks, as virtualenv makes them.

    :param path: the environment's folder
    :param dry_run: only decide, change nothing

    :returns: the outcome

    :raises Refused: when the environment cannot be reverted; nothing was changed

    """
    return _change(path, plan_revert, _apply_revert, dry_run=dry_run)


def _change(
    path: str | os.PathLike[str],
    plan_for: Callable[[Environment], Plan],
    apply: Callable[[Environment, Plan], None],
    *,
    dry_run: bool,
) -> Outcome:
    env = open_environment(path)
    if dry_run:
        return Outcome(plan_for(env), done=False)

    def locked() -> Outcome:
        plan = plan_for(env)  # decided again under the lock: another conversion may have run meanwhile
        if not plan.changed:
            return Outcome(plan, done=False)
        _check_writable(env.bin_dir)
        apply(env, plan)
        return Outcome(plan, done=True)

    return _locked(env, locked)


def _apply_convert(env: Environment, plan: Plan) -> None:
    if plan.cfg_line:
        _check_writable(env.path)
        _add_cfg_line(env.cfg, plan.cfg_line)
    names = [name for name in env.interpreter_names() if name in plan.changes or name in plan.keep]
    install_stub(env.bin_dir, names)


def _apply_revert(env: Environment, plan: Plan) -> None:
    for name, target in plan.links.items():
        replace_atomically(os.path.join(env.bin_dir, name), _symlink_to(target))


__all__ = [
    "STATUS_UNKNOWN_NAMES",
    "BaseUnusable",
    "Outcome",
    "Plan",
    "convert",
    "plan_convert",
    "plan_revert",
    "revert",
]
