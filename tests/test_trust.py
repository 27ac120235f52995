"""Rule 2.6 and the stub under privilege, tried with a second, unprivileged user: ``nobody``.

Files are made another user's with ``chown``; the stub is run as ``nobody`` with ``setpriv`` where the effective user
matters. Both need root: without it those cases skip and say so (CI runs as root, so there they run). Case names (E7)
are those of the conformance table; rule numbers are the contract's.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import PROBE, Status, Target, _version_of, targets

if TYPE_CHECKING:
    import subprocess
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
@needs_root
def test_e7_planted_cfg_in_sticky_directory_is_ignored(runner: Runner, target: Target, shared: Path) -> None:
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
    reason = f"ignored {cfg} (rule 2.6): owned by uid {NOBODY.pw_uid} in a sticky world-writable directory"
    assert reason in result.stderr

    # the control: the walk does look there, and root's own file there counts
    give(cfg, 0)
    result = runner.run([shared / "outer", "-c", "pass"])
    assert result.stdout == "planted\n"
    assert ran.exists()


# E7 where nothing else is found: the failure names the ignored file and why.
@needs_root
def test_e7_ignored_cfg_is_named_when_nothing_else_is_found(runner: Runner, target: Target, shared: Path) -> None:
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
        f"ignored {cfg} (rule 2.6: owned by uid {NOBODY.pw_uid} in a sticky world-writable directory" in result.stderr
    )


# Rule 2.6 and rule 3.3: the walk from a base that is itself a stub takes the same care. The outer environment's base
# is inner's stub reached through the sticky /tmp/t, where nobody planted a pyvenv.cfg naming a program of theirs.
@needs_root
def test_e7_nested_walk_ignores_planted_cfg(runner: Runner, target: Target, shared: Path) -> None:
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
@needs_root
@pytest.mark.parametrize(("link_owner", "counts"), [(STRANGER, False), (0, True)], ids=["stranger", "root"])
def test_rule_2_6_symlinked_cfg_judged_by_the_link(
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
# that is not world-writable, the sticky directory's owner's own file.
@needs_root
@pytest.mark.parametrize(
    ("mode", "dir_owner"),
    [(0o755, 0), (0o775, 0), (0o2775, 0), (0o1770, 0), (0o1777, "nobody"), (0o755, "nobody")],
    ids=["closed", "group-writable", "group-writable-setgid", "sticky-group-only", "sticky-owner", "owner"],
)
def test_rule_2_6_another_users_cfg_counts_where_no_stranger_adds(
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
@pytest.mark.parametrize(
    ("dir_mode", "counts"), [(0o755, False), (0o1777, False), (0o777, True)], ids=["closed", "sticky", "open"]
)
def test_rule_2_6_world_writable_cfg(
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
def test_rule_2_6_world_writable_environment_still_works(runner: Runner, target: Target, shared: Path) -> None:
    venv = runner.create(target, shared / "env")
    for path in [venv.path, *venv.path.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o777 if path.is_dir() or os.access(path, os.X_OK) else 0o666)
    (shared / "link").symlink_to(venv.python)
    for invocation in (venv.python, shared / "link"):
        assert_lands_in(runner.run([invocation, "-c", PROBE]), venv)


# Rule 2.6 with the stub run by nobody: in a sticky directory, the effective user's file and root's count, a
# stranger's does not.
@needs_nobody
@pytest.mark.parametrize(("owner", "counts"), [("nobody", True), (0, True), (STRANGER, False)])
def test_rule_2_6_effective_user_and_root(
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
@needs_nobody
def test_rule_1_4_privileged_stub_takes_only_the_kernels_record(
    runner: Runner, nobody_target: Target, shared: Path
) -> None:
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
@needs_nobody
def test_rule_1_4_privileged_stub_refuses_a_relative_base(runner: Runner, nobody_target: Target, shared: Path) -> None:
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
