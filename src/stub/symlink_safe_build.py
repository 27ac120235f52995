"""The build backend: scikit-build-core's, asking for ``ziglang`` only where the stub needs it to start fast.

On glibc Linux the stub must be static (contract rule 5), and a static glibc program runs CPUID some forty times
before ``main``, each a VM exit under a hypervisor: it starts several times slower than a static musl one
(docs/explanation/cost.rst). src/stub/CMakeLists.txt builds the musl program with Debian's ``musl-gcc`` where it is
on ``PATH``, else with zig; this hook adds ``ziglang`` (about 100 MB) to the build requirements exactly then: a glibc
interpreter of an architecture ziglang has wheels for, no ``musl-gcc``, no ``zig`` on ``PATH``, and neither turned
off (``-C cmake.define.SYMLINK_SAFE_USE_ZIG=OFF``, or ``SKBUILD_CMAKE_DEFINE=SYMLINK_SAFE_USE_ZIG=OFF``). A musl
system's stub links against its own loader and needs nothing more.
"""

# ruff: noqa: INP001  # a build backend loaded by path (pyproject.toml's backend-path), not a package
from __future__ import annotations

import os
import re
import shutil
import sys
import sysconfig

# Type checkers run without the build requirements installed.
from scikit_build_core.build import (  # type: ignore[import-not-found]
    build_editable,
    build_sdist,
    build_wheel,
    get_requires_for_build_sdist,
)
from scikit_build_core.build import get_requires_for_build_editable as _editable_requires
from scikit_build_core.build import get_requires_for_build_wheel as _wheel_requires

#: The requirement added: the release the stub was built and tested with (0.17.1) is the floor.
ZIGLANG = "ziglang>=0.17"
#: glibc targets (the interpreter's multiarch triple) that ziglang has wheels for, as zig names them.
_GLIBC_TARGET = re.compile(r"^(x86_64|i[3-6]86|aarch64|arm|powerpc64le|s390x|riscv64)-linux-gnu(eabihf)?$")
_OFF = {"0", "off", "false", "no", "n"}


def _turned_off(name: str, config_settings: dict[str, str | list[str]] | None) -> bool:
    """Say whether a CMake option of the stub's build is turned off by a config setting or the environment."""
    value = (config_settings or {}).get(f"cmake.define.{name}")
    if isinstance(value, str) and value.lower() in _OFF:
        return True
    for define in os.environ.get("SKBUILD_CMAKE_DEFINE", "").split(";"):
        key, _, setting = define.partition("=")
        if key.strip() == name and setting.strip().lower() in _OFF:
            return True
    return False


def needs_zig(config_settings: dict[str, str | list[str]] | None = None) -> bool:
    """Say whether the stub's build needs the ziglang wheel here.

    :param config_settings: the build frontend's config settings

    :returns: ``True`` when no other way to a static musl stub is at hand for this glibc interpreter

    """
    # What src/stub/zig.cmake reads: the triple the interpreter was compiled for.
    target = getattr(sys.implementation, "_multiarch", "") or sysconfig.get_config_var("MULTIARCH") or ""
    if not sys.platform.startswith("linux") or not _GLIBC_TARGET.match(target):
        return False
    if _turned_off("SYMLINK_SAFE_USE_ZIG", config_settings) or shutil.which("zig"):
        return False
    return bool(_turned_off("SYMLINK_SAFE_USE_MUSL_GCC", config_settings) or not shutil.which("musl-gcc"))


def get_requires_for_build_wheel(config_settings: dict[str, str | list[str]] | None = None) -> list[str]:
    """Give scikit-build-core's requirements, and ziglang where the stub needs it."""
    return [*_wheel_requires(config_settings), *([ZIGLANG] if needs_zig(config_settings) else [])]


def get_requires_for_build_editable(config_settings: dict[str, str | list[str]] | None = None) -> list[str]:
    """Give scikit-build-core's requirements, and ziglang where the stub needs it."""
    return [*_editable_requires(config_settings), *([ZIGLANG] if needs_zig(config_settings) else [])]


__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
]
