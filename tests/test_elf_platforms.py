"""Each kind of stub the project builds passes the creator's ELF check for its own platform's interpreters (rule 5).

The manylinux wheels carry a static musl program made by zig cc (their images have no musl-gcc; the build backend
asks for ziglang), the musllinux wheels one linked dynamically against the musl loader, and a build with neither
musl-gcc nor zig falls back to a program linked statically against glibc (src/stub/CMakeLists.txt decides from the
compiler it finds). Each is built here with CMake as a wheel build would: the zig one for this machine's interpreter
and, where Debian's cross compilers are installed, for every other wheel architecture, each checked against a program
that architecture's gcc links against glibc as its interpreter is; the musl one with a compiler that targets musl
under another name than ``musl-gcc``, as Alpine's ``gcc`` does. A real musl CPython is the musl tox env's business;
here a dynamically linked musl program stands in for one. zig is taken from ``SYMLINK_SAFE_ZIG``, the ``ziglang``
module or ``PATH``; without one the zig tests skip, unless ``SYMLINK_SAFE_REQUIRE_ZIG`` is set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Target, targets
from test_elf import this_machine
from virtualenv_symlink_safe.elf import ElfHeader, mismatch, read_header

SOURCE = Path(__file__).parent.parent / "src" / "stub"
MUSL_LOADER = this_machine().musl_loader
STUB = "symlink-safe-stub"
#: zig cc builds musl for a target before its first program: minutes on a loaded machine, then cached.
ZIG_TIMEOUT = 1200


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


#: Each wheel architecture other than x86_64: zig's target, and the Debian cross compiler linking against glibc.
CROSS = {
    "i686": ("x86-linux-musl", "i686-linux-gnu-gcc"),
    "aarch64": ("aarch64-linux-musl", "aarch64-linux-gnu-gcc"),
    "armv7l": ("arm-linux-musleabihf", "arm-linux-gnueabihf-gcc"),
    "ppc64le": ("powerpc64le-linux-musl", "powerpc64le-linux-gnu-gcc"),
    "s390x": ("s390x-linux-musl", "s390x-linux-gnu-gcc"),
    "riscv64": ("riscv64-linux-musl", "riscv64-linux-gnu-gcc"),
}


@pytest.fixture(scope="module")
def zig() -> str:
    """The zig to build with, as the build finds it."""
    found = os.environ.get("SYMLINK_SAFE_ZIG") or shutil.which("zig")
    if not found:
        try:
            import ziglang  # type: ignore[import-not-found]  # noqa: PLC0415  # optional: 100 MB
        except ImportError:
            pass
        else:
            found = str(Path(ziglang.__file__).parent / "zig")
    if not found:
        message = "no zig: pip install ziglang, or set SYMLINK_SAFE_ZIG"
        if os.environ.get("SYMLINK_SAFE_REQUIRE_ZIG"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def glibc_static_stub(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The fallback stub: what a glibc machine with libc.a builds with neither musl-gcc nor zig."""
    env = {**os.environ, "CC": "gcc"}
    return cmake_build(
        tmp_path_factory.mktemp("glibc-static"),
        *("-DSYMLINK_SAFE_USE_MUSL_GCC=OFF", "-DSYMLINK_SAFE_USE_ZIG=OFF"),
        env=env,
    )


