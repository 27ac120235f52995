"""Creations racing for one destination, sharing one app-data folder, killed half-way, failing inside a caller."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pytest

from conftest import RUN_TIMEOUT, Runner, Target, Venv, newest, targets
from virtualenv_symlink_safe.creation import LOCK_NAME, MARKER_NAME, unfinished

if TYPE_CHECKING:
    from pathlib import Path

#: The newest interpreter and 3.9 (or the oldest here): enough to show the lock does not depend on the version.
NEWEST = newest()
OLDER = next((t for t in targets() if t.version[:2] == (3, 9)), min(targets(), key=lambda t: t.version))
CHOSEN = sorted({NEWEST, OLDER}, key=lambda t: t.version)
#: Processes started at once.
RACERS = 12
#: Twelve seeded creations one after the other, on two shared cores.
RACE_TIMEOUT = 240

pytestmark = pytest.mark.slow


def virtualenv_cmd(runner: Runner, target: Target, dest: Path, *extra: str, app_data: Path | None = None) -> list[str]:
    app = runner.app_data if app_data is None else app_data
    return [sys.executable, "-m", "virtualenv", "--app-data", str(app), "-p", str(target.exe), *extra, str(dest)]


def race(runner: Runner, commands: list[list[str]]) -> None:
    """Start every command at once; each must exit 0."""
    processes = [
        subprocess.Popen(cmd, env=runner.environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for cmd in commands
    ]
    deadline = time.monotonic() + RACE_TIMEOUT
    failures = []
    for process in processes:
        try:
            out, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
        if process.returncode != 0:
            failures.append(f"exit {process.returncode}:\n{out}")
    assert not failures, f"{len(failures)} of {len(processes)} creations failed:\n" + "\n".join(failures)


def assert_works_through_a_symlink(runner: Runner, venv: Venv, link: Path) -> None:
    """The environment's own site-packages is reached through an external symlink to its stub, pip included."""
    venv.add_marker()
    link.symlink_to(venv.python)
    report = runner.probe(link)
    assert report["marker"] == str(venv.path)
    assert report["prefix"] == str(venv.path)
    out = runner.run([link, "-m", "pip", "--version"], check=True).stdout
    assert str(venv.site_packages) in out


def assert_no_leftovers(venv: Venv) -> None:
    """Inside the environment only the lock file, no in-progress marker; nothing of ours beside it."""
    ours = sorted(str(p.relative_to(venv.path)) for p in venv.path.rglob(".symlink-safe*"))
    assert ours == [LOCK_NAME]
    beside = [p.name for p in venv.path.parent.iterdir() if p.name.startswith(f".{venv.path.name}")]
    assert not beside


@pytest.mark.parametrize("target", CHOSEN, ids=[t.id for t in CHOSEN])
@pytest.mark.parametrize("clear", [False, True], ids=["in-place", "clear"])
def test_one_destination_many_creations(runner: Runner, work: Path, target: Target, clear: bool) -> None:
    dest = work / "shared" / "env"
    extra = ["--creator", "symlink-safe", *(["--clear"] if clear else [])]
    race(runner, [virtualenv_cmd(runner, target, dest, *extra) for _ in range(RACERS)])
    venv = Venv(dest, target)
    assert venv.python.read_bytes()[:4] == b"\x7fELF"
    assert_works_through_a_symlink(runner, venv, work / "link")
    assert_no_leftovers(venv)


@pytest.mark.parametrize("target", CHOSEN, ids=[t.id for t in CHOSEN])
def test_distinct_destinations_share_a_fresh_app_data(runner: Runner, work: Path, target: Target) -> None:
    app_data = work / "fresh-app-data"
    dests = [work / f"env-{index}" for index in range(RACERS)]
    extra = ["--creator", "symlink-safe"]
    race(runner, [virtualenv_cmd(runner, target, dest, *extra, app_data=app_data) for dest in dests])
    for index, dest in enumerate(dests):
        venv = Venv(dest, target)
        assert_works_through_a_symlink(runner, venv, work / f"link-{index}")
        assert_no_leftovers(venv)


