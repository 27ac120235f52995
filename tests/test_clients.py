"""tox, hatch and pre-commit build their environments with symlink-safe when virtualenv is told so.

Each client runs for real, from this test environment, with ``HOME``, the XDG folders and its caches in a
temporary folder and pip kept off the network. The creator is chosen the way a user would: through
``VIRTUALENV_CREATOR``, or through virtualenv's user config file.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import virtualenv

from conftest import Runner, Target, Venv, newest
from virtualenv_symlink_safe.stub import STUB_NAME

if TYPE_CHECKING:
    import subprocess

NEWEST = newest()
#: The interpreter running the tests, which pre-commit hands to virtualenv when a hook names no version.
HERE = Target(exe=Path(sys.executable), version=(*sys.version_info[:3],), origin="test-env")
PACKAGE_STUB = Path(sys.modules["virtualenv_symlink_safe.stub"].__file__ or "").with_name(STUB_NAME)
#: virtualenv's bundled wheels: pip finds setuptools there to build pre-commit's placeholder package offline.
EMBEDDED_WHEELS = Path(virtualenv.__file__).parent / "seed" / "wheels" / "embed"
PRINT_PREFIX = "import sys; print('prefix', sys.prefix)"

MISSING = [name for name in ("tox", "hatch", "pre_commit") if importlib.util.find_spec(name) is None]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING) and not os.environ.get("SYMLINK_SAFE_REQUIRE_CLIENTS"),
        reason=f"not installed: {', '.join(MISSING)} (install the 'clients' extra)",
    ),
]


@pytest.fixture(params=["variable", "config-file"])
def client_environ(request: pytest.FixtureRequest, runner: Runner, work: Path) -> dict[str, str]:
    """A fresh home for the client, and symlink-safe chosen through virtualenv's variable or user config file."""
    # an outer tox (tox -e py runs these tests) leaves TOX_* and VIRTUAL_ENV behind: the client must not see them
    drop = ("VIRTUALENV_", "VIRTUAL_ENV", "XDG_", "TOX_", "HATCH_", "PRE_COMMIT")
    env = {k: v for k, v in runner.environ.items() if not k.startswith(drop)}
    home = work / "home"
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PRE_COMMIT_HOME=str(work / "pre-commit-home"),
        VIRTUALENV_APP_DATA=str(runner.app_data),  # the session's warm one, under a temporary folder too
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(EMBEDDED_WHEELS),
    )
    if request.param == "variable":
        env["VIRTUALENV_CREATOR"] = "symlink-safe"
    else:  # virtualenv's user config file, found through XDG_CONFIG_HOME as platformdirs reads it
        config = home / ".config" / "virtualenv" / "virtualenv.ini"
        config.parent.mkdir(parents=True)
        config.write_text("[virtualenv]\ncreator = symlink-safe\n")
    return env


def assert_stubbed(runner: Runner, env_dir: Path, target: Target, link: Path) -> None:
    """``bin/python`` is the packaged stub, and the environment answers through an external symlink."""
    python = env_dir / "bin" / "python"
    assert python.is_file()
    assert not python.is_symlink()
    assert python.read_bytes() == PACKAGE_STUB.read_bytes()
    assert "virtualenv = " in (env_dir / "pyvenv.cfg").read_text()  # virtualenv made it, not venv or uv
    venv = Venv(env_dir, target)
    venv.add_marker()
    link.symlink_to(python)
    report = runner.probe(link)
    assert report["marker"] == str(env_dir)
    assert report["prefix"] == str(env_dir)


def prefix_printed(output: str) -> Path:
    """The environment the client ran ``PRINT_PREFIX`` in."""
    printed = [line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("prefix ")]
    assert len(printed) == 1, output
    return Path(printed[0])


def assert_client_made(
    runner: Runner, result: subprocess.CompletedProcess[str], env_dir: Path, target: Target, link: Path
) -> None:
    """The client exited 0, ran its command in ``env_dir``, and ``env_dir`` is a working stub environment."""
    assert result.returncode == 0, result.stdout + result.stderr
    assert prefix_printed(result.stdout) == env_dir
    assert_stubbed(runner, env_dir, target, link)


def test_tox(runner: Runner, work: Path, client_environ: dict[str, str]) -> None:
    """tox 4 creates its environments through virtualenv's Python API, in its own process."""
    project = work / "project"
    project.mkdir()
    (project / "tox.ini").write_text(
        "[tox]\nenv_list = check\n\n"
        "[testenv:check]\n"
        "skip_install = true\n"
        f"base_python = {NEWEST.exe}\n"
        f'commands = python -c "{PRINT_PREFIX}"\n'
    )
    result = runner.run([sys.executable, "-m", "tox", "run", "-e", "check"], env=client_environ, cwd=project)
    assert_client_made(runner, result, project / ".tox" / "check", NEWEST, work / "link")


def test_hatch(runner: Runner, work: Path, client_environ: dict[str, str]) -> None:
    """hatch's ``virtual`` environments use virtualenv's Python API, as long as the installer is pip, not uv."""
    project = work / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "probe"\nversion = "0"\n\n'
        "[tool.hatch.envs.default]\n"
        'type = "virtual"\n'
        'installer = "pip"\n'  # "uv" would make the environment with uv venv, not virtualenv
        "skip-install = true\n"
        'path = "hatch-env"\n'
        f'python = "{NEWEST.exe}"\n'
    )
    cmd = [sys.executable, "-m", "hatch", "run", "python", "-c", PRINT_PREFIX]
    result = runner.run(cmd, env=client_environ, cwd=project)
    assert_client_made(runner, result, project / "hatch-env", NEWEST, work / "link")


def test_pre_commit(runner: Runner, work: Path, client_environ: dict[str, str]) -> None:
    """pre-commit runs ``python -m virtualenv`` for a ``language: python`` hook, then pip-installs the hook into it."""
    project = work / "project"
    project.mkdir()
    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        "  - repo: local\n"
        "    hooks:\n"
        "      - id: probe\n"
        "        name: probe\n"
        "        language: python\n"
        f'        entry: python -c "{PRINT_PREFIX}"\n'
        "        pass_filenames: false\n"
        "        always_run: true\n"
        "        verbose: true\n"
    )
    runner.run(["git", "init", "-q", project], env=client_environ, check=True)
    runner.run(["git", "add", ".pre-commit-config.yaml"], env=client_environ, cwd=project, check=True)
    result = runner.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], env=client_environ, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    env_dir = prefix_printed(result.stdout)
    assert env_dir.parent.parent == work / "pre-commit-home"  # <home>/repoXXXX/py_env-pythonX.Y
    assert env_dir.name == f"py_env-python{HERE.short}"
    assert_stubbed(runner, env_dir, HERE, work / "link")
