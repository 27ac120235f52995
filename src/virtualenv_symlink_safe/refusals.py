"""Which interpreters and platforms the ``symlink-safe`` creator serves, and why it refuses the rest."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .elf import stub_mismatch
from .stub import stub_available

if TYPE_CHECKING:
    from python_discovery import PythonInfo

#: The implementations served, each with the oldest language version the stub's hand-over is verified with.
MIN_VERSIONS = {"CPython": (3, 8), "PyPy": (3, 9)}


def refusal_reason(interpreter: PythonInfo) -> str | None:
    """Say why the creator cannot serve ``interpreter`` here, in one line.

    :param interpreter: the interpreter the environment would be created from

    :returns: the reason, or ``None`` when the creator can serve it

    """
    if interpreter.os != "posix" or not sys.platform.startswith("linux") or interpreter.platform != "linux":
        # Windows has its own venv launcher; macOS framework builds need __PYVENV_LAUNCHER__ handling first.
        return f"only Linux is supported for now, not {interpreter.platform}"
    return refusal_reason_for(
        implementation=interpreter.implementation,
        version_info=tuple(interpreter.version_info[:3]),
        executable=getattr(interpreter, "system_executable", None) or interpreter.executable,
    )


def refusal_reason_for(*, implementation: str, version_info: tuple[int, ...], executable: str) -> str | None:
    """Say why the stub cannot serve an interpreter known only by plain facts, in one line.

    The facts are those an existing environment's ``pyvenv.cfg`` and its base interpreter's file give, so an
    environment can be judged without starting its interpreter or importing virtualenv.

    :param implementation: the implementation's name, ``CPython`` or ``PyPy`` are served
    :param version_info: the language version, at least major and minor
    :param executable: the base interpreter's executable, whose ELF header the stub must match

    :returns: the reason, or ``None`` when the stub can serve it

    """
    if not sys.platform.startswith("linux"):
        return f"only Linux is supported for now, not {sys.platform}"
    if (minimum := MIN_VERSIONS.get(implementation)) is None:
        return f"only CPython and PyPy are supported for now, not {implementation}"
    if tuple(version_info[:2]) < minimum:
        version = ".".join(str(part) for part in version_info[:3])
        return f"{implementation} {minimum[0]}.{minimum[1]} or later is required, not {version}"
    if not stub_available():
        return (
            "this installation has no compiled stub; reinstall virtualenv-symlink-safe on a machine with a C compiler"
        )
    # Contract rule 5: tools read sys.executable's ELF header, which in the environment is the stub's.
    return stub_mismatch(executable)


__all__ = [
    "MIN_VERSIONS",
    "refusal_reason",
    "refusal_reason_for",
]
