"""A free-threaded CPython (PEP 703, ``python3.13t``) through the creator, convert and explain.

The interpreter is built from Debian trixie's CPython 3.13 source with ``--disable-gil`` by
``tests/pythons/build-python.sh``; ``tox run -e freethreaded`` builds it once, names it in
``SYMLINK_SAFE_FREETHREADED_PYTHON`` and makes it the session's only target, so the conformance core, C15 and convert
run against it as well. Without that variable these tests skip, unless ``SYMLINK_SAFE_REQUIRE_FREETHREADED`` is set,
as the tox env does: then they fail.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import Target, Venv, _facts_of, exercise, targets
from virtualenv_symlink_safe.names import is_free_threaded_name, is_interpreter_name

if TYPE_CHECKING:
    from conftest import Runner

#: What tells a free-threaded interpreter from the GIL build of the same version, reported from inside.
REPORT = (
    "import json, sys, sysconfig; print(json.dumps({'prefix': sys.prefix, 'executable': sys.executable,"
    " 'abiflags': sys.abiflags, 'gil': sys._is_gil_enabled(),"
    " 'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}))"
)


@pytest.fixture(scope="module")
def freethreaded() -> Target:
    """The free-threaded CPython named by ``SYMLINK_SAFE_FREETHREADED_PYTHON``."""
    exe = os.environ.get("SYMLINK_SAFE_FREETHREADED_PYTHON")
    if not exe:
        reason = "SYMLINK_SAFE_FREETHREADED_PYTHON is not set; tox run -e freethreaded builds CPython 3.13t and sets it"
        if os.environ.get("SYMLINK_SAFE_REQUIRE_FREETHREADED"):
            pytest.fail(f"SYMLINK_SAFE_REQUIRE_FREETHREADED is set but {reason}")
        pytest.skip(reason)
    path = Path(exe)
    listed = [target for target in targets() if target.exe == path]
    if listed:
        assert listed[0].free_threaded, f"{path} is not a free-threaded build"
        return exercise(listed[0])
    version, implementation, free_threaded = _facts_of(path)  # raises: a named interpreter must run
    assert (implementation, free_threaded) == ("CPython", True), f"{path} is not a free-threaded CPython"
    return exercise(Target(path, version, "freethreaded", implementation, free_threaded))


def report(runner: Runner, exe: Path) -> dict[str, object]:
    result: dict[str, object] = json.loads(runner.run([exe, "-c", REPORT], check=True).stdout)
    return result


def names_in(venv: Venv) -> list[str]:
    return sorted(entry.name for entry in venv.bin.iterdir() if is_interpreter_name(entry.name))


def assert_runs_free_threaded(runner: Runner, exe: Path, venv: Venv) -> None:
    got = report(runner, exe)
    assert got["prefix"] == str(venv.path), f"{exe} did not land in {venv.path}: {got}"
    assert (got["abiflags"], got["free_threaded"], got["gil"]) == ("t", True, False), got


def test_freethreaded_the_interpreter_is_free_threaded(runner: Runner, freethreaded: Target) -> None:
    got = report(runner, freethreaded.exe)
    assert (got["abiflags"], got["free_threaded"], got["gil"]) == ("t", True, False), got
    assert Path(os.path.realpath(freethreaded.exe)).name == f"python{freethreaded.short}t"


def test_freethreaded_creator_makes_every_name_the_stub(runner: Runner, freethreaded: Target, work: Path) -> None:
    """``python3.13t``, the name virtualenv adds for a free-threaded interpreter, is the stub like the others."""
    venv = runner.create(freethreaded, work / "env")
    names = names_in(venv)
    assert f"python{freethreaded.short}t" in names, names
    assert [name for name in names if is_free_threaded_name(name)] == [f"python{freethreaded.short}t"]
    assert len({(venv.bin / name).lstat().st_ino for name in names}) == 1, f"not one stub under {names}"
    assert not any((venv.bin / name).is_symlink() for name in names)
    cfg = dict(line.split(" = ", 1) for line in venv.cfg.read_text().splitlines() if " = " in line)
    assert os.path.realpath(cfg["base-executable"]) == os.path.realpath(freethreaded.exe)
    assert (venv.site_packages / "marker_symlink_safe.py").is_file()
    for name in names:
        assert_runs_free_threaded(runner, venv.bin / name, venv)
    # the case, through the free-threaded name: a link from elsewhere still lands in the environment
    link = work / "elsewhere" / "py"
    link.parent.mkdir()
    link.symlink_to(venv.bin / f"python{freethreaded.short}t")
    assert_runs_free_threaded(runner, link, venv)


def test_freethreaded_convert_venv_of_the_free_threaded_build(runner: Runner, freethreaded: Target, work: Path) -> None:
    """``python3.13t -m venv`` names the interpreter ``python3.13t`` too; explain shows the ABI flag, and convert
    makes every name the stub."""
    venv = Venv(work / "env", freethreaded)
    runner.run([freethreaded.exe, "-m", "venv", "--without-pip", venv.path], check=True)
    before = names_in(venv)
    assert f"python{freethreaded.short}t" in before, before
    version = ".".join(map(str, freethreaded.version))
    explained = runner.run([sys.executable, "-m", "virtualenv_symlink_safe", "explain", venv.python], check=True)
    assert f"is no stub: cpython {version}t looked for pyvenv.cfg" in explained.stdout  # the ABI flag is shown
    runner.run([sys.executable, "-m", "virtualenv_symlink_safe", "convert", venv.path], check=True)
    assert names_in(venv) == before
    assert len({(venv.bin / name).lstat().st_ino for name in before}) == 1
    for name in before:
        assert_runs_free_threaded(runner, venv.bin / name, venv)


def _gil_twin(freethreaded: Target) -> Path | None:
    """A CPython of the same X.Y built with the GIL, from pyenv: the neighbour a distribution's ``/usr/bin`` has."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for candidate in sorted((root / "versions").glob(f"{freethreaded.short}.*/bin/python{freethreaded.short}")):
        if not _facts_of(candidate)[2]:
            return candidate
    return None


