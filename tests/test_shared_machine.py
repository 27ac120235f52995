"""Creation and convert on a shared machine, tried as another user would attack them (issue 18, items 1, 2, 3, 5, 6).

A second and a third account and a group they share are made here (``useradd``/``groupadd``, root only: without
root every test skips and says so). ``ssafe-victim`` creates environments, ``ssafe-mallory`` plants files where they
may write: beside the destination in a sticky shared folder, inside a folder of their shared group. Root is the
victim too, when it creates or converts in a user's tree. Each test checks that nothing of the victim's is deleted,
that no root file appears or changes, and that nothing hangs: every subprocess runs with a timeout.

The accounts run ``/usr/bin/python3`` with this plugin, virtualenv and their dependencies copied to a folder they may
read (the test environment lies under ``/root`` and ``.tox``, closed to them).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from packaging.requirements import Requirement

from conftest import RUN_TIMEOUT
from virtualenv_symlink_safe.creation import LOCK_NAME, MARKER_NAME, MAX_MARKER_SIZE, unfinished

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The system interpreter: the one the other accounts may run (pyenv's live under /root).
SYSTEM_PYTHON = Path("/usr/bin/python3")
VICTIM, MALLORY, GROUP = "ssafe-victim", "ssafe-mallory", "ssafe-team"
#: How long a lock held by another user may hold up root in these tests (the real bound is FOREIGN_WAIT).
SHORT_WAIT = 3
FLOCK, SETPRIV = shutil.which("flock") or "flock", shutil.which("setpriv") or "setpriv"
GROUPADD, USERADD = shutil.which("groupadd") or "groupadd", shutil.which("useradd") or "useradd"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0
    or not Path(USERADD).is_absolute()
    or not Path(SETPRIV).is_absolute()
    or not Path(FLOCK).is_absolute()
    or not SYSTEM_PYTHON.exists(),
    reason="needs root (to add accounts and give files to them), useradd, setpriv, flock and /usr/bin/python3",
)


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int

    def command(self, *cmd: str | os.PathLike[str]) -> list[str]:
        """``cmd`` run as this account, with only its own group."""
        return [SETPRIV, f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", *map(str, cmd)]


@dataclass(frozen=True)
class Machine:
    """The accounts, the folder they share, and how to run virtualenv and the command as any of them."""

    victim: Account
    mallory: Account
    site: Path
    home: Path

    def environ(self) -> dict[str, str]:
        config = self.home / "virtualenv.ini"
        return {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(self.site),
            "HOME": str(self.home),
            "VIRTUALENV_CONFIG_FILE": str(config),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }

    def run(
        self, account: Account | None, *cmd: str | os.PathLike[str], timeout: float = RUN_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` as ``account`` (root when ``None``), failing the test rather than hanging."""
        args = [str(c) for c in cmd] if account is None else account.command(*cmd)
        return subprocess.run(
            args, env=self.environ(), capture_output=True, text=True, timeout=timeout, check=False, cwd="/"
        )

    def create(self, account: Account | None, dest: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        app_data = self.home / f"app-data-{'root' if account is None else account.name}"
        return self.run(
            account,
            SYSTEM_PYTHON,
            "-m",
            "virtualenv",
            "--app-data",
            app_data,
            "-p",
            SYSTEM_PYTHON,
            "--no-seed",
            *extra,
            dest,
        )

    def convert(self, account: Account | None, dest: Path) -> subprocess.CompletedProcess[str]:
        return self.run(account, SYSTEM_PYTHON, "-m", "virtualenv_symlink_safe", "convert", dest)

    def prefix_of(self, account: Account | None, dest: Path) -> str:
        """What the environment's interpreter says its prefix is, run as ``account``."""
        result = self.run(account, dest / "bin" / "python", "-c", "import sys; print(sys.prefix)")
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


def _ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        subprocess.run([GROUPADD, name], capture_output=True, check=False, timeout=RUN_TIMEOUT)  # a racer may win
        return grp.getgrnam(name).gr_gid


def _ensure_account(name: str, group: str) -> Account:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        cmd = [USERADD, "--no-create-home", "--no-user-group", "--gid", group, "--home-dir", "/nonexistent"]
        subprocess.run([*cmd, "--shell", "/usr/sbin/nologin", name], capture_output=True, check=False, timeout=60)
        entry = pwd.getpwnam(name)
    return Account(name, entry.pw_uid, entry.pw_gid)


def _requirements(name: str) -> Iterator[str]:
    for text in metadata.requires(name) or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            yield requirement.name


def _copy_distributions(site: Path) -> None:
    """Copy the plugin and what it needs at run time, as installed, to ``site``."""
    todo, seen = ["virtualenv-symlink-safe"], set()
    while todo:
        name = todo.pop()
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        dist = metadata.distribution(name)
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(str(file.locate())), target)
        todo.extend(_requirements(name))
    for folder in (site, *site.rglob("*")):
        folder.chmod(
            folder.stat().st_mode | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXGRP | stat.S_IXOTH) * folder.is_dir()
        )


