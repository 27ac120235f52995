"""Rule 2.6 and the stub under privilege, tried with a second, unprivileged user: ``nobody``.

Files are made another user's with ``chown``; the stub is run as ``nobody`` with ``setpriv`` where the effective user
matters. Both need root: without it those cases skip and say so (CI runs as root, so there they run). Case names (E7)
are those of the conformance table; rule numbers are the contract's.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import PROBE, RUN_TIMEOUT, Status, Target, _version_of, targets

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import Runner, Venv


IS_ROOT = os.geteuid() == 0
try:
    NOBODY: pwd.struct_passwd | None = pwd.getpwnam("nobody")
except KeyError:
    NOBODY = None
#: A uid no account has: a third user, neither root, nor the effective user, nor nobody.
STRANGER = 4242

needs_root = pytest.mark.skipif(not IS_ROOT, reason="giving a file to another user (chown) needs root")
needs_nobody = pytest.mark.skipif(
    not IS_ROOT or NOBODY is None or shutil.which("setpriv") is None,
    reason="running the stub as a second user needs root, a 'nobody' account and setpriv (util-linux)",
)


def as_nobody() -> list[str]:
    assert NOBODY is not None
    return ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups"]


def give(path: Path, uid: int) -> None:
    """Make ``path`` (the link itself, for a symlink) another user's."""
    os.chown(path, uid, -1, follow_symlinks=False)


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder every user may traverse (pytest's tmp_path lies under a folder only root may enter)."""
    folder = Path(tempfile.mkdtemp(prefix="symlink-safe-trust-")).resolve()
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


@pytest.fixture(scope="session")
def nobody_target() -> Target:
    """An interpreter ``nobody`` may run: pyenv's live under /root, which only root may enter."""
    candidates = [t.exe for t in targets() if not t.is_pypy] + [Path("/usr/bin/python3")]
    for exe in candidates:
        if exe.exists() and all(p.stat().st_mode & stat.S_IXOTH for p in (exe, *exe.parents)):
            version, implementation = _version_of(exe)
            return Target(exe=exe, version=version, origin="nobody", implementation=implementation)
    pytest.skip("no interpreter that 'nobody' may run (every one lies in a folder closed to other users)")


def planted_program(folder: Path, ran: Path) -> Path:
    """A program that leaves ``ran`` behind when anything runs it."""
    program = folder / "planted"
    program.write_text(f"#!/bin/sh\necho planted > '{ran}'\necho planted\n")
    program.chmod(0o755)
    return program


def plant_cfg(folder: Path, base: Path, owner: int | None = None) -> Path:
    """A pyvenv.cfg in ``folder`` naming ``base``, owned by ``owner``."""
    cfg = folder / "pyvenv.cfg"
    cfg.write_text(f"home = {base.parent}\nbase-executable = {base}\n")
    if owner is not None:
        give(cfg, owner)
    return cfg


def assert_lands_in(result: subprocess.CompletedProcess[str], venv: Venv) -> None:
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["prefix"] == str(venv.path)
    assert report["marker"] == str(venv.path)


def assert_counts(result: subprocess.CompletedProcess[str], cfg: Path) -> None:
    """The stub took ``cfg`` (a traced run) and started the interpreter beside it, as PEP 405 says."""
    assert result.returncode == 0, result.stderr
    assert f"lexical check found {cfg}; argv[0] becomes " in result.stderr
    assert json.loads(result.stdout)["marker"] is None, "the environment behind the link was used"


def traced(runner: Runner) -> dict[str, str]:
    return {**runner.environ, "SYMLINK_SAFE_TRACE": "1"}


def sticky_dir(path: Path, owner: int = 0) -> Path:
    path.mkdir()
    os.chown(path, owner, -1)
    path.chmod(0o1777)
    return path


# E7: outer -> /tmp/t/x -> env/bin/python, with a pyvenv.cfg and a program planted in the sticky /tmp/t by nobody.
@pytest.mark.contract("E7", "rule 2.6")
@needs_root
def test_cfg_planted_in_a_sticky_directory_is_ignored(runner: Runner, target: Target, shared: Path) -> None:
    assert NOBODY is not None
    venv = runner.create(target, shared / "env")
    t = sticky_dir(shared / "t")
    (t / "x").symlink_to(venv.python)
    (shared / "outer").symlink_to(t / "x")
    ran = shared / "ran"
    program = planted_program(t, ran)
    give(program, NOBODY.pw_uid)
    cfg = plant_cfg(t, program, NOBODY.pw_uid)

    result = runner.run([shared / "outer", "-c", PROBE], env=traced(runner))
    assert_lands_in(result, venv)
    assert not ran.exists(), "the planted program ran"
    reason = f"ignored {cfg} (rule 2.6): owned by uid {NOBODY.pw_uid} in a sticky directory other users may write"
    assert reason in result.stderr

    # the control: the walk does look there, and root's own file there counts
    give(cfg, 0)
    result = runner.run([shared / "outer", "-c", "pass"])
    assert result.stdout == "planted\n"
    assert ran.exists()


# E7 where nothing else is found: the failure names the ignored file and why.
@pytest.mark.contract("E7", "rule 2.6")
@needs_root
def test_ignored_cfg_is_named_when_nothing_else_is_found(runner: Runner, target: Target, shared: Path) -> None:
    assert NOBODY is not None
    venv = runner.create(target, shared / "env")
    t = sticky_dir(shared / "t")
    (t / "x").symlink_to(venv.python)
    cfg = plant_cfg(t, target.exe, NOBODY.pw_uid)
    venv.cfg.unlink()
    result = runner.run([t / "x", "-c", "pass"])
    assert result.returncode == Status.NO_ENV
    assert result.stderr.count("\n") == 1
    assert (
        f"ignored {cfg} (rule 2.6: owned by uid {NOBODY.pw_uid} in a sticky directory other users may write"
        in result.stderr
    )


# Rule 2.6 and rule 3.3: the walk from a base that is itself a stub takes the same care. The outer environment's base
# is inner's stub reached through the sticky /tmp/t, where nobody planted a pyvenv.cfg naming a program of theirs.
@pytest.mark.contract("E7", "rule 2.6")
@needs_root
def test_walk_from_a_stub_base_ignores_a_planted_cfg(runner: Runner, target: Target, shared: Path) -> None:
    assert NOBODY is not None
    inner = runner.create(target, shared / "inner")
    outer = runner.create(target, shared / "outer")
    t = sticky_dir(shared / "t")
    (t / "x").symlink_to(inner.python)
    ran = shared / "ran"
    program = planted_program(t, ran)
    give(program, NOBODY.pw_uid)
    plant_cfg(t, program, NOBODY.pw_uid)
    outer.cfg.write_text(f"home = {t}\nbase-executable = {t / 'x'}\n")
    result = runner.run([outer.python, "-c", PROBE], env=traced(runner))
    assert_lands_in(result, outer)
    assert not ran.exists(), "the planted program ran"
    assert "the base is a stub, going on to its own environment" in result.stderr
    assert f"lexical check found {inner.cfg}" in result.stderr


# Rule 2.6: a pyvenv.cfg a symlink in a sticky directory leads to is judged by the link's owner.
@pytest.mark.contract("rule 2.6")
@needs_root
@pytest.mark.parametrize(("link_owner", "counts"), [(STRANGER, False), (0, True)], ids=["stranger", "root"])
def test_symlinked_cfg_is_judged_by_the_link(
    runner: Runner, target: Target, shared: Path, link_owner: int, *, counts: bool
) -> None:
    venv = runner.create(target, shared / "env")
    t = sticky_dir(shared / "t")
    (t / "x").symlink_to(venv.python)
    elsewhere = shared / "elsewhere"
    elsewhere.mkdir()
    program = planted_program(elsewhere, shared / "ran")
    (t / "pyvenv.cfg").symlink_to(plant_cfg(elsewhere, program))  # root's own file, behind a stranger's link
    give(t / "pyvenv.cfg", link_owner)
    result = runner.run([t / "x", "-c", PROBE])
    if counts:
        assert result.stdout == "planted\n"
    else:
        assert_lands_in(result, venv)


# Rule 2.6: whoever owns it, a pyvenv.cfg counts where only trusted users may write, or where whoever may write could
# replace the entries on the way anyway: a closed directory, a group-writable shared workspace, a sticky directory
# only its owner may write, the sticky directory's owner's own file.
@pytest.mark.contract("rule 2.6")
@needs_root
@pytest.mark.parametrize(
    ("mode", "dir_owner"),
    [(0o755, 0), (0o775, 0), (0o2775, 0), (0o1755, 0), (0o1777, "nobody"), (0o1770, "nobody"), (0o755, "nobody")],
    ids=[
        "closed",
        "group-writable",
        "group-writable-setgid",
        "sticky-owner-only",
        "sticky-owner",
        "group-sticky-owner",
        "owner",
    ],
)
def test_another_users_cfg_counts_where_no_stranger_adds(
    runner: Runner, target: Target, shared: Path, mode: int, dir_owner: int | str
) -> None:
    assert NOBODY is not None
    venv = runner.create(target, shared / "env")
    place = shared / "place"
    place.mkdir()
    os.chown(place, NOBODY.pw_uid if dir_owner == "nobody" else 0, NOBODY.pw_gid)
    place.chmod(mode)
    (place / "x").symlink_to(venv.python)
    cfg = plant_cfg(place, target.exe, NOBODY.pw_uid)
    assert_counts(runner.run([place / "x", "-c", PROBE], env=traced(runner)), cfg)


# Rule 2.6: a pyvenv.cfg anyone may rewrite counts only where anyone may replace everything anyway.
@pytest.mark.contract("rule 2.6")
@pytest.mark.parametrize(
    ("dir_mode", "counts"), [(0o755, False), (0o1777, False), (0o777, True)], ids=["closed", "sticky", "open"]
)
def test_world_writable_cfg_counts_only_where_anyone_may_replace_it(
    runner: Runner, target: Target, shared: Path, dir_mode: int, *, counts: bool
) -> None:
    venv = runner.create(target, shared / "env")
    place = shared / "place"
    place.mkdir()
    place.chmod(dir_mode)
    (place / "x").symlink_to(venv.python)
    cfg = plant_cfg(place, target.exe)
    cfg.chmod(0o666)
    result = runner.run([place / "x", "-c", PROBE], env=traced(runner))
    assert result.returncode == 0, result.stderr
    if counts:
        assert_counts(result, cfg)
    else:
        assert_lands_in(result, venv)
        assert f"ignored {cfg} (rule 2.6): writable by every user, in a directory that is not" in result.stderr


# Rule 2.6 keeps "chmod -R 777" environments working, by their own path and through a link from elsewhere.
@pytest.mark.contract("rule 2.6")
def test_world_writable_environment_still_works(runner: Runner, target: Target, shared: Path) -> None:
    venv = runner.create(target, shared / "env")
    for path in [venv.path, *venv.path.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o777 if path.is_dir() or os.access(path, os.X_OK) else 0o666)
    (shared / "link").symlink_to(venv.python)
    for invocation in (venv.python, shared / "link"):
        assert_lands_in(runner.run([invocation, "-c", PROBE]), venv)


# Rule 2.6 with the stub run by nobody: in a sticky directory, the effective user's file and root's count, a
# stranger's does not.
@pytest.mark.contract("rule 2.6")
@needs_nobody
@pytest.mark.parametrize(("owner", "counts"), [("nobody", True), (0, True), (STRANGER, False)])
def test_effective_users_and_roots_cfg_count_a_strangers_does_not(
    runner: Runner, nobody_target: Target, shared: Path, owner: int | str, *, counts: bool
) -> None:
    assert NOBODY is not None
    venv = runner.create(nobody_target, shared / "env")
    t = sticky_dir(shared / "t")
    (t / "x").symlink_to(venv.python)
    cfg = plant_cfg(t, nobody_target.exe, NOBODY.pw_uid if owner == "nobody" else int(owner))
    result = runner.run([*as_nobody(), t / "x", "-c", PROBE], env=traced(runner))
    if counts:
        assert_counts(result, cfg)
    else:
        assert_lands_in(result, venv)


# Rule 1.4: a setuid stub run by nobody through nobody's own link, beside nobody's own pyvenv.cfg naming nobody's
# own program. Without privilege that file would count (it is the effective user's); with it, argv[0], PATH and the
# trace are the caller's word and are not taken: the kernel's record of the running file decides.
@pytest.mark.contract("rule 1.4")
@needs_nobody
def test_privileged_stub_takes_only_the_kernels_record(runner: Runner, nobody_target: Target, shared: Path) -> None:
    assert NOBODY is not None
    if os.statvfs(shared).f_flag & os.ST_NOSUID:
        pytest.skip(f"{shared} lies on a file system mounted nosuid, where a setuid stub gains nothing")
    venv = runner.create(nobody_target, shared / "env")
    venv.python.chmod(0o4755)
    mine = shared / "mine"
    mine.mkdir()
    os.chown(mine, NOBODY.pw_uid, NOBODY.pw_gid)
    (mine / "x").symlink_to(venv.python)
    ran = mine / "ran"
    program = planted_program(mine, ran)
    plant_cfg(mine, program)
    for path in (mine / "x", program, mine / "pyvenv.cfg"):
        os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid, follow_symlinks=False)
    code = "import json, os, sys; print(json.dumps([sys.prefix, os.geteuid(), os.getuid()]))"
    env = {**traced(runner), "PATH": f"{mine}{os.pathsep}{runner.environ['PATH']}"}
    for invocation in (str(mine / "x"), "x"):
        result = runner.run([*as_nobody(), invocation, "-c", code], env=env)
        assert not ran.exists(), "the caller's program ran with the stub's privileges"
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == [str(venv.path), 0, NOBODY.pw_uid]
        assert "trace" not in result.stderr, "the trace is the caller's to ask for, not to read under privilege"

    # the control: without the setuid bit, the same invocation is nobody's own business, and nobody's file counts
    venv.python.chmod(0o755)
    result = runner.run([*as_nobody(), mine / "x", "-c", code], env=env)
    assert result.stdout == "planted\n"
    assert "symlink-safe: trace:" in result.stderr


