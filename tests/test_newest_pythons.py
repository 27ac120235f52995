"""What CPython 3.14 and 3.15 change for the stub's rules, made with the interpreters this machine has.

CPython 3.14 and 3.15 cannot be run here (docs/how-to/install.rst says which versions were run and which were only
read). What they change in the files an environment holds is reproduced with the newest CPython there is:

- 3.14's ``venv`` adds ``bin/𝜋thon``, a relative link to ``python`` (gh-119535);
- 3.14's ``getpath`` (GH-126985, then gh-135773) takes a ``pyvenv.cfg`` without ``home`` as an environment and
  finds the base by following ``bin/python``'s symlink, as 3.13's ``site`` did;
- PEP 796 (a draft for 3.15) would take a relative ``home`` from the directory holding ``pyvenv.cfg``; every
  CPython released takes it from the working directory, and so does the stub (contract rule 3.1).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import Status, Venv, exercise, newest
from test_conformance import assert_lands_in
from test_convert import command, snapshot
from virtualenv_symlink_safe.errors import Status as CommandStatus
from virtualenv_symlink_safe.names import PI_THON, is_interpreter_name

if TYPE_CHECKING:
    from conftest import Runner, Target


@pytest.fixture
def cpython() -> Target:
    """The newest CPython here: one interpreter suffices for what these tests reproduce."""
    return exercise(newest())


def venv_of(runner: Runner, target: Target, dest: Path) -> Venv:
    runner.run([target.exe, "-m", "venv", "--without-pip", dest], check=True)
    venv = Venv(dest, target)
    venv.add_marker()
    return venv


def test_pi_thon_is_an_interpreter_name() -> None:
    assert PI_THON == "\U0001d70bthon"
    assert is_interpreter_name(PI_THON)
    assert not is_interpreter_name("\N{GREEK SMALL LETTER PI}thon")  # not the letter 3.14's venv uses


def test_pi_thon_is_converted_explained_and_reverted(runner: Runner, cpython: Target, work: Path) -> None:
    """3.14's ``venv`` layout: convert makes ``𝜋thon`` the stub with the other names, revert a link again."""
    venv = venv_of(runner, cpython, work / "env")
    pi = venv.bin / PI_THON
    pi.symlink_to("python")  # as 3.14's venv makes it: relative, within bin/
    assert_lands_in(runner.probe(pi), venv)

    assert command(runner, "convert", venv.path).returncode == 0
    assert not pi.is_symlink()
    assert pi.lstat().st_ino == venv.python.lstat().st_ino, "𝜋thon is not the same stub as python"
    link = work / "elsewhere" / "py"
    link.parent.mkdir()
    link.symlink_to(pi)
    assert_lands_in(runner.probe(link), venv)  # the case, through the new name
    explained = command(runner, "explain", link)
    assert explained.returncode == 0, explained.stderr
    assert f"runs in the environment {venv.path}" in explained.stdout

    assert command(runner, "revert", venv.path).returncode == 0
    assert pi.is_symlink()
    assert pi.readlink() == Path("python")
    assert_lands_in(runner.probe(pi), venv)


@pytest.mark.contract("rule 3.1")
def test_cfg_without_a_base_key_is_not_converted(runner: Runner, cpython: Target, work: Path) -> None:
    """A ``pyvenv.cfg`` without ``home`` (bazel's rules_python writes one): plain CPython finds the base through
    ``bin/python``'s symlink (3.13's ``site``, 3.14's ``getpath``); the stub has no link to follow, so convert
    refuses it in one line and changes nothing."""
    venv = venv_of(runner, cpython, work / "env")
    venv.cfg.write_text("include-system-site-packages = false\n")
    assert_lands_in(runner.probe(venv.python), venv)  # the control: plain CPython runs it
    before = snapshot(venv.path)
    result = command(runner, "convert", venv.path)
    assert result.returncode == CommandStatus.BASE_UNUSABLE, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "no base-executable, executable or home" in result.stderr
    assert snapshot(venv.path) == before


@pytest.mark.contract("rule 3.1")
def test_relative_home_is_taken_from_the_working_directory(runner: Runner, cpython: Target, work: Path) -> None:
    """As CPython 3.8-3.14 take it; PEP 796 (a draft) would take it from ``pyvenv.cfg``'s directory."""
    venv = runner.create(cpython, work / "env")
    home = Path(os.path.realpath(cpython.exe)).parent
    version = f"{cpython.version[0]}.{cpython.version[1]}.{cpython.version[2]}"
    venv.cfg.write_text(f"home = {os.path.relpath(home, work)}\nversion_info = {version}\n")
    assert_lands_in(runner.probe(venv.python, cwd=work), venv)

    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    result = runner.run([venv.python, "-c", "pass"], cwd=elsewhere)
    assert result.returncode == Status.BASE_UNUSABLE, result.stderr
    assert "no python interpreter in 'home'" in result.stderr
