"""``virtualenv-symlink-safe check`` lists the environments under some folders and says which are symlink-safe.

Every environment is made for real, by ``python -m venv``, virtualenv's builtin creator, this creator, ``uv venv``
and ``convert``, from one interpreter: the verdict does not depend on the version, the stub's decision does and is
tested elsewhere (``test_decision.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import UV, newest
from virtualenv_symlink_safe.creation import _write_marker
from virtualenv_symlink_safe.errors import Status as CommandStatus

if TYPE_CHECKING:
    import subprocess

    from conftest import Runner, Target

pytestmark = pytest.mark.slow

NEWEST = newest()


def make(runner: Runner, uv_environ: dict[str, str], dest: Path, origin: str, target: Target = NEWEST) -> Path:
    """Make an environment at ``dest`` as ``origin`` makes it, without pip."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if origin == "venv":
        runner.run([target.exe, "-m", "venv", "--without-pip", dest], check=True)
    elif origin == "builtin":
        runner.create(target, dest, creator=target.builtin, marker=False)
    elif origin == "uv":
        runner.run([UV, "venv", "--quiet", "-p", target.exe, dest], env=uv_environ, check=True)
    elif origin == "converted":
        make(runner, uv_environ, dest, "venv", target)
        command(runner, "convert", dest, check=True)
    else:
        runner.create(target, dest, marker=False)
    return dest


def command(
    runner: Runner, *args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "virtualenv_symlink_safe", *map(str, args)]
    return runner.run(cmd, env=env, cwd=cwd, check=check)


def verdicts(output: str) -> dict[Path, str]:
    """Each environment's line, by its folder: ``PATH: VERDICT ...``."""
    found = {}
    for line in output.splitlines():
        path, sep, rest = line.partition(": ")
        if sep and path.startswith("/"):
            found[Path(path)] = rest
    return found


def test_check_tells_plain_environments_from_symlink_safe_ones(
    runner: Runner, uv_environ: dict[str, str], work: Path
) -> None:
    origins = ("venv", "builtin", "uv", "symlink-safe", "converted")
    made = {origin: make(runner, uv_environ, work / "envs" / origin, origin) for origin in origins}
    result = command(runner, "check", work / "envs")
    assert result.returncode == CommandStatus.NOT_SYMLINK_SAFE, result.stdout + result.stderr
    said = verdicts(result.stdout)
    assert set(said) == set(made.values())
    for origin in ("venv", "builtin", "uv"):
        line = said[made[origin]]
        assert line.startswith("plain (made by "), line
        assert "bin/python is a symlink to " in line
        assert line.endswith(f"run 'virtualenv-symlink-safe convert {made[origin]}'")
    assert said[made["uv"]].startswith("plain (made by uv ")
    assert said[made["venv"]].startswith("plain (made by venv)")
    assert said[made["symlink-safe"]].startswith("symlink-safe (made by virtualenv ")
    assert said[made["converted"]] == "symlink-safe (made by venv)"
    assert result.stdout.splitlines()[-1] == "3 of 5 environments not symlink-safe"
    # doing as told makes the check pass
    command(runner, "convert", *(made[origin] for origin in ("venv", "builtin", "uv")), check=True)
    again = command(runner, "check", work / "envs")
    assert again.returncode == 0, again.stdout + again.stderr
    assert all(line.startswith("symlink-safe (made by ") for line in verdicts(again.stdout).values())
    assert again.stdout.splitlines()[-1] == "5 environments, all symlink-safe"


def _version(said: dict[Path, str]) -> str:
    return (
        next(line for line in said.values() if "made by virtualenv " in line).split("virtualenv ", 1)[1].split(")")[0]
    )