# Rule 1.4: under privilege a base named by a relative path is refused, as it would be found from the caller's working
# directory; without privilege it is found from there, as before.
@pytest.mark.contract("rule 1.4")
@needs_nobody
def test_privileged_stub_refuses_a_relative_base(runner: Runner, nobody_target: Target, shared: Path) -> None:
    if os.statvfs(shared).f_flag & os.ST_NOSUID:
        pytest.skip(f"{shared} lies on a file system mounted nosuid, where a setuid stub gains nothing")
    venv = runner.create(nobody_target, shared / "env")
    venv.cfg.write_text(f"base-executable = {nobody_target.exe.name}\n")
    venv.python.chmod(0o4755)
    cwd = nobody_target.exe.parent
    result = runner.run([*as_nobody(), venv.python, "-c", "pass"], cwd=cwd)
    assert result.returncode == Status.BASE_UNUSABLE, result.stderr
    assert "under elevated privileges the base interpreter must be an absolute path" in result.stderr
    venv.python.chmod(0o755)
    assert runner.run([*as_nobody(), venv.python, "-c", "print('ran')"], cwd=cwd).stdout == "ran\n"


# ---------------------------------------------------------------------------------------------------------------------
# Rule 2.6 against real people: a victim, an attacker and a shared group they both belong to, each user with a group
# of their own (useradd -U, as Debian's adduser makes them). The attacker acts as themselves (setpriv), with the
# kernel's own rules for links in force; the stub is run as the victim and as root. A planted program leaves a
# witness file behind if anything runs it.


