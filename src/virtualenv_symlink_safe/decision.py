"""SHIM, to be replaced by the 'decide' branch's ``decision.py`` (the stub's query mode): the same API, in Python.

Until the stub can report its decision, this module answers with the Python model of the walk that used to live in
``environment.py`` (rules 2.1-2.3 without 2.6, 3.1-3.3), so ``convert`` can be written and tested against the final
interface. It is the one place that model lives now; when the stub's query mode lands, this file is replaced whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .environment import MAX_LINK_STEPS, MAX_NESTING, is_executable_file, is_stub, major_minor, read_cfg

_NO_ENV, _CFG_UNREADABLE, _NO_BASE_KEY, _BASE_UNUSABLE, _NESTING = 102, 103, 106, 107, 109


@dataclass(frozen=True)
class Decision:
    """What the stub decides for one invocation path, without running anything."""

    invoked: Path
    status: int
    message: str | None = None
    environment: Path | None = None
    cfg: Path | None = None
    key: str | None = None
    base: Path | None = None
    steps: tuple[Path, ...] = ()
    ignored: tuple[tuple[Path, str], ...] = ()
    nested: tuple[Path, ...] = ()


class _FailedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def decide(path: Path, *, stub: Path | None = None) -> Decision:  # noqa: ARG001  # the real one runs ``stub``
    """Say what the stub would do if started as ``path``.

    :param path: the invocation path
    :param stub: the stub to ask; the packaged one when ``None``

    :returns: the decision

    """
    invoked = Path(os.path.abspath(path))
    found = _find_cfg(str(invoked))
    if found is None:
        return Decision(invoked, _NO_ENV, f"symlink-safe: no environment for {invoked}")
    cfg, venv, followed = found
    steps = tuple(Path(step) for step in followed)
    try:
        key, base, nested = _find_base(cfg)
    except _FailedError as failure:
        return Decision(invoked, failure.status, str(failure), Path(venv), Path(cfg), steps=steps)
    return Decision(invoked, 0, None, Path(venv), Path(cfg), key, Path(base), steps, (), tuple(map(Path, nested)))


def _keys(cfg: str) -> dict[str, str]:
    try:
        return read_cfg(Path(cfg))
    except ValueError as exception:
        raise _FailedError(_CFG_UNREADABLE, str(exception)) from None


def _base_in_home(keys: dict[str, str]) -> str | None:
    stem = "pypy" if keys.get("implementation", "").lower() == "pypy" else "python"
    names = [f"{stem}3", stem]
    for key in ("version_info", "version"):
        if (version := major_minor(keys.get(key, ""))) is not None:
            names.insert(0, f"{stem}{version[0]}.{version[1]}")
            break
    for name in names:
        if is_executable_file(Path(candidate := os.path.join(keys["home"], name))):
            return candidate
    return None


def _base_named(cfg: str, keys: dict[str, str]) -> tuple[str, str]:
    for key in ("base-executable", "executable"):
        if key in keys:
            value = keys[key]
            if not is_executable_file(Path(value)):
                why = "does not exist" if not os.path.lexists(value) else "is not an executable file"
                raise _FailedError(_BASE_UNUSABLE, f"the base interpreter from {key!r} in {cfg} {why}: {value}")
            return key, value
    if "home" in keys:
        if (found := _base_in_home(keys)) is None:
            raise _FailedError(_BASE_UNUSABLE, f"no python interpreter in 'home' of {cfg}: {keys['home']}")
        return "home", found
    raise _FailedError(_NO_BASE_KEY, f"no base-executable, executable or home key in {cfg}")


def _find_base(cfg: str) -> tuple[str, str, list[str]]:
    keys = _keys(cfg)
    nested: list[str] = []
    seen = [os.stat(cfg)]
    for _ in range(MAX_NESTING + 1):
        key, path = _base_named(cfg, keys)
        if not is_stub(Path(path)):
            return key, path, nested
        nested.append(path)
        found = _find_cfg(os.path.abspath(path))
        if found is None:
            raise _FailedError(_NO_ENV, f"the base interpreter {path} named in {cfg} is a stub outside any environment")
        cfg = found[0]
        info = os.stat(cfg)
        if any(os.path.samestat(info, earlier) for earlier in seen):
            raise _FailedError(_NESTING, f"environments whose bases lead back to each other, at {cfg}")
        seen.append(info)
        keys = _keys(cfg)
    raise _FailedError(_NESTING, f"environments nested more than {MAX_NESTING} deep, at {cfg}")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _cfg_beside(directory: str) -> str | None:
    for folder in (os.path.dirname(directory), directory):  # the parent first, as CPython looks
        if os.path.isfile(candidate := os.path.join(folder, "pyvenv.cfg")):
            return candidate
    return None


def _find_cfg(path: str) -> tuple[str, str, list[str]] | None:
    step, followed = path, list[str]()
    for _ in range(MAX_LINK_STEPS + 1):
        lexical = os.path.normpath(step)
        if (lexical == step or _same_file(lexical, step)) and (cfg := _cfg_beside(os.path.dirname(lexical))):
            return cfg, lexical, followed
        real = os.path.realpath(os.path.dirname(step))
        if cfg := _cfg_beside(real):
            return cfg, os.path.join(real, os.path.basename(step)), followed
        if not os.path.islink(step):
            return None
        step = os.path.join(real, os.readlink(step))  # an absolute target replaces the folder
        followed.append(step)
    return None


__all__ = [
    "Decision",
    "decide",
]
