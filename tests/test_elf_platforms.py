"""Each kind of stub the wheels carry passes the creator's ELF check for its own platform's interpreter (rule 5).

The manylinux wheels carry a stub linked statically against glibc, the musllinux wheels one linked dynamically
against the musl loader (src/stub/CMakeLists.txt decides from the compiler it is given). Both are built here with
CMake as a wheel build would: the glibc one with musl-gcc turned off, the musl one with a compiler that targets musl
under another name than ``musl-gcc``, as Alpine's ``gcc`` does. A real musl CPython is the musl tox env's business;
here a dynamically linked musl program stands in for one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import Target, targets
from test_elf import this_machine
from virtualenv_symlink_safe.elf import ElfHeader, mismatch, read_header

SOURCE = Path(__file__).parent.parent / "src" / "stub"
MUSL_LOADER = this_machine().musl_loader
STUB = "symlink-safe-stub"


def cmake_build(build: Path, *defines: str, env: dict[str, str] | None = None) -> tuple[Path, dict[str, str]]:
    """Configure and build the stub as a wheel build does, and read what ``stub-build.json`` says of it."""
    cmake = shutil.which("cmake")
    assert cmake is not None, "cmake is missing: apt-get install cmake (.ci/run does)"
    subprocess.run(
        [cmake, "-S", SOURCE, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", *defines],
        check=True,
        capture_output=True,
        env=env,
    )
    subprocess.run([cmake, "--build", build], check=True, capture_output=True, env=env)
    report: dict[str, str] = json.loads((build / "stub-build.json").read_text(encoding="utf-8"))
    return build / STUB, report


@pytest.fixture(scope="module")
def glibc_static_stub(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The manylinux stub: what a manylinux image (glibc, libc.a installed, no musl-gcc) builds."""
    env = {**os.environ, "CC": "gcc"}
    return cmake_build(tmp_path_factory.mktemp("glibc-static"), "-DSYMLINK_SAFE_USE_MUSL_GCC=OFF", env=env)


@pytest.fixture(scope="module")
def musl_tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``musl-cc``: Debian's musl-gcc under a name that is not ``musl-gcc``, as on a musl system."""
    musl_gcc = shutil.which("musl-gcc")
    if musl_gcc is None:
        pytest.fail("musl-gcc is missing: apt-get install musl-tools (.ci/run does)")
    folder = tmp_path_factory.mktemp("musl-tools")
    (folder / "musl-cc").symlink_to(musl_gcc)
    return folder


@pytest.fixture(scope="module")
def musl_dynamic_stub(musl_tools: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The musllinux stub: what a musllinux image (gcc targeting musl) builds."""
    return cmake_build(tmp_path_factory.mktemp("musl-dynamic"), f"-DCMAKE_C_COMPILER={musl_tools / 'musl-cc'}")


@pytest.fixture(scope="module")
def musl_program(musl_tools: Path, tmp_path_factory: pytest.TempPathFactory) -> ElfHeader:
    """The header of a program dynamically linked against musl, as a musllinux interpreter is."""
    folder = tmp_path_factory.mktemp("musl-program")
    (folder / "main.c").write_text("int main(void) { return 0; }\n")
    subprocess.run([musl_tools / "musl-cc", "-o", folder / "main", folder / "main.c"], check=True)
    header = read_header(folder / "main")
    assert header.interpreter == MUSL_LOADER
    return header


def test_rule_5_manylinux_stub_is_static_glibc(glibc_static_stub: tuple[Path, dict[str, str]]) -> None:
    stub, report = glibc_static_stub
    assert (report["libc"], report["linkage"]) == ("glibc", "static")
    assert read_header(stub).interpreter is None


@pytest.mark.parametrize("interpreter", targets(), ids=[t.id for t in targets()])
def test_rule_5_manylinux_stub_fits_glibc_interpreters(
    glibc_static_stub: tuple[Path, dict[str, str]], interpreter: Target
) -> None:
    stub, _ = glibc_static_stub
    assert mismatch(read_header(stub), read_header(Path(os.path.realpath(interpreter.exe)))) is None


def test_rule_5_manylinux_stub_refused_for_musl_interpreter(
    glibc_static_stub: tuple[Path, dict[str, str]], musl_program: ElfHeader
) -> None:
    stub, _ = glibc_static_stub
    reason = mismatch(read_header(stub), musl_program)
    assert reason is not None
    assert MUSL_LOADER in reason


def test_rule_5_musllinux_stub_is_dynamic_musl(musl_dynamic_stub: tuple[Path, dict[str, str]]) -> None:
    stub, report = musl_dynamic_stub
    assert (report["libc"], report["linkage"]) == ("musl", "dynamic")
    assert read_header(stub).interpreter == MUSL_LOADER


def test_rule_5_musllinux_stub_fits_musl_interpreter(
    musl_dynamic_stub: tuple[Path, dict[str, str]], musl_program: ElfHeader
) -> None:
    stub, _ = musl_dynamic_stub
    assert mismatch(read_header(stub), musl_program) is None


@pytest.mark.parametrize("interpreter", targets(), ids=[t.id for t in targets()])
def test_rule_5_musllinux_stub_refused_for_glibc_interpreters(
    musl_dynamic_stub: tuple[Path, dict[str, str]], interpreter: Target
) -> None:
    stub, _ = musl_dynamic_stub
    reason = mismatch(read_header(stub), read_header(Path(os.path.realpath(interpreter.exe))))
    assert reason is not None
    assert MUSL_LOADER in reason