@pytest.mark.contract("rule 3.1")
def test_freethreaded_convert_names_the_free_threaded_base_when_home_holds_both(
    runner: Runner, freethreaded: Target, work: Path
) -> None:
    """A ``pyvenv.cfg`` with only ``home`` (uv, ``venv`` before 3.11) over a folder holding both builds, as Debian's
    ``/usr/bin`` does: ``home`` alone names ``python3.13``, the GIL build, so convert names the base the
    environment's links lead to in a ``base-executable`` line (rule 3.1 reads it first)."""
    gil = _gil_twin(freethreaded)
    if gil is None:
        pytest.skip(f"no CPython {freethreaded.short} with the GIL under pyenv to stand beside the free-threaded one")
    home = work / "usr" / "bin"
    home.mkdir(parents=True)
    (home / f"python{freethreaded.short}").symlink_to(gil)
    (home / f"python{freethreaded.short}t").symlink_to(os.path.realpath(freethreaded.exe))
    venv = Venv(work / "env", freethreaded)
    runner.run([freethreaded.exe, "-m", "venv", "--without-pip", venv.path], check=True)
    for name in names_in(venv):
        (venv.bin / name).unlink()
        (venv.bin / name).symlink_to(home / f"python{freethreaded.short}t")
    venv.cfg.write_text(f"home = {home}\ninclude-system-site-packages = false\nversion = {freethreaded.short}\n")
    assert_runs_free_threaded(runner, venv.python, venv)  # the control: plain CPython follows the link

    runner.run([sys.executable, "-m", "virtualenv_symlink_safe", "convert", venv.path], check=True)
    assert f"base-executable = {home / f'python{freethreaded.short}t'}" in venv.cfg.read_text().splitlines()
    for name in names_in(venv):
        assert_runs_free_threaded(runner, venv.bin / name, venv)