def kill_when(process: subprocess.Popen[str], appears: Path) -> None:
    """SIGKILL ``process`` as soon as ``appears`` exists: half-way through its creation."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while not appears.exists():
        assert process.poll() is None, f"the creation ended before {appears} appeared: {process.communicate()}"
        assert time.monotonic() < deadline, f"{appears} never appeared"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=RUN_TIMEOUT)
    assert process.returncode == -signal.SIGKILL


def start(runner: Runner, cmd: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, env=runner.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)


def test_killed_fresh_creation_is_finished_by_the_next(runner: Runner, work: Path) -> None:
    dest = work / "env"
    cmd = virtualenv_cmd(runner, NEWEST, dest, "--creator", "symlink-safe")
    kill_when(start(runner, cmd), dest / "pyvenv.cfg")
    marker = dest / MARKER_NAME
    assert f"path = {dest}\n" in marker.read_text()  # inside the folder it belongs to, naming it
    (dest / "added-after-the-killed-run").write_text("kept")

    result = runner.run(cmd, check=True)
    assert "did not finish; creating it again over what it left" in result.stdout + result.stderr
    assert (dest / "added-after-the-killed-run").read_text() == "kept"  # nothing deleted without --clear
    venv = Venv(dest, NEWEST)
    assert_works_through_a_symlink(runner, venv, work / "link")
    (dest / "added-after-the-killed-run").unlink()
    assert_no_leftovers(venv)


def test_killed_creation_over_an_existing_environment_keeps_the_users_files(runner: Runner, work: Path) -> None:
    dest = work / "env"
    cmd = virtualenv_cmd(runner, NEWEST, dest, "--creator", "symlink-safe")
    runner.run(cmd, check=True)
    (dest / "kept-by-the-user").write_text("")
    # the marker is written once the lock is held, before the creation touches the folder
    kill_when(start(runner, cmd), dest / MARKER_NAME)

    again = runner.run(cmd, check=True)
    lines = [line for line in (again.stdout + again.stderr).splitlines() if "did not finish" in line]
    assert len(lines) == 1, again.stdout + again.stderr
    assert f"{dest}: an earlier creation (pid " in lines[0]
    assert (dest / "kept-by-the-user").exists()
    assert not (dest / MARKER_NAME).exists()

    runner.run([*cmd[:-1], "--clear", cmd[-1]], check=True)
    assert not (dest / "kept-by-the-user").exists()
    venv = Venv(dest, NEWEST)
    assert_works_through_a_symlink(runner, venv, work / "link")
    assert_no_leftovers(venv)


#: Kills in the loop below, each at a random moment of a real creation.
KILLS = 10
#: The exit status of ``virtualenv-symlink-safe convert`` for an environment whose creation did not finish.
UNFINISHED_STATUS = 8


def wait_for(process: subprocess.Popen[str], appears: Path) -> bool:
    """Wait until ``appears`` exists (``True``) or ``process`` ends (``False``)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while not appears.exists():
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, f"{appears} never appeared"
        time.sleep(0.002)
    return True


def test_killed_at_random_moments_each_environment_works_or_is_refused_until_created_again(
    runner: Runner, work: Path
) -> None:
    """Killed anywhere, an environment runs as itself or is refused in one line; the next creation finishes it.

    Half the kills fall at a random moment of the whole run, half at a random moment after the lock is taken, so that
    some surely interrupt the creation itself.
    """
    dest = work / "env"
    cmd = virtualenv_cmd(runner, NEWEST, dest, "--creator", "symlink-safe")
    runner.run(cmd, check=True)  # fills the app-data folder, so the runs below take the same time
    (dest / "kept-by-the-user").write_text("kept")
    started = time.monotonic()
    process = start(runner, cmd)
    assert wait_for(process, dest / MARKER_NAME)
    locked = time.monotonic()
    assert process.wait(timeout=RUN_TIMEOUT) == 0
    before_lock, under_lock = locked - started, time.monotonic() - locked
    rng = random.Random(18)  # noqa: S311  # reproducible moments, not secrets
    convert = [sys.executable, "-m", "virtualenv_symlink_safe", "convert", str(dest)]
    probe = [str(dest / "bin" / "python"), "-c", "import sys; print(sys.prefix)"]
    interrupted = 0
    for kill in range(KILLS):
        process = start(runner, cmd)
        if kill % 2:
            wait_for(process, dest / MARKER_NAME)
            time.sleep(rng.uniform(0, under_lock))
        else:
            time.sleep(rng.uniform(0, before_lock + under_lock))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=RUN_TIMEOUT)
        if unfinished(dest) is None:  # killed before the lock or after the end: the environment is whole
            assert runner.run(probe, check=True).stdout.strip() == str(dest), f"kill {kill}"
        else:  # its files may be half-written: convert refuses it in one line
            interrupted += 1
            refused = runner.run(convert)
            assert refused.returncode == UNFINISHED_STATUS, f"kill {kill}: {refused.stderr}"
            assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
            assert "did not finish" in refused.stderr
        runner.run(cmd, check=True)
        assert unfinished(dest) is None
        assert (dest / "kept-by-the-user").read_text() == "kept"
        assert runner.run(probe, check=True).stdout.strip() == str(dest)
    assert interrupted, "no kill fell inside a creation: the loop tested nothing"
    (dest / "kept-by-the-user").unlink()
    assert_no_leftovers(Venv(dest, NEWEST))