def test_check_says_why_a_stub_environment_is_not_symlink_safe(
    runner: Runner, uv_environ: dict[str, str], work: Path
) -> None:
    half = make(runner, uv_environ, work / "envs" / "half", "symlink-safe")
    _write_marker(half)  # what an interrupted creation leaves inside it
    lost = make(runner, uv_environ, work / "envs" / "lost", "symlink-safe")
    cfg = lost / "pyvenv.cfg"
    cfg.write_text(
        "".join(
            f"base-executable = {work / 'gone' / 'python3'}\n" if line.startswith("base-executable") else line
            for line in cfg.read_text().splitlines(keepends=True)
        )
    )
    old = make(runner, uv_environ, work / "envs" / "old", "symlink-safe")
    with (old / "bin" / "python").open("ab") as stub:  # every name is one file: another build of the stub
        stub.write(b"\0")
    result = command(runner, "-q", "check", work / "envs")
    assert result.returncode == CommandStatus.NOT_SYMLINK_SAFE, result.stdout + result.stderr
    said = verdicts(result.stdout)
    assert said[half].startswith(f"unfinished (made by virtualenv {_version(said)}): an earlier creation (pid ")
    assert said[half].endswith("; create it again with virtualenv")
    assert said[lost].startswith("broken (made by virtualenv ")
    assert "the stub would fail for bin/python (status 107)" in said[lost]
    assert said[old].endswith(
        f"a stub of another plugin version; run 'virtualenv-symlink-safe convert {old}' to upgrade it"
    )
    assert result.stdout.splitlines() == [f"{path}: {said[path]}" for path in (half, lost, old)]  # -q: no summary


def test_check_looks_in_the_usual_places_by_default(runner: Runner, uv_environ: dict[str, str], work: Path) -> None:
    project, home = work / "project", work / "home"
    data = home / ".local" / "share"
    made = [
        make(runner, uv_environ, project / ".venv", "uv"),
        make(runner, uv_environ, project / ".tox" / "py", "symlink-safe"),
        make(runner, uv_environ, project / ".nox" / "tests", "venv"),
        make(runner, uv_environ, data / "hatch" / "env" / "virtual" / "probe" / "AbCd1234" / "probe", "symlink-safe"),
        make(runner, uv_environ, data / "pipx" / "venvs" / "tool", "converted"),
        make(runner, uv_environ, data / "pdm" / "venvs" / "probe-AbCd-3.x", "venv"),
        make(runner, uv_environ, home / ".cache" / "pypoetry" / "virtualenvs" / "probe-AbCd-py3.x", "symlink-safe"),
    ]
    make(runner, uv_environ, project / "deep" / "a" / "b" / "env", "venv")  # not a usual place
    drop = ("XDG_", "HATCH_", "PIPX_", "TOX_", "UV_", "POETRY_")
    env = {key: value for key, value in runner.environ.items() if not key.startswith(drop)}
    result = command(runner, "check", env={**env, "HOME": str(home)}, cwd=project)
    assert result.returncode == CommandStatus.NOT_SYMLINK_SAFE, result.stdout + result.stderr
    said = verdicts(result.stdout)
    assert list(said) == made
    assert [line.split(" ")[0] for line in said.values()] == [
        "plain",
        "symlink-safe",
        "plain",
        "symlink-safe",
        "symlink-safe",
        "plain",
        "symlink-safe",
    ]

    # the variables that move them are honoured
    moved = {
        "TOX_WORK_DIR": "work",
        "HATCH_DATA_DIR": str(work / "hatch"),
        "XDG_DATA_HOME": str(work / "xdg"),
        "POETRY_VIRTUALENVS_PATH": str(work / "poetry"),
    }
    made = [
        make(runner, uv_environ, project / "work" / "py", "venv"),
        make(runner, uv_environ, work / "hatch" / "env" / ".internal" / "hatch-test" / "p" / "id" / "t", "uv"),
        make(runner, uv_environ, work / "xdg" / "pipx" / "venvs" / "tool", "symlink-safe"),
        make(runner, uv_environ, work / "xdg" / "pdm" / "venvs" / "probe", "symlink-safe"),
        make(runner, uv_environ, work / "poetry" / "probe", "symlink-safe"),
    ]
    (project / ".venv").rename(work / "away")
    result = command(runner, "check", env={**env, "HOME": str(home), **moved}, cwd=project)
    assert list(verdicts(result.stdout)) == [made[0], project / ".nox" / "tests", *made[1:]]


def test_check_refuses_a_folder_that_does_not_exist(runner: Runner, work: Path) -> None:
    (work / "empty").mkdir()
    result = command(runner, "check", work / "empty", work / "missing")
    assert result.returncode == CommandStatus.NOT_AN_ENVIRONMENT
    assert result.stderr.splitlines() == [f"error: {work / 'missing'} does not exist or is not a folder"]
    assert result.stdout == f"no environment found ({work / 'empty'})\n"
    assert not list((work / "empty").iterdir())