@dataclass(frozen=True)
class Person:
    name: str
    uid: int
    gid: int

    def run_as(self) -> list[str]:
        """The command prefix that runs a program as this person, with their groups (the shared one included)."""
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups"]


@dataclass(frozen=True)
class People:
    victim: Person
    attacker: Person
    shared_gid: int


def _tool(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if Path(p).exists()), None)


@pytest.fixture(scope="session")
def people() -> Iterator[People]:
    """Two real accounts and a shared group, made for this session and removed after it."""
    found = {name: _tool(name) for name in ("useradd", "userdel", "groupadd", "groupdel", "setpriv")}
    if not IS_ROOT:
        pytest.skip("creating a second and third user and a shared group needs root")
    if missing := [name for name, path in found.items() if path is None]:
        pytest.skip(f"creating users needs {', '.join(missing)}")
    tools = {name: str(path) for name, path in found.items()}
    tag = f"ss{os.getpid() % 100000}"
    group, victim, attacker = f"{tag}shared", f"{tag}victim", f"{tag}attacker"
    made: list[list[str]] = []
    try:
        subprocess.run([tools["groupadd"], group], check=True, capture_output=True)
        made.append([tools["groupdel"], group])
        for name in (victim, attacker):
            add = [tools["useradd"], "-M", "-U", "-G", group, "-s", "/usr/sbin/nologin", name]
            subprocess.run(add, check=True, capture_output=True)
            made.insert(0, [tools["userdel"], name])
        yield People(
            victim=Person(victim, pwd.getpwnam(victim).pw_uid, pwd.getpwnam(victim).pw_gid),
            attacker=Person(attacker, pwd.getpwnam(attacker).pw_uid, pwd.getpwnam(attacker).pw_gid),
            shared_gid=grp.getgrnam(group).gr_gid,
        )
    finally:
        for command in made:
            subprocess.run(command, check=False, capture_output=True)