#: A caller of virtualenv's Python API whose creation fails while seeding (``bin/pip`` is a folder, so the seeder
#: cannot write the pip script), as a long-lived process such as tox meets it.
FAILING_CALLER = textwrap.dedent(
    """
    import gc, subprocess, sys
    from pathlib import Path
    from virtualenv import cli_run

    dest, args = Path(sys.argv[1]), sys.argv[2:]

    def fail():
        (dest / "bin" / "pip").mkdir(parents=True)
        try:
            cli_run([*args, str(dest)], setup_logging=False)
        except Exception as exception:  # noqa: BLE001
            assert "pip" in str(exception), exception
            return exception
        raise AssertionError("the seeding did not fail")

    # 1. the caller keeps the failed session alive (its traceback does); the same thread creates again
    kept = fail()
    (dest / "bin" / "pip").rmdir()
    cli_run([*args, "--clear", str(dest)], setup_logging=False)
    print("same thread: created")

    # 2. the caller drops the failed session; another process must get the lock while this one lives on
    import shutil
    shutil.rmtree(dest)
    fail()
    gc.collect()
    (dest / "bin" / "pip").rmdir()
    other = [sys.executable, "-m", "virtualenv", *args, "--clear", str(dest)]
    subprocess.run(other, check=True, timeout=60, capture_output=True)
    print("other process: created")
    """
)


def test_failed_creation_in_a_long_lived_caller_releases_the_lock(runner: Runner, work: Path) -> None:
    dest = work / "env"
    args = ["--app-data", str(runner.app_data), "-p", str(NEWEST.exe), "--creator", "symlink-safe"]
    cmd = [sys.executable, "-c", FAILING_CALLER, str(dest), *args]
    result = subprocess.run(
        cmd, env=runner.environ, capture_output=True, text=True, timeout=3 * RUN_TIMEOUT, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["same thread: created", "other process: created"]
    venv = Venv(dest, NEWEST)
    assert_works_through_a_symlink(runner, venv, work / "link")
    assert_no_leftovers(venv)


def test_lock_is_per_destination(runner: Runner, work: Path) -> None:
    """A creation holding one destination's lock does not hold up another destination's."""
    held = work / "held"
    held.mkdir()
    holder = textwrap.dedent(
        f"""
        import fcntl, os, time
        with os.fdopen(os.open({str(held / LOCK_NAME)!r}, os.O_RDWR | os.O_CREAT, 0o600), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            print("holding", flush=True)
            time.sleep({RUN_TIMEOUT})
        """
    )
    blocked_cmd = virtualenv_cmd(runner, NEWEST, held, "--creator", "symlink-safe", "--no-seed")
    with subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "holding"
            free = virtualenv_cmd(runner, NEWEST, work / "free", "--creator", "symlink-safe", "--no-seed")
            runner.run(free, check=True)
            blocked = subprocess.Popen(blocked_cmd, env=runner.environ, stdout=subprocess.DEVNULL)
            with pytest.raises(subprocess.TimeoutExpired):
                blocked.wait(timeout=5)  # waits on the lock ...
            assert sorted(p.name for p in held.iterdir()) == [LOCK_NAME]
        finally:
            process.kill()
    assert blocked.wait(timeout=RUN_TIMEOUT) == 0  # ... and goes on once it is free
    assert os.access(held / "bin" / "python", os.X_OK)