@pytest.fixture(scope="session")
def machine() -> Iterator[Machine]:
    group = _ensure_group(GROUP)
    victim, mallory = _ensure_account(VICTIM, GROUP), _ensure_account(MALLORY, GROUP)
    assert victim.gid == mallory.gid == group
    top = Path(tempfile.mkdtemp(prefix="symlink-safe-machine-")).resolve()
    top.chmod(0o755)
    try:
        site, home = top / "site", top / "home"
        site.mkdir()
        _copy_distributions(site)
        home.mkdir(mode=0o1777)
        home.chmod(0o1777)
        (home / "virtualenv.ini").write_text("")
        (home / "virtualenv.ini").chmod(0o644)
        yield Machine(victim, mallory, site, home)
    finally:
        shutil.rmtree(top)


@pytest.fixture
def shared(machine: Machine) -> Iterator[Path]:
    """A sticky folder every user may write, as ``/tmp`` is."""
    folder = Path(tempfile.mkdtemp(prefix="symlink-safe-shared-", dir=machine.home)).resolve()
    folder.chmod(0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


@pytest.fixture
def team(shared: Path, machine: Machine) -> Path:
    """A folder of the victim's, writable by the group the victim and mallory share (mode 2775)."""
    folder = shared / "team"
    folder.mkdir()
    os.chown(folder, machine.victim.uid, machine.victim.gid)
    folder.chmod(0o2775)
    return folder


def plant(path: Path, owner: Account, text: str = "") -> Path:
    path.write_text(text)
    os.chown(path, owner.uid, owner.gid, follow_symlinks=False)
    return path


def give(path: Path, owner: Account) -> Path:
    os.chown(path, owner.uid, owner.gid, follow_symlinks=False)
    return path


def snapshot(folder: Path) -> dict[str, tuple[int, int, int, bytes | str | None]]:
    """Every entry below ``folder`` with its owner, mode, size and content (a link's target), to compare."""
    found: dict[str, tuple[int, int, int, bytes | str | None]] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        content: bytes | str | None = None
        if stat.S_ISLNK(info.st_mode):
            content = str(path.readlink())
        elif stat.S_ISREG(info.st_mode):
            content = path.read_bytes()
        found[str(path.relative_to(folder))] = (info.st_uid, info.st_mode, info.st_size, content)
    return found


@pytest.fixture
def root_file(machine: Machine) -> Iterator[Path]:
    """A file only root may change, whose content, mode and times must survive every test."""
    folder = Path(tempfile.mkdtemp(prefix="symlink-safe-root-", dir=machine.home))
    folder.chmod(0o755)
    canary = folder / "root-only"
    canary.write_text("root's own\n")
    canary.chmod(0o644)
    before = canary.stat()
    try:
        yield canary
        after = canary.stat()
        assert canary.read_text() == "root's own\n"
        assert (after.st_mode, after.st_uid, after.st_gid) == (before.st_mode, before.st_uid, before.st_gid)
        assert after.st_mtime_ns == before.st_mtime_ns
        assert sorted(p.name for p in folder.iterdir()) == ["root-only"], "a file appeared beside root's"
    finally:
        shutil.rmtree(folder)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def victims_environment(machine: Machine, folder: Path, creator: str = "symlink-safe") -> Path:
    dest = folder / "env"
    result = machine.create(machine.victim, dest, "--creator", creator)
    assert result.returncode == 0, result.stdout + result.stderr
    (dest / "notes.txt").write_text("the victim's\n")
    give(dest / "notes.txt", machine.victim)
    return dest


# Item 1: a marker saying owned = yes, planted beside the destination (the old place) or inside a folder the group
# may write, made earlier versions delete the folder. Neither is read as a marker now, and nothing is deleted.
@pytest.mark.parametrize("where", ["beside", "inside"])
def test_planted_marker_deletes_nothing(machine: Machine, shared: Path, team: Path, where: str) -> None:
    project = (shared if where == "beside" else team) / "project"
    project.mkdir()
    give(project, machine.victim)
    project.chmod(0o2775)
    plant(project / "notes.txt", machine.victim, "the victim's\n")
    marker = shared / ".project.symlink-safe.incomplete" if where == "beside" else project / MARKER_NAME
    plant(marker, machine.mallory, "pid = 1\nstarted = then\nowned = yes\n")
    assert unfinished(project) is None
    before = sorted(p.name for p in shared.iterdir())

    result = machine.create(machine.victim, project, "--creator", "symlink-safe")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "notes.txt").read_text() == "the victim's\n"
    assert "did not finish" not in result.stdout + result.stderr
    assert sorted(p.name for p in shared.iterdir()) == before, "a file appeared beside the destination"
    assert machine.prefix_of(machine.victim, project) == str(project)


