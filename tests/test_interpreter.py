"""Contract rule 10: a converted interpreter installation, tested on copies of real ones.

``virtualenv-symlink-safe convert PREFIX`` makes every environment later made from the installation symlink-safe,
whoever makes it; the interpreter itself behaves as before; ``revert PREFIX`` puts back the very files. Each test
works on its own copy of a real pyenv CPython (``bin/`` copied, the rest hard-linked from one copy per session), so
nothing outside the test's folder is ever changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import PROBE, UV, Status, Target, Venv, calls_after, strace_or_skip
from test_convert import make
from virtualenv_symlink_safe.creation import LOCK_NAME
from virtualenv_symlink_safe.decision import decide
from virtualenv_symlink_safe.environment import STUB_HEAD, STUB_MARKER
from virtualenv_symlink_safe.errors import Status as CommandStatus
from virtualenv_symlink_safe.installation import companion_name
from virtualenv_symlink_safe.stub import TEMPORARY_PREFIX, stub_resource

if TYPE_CHECKING:
    from conftest import Runner

#: The installation copied: a pyenv CPython, as the issue names it; another with SYMLINK_SAFE_TEST_INSTALLATION.
SOURCE = Path(os.environ.get("SYMLINK_SAFE_TEST_INSTALLATION", "/root/.pyenv/versions/3.12.1"))
#: What the interpreter says of itself beyond PROBE: the tags and build facts wheels and tools read.
IDENTITY = PROBE.replace(
    '"marker": marker,',
    '"marker": marker, "cache_tag": sys.implementation.cache_tag, "platform": sysconfig.get_platform(), '
    '"soabi": sysconfig.get_config_var("SOABI"), "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX"), '
    '"config": sorted((k, str(v)) for k, v in sysconfig.get_config_vars().items()), "version": sys.version,',
)


def _version(exe: Path) -> tuple[int, int, int]:
    out = subprocess.run([exe, "-c", "import sys; print(*sys.version_info[:3])"], capture_output=True, check=True)
    major, minor, micro = map(int, out.stdout.split())
    return major, minor, micro


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One whole copy of the installation per session, never changed: each test's copy hard-links its files."""
    if not (SOURCE / "bin").is_dir():
        pytest.skip(f"no interpreter installation at {SOURCE} to copy (set SYMLINK_SAFE_TEST_INSTALLATION)")
    dest = tmp_path_factory.mktemp("installation", numbered=True).resolve() / "pristine"
    shutil.copytree(SOURCE, dest, symlinks=True)
    return dest


@pytest.fixture
def prefix(pristine: Path, work: Path) -> Path:
    """This test's installation: ``bin/`` a real copy (convert changes it), the rest hard links to the pristine copy.

    Nothing a test runs writes into the installation but ``bin/`` (bytecode is written by rename, never in place).
    """
    dest = work / "python"
    dest.mkdir()
    for entry in pristine.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            copy = shutil.copy2 if entry.name == "bin" else os.link
            shutil.copytree(entry, dest / entry.name, symlinks=True, copy_function=copy)
    return dest


def interpreter(prefix: Path) -> Path:
    """The installation's real interpreter file, ``bin/pythonX.Y``."""
    names = [p for p in (prefix / "bin").iterdir() if p.name.startswith("python3.") and "-" not in p.name]
    names = [p for p in names if not p.is_symlink() and not p.name.endswith(".py")]
    assert len(names) == 1, names
    return names[0]


