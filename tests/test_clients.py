"""tox, hatch and pre-commit build their environments with symlink-safe when virtualenv is told so.

Each client runs for real, from this test environment, with ``HOME``, the XDG folders and its caches in a
temporary folder and pip kept off the network. The creator is chosen the way a user would: through
``VIRTUALENV_CREATOR``, or through virtualenv's user config file. The two tox routes of ``docs/how-to/clients.rst``
(``[tox] requires`` provisioning, the 3.8 bootstrap) let pip reach the index, as tox installs tox or an older
virtualenv from it; the plugin itself comes from this build, zipped back into a wheel.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import virtualenv

from conftest import Runner, Target, Venv, build_marker_wheel, newest, targets
from virtualenv_symlink_safe.stub import STUB_NAME

NEWEST = newest()
#: The interpreter running the tests, which pre-commit hands to virtualenv when a hook names no version.
HERE = Target(exe=Path(sys.executable), version=(*sys.version_info[:3],), origin="test-env")
PACKAGE_STUB = Path(sys.modules["virtualenv_symlink_safe.stub"].__file__ or "").with_name(STUB_NAME)
#: virtualenv's bundled wheels: pip finds setuptools there to build pre-commit's placeholder package offline.
EMBEDDED_WHEELS = Path(virtualenv.__file__).parent / "seed" / "wheels" / "embed"
PRINT_PREFIX = "import sys; print('prefix', sys.prefix)"
#: A CPython 3.8: today's virtualenv cannot make its environments, so tox bootstraps an older one for it.
PY38 = next((t for t in targets() if t.version[:2] == (3, 8) and not t.is_pypy), None)

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
    return fresh_client_environ(runner, work, request.param)


def fresh_client_environ(runner: Runner, work: Path, via: str) -> dict[str, str]:
    """A fresh home for the client, and symlink-safe chosen ``via`` virtualenv's ``variable`` or ``config-file``."""
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
    if via == "variable":
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


def installed_wheel(folder: Path, name: str = "virtualenv-symlink-safe") -> Path:
    """A wheel of a distribution installed in the test environment, zipped back from its files, offline.

    The plugin is not on an index: a client that installs it into an environment of its own gets it from here, the
    very build under test (its compiled stub included, mode kept).
    """
    dist = importlib.metadata.distribution(name)
    info = dist.read_text("WHEEL") or ""
    tag = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Tag:"))
    stem = f"{name.replace('-', '_')}-{dist.version}"
    wheel = folder / f"{stem}-{tag}.whl"
    skip = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    written = []
    with zipfile.ZipFile(wheel, "w") as archive:
        for file in dist.files or ():
            if ".." in file.parts or "__pycache__" in file.parts or file.name in skip:
                continue
            source = Path(str(file.locate()))
            entry = zipfile.ZipInfo(file.as_posix())
            entry.external_attr = (source.stat().st_mode & 0o777 | 0o100000) << 16
            archive.writestr(entry, source.read_bytes())
            written.append(file.as_posix())
        record = f"{stem}.dist-info/RECORD"
        archive.writestr(record, "".join(f"{path},,\n" for path in [*written, record]))
    return wheel


#: tox installing tox, or an older virtualenv, from the index takes longer than the usual bound on one run.
LONG_RUN = 240


def run_long(args: list[str | Path], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=LONG_RUN, check=False
    )


@pytest.fixture
def online_environ(runner: Runner, work: Path) -> dict[str, str]:
    """The client's environment, with pip allowed on the index (tox installs tox, or an older virtualenv, from it).

    The creator is chosen through the variable only: these runs are long, and the config file reaches the same
    virtualenv. pip's own cache of the invoking user keeps it to one download per machine.
    """
    client_environ = fresh_client_environ(runner, work, "variable")
    env = {k: v for k, v in client_environ.items() if k != "PIP_NO_INDEX"}
    real_home = Path(runner.environ.get("HOME") or Path.home())
    env["PIP_CACHE_DIR"] = runner.environ.get("PIP_CACHE_DIR") or str(real_home / ".cache" / "pip")
    return env


def test_tox_provisioning_keeps_the_plugin_listed_in_requires(
    runner: Runner, work: Path, online_environ: dict[str, str]
) -> None:
    """``[tox] requires`` makes tox run from ``.tox/.tox``: listing the plugin there keeps the creator."""
    wheels = work / "wheels"
    wheels.mkdir()
    build_marker_wheel(wheels)  # a requirement the running tox lacks: it provisions
    plugin = installed_wheel(wheels)
    version = importlib.metadata.version("virtualenv-symlink-safe")
    project = work / "project"
    project.mkdir()
    (project / "tox.ini").write_text(
        "[tox]\n"
        f"requires =\n    symlink_safe_probe\n    virtualenv-symlink-safe=={version}\n"
        "env_list = check\n\n"
        "[testenv:check]\n"
        "skip_install = true\n"
        f"base_python = {NEWEST.exe}\n"
        f'commands = python -c "{PRINT_PREFIX}"\n'
    )
    env = {**online_environ, "PIP_FIND_LINKS": f"{EMBEDDED_WHEELS} {plugin.parent}"}
    result = run_long([sys.executable, "-m", "tox", "run", "-e", "check"], env=env, cwd=project)
    assert "will run in automatically provisioned tox" in result.stdout + result.stderr
    assert (project / ".tox" / ".tox" / "bin" / "tox").exists()
    assert_client_made(runner, result, project / ".tox" / "check", NEWEST, work / "link")


@pytest.mark.skipif(not PY38, reason="needs CPython 3.8 (pyenv) for tox's bootstrapped virtualenv")
def test_tox_py38_bootstrap_takes_the_plugin_once(runner: Runner, work: Path, online_environ: dict[str, str]) -> None:
    """tox makes 3.8 environments with an older virtualenv it bootstraps: the plugin installed there serves them."""
    assert PY38 is not None
    project = work / "project"
    project.mkdir()
    (project / "tox.ini").write_text(
        f'[tox]\nenv_list = py38\n\n[testenv]\nskip_install = true\ncommands = python -c "{PRINT_PREFIX}"\n'
    )
    # tox bootstraps only for a version it can read from the name (py38, python3.8), not for a path: found on PATH
    online_environ["PATH"] = f"{PY38.exe.parent}{os.pathsep}{online_environ['PATH']}"
    tox: list[str | Path] = [sys.executable, "-m", "tox", "run", "-e", "py38"]
    # the documented route: let tox bootstrap its virtualenv with a builtin creator, put the plugin there, recreate
    builtin = {**online_environ, "VIRTUALENV_CREATOR": "builtin"}
    bootstrapped = run_long([*tox, "--notest"], env=builtin, cwd=project)
    assert bootstrapped.returncode == 0, bootstrapped.stdout + bootstrapped.stderr
    bootstraps = list((project / ".tox" / ".virtualenv-bootstrap").glob("*/bin/python"))
    assert len(bootstraps) == 1, bootstraps
    plugin = installed_wheel(work)
    runner.run([bootstraps[0], "-m", "pip", "install", "-q", plugin], env=online_environ, check=True)
    result = run_long([*tox, "-r"], env=online_environ, cwd=project)
    assert_client_made(runner, result, project / ".tox" / "py38", PY38, work / "link")