# Item 5: a lock file beside the destination, held by another user, made earlier versions wait forever.
@pytest.mark.parametrize("actor", ["victim", "root"])
def test_lock_held_beside_by_another_user_holds_up_nothing(machine: Machine, shared: Path, actor: str) -> None:
    who = machine.victim if actor == "victim" else None
    beside = plant(shared / ".env.symlink-safe.lock", machine.mallory)
    beside.chmod(0o666)
    holder = subprocess.Popen(
        machine.mallory.command(FLOCK, "--exclusive", beside, "sleep", str(3 * RUN_TIMEOUT)), cwd="/"
    )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while subprocess.run([FLOCK, "--nonblock", beside, "true"], check=False).returncode == 0:
            assert time.monotonic() < deadline, "mallory never took the lock"
            time.sleep(0.05)
        dest = shared / "env"
        created = machine.create(who, dest, "--creator", "symlink-safe")
        assert created.returncode == 0, created.stdout + created.stderr
        converted = machine.convert(who, dest)
        assert converted.returncode == 0, converted.stderr
        assert machine.prefix_of(who, dest) == str(dest)
    finally:
        holder.kill()
        holder.wait(timeout=RUN_TIMEOUT)
    assert sorted(p.name for p in shared.iterdir()) == [".env.symlink-safe.lock", "env"]


# Item 2: the lock file is checked before filelock opens it; root neither writes through it nor creates anything.
@pytest.mark.parametrize("planted", ["symlink-to-root-file", "hard-link-to-root-file", "another-users-file", "fifo"])
@pytest.mark.parametrize("actor", ["victim", "root"])
@pytest.mark.parametrize("operation", ["create", "convert"])
def test_lock_file_another_user_planted_is_refused(  # noqa: PLR0913, PLR0917  # the fixtures and the three cases
    machine: Machine, team: Path, root_file: Path, planted: str, actor: str, operation: str
) -> None:
    dest = victims_environment(machine, team, creator="cpython3-posix")
    dest.chmod(0o2775)  # the group may write the environment, so mallory may plant the lock file
    lock = dest / LOCK_NAME
    if planted == "symlink-to-root-file":
        lock.symlink_to(root_file)
    elif planted == "hard-link-to-root-file":  # what protected_hardlinks = 0 would let mallory do
        os.link(root_file, lock)
    elif planted == "fifo":
        os.mkfifo(lock)
    else:
        plant(lock, machine.mallory).chmod(0o666)
    if planted != "hard-link-to-root-file":  # root's file keeps its owner
        give(lock, machine.mallory)  # the link itself, for a symlink
    before = snapshot(dest)

    who = machine.victim if actor == "victim" else None
    if operation == "create":
        result = machine.create(who, dest, "--creator", "symlink-safe")
    else:
        result = machine.convert(who, dest)
    assert result.returncode != 0
    line = one_line(result)
    assert f"refusing the lock {lock}: " in line
    assert "another user could have put it there" in line
    assert snapshot(dest) == before


# Item 5: the lock only the environment's owner (and root) may open: another user cannot hold it.
def test_another_user_cannot_hold_the_lock_of_an_environment(machine: Machine, team: Path) -> None:
    dest = victims_environment(machine, team)
    lock = dest / LOCK_NAME
    assert (lock.stat().st_uid, stat.S_IMODE(lock.stat().st_mode)) == (machine.victim.uid, 0o600)
    tried = machine.run(machine.mallory, FLOCK, "--nonblock", lock, "true")
    assert tried.returncode != 0
    assert "Permission denied" in tried.stderr
    again = machine.create(machine.victim, dest, "--creator", "symlink-safe")
    assert again.returncode == 0, again.stdout + again.stderr