def command(runner: Runner, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return runner.run([sys.executable, "-m", "virtualenv_symlink_safe", *map(str, args)])


def convert(runner: Runner, prefix: Path) -> subprocess.CompletedProcess[str]:
    result = command(runner, "convert", prefix)
    assert result.returncode == 0, result.stderr
    return result


def identity(runner: Runner, *cmd: str | Path, **kwargs: object) -> dict[str, object]:
    result = runner.run([*cmd, "-c", IDENTITY], check=True, **kwargs)  # type: ignore[arg-type]
    report: dict[str, object] = json.loads(result.stdout)
    return report


def files(folder: Path) -> dict[str, object]:
    """Every entry of ``folder``: kind, inode, mode, modification time, links and bytes, symlinks unfollowed."""
    seen: dict[str, object] = {}
    for path in sorted(folder.iterdir()):
        info = path.lstat()
        if path.is_symlink():
            seen[path.name] = ("link", str(path.readlink()))
        elif path.is_dir():  # a folder's times change as any entry made or renamed in it changes them
            seen[path.name] = ("dir", info.st_ino, info.st_mode)
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            seen[path.name] = (info.st_ino, info.st_mode, info.st_mtime_ns, info.st_nlink, digest)
    return seen


def assert_launcher(prefix: Path) -> None:
    exe = interpreter(prefix)
    assert STUB_MARKER in exe.read_bytes()[:STUB_HEAD]
    companion = exe.with_name(companion_name(exe.name))
    assert companion.is_file()
    assert not companion.is_symlink()
    assert STUB_MARKER not in companion.read_bytes()


def converted_target(prefix: Path) -> Target:
    exe = interpreter(prefix)
    return Target(exe, _version(exe), "converted")


@pytest.mark.contract("rule 10.1", "rule 10.3")
def test_converted_interpreter_keeps_its_identity(runner: Runner, prefix: Path) -> None:
    """Started by each of its names, by PATH and by a relative path: the same sys.*, sysconfig and tags as before."""
    exe = interpreter(prefix)
    on_path = {**runner.environ, "PATH": f"{prefix / 'bin'}{os.pathsep}{runner.environ['PATH']}"}
    names: list[str | Path] = [
        prefix / "bin" / name for name in ("python3", "python") if (prefix / "bin" / name).exists()
    ]
    ways: list[tuple[list[str | Path], dict[str, object]]] = [
        ([exe], {}),
        *(([name], {}) for name in names),
        (["python3"], {"env": on_path}),
        ([Path("bin") / exe.name], {"cwd": prefix}),
    ]
    before = [identity(runner, *cmd, **kwargs) for cmd, kwargs in ways]

    result = convert(runner, prefix)
    assert result.stdout == f"Converted 1 installation: {prefix}\n"
    assert_launcher(prefix)
    assert not (prefix / LOCK_NAME).exists(), "the lock's file was left in the installation"

    after = [identity(runner, *cmd, **kwargs) for cmd, kwargs in ways]
    assert after == before
    assert after[0]["executable"] == str(exe)
    assert after[0]["prefix"] == str(prefix)


@pytest.mark.contract("rule 10.2")
@pytest.mark.parametrize("origin", ["venv", "virtualenv-symlinks", "uv", "symlink-safe", "uv-sync"])
def test_environments_made_from_a_converted_interpreter_are_symlink_safe(
    runner: Runner, uv_environ: dict[str, str], prefix: Path, work: Path, origin: str
) -> None:
    """Each maker links the environment to the launcher: an outside link then lands in the environment."""
    convert(runner, prefix)
    target = converted_target(prefix)
    if origin == "uv-sync":
        project = work / "project"
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\nrequires-python = ">=3.8"\n')
        (project / "pyproject.toml").with_name("README.md").write_text("")
        runner.run([UV, "sync", "--no-install-project", "-p", target.exe], env=uv_environ, cwd=project, check=True)
        venv = Venv(project / ".venv", target)
    else:
        venv = make(runner, uv_environ, target, work / "env", origin)
    venv.add_marker()
    outside = work / "elsewhere" / "py"
    outside.parent.mkdir()
    outside.symlink_to(venv.python)
    got = runner.probe(outside)
    assert got["prefix"] == str(venv.path)
    assert got["marker"] == str(venv.path)
    assert got["base_prefix"] == str(prefix)
    direct = runner.probe(venv.python)
    assert direct["prefix"] == str(venv.path)
    assert direct["marker"] == str(venv.path)


@pytest.mark.contract("rule 10.2")
@pytest.mark.parametrize("origin", ["venv", "symlink-safe"])
def test_environments_made_before_the_conversion_become_symlink_safe(
    runner: Runner, uv_environ: dict[str, str], prefix: Path, work: Path, origin: str
) -> None:
    """A plain environment made before is reached through a link afterwards; a stub environment keeps working."""
    target = converted_target(prefix)
    venv = make(runner, uv_environ, target, work / "env", origin)
    venv.add_marker()
    before = runner.probe(venv.python)
    convert(runner, prefix)
    assert runner.probe(venv.python) == before
    outside = work / "py"
    outside.symlink_to(venv.python)
    assert runner.probe(outside)["marker"] == str(venv.path)


@pytest.mark.contract("rule 10.1")
def test_revert_restores_the_installation_byte_for_byte(runner: Runner, prefix: Path, work: Path) -> None:
    """revert renames each companion back: the very file, its inode, mode, times and bytes; nothing else is left."""
    before_bin, before_top = files(prefix / "bin"), files(prefix)
    convert(runner, prefix)
    venv = make(runner, {}, converted_target(prefix), work / "env", "venv")

    result = command(runner, "revert", prefix)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Reverted 1 installation: {prefix}\n"
    assert files(prefix / "bin") == before_bin
    assert files(prefix) == before_top
    again = command(runner, "revert", prefix)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"already plain: {prefix}\n"
    assert files(prefix / "bin") == before_bin
    venv.add_marker()
    assert runner.probe(venv.python)["marker"] == str(venv.path)  # made while converted, plain again after


@pytest.mark.contract("rule 10.1")
def test_a_second_conversion_changes_nothing(runner: Runner, prefix: Path) -> None:
    convert(runner, prefix)
    after = files(prefix / "bin")
    again = command(runner, "convert", "-v", prefix)
    assert again.returncode == 0, again.stderr
    assert f"already symlink-safe: {prefix}" in again.stdout
    assert files(prefix / "bin") == after
    assert not (prefix / LOCK_NAME).exists()


@pytest.mark.contract("rule 10.1")
def test_dry_run_changes_nothing(runner: Runner, prefix: Path) -> None:
    before = files(prefix / "bin"), files(prefix)
    result = command(runner, "convert", "--dry-run", prefix)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Would convert 1 installation: {prefix}\n"
    assert (files(prefix / "bin"), files(prefix)) == before


@pytest.mark.contract("rule 10.3")
def test_launcher_starts_the_interpreter_where_it_settles_on_no_environment(
    runner: Runner, prefix: Path, work: Path
) -> None:
    """A pyvenv.cfg the stub refuses (NUL bytes: status 105) is left to CPython, which reads it as before."""
    exe = interpreter(prefix)
    runner.run([exe, "-m", "venv", "--without-pip", work / "env"], check=True)
    cfg = work / "env" / "pyvenv.cfg"
    cfg.write_bytes(cfg.read_bytes() + b"odd = \0\n")
    before = runner.run([work / "env" / "bin" / "python", "-c", PROBE])
    convert(runner, prefix)
    after = runner.run([work / "env" / "bin" / "python", "-c", PROBE])
    assert (after.returncode, after.stdout) == (before.returncode, before.stdout)
    # an argument plain python rejects is still python's to reject, with python's status
    rejected = runner.run([exe, "--no-such-option"])
    assert rejected.returncode == 2
    assert "symlink-safe" not in rejected.stderr


@pytest.mark.contract("rule 10.3")
def test_a_launcher_knows_itself_from_its_walk(runner: Runner, prefix: Path, work: Path) -> None:
    """Started by its name, its own link or an outside one, the launcher finds its interpreter with no look into /proc.

    The walk that found no environment ended at the launcher itself, its folder resolved: that is the running file's
    path, which the kernel's record would only repeat, at the cost of a fresh process's first look into /proc.
    """
    strace = strace_or_skip()
    convert(runner, prefix)
    exe = interpreter(prefix)
    tools = work / "tools"
    tools.mkdir()
    (tools / "py").symlink_to(prefix / "bin" / "python3")
    companion = exe.with_name(companion_name(exe.name))
    for started in (exe, prefix / "bin" / "python3", tools / "py"):
        trace = work / "trace"
        result = runner.run([strace, "-f", "-o", trace, "-e", "trace=execve,open,openat,readlink", started, "-V"])
        assert result.returncode == 0, result.stderr
        calls = calls_after(trace.read_text(), started)
        assert f'execve("{companion}", ' in trace.read_text(), started
        assert "/proc/self/exe" not in calls, (started, calls)


@pytest.mark.contract("rule 10.4")
def test_launcher_whose_interpreter_cannot_start_fails_with_its_own_status(runner: Runner, prefix: Path) -> None:
    convert(runner, prefix)
    exe = interpreter(prefix)
    companion = exe.with_name(companion_name(exe.name))
    companion.chmod(0o644)
    result = runner.run([exe, "-c", "pass"])
    assert result.returncode == Status.COMPANION_UNUSABLE
    assert result.stderr == (f"symlink-safe: the interpreter beside this launcher cannot be started: {companion}\n")


@pytest.mark.contract("rule 10.1", "rule 2.6")
@pytest.mark.skipif(os.geteuid() != 0, reason="planting another user's file needs root (chown)")
def test_a_companion_another_user_planted_beside_a_stub_does_not_run(runner: Runner, work: Path) -> None:
    """A stub copied into a shared sticky folder (``/tmp``-like, mode 1777) fails as a stub out of its environment
    does (102): the companion name beside it, added there by another user, is passed over; the launcher's owner's
    own file there is the companion."""
    try:
        stranger = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' account to plant a file as")
    shared = work / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    stub = shared / "python3.12"
    shutil.copy2(stub_resource(), stub)
    ran = work / "ran"
    planted = stub.with_name(companion_name(stub.name))
    planted.write_text(f"#!/bin/sh\necho planted > {ran}\n")
    planted.chmod(0o755)
    os.chown(planted, stranger.pw_uid, stranger.pw_gid)

    result = runner.run([stub, "-c", "pass"], env={**runner.environ, "SYMLINK_SAFE_TRACE": "1"})
    assert result.returncode == Status.NO_ENV, result.stderr
    assert not ran.exists(), "another user's file ran as the stub's companion"
    assert f"ignored {planted} (rule 10.1): not owned by the launcher's owner" in result.stderr

    os.chown(planted, 0, 0)  # the control: the stub's owner's own file there is its companion, and runs
    assert runner.run([stub, "-c", "pass"]).returncode == 0
    assert ran.read_text() == "planted\n"


@pytest.mark.contract("rule 7.2", "rule 10.2", "rule 10.3")
def test_query_mode_reports_the_launcher(runner: Runner, prefix: Path, work: Path) -> None:
    """The stub's decision names the launcher and its companion; the Python code asks it, never re-decides."""
    exe = interpreter(prefix)
    convert(runner, prefix)
    companion = exe.with_name(companion_name(exe.name))
    direct = decide(prefix / "bin" / "python3")
    assert (direct.status, direct.launcher, direct.base, direct.environment) == (0, exe, companion, None)
    runner.run([exe, "-m", "venv", "--without-pip", work / "env"], check=True)
    through = decide(work / "env" / "bin" / "python")
    assert (through.status, through.launcher, through.base) == (0, exe, companion)
    assert through.environment == work / "env" / "bin" / "python"


@pytest.mark.contract("rule 10.2", "rule 10.3")
def test_explain_names_the_launcher_and_its_interpreter(runner: Runner, prefix: Path, work: Path) -> None:
    """``explain`` says when a converted interpreter's launcher decided, and which real interpreter it starts."""
    exe = interpreter(prefix)
    convert(runner, prefix)
    companion = exe.with_name(companion_name(exe.name))
    direct = command(runner, "explain", "-v", prefix / "bin" / "python3")
    assert direct.returncode == 0, direct.stderr
    assert f"{exe} is the launcher of a converted interpreter (contract rule 10)" in direct.stdout
    assert f"started its interpreter {companion} with the arguments unchanged" in direct.stdout
    assert f"decision: launcher {exe}\ndecision: base {companion} (the launcher's interpreter)" in direct.stdout
    runner.run([exe, "-m", "venv", "--without-pip", work / "env"], check=True)
    (work / "py").symlink_to(work / "env" / "bin" / "python")
    through = command(runner, "explain", work / "py")
    assert through.returncode == 0, through.stderr
    assert f"So the environment is {work / 'env'}" in through.stdout
    assert f"The base interpreter {exe} comes from '" in through.stdout
    assert f"the stub starts its interpreter {companion} in its place" in through.stdout


@pytest.mark.contract("rule 10.5")
def test_package_managers_files_are_refused(runner: Runner) -> None:
    """Debian's /usr/bin/python3.X is dpkg's: refused, with its package named, before anything is decided."""
    if (dpkg := shutil.which("dpkg-query")) is None:
        pytest.skip("no dpkg on this machine")
    real = Path(os.path.realpath("/usr/bin/python3"))
    owned = subprocess.run([dpkg, "-S", real], capture_output=True, check=False)
    if owned.returncode != 0:
        pytest.skip(f"{real} is not listed by dpkg here")
    result = command(runner, "convert", "--dry-run", "/usr")
    assert result.returncode == CommandStatus.PACKAGE_MANAGED, result.stderr
    assert "belongs to the dpkg package" in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


@pytest.mark.contract("rule 10.5")
@pytest.mark.skipif(os.geteuid() != 0, reason="giving the installation to another user needs root")
def test_another_users_installation_is_refused(runner: Runner, prefix: Path) -> None:
    os.chown(prefix / "bin", 54321, 54321)
    before = files(prefix / "bin")
    result = command(runner, "convert", prefix)
    assert result.returncode == CommandStatus.NOT_YOURS
    assert result.stderr.startswith(f"error: {prefix / 'bin'} belongs to uid 54321, not to uid 0")
    assert result.stderr.count("\n") == 1
    assert files(prefix / "bin") == before


@pytest.mark.contract("rule 10.5")
@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only bind mount needs root")
def test_read_only_installation_is_refused(runner: Runner, prefix: Path, work: Path) -> None:
    mounted = work / "mounted"
    mounted.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if mount is None or umount is None:
        pytest.skip("no mount command here")
    bound = subprocess.run([mount, "--bind", "-o", "ro", prefix, mounted], capture_output=True, text=True, check=False)
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount read-only here: {bound.stderr.strip()}")
    try:
        result = command(runner, "convert", mounted)
        assert result.returncode == CommandStatus.NOT_WRITABLE
        assert result.stderr == f"error: {mounted / 'bin'} is on a read-only file system; nothing was changed\n"
        assert not interpreter(prefix).with_name(companion_name(interpreter(prefix).name)).exists()
    finally:
        subprocess.run([umount, mounted], check=True)


@pytest.mark.contract("rule 10.1")
def test_an_interrupted_conversion_leaves_a_working_interpreter_and_a_rerun_finishes(
    runner: Runner, prefix: Path
) -> None:
    """Each step is one link or one rename: the state between them runs the interpreter; both commands finish it."""
    exe = interpreter(prefix)
    companion = exe.with_name(companion_name(exe.name))
    os.link(exe, companion)  # what a run killed between its two steps leaves
    assert runner.run([exe, "-c", "print(1)"], check=True).stdout == "1\n"
    result = command(runner, "revert", prefix)
    assert result.returncode == 0, result.stderr
    assert not companion.exists()
    assert exe.stat().st_nlink == 1
    os.link(exe, companion)
    convert(runner, prefix)
    assert_launcher(prefix)
    assert runner.run([exe, "-c", "print(1)"], check=True).stdout == "1\n"


@pytest.mark.contract("rule 10.1")
def test_killed_at_random_moments_the_interpreter_always_runs(runner: Runner, prefix: Path) -> None:
    exe = interpreter(prefix)
    rng = random.Random(21)  # noqa: S311  # timing, not secrets
    for round_ in range(6):
        verb = "convert" if round_ % 2 == 0 else "revert"
        process = subprocess.Popen(  # this interpreter, our own command
            [sys.executable, "-m", "virtualenv_symlink_safe", verb, str(prefix)],
            env=runner.environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.05, 0.6))
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        process.wait()
        assert runner.run([exe, "-c", "print(1)"]).stdout == "1\n", f"round {round_}: the interpreter does not run"
    convert(runner, prefix)
    assert_launcher(prefix)
    assert runner.run([exe, "-c", "print(1)"], check=True).stdout == "1\n"