def chown_tree(root: Path, uid: int, gid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


def witness_dir(shared: Path) -> Path:
    """Where a planted program, run by anyone, leaves its witness."""
    folder = shared / "witness"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def as_person(person: Person, *command: str | os.PathLike[str]) -> None:
    """Run a shell command as ``person``: the attack as the attacker would make it."""
    subprocess.run([*person.run_as(), *map(str, command)], check=True, capture_output=True, timeout=RUN_TIMEOUT)


def victims_environment(runner: Runner, target: Target, shared: Path, people: People) -> Venv:
    venv = runner.create(target, shared / "env")
    chown_tree(venv.path, people.victim.uid, people.victim.gid)
    return venv


def attack_chain(shared: Path, venv: Venv, victim: Person) -> tuple[Path, Path]:
    """``outer -> drop/x -> env/bin/python``: the victim's links, through root's folder ``drop``."""
    drop = shared / "drop"
    drop.mkdir()
    (drop / "x").symlink_to(venv.python)
    (shared / "outer").symlink_to(drop / "x")
    for link in (drop / "x", shared / "outer"):
        os.chown(link, victim.uid, victim.gid, follow_symlinks=False)
    return drop, shared / "outer"


def shared_drop_on_the_chain(
    runner: Runner, target: Target, shared: Path, people: People, mode: int
) -> tuple[Venv, Path, Path]:
    """The victim's environment reached through ``drop``, root's sticky folder of ``mode`` the shared group may use."""
    os.chown(shared, 0, people.shared_gid)
    venv = victims_environment(runner, target, shared, people)
    drop, outer = attack_chain(shared, venv, people.victim)
    os.chown(drop, 0, people.shared_gid)
    drop.chmod(mode)
    return venv, drop, outer


def runners_of(people: People) -> dict[str, list[str]]:
    """Who runs the link: the victim as themselves, and root."""
    return {"victim": people.victim.run_as(), "root": []}


# Rule 2.6 (issue 18, item 4): in a sticky directory writable by a group (mode 1770), a group member's pyvenv.cfg
# does not count, whoever runs the link.
#: (the sticky folder's mode, who runs the link)
ATTACKS = [(0o1770, "victim"), (0o1770, "root"), (0o1777, "victim"), (0o1777, "root")]
ATTACK_IDS = ["group-sticky-victim", "group-sticky-root", "world-sticky-victim", "world-sticky-root"]


@pytest.mark.contract("rule 2.6")
@pytest.mark.parametrize("attack", ATTACKS, ids=ATTACK_IDS)
def test_group_members_planted_cfg_does_not_run(
    runner: Runner, nobody_target: Target, shared: Path, people: People, attack: tuple[int, str]
) -> None:
    mode, who = attack
    venv, drop, outer = shared_drop_on_the_chain(runner, nobody_target, shared, people, mode)
    ran = witness_dir(shared) / "ran"
    evil = f"{drop}/planted"
    as_person(people.attacker, "sh", "-c", f"printf '#!/bin/sh\\necho planted > {ran}\\n' > {evil}; chmod 755 {evil}")
    as_person(people.attacker, "sh", "-c", f"printf 'home = {drop}\\nbase-executable = {evil}\\n' > {drop}/pyvenv.cfg")
    assert (drop / "pyvenv.cfg").stat().st_uid == people.attacker.uid

    result = runner.run([*runners_of(people)[who], outer, "-c", PROBE], env=traced(runner))
    assert_lands_in(result, venv)
    assert not ran.exists(), "the group member's program ran"
    assert f"ignored {drop / 'pyvenv.cfg'} (rule 2.6): owned by uid {people.attacker.uid} in a sticky" in result.stderr

    # the control: the walk does look there, and the victim's own file there counts for the victim
    (drop / "pyvenv.cfg").unlink()
    as_person(people.victim, "sh", "-c", f"umask 022; printf 'base-executable = {evil}\\n' > {drop}/pyvenv.cfg")
    assert runner.run([*people.victim.run_as(), outer, "-c", "pass"]).returncode == 0
    assert ran.exists()


# Rule 2.6 (issue 18, item 4): the attacker hard-links a note of the victim's that the shared group may write into a
# sticky directory on the link chain, then writes a pyvenv.cfg through the note. The entry is the victim's (a hard
# link keeps the file's owner), and fs.protected_hardlinks allows the link, as the attacker may read and write the
# note. It does not count: it has two links. Once the victim deletes the note it has one link, and still does not
# count: its group may write it.
@pytest.mark.contract("rule 2.6")
@pytest.mark.parametrize("attack", ATTACKS, ids=ATTACK_IDS)
def test_hard_link_of_the_victims_file_does_not_run(
    runner: Runner, nobody_target: Target, shared: Path, people: People, attack: tuple[int, str]
) -> None:
    mode, who = attack
    venv, drop, outer = shared_drop_on_the_chain(runner, nobody_target, shared, people, mode)
    notes = shared / "notes"
    notes.mkdir()
    os.chown(notes, people.victim.uid, people.shared_gid)
    notes.chmod(0o2755)
    note = notes / "note"
    as_person(people.victim, "sh", "-c", f"umask 002; echo 'meeting at 10' > {note}")
    ran = witness_dir(shared) / "ran"
    evil = shared / "planted"
    evil.write_text(f"#!/bin/sh\necho planted > {ran}\n")
    evil.chmod(0o755)
    os.chown(evil, people.attacker.uid, people.attacker.gid)
    linked = drop / "pyvenv.cfg"
    try:
        as_person(people.attacker, "ln", note, linked)
    except subprocess.CalledProcessError as failure:
        pytest.skip(f"the kernel refused the attacker's hard link ({failure.stderr.strip()}): nothing to defend")
    as_person(people.attacker, "sh", "-c", f"printf 'base-executable = {evil}\\n' > {note}")
    entry = linked.lstat()
    assert (entry.st_uid, entry.st_nlink) == (people.victim.uid, 2), "the planted entry is the victim's own"

    result = runner.run([*runners_of(people)[who], outer, "-c", PROBE], env=traced(runner))
    assert_lands_in(result, venv)
    assert not ran.exists(), "the attacker's program ran through the victim's hard-linked note"
    # for root the victim's entry is another user's already; for the victim it is their own, and the links tell
    reason = "it has 2 links, in a sticky directory" if who == "victim" else f"owned by uid {people.victim.uid}"
    assert f"ignored {linked} (rule 2.6): {reason}" in result.stderr

    note.unlink()  # the victim tidies up; the attacker's link stays, now the file's only one
    result = runner.run([*runners_of(people)[who], outer, "-c", PROBE], env=traced(runner))
    assert_lands_in(result, venv)
    assert not ran.exists(), "the attacker's program ran through the victim's orphaned note"
    reason = "writable by its group, in a sticky directory" if who == "victim" else f"owned by uid {people.victim.uid}"
    assert f"ignored {linked} (rule 2.6): {reason}" in result.stderr


# Rule 2.6: a second link of a victim's file that no one else may write. Under fs.protected_hardlinks only the owner
# could have made it; where that is off (it is the kernel's default) anyone could, so it does not count either. Root
# makes the link here, standing in for an attacker on such a machine.
@pytest.mark.contract("rule 2.6")
def test_second_link_in_a_sticky_directory_does_not_count(
    runner: Runner, nobody_target: Target, shared: Path, people: People
) -> None:
    venv = victims_environment(runner, nobody_target, shared, people)
    drop, outer = attack_chain(shared, venv, people.victim)
    drop.chmod(0o1777)
    ran = witness_dir(shared) / "ran"
    evil = planted_program(shared, ran)
    original = shared / "victims-own.cfg"
    original.write_text(f"base-executable = {evil}\n")
    os.chown(original, people.victim.uid, people.victim.gid)
    original.chmod(0o644)
    os.link(original, drop / "pyvenv.cfg")
    result = runner.run([*people.victim.run_as(), outer, "-c", PROBE], env=traced(runner))
    assert_lands_in(result, venv)
    assert not ran.exists()
    original.unlink()  # one link: the victim's own file, only the victim may write: it counts
    assert runner.run([*people.victim.run_as(), outer, "-c", "pass"]).returncode == 0
    assert ran.exists()


# Rule 2.6 keeps real layouts working, each run by real users through a link from elsewhere and by its own path:
# - umask 002 with a group of one's own: every file group-writable, the group the victim's alone;
# - a group-writable CI workspace (setgid, not sticky): the environment made by one member, run by another;
# - a root-owned system environment run by a user;
# - an environment whose files belong to a uid with no account here (NFS, a container's image);
# - the victim's environment inside a sticky shared directory (its pyvenv.cfg lies in the victim's own env/).
def lay_out(runner: Runner, target: Target, shared: Path, people: People, layout: str) -> tuple[Venv, Path]:
    """The environment of ``layout``, made by root then given to its owners, and a link to it from elsewhere."""
    place = shared / "place"
    place.mkdir()
    place.chmod({"inside-sticky": 0o1777, "ci-workspace": 0o2775}.get(layout, 0o755))
    if layout == "ci-workspace":
        os.chown(place, 0, people.shared_gid)
    venv = runner.create(target, place / "env")
    owner = {
        "umask-002": (people.victim.uid, people.victim.gid),
        "ci-workspace": (people.attacker.uid, people.shared_gid),
        "foreign-uid": (STRANGER, STRANGER),
        "inside-sticky": (people.victim.uid, people.victim.gid),
    }.get(layout)
    if owner is not None:
        chown_tree(venv.path, *owner)
    if layout in {"umask-002", "ci-workspace"}:
        setgid = stat.S_ISGID if layout == "ci-workspace" else 0
        for path in (p for p in [venv.path, *venv.path.rglob("*")] if not p.is_symlink()):
            path.chmod(path.stat().st_mode | stat.S_IWGRP | (setgid if path.is_dir() else 0))
    if layout == "ci-workspace":
        os.link(venv.cfg, place / "pyvenv.cfg.bak")  # a second link, where the group may rewrite anything anyway
    link = place / "link" if layout == "ci-workspace" else shared / "link"
    link.symlink_to(venv.python)
    return venv, link


LAYOUTS = ["umask-002", "ci-workspace", "root-system", "foreign-uid", "inside-sticky"]


@pytest.mark.contract("rule 2.6")
@pytest.mark.parametrize("case", [(layout, who) for layout in LAYOUTS for who in ("victim", "attacker")], ids="-".join)
def test_real_layouts_keep_working(
    runner: Runner, nobody_target: Target, shared: Path, people: People, case: tuple[str, str]
) -> None:
    layout, who = case
    venv, link = lay_out(runner, nobody_target, shared, people, layout)
    user = people.victim if who == "victim" else people.attacker
    for invocation in (venv.python, link):
        result = runner.run([*user.run_as(), invocation, "-c", PROBE], env=traced(runner))
        assert_lands_in(result, venv)
        assert "ignored" not in result.stderr