# Item 5, root in a user's tree: the owner can hold the lock root waits for, so root waits a bounded time.
@pytest.mark.parametrize("operation", ["create", "convert"])
@pytest.mark.usefixtures("root_file")
def test_root_waits_a_bounded_time_for_a_lock_the_owner_holds(machine: Machine, team: Path, operation: str) -> None:
    dest = victims_environment(machine, team, creator="cpython3-posix")
    lock = dest / LOCK_NAME
    plant(lock, machine.victim).chmod(0o600)
    holder = subprocess.Popen(
        machine.victim.command(FLOCK, "--exclusive", lock, "sleep", str(3 * RUN_TIMEOUT)), cwd="/"
    )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while subprocess.run([FLOCK, "--nonblock", lock, "true"], check=False).returncode == 0:
            assert time.monotonic() < deadline, "the victim never took the lock"
            time.sleep(0.05)
        before = snapshot(dest)
        bounded = f"import virtualenv_symlink_safe.creation as c; c.FOREIGN_WAIT = {SHORT_WAIT}; import sys, runpy; "
        if operation == "create":
            code = f"{bounded}sys.argv[0] = 'virtualenv'; runpy.run_module('virtualenv', run_name='__main__')"
            args = ["--app-data", str(machine.home / "app-data-root"), "-p", str(SYSTEM_PYTHON), "--no-seed"]
            cmd = [str(SYSTEM_PYTHON), "-c", code, *args, "--creator", "symlink-safe", str(dest)]
        else:
            code = f"{bounded}runpy.run_module('virtualenv_symlink_safe', run_name='__main__')"
            cmd = [str(SYSTEM_PYTHON), "-c", code, "convert", str(dest)]
        started = time.monotonic()
        result = machine.run(None, *cmd)
        waited = time.monotonic() - started
        assert result.returncode != 0
        assert f"{lock} stayed locked for {SHORT_WAIT} s by a process another user could run" in one_line(result)
        assert SHORT_WAIT <= waited < RUN_TIMEOUT
        assert snapshot(dest) == before
    finally:
        holder.kill()
        holder.wait(timeout=RUN_TIMEOUT)


#: What mallory puts where the marker goes, and whether the next creation must still run.
PLANTED_MARKERS = ["fifo", "link-to-dev-zero", "another-users-file", "too-large", "another-folder", "directory-link"]


def plant_marker(machine: Machine, dest: Path, kind: str, elsewhere: Path) -> Path:
    marker = dest / MARKER_NAME
    if kind == "fifo":
        os.mkfifo(marker)
    elif kind == "link-to-dev-zero":
        marker.symlink_to("/dev/zero")
    elif kind == "another-users-file":
        here = dest.stat()
        plant(marker, machine.mallory, f"pid = 1\npath = {dest}\ndevice = {here.st_dev}\ninode = {here.st_ino}\n")
    elif kind == "too-large":
        here = dest.stat()
        text = f"pid = 1\npath = {dest}\ndevice = {here.st_dev}\ninode = {here.st_ino}\n"
        plant(marker, machine.victim, text + "#" * MAX_MARKER_SIZE)
    elif kind == "another-folder":  # copied from elsewhere, or written there: not this folder's
        here = elsewhere.stat()
        plant(marker, machine.victim, f"pid = 1\npath = {elsewhere}\ndevice = {here.st_dev}\ninode = {here.st_ino}\n")
    else:
        marker.symlink_to(elsewhere)
    give(marker, machine.victim if kind in {"too-large", "another-folder"} else machine.mallory)
    return marker


# Item 3 and 5: anything but the creation's own marker in its place is ignored, never read unbounded, never blocks.
@pytest.mark.parametrize("kind", PLANTED_MARKERS)
def test_marker_not_ours_is_ignored_without_blocking(machine: Machine, team: Path, kind: str) -> None:
    dest = victims_environment(machine, team)
    dest.chmod(0o2775)
    elsewhere = team / "elsewhere"
    elsewhere.mkdir()
    plant_marker(machine, dest, kind, elsewhere)
    assert unfinished(dest) is None

    converted = machine.convert(machine.victim, dest)
    assert converted.returncode == 0, converted.stderr
    created = machine.create(machine.victim, dest, "--creator", "symlink-safe")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "did not finish" not in created.stdout + created.stderr
    assert not (dest / MARKER_NAME).exists()
    assert (dest / "notes.txt").read_text() == "the victim's\n"
    assert list(elsewhere.iterdir()) == []
    assert machine.prefix_of(machine.victim, dest) == str(dest)