@pytest.mark.contract("rule 10.1")
def test_concurrent_conversions_agree(runner: Runner, prefix: Path) -> None:
    processes = [
        subprocess.Popen(  # this interpreter, our own command
            [sys.executable, "-m", "virtualenv_symlink_safe", "convert", str(prefix)],
            env=runner.environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    assert [code for code, _, _ in results] == [0] * 4, results
    assert_launcher(prefix)
    ours = sorted(p.name for p in (prefix / "bin").iterdir() if p.name.startswith((".python", TEMPORARY_PREFIX)))
    assert ours == [companion_name(interpreter(prefix).name)]
    assert not (prefix / LOCK_NAME).exists()
    assert runner.run([interpreter(prefix), "-c", "print(1)"], check=True).stdout == "1\n"


@pytest.mark.contract("rule 10.1")
def test_an_interpreter_installed_again_over_its_launcher_is_taken_as_the_interpreter(
    runner: Runner, prefix: Path
) -> None:
    """``make install`` writes a new file over the launcher: convert takes it, revert drops the older companion."""
    exe = interpreter(prefix)
    original = exe.read_bytes()
    convert(runner, prefix)
    companion = exe.with_name(companion_name(exe.name))
    exe.unlink()
    shutil.copy2(companion, exe)  # a new file with the interpreter's bytes, as an install writes it
    reinstalled = exe.stat().st_ino
    result = command(runner, "revert", prefix)
    assert result.returncode == 0, result.stderr
    assert not companion.exists()
    assert exe.stat().st_ino == reinstalled
    assert exe.read_bytes() == original
    convert(runner, prefix)
    exe.unlink()
    shutil.copy2(companion, exe)
    again = exe.stat().st_ino
    convert(runner, prefix)
    assert_launcher(prefix)
    assert companion.stat().st_ino == again
    assert runner.run([exe, "-c", "print(1)"], check=True).stdout == "1\n"


@pytest.mark.contract("rule 10.2")
def test_check_convert_and_revert_of_an_environment_made_from_a_converted_interpreter(
    runner: Runner, prefix: Path, work: Path
) -> None:
    """check calls it symlink-safe; convert makes it a stub environment; revert links it to the launcher again."""
    convert(runner, prefix)
    exe = interpreter(prefix)
    runner.run([exe, "-m", "venv", "--without-pip", work / "env"], check=True)
    checked = command(runner, "check", work / "env")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"{work / 'env'}: symlink-safe" in checked.stdout
    converted = command(runner, "convert", work / "env")
    assert converted.returncode == 0, converted.stderr
    assert not (work / "env" / "bin" / "python").is_symlink()
    reverted = command(runner, "revert", work / "env")
    assert reverted.returncode == 0, reverted.stderr
    assert (work / "env" / "bin" / "python").readlink() == exe
    outside = work / "py"
    outside.symlink_to(work / "env" / "bin" / "python")
    assert runner.probe(outside)["prefix"] == str(work / "env")


@pytest.mark.contract("rule 3.1", "rule 10.2", "rule 10.3")
def test_a_copy_of_debians_pypy_converted(runner: Runner, work: Path) -> None:
    """Debian's PyPy laid out as an installation of its own: its file copied, its library linked; venv from it."""
    pypy = Path(os.path.realpath("/usr/bin/pypy3"))
    if not pypy.is_file():
        pytest.skip("Debian's pypy3 is not installed")
    if os.environ.get("SYMLINK_SAFE_REQUIRE_MUSL"):
        pytest.skip("tox -e musl's stub names musl's loader; Debian's PyPy is a glibc program (rule 5)")
    prefix = work / "pypy"
    (prefix / "bin").mkdir(parents=True)
    shutil.copy2(pypy, prefix / "bin" / pypy.name)
    (prefix / "bin" / "pypy3").symlink_to(pypy.name)
    for name in ("lib", "include"):
        (prefix / name).symlink_to(pypy.parent.parent / name)
    before = identity(runner, prefix / "bin" / "pypy3")
    convert(runner, prefix)
    assert identity(runner, prefix / "bin" / "pypy3") == before
    runner.run([prefix / "bin" / "pypy3", "-m", "venv", "--without-pip", work / "env"], check=True)
    assert "implementation" not in (work / "env" / "pyvenv.cfg").read_text().lower()  # home and version only
    outside = work / "py"
    outside.symlink_to(work / "env" / "bin" / "python")
    assert runner.probe(outside)["prefix"] == str(work / "env")


def app_wheel(folder: Path) -> Path:
    """A pure-Python wheel with one console script, as pipx needs, installed without reaching an index."""
    name, dist = "symlink_safe_app", "symlink_safe_app-1.0"
    files = {
        f"{name}/__init__.py": "import sys\ndef main():\n    print(sys.prefix)\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist}.dist-info/entry_points.txt": f"[console_scripts]\nsymlink-safe-app = {name}:main\n",
    }
    files[f"{dist}.dist-info/RECORD"] = "\n".join([f"{path},," for path in files] + [f"{dist}.dist-info/RECORD,,"])
    wheel = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.mark.contract("rule 10.2")
def test_pipx_environments_of_a_converted_interpreter_are_symlink_safe(
    runner: Runner, uv_environ: dict[str, str], prefix: Path, work: Path
) -> None:
    """pipx (through uv, found on PATH, offline) makes its environment from the launcher: a link to it lands there."""
    pipx = Path(sys.executable).with_name("pipx")
    if not pipx.is_file():
        if os.environ.get("SYMLINK_SAFE_REQUIRE_CLIENTS"):
            pytest.fail(f"pipx is missing from the test environment ({pipx}); it is in the clients group")
        pytest.skip("pipx is not installed here (the clients group has it)")
    convert(runner, prefix)
    env = {
        **uv_environ,
        "PATH": f"{UV.parent}{os.pathsep}{uv_environ['PATH']}",
        "HOME": str(work),
        "PIPX_HOME": str(work / "pipx"),
        "PIPX_BIN_DIR": str(work / "apps"),
    }
    runner.run([pipx, "install", "--python", interpreter(prefix), app_wheel(work)], env=env, check=True)
    venv = work / "pipx" / "venvs" / "symlink-safe-app"
    assert runner.run([work / "apps" / "symlink-safe-app"], env=env, check=True).stdout == f"{venv}\n"
    outside = work / "py"
    outside.symlink_to(venv / "bin" / "python")
    assert runner.run([outside, "-c", "import sys, symlink_safe_app; print(sys.prefix)"]).stdout == f"{venv}\n"


@pytest.mark.contract("rule 10.2")
def test_tox_uv_environments_of_a_converted_interpreter_are_symlink_safe(
    runner: Runner, uv_environ: dict[str, str], prefix: Path, work: Path
) -> None:
    """tox with tox-uv (its environments made by ``uv venv``, never virtualenv) on the converted interpreter: a link to
    the environment's python lands there. tox and tox-uv come from the index into a folder of the test's own, since
    tox-uv in the test environment would take over the tox of tests/test_clients.py."""
    convert(runner, prefix)
    online = {k: v for k, v in uv_environ.items() if k != "UV_OFFLINE"}
    runner.run([UV, "venv", "--python", sys.executable, work / "tools"], env=online, check=True)
    tools = work / "tools" / "bin"
    runner.run(
        [UV, "pip", "install", "--python", tools / "python", "tox>=4.22", "tox-uv>=1.11"], env=online, check=True
    )
    project = work / "project"
    project.mkdir()
    (project / "tox.ini").write_text(
        f"[tox]\nenv_list = try\n\n[testenv:try]\nbase_python = {interpreter(prefix)}\npackage = skip\n"
        "commands = python -c 'import sys; print(sys.prefix)'\n"
    )
    env = {k: v for k, v in online.items() if not k.startswith(("TOX_", "VIRTUAL_ENV", "VIRTUALENV_"))}
    ran = runner.run([tools / "tox", "run", "-e", "try", "-vv"], cwd=project, env=env, check=True)
    venv = project / ".tox" / "try"
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "\nuv = " in f"\n{cfg}", f"tox-uv did not make the environment: {ran.stdout}"
    assert f"home = {prefix / 'bin'}\n" in cfg, cfg  # made from the converted installation
    outside = work / "py"
    outside.symlink_to(venv / "bin" / "python")
    assert runner.probe(outside)["prefix"] == str(venv)