@pytest.fixture(scope="module")
def zig_stub(zig: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The manylinux stub: what a manylinux image (glibc, no musl-gcc, ziglang in the build) builds."""
    return cmake_build(
        tmp_path_factory.mktemp("zig-static"),
        *("-DSYMLINK_SAFE_USE_MUSL_GCC=OFF", f"-DPython_EXECUTABLE={sys.executable}", f"-DSYMLINK_SAFE_ZIG={zig}"),
    )


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


@pytest.mark.contract("rule 5")
@pytest.mark.timeout(ZIG_TIMEOUT)
def test_manylinux_stub_is_static_musl_by_zig(zig_stub: tuple[Path, dict[str, str]]) -> None:
    stub, report = zig_stub
    assert (report["libc"], report["linkage"]) == ("musl", "static")
    assert report["compiler"].startswith("zig cc -target ")
    assert "-linux-musl" in report["compiler"]
    assert read_header(stub).interpreter is None


@pytest.mark.contract("rule 5")
@pytest.mark.timeout(ZIG_TIMEOUT)
@pytest.mark.parametrize("interpreter", targets(), ids=[t.id for t in targets()])
def test_manylinux_stub_fits_glibc_interpreters(zig_stub: tuple[Path, dict[str, str]], interpreter: Target) -> None:
    stub, _ = zig_stub
    assert mismatch(read_header(stub), read_header(Path(os.path.realpath(interpreter.exe)))) is None


@pytest.mark.contract("rule 5")
@pytest.mark.timeout(ZIG_TIMEOUT)
def test_manylinux_stub_refused_for_musl_interpreter(
    zig_stub: tuple[Path, dict[str, str]], musl_program: ElfHeader
) -> None:
    stub, _ = zig_stub
    reason = mismatch(read_header(stub), musl_program)
    assert reason is not None
    assert MUSL_LOADER in reason


@pytest.mark.contract("rule 5")
@pytest.mark.timeout(ZIG_TIMEOUT)
@pytest.mark.parametrize("arch", sorted(CROSS))
def test_each_architectures_zig_stub_fits_its_glibc_programs(
    arch: str, zig: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    target, cross_gcc = CROSS[arch]
    gcc = shutil.which(cross_gcc)
    if gcc is None:
        pytest.skip(f"no {cross_gcc} to link a glibc program of {arch} with (Debian: gcc-{cross_gcc[:-4]})")
    folder = tmp_path_factory.mktemp(arch)
    stub, report = cmake_build(folder / "build", f"-DSYMLINK_SAFE_ZIG_TARGET={target}", f"-DSYMLINK_SAFE_ZIG={zig}")
    assert (report["libc"], report["linkage"], report["compiler"]) == ("musl", "static", f"zig cc -target {target}")
    (folder / "main.c").write_text("int main(void) { return 0; }\n")
    subprocess.run([gcc, "-o", folder / "main", folder / "main.c"], check=True)
    program = read_header(folder / "main")
    assert program.interpreter is not None  # a dynamic glibc program, as that architecture's interpreter is
    assert read_header(stub).interpreter is None
    assert mismatch(read_header(stub), program) is None


@pytest.mark.contract("rule 5")
def test_fallback_stub_is_static_glibc(glibc_static_stub: tuple[Path, dict[str, str]]) -> None:
    stub, report = glibc_static_stub
    assert (report["libc"], report["linkage"]) == ("glibc", "static")
    assert read_header(stub).interpreter is None


@pytest.mark.contract("rule 5")
@pytest.mark.parametrize("interpreter", targets(), ids=[t.id for t in targets()])
def test_fallback_stub_fits_glibc_interpreters(
    glibc_static_stub: tuple[Path, dict[str, str]], interpreter: Target
) -> None:
    stub, _ = glibc_static_stub
    assert mismatch(read_header(stub), read_header(Path(os.path.realpath(interpreter.exe)))) is None


@pytest.mark.contract("rule 5")
def test_musllinux_stub_is_dynamic_musl(musl_dynamic_stub: tuple[Path, dict[str, str]]) -> None:
    stub, report = musl_dynamic_stub
    assert (report["libc"], report["linkage"]) == ("musl", "dynamic")
    assert read_header(stub).interpreter == MUSL_LOADER


@pytest.mark.contract("rule 5")
def test_musllinux_stub_fits_musl_interpreter(
    musl_dynamic_stub: tuple[Path, dict[str, str]], musl_program: ElfHeader
) -> None:
    stub, _ = musl_dynamic_stub
    assert mismatch(read_header(stub), musl_program) is None


@pytest.mark.contract("rule 5")
@pytest.mark.parametrize("interpreter", targets(), ids=[t.id for t in targets()])
def test_musllinux_stub_refused_for_glibc_interpreters(
    musl_dynamic_stub: tuple[Path, dict[str, str]], interpreter: Target
) -> None:
    stub, _ = musl_dynamic_stub
    reason = mismatch(read_header(stub), read_header(Path(os.path.realpath(interpreter.exe))))
    assert reason is not None
    assert MUSL_LOADER in reason