# The control: the creation's own marker does count, for the creation (which finishes it) and for convert.
def test_own_marker_counts(machine: Machine, team: Path) -> None:
    dest = victims_environment(machine, team)
    here = dest.stat()
    marker = plant(
        dest / MARKER_NAME,
        machine.victim,
        f"pid = 4711\nstarted = then\npath = {dest}\ndevice = {here.st_dev}\ninode = {here.st_ino}\n",
    )
    left = unfinished(dest)
    assert left is not None
    assert (left.path, left.pid, left.started) == (marker, "4711", "then")
    refused = machine.convert(machine.victim, dest)
    assert refused.returncode == 8
    assert f"{dest}: an earlier creation (pid 4711, started then) did not finish" in one_line(refused)
    created = machine.create(machine.victim, dest, "--creator", "symlink-safe")
    assert "an earlier creation (pid 4711, started then) did not finish" in created.stdout + created.stderr
    assert not marker.exists()
    assert (dest / "notes.txt").exists()


# Root creating or converting in a user's tree leaves the user's files theirs: the lock file it makes is the owner's.
@pytest.mark.parametrize("operation", ["create", "convert"])
def test_root_in_a_users_environment_leaves_the_lock_theirs(machine: Machine, team: Path, operation: str) -> None:
    dest = victims_environment(machine, team, creator="cpython3-posix")
    result = (
        machine.create(None, dest, "--creator", "symlink-safe")
        if operation == "create"
        else machine.convert(None, dest)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lock = (dest / LOCK_NAME).lstat()
    assert (lock.st_uid, stat.S_IMODE(lock.st_mode)) == (machine.victim.uid, 0o600)
    again = machine.create(machine.victim, dest, "--creator", "symlink-safe")
    assert again.returncode == 0, again.stdout + again.stderr
    assert machine.prefix_of(machine.victim, dest) == str(dest)


# A user does not create or convert in an environment another user owns: its lock would be theirs to hold.
def test_user_refused_in_another_users_environment(machine: Machine, team: Path) -> None:
    dest = victims_environment(machine, team)
    dest.chmod(0o2775)
    before = snapshot(dest)
    for result in (
        machine.create(machine.mallory, dest, "--creator", "symlink-safe"),
        machine.convert(machine.mallory, dest),
    ):
        assert result.returncode != 0
        assert f"{dest} belongs to uid {machine.victim.uid}: only its owner or root may" in one_line(result)
    assert snapshot(dest) == before


# A destination that is another user's symlink: virtualenv resolves it (as plain virtualenv does) and the creation
# lands in the victim's folder it leads to; nothing there is deleted and nothing appears beside the link.
def test_destination_symlinked_by_another_user_deletes_nothing(machine: Machine, shared: Path, team: Path) -> None:
    precious = team / "precious"
    precious.mkdir()
    give(precious, machine.victim)
    plant(precious / "notes.txt", machine.victim, "the victim's\n")
    link = shared / "env"
    link.symlink_to(precious)
    give(link, machine.mallory)
    before = sorted(p.name for p in shared.iterdir())

    result = machine.create(machine.victim, link, "--creator", "symlink-safe")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (precious / "notes.txt").read_text() == "the victim's\n"
    assert sorted(p.name for p in shared.iterdir()) == before
    assert link.is_symlink()
    assert (precious / LOCK_NAME).lstat().st_uid == machine.victim.uid
    assert not (precious / MARKER_NAME).exists()


# Issue 18 item 7: a user who may not write a root-owned environment is told so, as a permission problem.
def test_user_who_may_not_write_the_environment_is_told_permission_denied(machine: Machine, shared: Path) -> None:
    dest = shared / "env"
    created = machine.create(None, dest, "--creator", "cpython3-posix")
    assert created.returncode == 0, created.stdout + created.stderr
    before = snapshot(dest)
    result = machine.convert(machine.victim, dest)
    assert result.returncode == 7
    assert f"{dest / 'bin'} is not writable: permission denied; nothing was changed" in one_line(result)
    assert snapshot(dest) == before
