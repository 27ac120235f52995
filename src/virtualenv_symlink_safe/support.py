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
    implementation = interpreter.implementation
    if (minimum := MIN_VERSIONS.get(implementation)) is None:
        return f"only CPython and PyPy are supported for now, not {implementation}"
    if tuple(interpreter.version_info[:2]) < minimum:
        version = ".".join(str(part) for part in interpreter.version_info[:3])
        return f"{implementation} {minimum[0]}.{minimum[1]} or later is required, not {version}"
    if not stub_available():
        return (
            "this installation has no compiled stub; reinstall virtualenv-symlink-safe on a machine with a C compiler"
        )
    # Contract rule 5: tools read sys.executable's ELF header, which in the environment is the stub's.
    return stub_mismatch(getattr(interpreter, "system_executable", None) or interpreter.executable)


__all__ = [
    "MIN_VERSIONS",
    "refusal_reason",
]
