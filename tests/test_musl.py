"""C18: a musl-linked CPython with the musl build of the stub (contract rule 5).

The interpreter is built from Debian's CPython source by ``tests/pythons/build-python.sh``; ``tox run -e musl`` builds
it once, installs this package with the stub linked against musl's loader (``SYMLINK_SAFE_LINKAGE=dynamic`` with
``musl-gcc``) and names the interpreter in ``SYMLINK_SAFE_MUSL_PYTHON``. Without that variable these tests skip,
unless ``SYMLINK_SAFE_REQUIRE_MUSL`` is set, as the tox env does: then they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import test_conformance as conformance
from conftest import TAGS_REPORT, Target, _version_of, exercise, seeded, targets
from test_elf import MUSL_LOADER, installed_stub
from virtualenv_symlink_safe.elf import read_header, stub_mismatch

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Runner

#: The conformance core, run unchanged against the musl interpreter: the seed reproducer (C4) and C1-C8.
CORE: dict[str, Callable[[Runner, Target, Path], None]] = {
    "c1": conformance.test_absolute_path_matches_a_copies_environment,
    "c2": conformance.test_name_found_on_path_matches_a_copies_environment,
    "c3": conformance.test_relative_path_from_another_directory_matches_a_copies_environment,
    "c4_seed_reproducer": conformance.test_link_to_the_interpreter_imports_what_pip_installed,
    "c5": conformance.test_chain_of_links_lands_in_the_environment_keeping_the_last_name,
    "c6": conformance.test_link_inside_another_environment_belongs_to_that_environment,
    "c7": conformance.test_a_linked_bin_directory_finds_its_environment,
    "c7_control": conformance.test_plain_cpython_loses_the_environment_through_a_linked_bin_directory,
    "c8": conformance.test_linked_environment_directory_gives_the_links_prefix,
}

STUB_SOURCE = Path(__file__).parent.parent / "src" / "stub" / "stub.c"


@pytest.fixture(scope="module")
def musl() -> Target:
    """The musl-linked CPython named by ``SYMLINK_SAFE_MUSL_PYTHON``."""
    exe = os.environ.get("SYMLINK_SAFE_MUSL_PYTHON")
    if not exe:
        reason = "SYMLINK_SAFE_MUSL_PYTHON is not set; tox run -e musl builds a musl CPython and sets it"
        if os.environ.get("SYMLINK_SAFE_REQUIRE_MUSL"):
            pytest.fail(f"SYMLINK_SAFE_REQUIRE_MUSL is set but {reason}")
        pytest.skip(reason)
    path = Path(exe)
    # tox -e musl also makes it the session's only target interpreter, so the summary counts it as run.
    listed = [target for target in targets() if target.exe == path]
    if listed:
        return exercise(listed[0])
    version, implementation = _version_of(path)  # raises: a named interpreter must run
    assert implementation == "CPython"
    return exercise(Target(exe=path, version=version, origin="musl"))


@pytest.mark.contract("C18")
def test_musl_interpreter_is_linked_against_the_musl_loader(musl: Target) -> None:
    assert read_header(Path(os.path.realpath(musl.exe))).interpreter == MUSL_LOADER


@pytest.mark.contract("C18", "rule 5")
def test_musl_build_of_the_stub_is_linked_against_the_musl_loader(musl: Target) -> None:
    header = read_header(installed_stub())
    assert header.interpreter == MUSL_LOADER, "install the package built with SYMLINK_SAFE_LINKAGE=dynamic by musl-gcc"
    build = json.loads(files("virtualenv_symlink_safe").joinpath("stub-build.json").read_text())
    assert (build["linkage"], build["libc"], build["compiler"]) == ("dynamic", "musl", "musl-gcc")
    assert stub_mismatch(str(musl.exe)) is None


@pytest.mark.contract("C18")
@pytest.mark.parametrize("case", CORE.values(), ids=CORE.keys())
def test_conformance_core_holds_for_a_musl_interpreter(
    case: Callable[[Runner, Target, Path], None], runner: Runner, musl: Target, work: Path
) -> None:
    case(runner, musl, work)


# C15 on musl: pip's packaging derives the musllinux tags from the loader named in sys.executable, the stub.
@pytest.mark.contract("C18", "C15")
@pytest.mark.slow
def test_musllinux_tags_libc_and_architecture_equal_a_plain_environments(
    runner: Runner, musl: Target, work: Path
) -> None:
    plain = seeded(runner, musl, work / "plain", musl.builtin)
    stubbed = seeded(runner, musl, work / "stubbed", "symlink-safe")
    assert not stubbed.python.is_symlink(), "the stub environment's python must be the stub"

    expected = json.loads(runner.run([plain.python, "-c", TAGS_REPORT], check=True).stdout)
    got = json.loads(runner.run([stubbed.python, "-c", TAGS_REPORT], check=True).stdout)

    assert any("musllinux_1_2_x86_64" in tag for tag in expected["tags"]), "the plain environment saw no musllinux"
    assert not any("manylinux" in tag for tag in expected["tags"])
    assert got["tags"] == expected["tags"]
    assert got["libc_ver"] == expected["libc_ver"]
    assert got["architecture"] == expected["architecture"]


def _default_build_package(folder: Path, libc: str, *cmake_args: str) -> Path:
    """A copy of the installed package holding the stub that ``src/stub/CMakeLists.txt`` builds by default."""
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("cmake is not on PATH (apt-get install cmake)")
    build = folder / "build"
    subprocess.run([cmake, "-S", STUB_SOURCE.parent, "-B", build, *cmake_args], check=True, capture_output=True)
    subprocess.run([cmake, "--build", build], check=True, capture_output=True)
    built = json.loads((build / "stub-build.json").read_text())
    assert (built["linkage"], built["libc"]) == ("static", libc)
    package = folder / "shadow" / "virtualenv_symlink_safe"
    shutil.copytree(Path(str(files("virtualenv_symlink_safe"))), package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(build / "symlink-safe-stub", package / "symlink-safe-stub")
    assert read_header(package / "symlink-safe-stub").interpreter is None
    return package.parent


# Rule 5: the default, static build of the stub is refused for a musl interpreter, whether musl-gcc (the
# default where it is on PATH) or the glibc compiler built it.
@pytest.mark.contract("C18")
@pytest.mark.parametrize(
    ("libc", "cmake_args"), [("musl", ()), ("glibc", ("-DSYMLINK_SAFE_USE_MUSL_GCC=OFF",))], ids=["musl", "glibc"]
)
def test_static_stub_is_refused_for_a_musl_interpreter(
    runner: Runner, musl: Target, work: Path, libc: str, cmake_args: tuple[str, ...]
) -> None:
    shadow = _default_build_package(work / "default", libc, *cmake_args)
    env = {**runner.environ, "PYTHONPATH": str(shadow)}  # the copy goes before the installed package
    cmd: list[str | Path] = [sys.executable, "-m", "virtualenv", "--app-data", runner.app_data, "-p", musl.exe]
    cmd += ["--creator", "symlink-safe", "--no-seed", work / "env"]
    result = runner.run(cmd, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if "the symlink-safe creator cannot create" in line]
    assert len(lines) == 1, output
    loader = f"the stub's loader (none, statically linked) differs from the interpreter's ({MUSL_LOADER})"
    assert loader in lines[0]
    assert not (work / "env").exists()
