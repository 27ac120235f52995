"""C17: environments made by others, converted by ``virtualenv-symlink-safe convert``, reverted by ``revert``.

Every origin the issue names (``python -m venv`` with and without ``--copies``, virtualenv's builtin creator with
``--symlinks`` and ``--copies``, ``uv venv``, and this creator: the upgrade path) is made for real from every target
interpreter, converted, and held to C4-C8, C11 and C12; then reverted, and a plain symlink loses it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import pty
import pwd
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import RUN_TIMEOUT, UV, Venv, build_marker_wheel
from test_conformance import (
    assert_lands_in,
    check_c5_chain_of_links,
    check_c6_link_inside_another_environment,
    check_c7_directory_symlink,
    check_c8_symlinked_environment_directory,
    check_c11_nested_venv,
    check_c11_nested_virtualenv,
    check_c12_move_and_copy,
    seed_reproducer,
)
from virtualenv_symlink_safe.creation import LOCK_NAME, MARKER_NAME, _write_marker
from virtualenv_symlink_safe.environment import STUB_HEAD, STUB_MARKER
from virtualenv_symlink_safe.errors import Status
from virtualenv_symlink_safe.stub import TEMPORARY_PREFIX

if TYPE_CHECKING:
    from conftest import Runner, Target

ORIGINS = ("venv", "venv-copies", "virtualenv-symlinks", "virtualenv-copies", "uv", "symlink-safe")


def make(runner: Runner, uv_environ: dict[str, str], target: Target, dest: Path, origin: str) -> Venv:
    """Make an environment at ``dest`` as ``origin`` makes it, without pip."""
    if origin in {"venv", "venv-copies"}:
        if origin == "venv-copies" and target.is_pypy:
            pytest.skip("Debian's PyPy 'venv --copies' copies all of /usr/lib into the environment and exits 1")
        copies = ["--copies"] if origin == "venv-copies" else []
        runner.run([target.exe, "-m", "venv", "--without-pip", *copies, dest], check=True)
    elif origin.startswith("virtualenv-"):
        runner.create(target, dest, f"--{origin.split('-')[1]}", creator=target.builtin, marker=False)
    elif origin == "uv":
        runner.run([UV, "venv", "--quiet", "-p", target.exe, dest], env=uv_environ, check=True)
    else:
        runner.create(target, dest, marker=False)
    return Venv(dest, target)


def command(runner: Runner, *args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return runner.run([sys.executable, "-m", "virtualenv_symlink_safe", *map(str, args)], env=env)


def interpreter_names(venv: Venv) -> list[str]:
    return sorted(p.name for p in venv.bin.iterdir() if p.name.startswith(("python", "pypy")))


def assert_converted(venv: Venv) -> None:
    """Every interpreter name is the stub, one file under all names (contract rule 8)."""
    names = interpreter_names(venv)
    assert "python" in names
    inodes = {os.lstat(venv.bin / name).st_ino for name in names}
    assert len(inodes) == 1, f"not one file under every name: {names}"
    assert not (venv.bin / "python").is_symlink()
    assert STUB_MARKER in (venv.bin / "python").read_bytes()[:STUB_HEAD]


def snapshot(folder: Path) -> dict[str, object]:
    """Every file under ``folder``: what it is, its mode and its bytes, links unfollowed."""
    seen: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            seen[str(path)] = ("link", str(path.readlink()))
        elif path.is_file():
            seen[str(path)] = (info.st_ino, info.st_mode, hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            seen[str(path)] = ("dir", info.st_mode)
    return seen


def marker_through_plain_symlink(runner: Runner, venv: Venv, link: Path) -> str | None:
    link.unlink(missing_ok=True)
    link.symlink_to(venv.python)
    return runner.probe(link)["marker"]  # type: ignore[return-value]


@pytest.mark.contract("C17")
@pytest.mark.parametrize("origin", ORIGINS)
def test_converted_environment_of_each_origin_works_and_reverts(
    runner: Runner, uv_environ: dict[str, str], target: Target, work: Path, origin: str
) -> None:
    """Convert, convert again, then the seed reproducer and C5-C8, C11, C12; revert, and the bug is back."""
    venv = make(runner, uv_environ, target, work / "venv", origin)
    control = marker_through_plain_symlink(runner, venv, work / "control") if origin != "symlink-safe" else None
    venv.add_marker()
    assert control is None  # plain environments lose their packages through a symlink (the bug)
    if origin == "symlink-safe":  # the upgrade path: an older stub, here one with other bytes, is replaced
        with venv.python.open("ab") as stub:
            stub.write(b"an older stub")
    before = snapshot(venv.path)

    result = command(runner, "convert", venv.path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == f"Converted 1 environment: {venv.path}\n"
    assert_converted(venv)
    after = snapshot(venv.path)
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    allowed = {str(venv.bin / name) for name in interpreter_names(venv)}
    allowed.add(str(venv.path / LOCK_NAME))  # the lock's file, made inside the environment by the first lock taken
    if target.is_pypy and origin == "venv":  # PyPy's venv names only home; the stub would find CPython there
        allowed.add(str(venv.cfg))
        assert "base-executable = " in venv.cfg.read_text()
    assert changed <= allowed, "convert changed more than the interpreter names"

    again = command(runner, "convert", "-v", venv.path)
    assert again.returncode == 0
    assert f"already symlink-safe: {venv.path}" in again.stdout
    assert snapshot(venv.path) == after, "converting twice changed something the second time"

    wheel = build_marker_wheel(work)
    install = f"'{UV}' pip install --quiet --no-index --python venv/bin/python '{wheel}'"
    seed_reproducer(runner, work, f"env UV_CACHE_DIR='{uv_environ['UV_CACHE_DIR']}' UV_OFFLINE=1 {install}")
    check_c5_chain_of_links(runner, venv, work)
    other = make(runner, uv_environ, target, work / "other", "uv")
    other.add_marker()
    check_c6_link_inside_another_environment(runner, venv, other)
    check_c7_directory_symlink(runner, venv, work)
    (work / "envlink").symlink_to(venv.path)
    check_c8_symlinked_environment_directory(runner, venv, work / "envlink")
    check_c11_nested_venv(runner, venv, work)
    check_c11_nested_virtualenv(runner, venv, work)

    reverted = command(runner, "revert", venv.path)
    assert reverted.returncode == 0, reverted.stderr
    assert reverted.stdout == f"Reverted 1 environment: {venv.path}\n"
    assert all((venv.bin / name).is_symlink() for name in interpreter_names(venv))
    assert_lands_in(runner.probe(venv.python), venv)  # still an environment by its own path
    assert marker_through_plain_symlink(runner, venv, work / "plain-link") is None, "revert left it symlink-safe"

    assert command(runner, "convert", "-q", venv.path).stdout == ""
    assert marker_through_plain_symlink(runner, venv, work / "plain-link") == str(venv.path)
    check_c12_move_and_copy(runner, venv, work)


@pytest.mark.contract("C17")
def test_revert_lays_out_what_virtualenv_makes(runner: Runner, target: Target, work: Path) -> None:
    """Reverting a symlink-safe environment gives the very links of virtualenv's builtin ``--symlinks`` creator."""
    plain = runner.create(target, work / "plain", "--symlinks", creator=target.builtin, marker=False)
    venv = runner.create(target, work / "env", marker=False)
    assert command(runner, "revert", venv.path).returncode == 0
    expected = {name: (plain.bin / name).readlink() for name in interpreter_names(plain)}
    assert {name: (venv.bin / name).readlink() for name in interpreter_names(venv)} == expected
    assert command(runner, "revert", venv.path).stdout == f"already plain: {venv.path}\n"


@pytest.mark.contract("C17")
def test_dry_run_changes_nothing(runner: Runner, uv_environ: dict[str, str], target: Target, work: Path) -> None:
    venv = make(runner, uv_environ, target, work / "env", "uv")
    before = snapshot(work)
    result = command(runner, "convert", "--dry-run", "-v", venv.path)
    assert result.returncode == 0, result.stderr
    assert f"Would convert 1 environment: {venv.path}" in result.stdout
    assert "python: a symlink to the base interpreter" in result.stdout
    assert snapshot(work) == before, "the dry run changed something, or took the lock"
    assert command(runner, "convert", venv.path).returncode == 0
    converted = snapshot(work)
    result = command(runner, "revert", "-n", venv.path)
    assert result.stdout == f"Would revert 1 environment: {venv.path}\n"
    assert snapshot(work) == converted


@pytest.mark.contract("C17")
def test_twelve_concurrent_converts_convert_once(
    runner: Runner, uv_environ: dict[str, str], target: Target, work: Path
) -> None:
    """Twelve converts of one environment at once all succeed, and leave one working environment."""
    venv = make(runner, uv_environ, target, work / "env", "uv")
    venv.add_marker()
    cmd = [sys.executable, "-m", "virtualenv_symlink_safe", "convert", str(venv.path)]
    procs = [
        subprocess.Popen(cmd, env=runner.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(12)
    ]
    outputs = [proc.communicate(timeout=RUN_TIMEOUT) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 12, outputs
    summaries = sorted(out for out, _ in outputs)
    assert summaries == [f"Converted 1 environment: {venv.path}\n"] + [f"already symlink-safe: {venv.path}\n"] * 11
    assert_converted(venv)
    assert [p.name for p in venv.bin.iterdir() if p.name.startswith(".")] == [], "a temporary file was left"
    (work / "link").symlink_to(venv.python)
    assert_lands_in(runner.probe(work / "link"), venv)


@pytest.mark.contract("C17")
def test_uv_keeps_using_the_converted_environment(
    runner: Runner, uv_environ: dict[str, str], target: Target, work: Path
) -> None:
    """``uv pip install``, ``uv sync`` and ``uv run`` work on a converted ``uv venv``, and leave the stub there."""
    venv = make(runner, uv_environ, target, work / "env", "uv")
    assert command(runner, "convert", venv.path).returncode == 0
    stub = (venv.bin / "python").read_bytes()
    wheel = build_marker_wheel(work)
    runner.run([UV, "pip", "install", "--no-index", "--python", venv.python, wheel], env=uv_environ, check=True)
    project = work / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        textwrap.dedent(f"""\
        [project]
        name = "project"
        version = "0"
        requires-python = ">=3.8"
        dependencies = ["symlink_safe_probe"]

        [tool.uv.sources]
        symlink_safe_probe = {{ path = "{wheel}" }}
        """)
    )
    env = {**uv_environ, "UV_PROJECT_ENVIRONMENT": str(venv.path)}
    runner.run([UV, "sync"], env=env, cwd=project, check=True)
    code = "import sys, symlink_safe_probe; print(sys.prefix, symlink_safe_probe.PREFIX)"
    ran = runner.run([UV, "run", "python", "-c", code], env=env, cwd=project, check=True)
    assert ran.stdout.split() == [str(venv.path)] * 2
    assert (venv.bin / "python").read_bytes() == stub, "uv replaced the stub"
    assert_converted(venv)
    (work / "link").symlink_to(venv.python)
    out = runner.run([work / "link", "-c", code], check=True).stdout
    assert out.split() == [str(venv.path)] * 2


@pytest.mark.contract("C17")
def test_console_script_and_help(runner: Runner) -> None:
    script = Path(sys.executable).parent / "virtualenv-symlink-safe"
    for args in ([], ["convert"], ["revert"], ["explain"]):
        result = runner.run([script, *args, "--help"], check=True)
        assert result.stdout.startswith("usage: virtualenv-symlink-safe")
    assert runner.run([script]).returncode == 2
    assert runner.run([script, "convert"]).returncode == 2


@pytest.mark.contract("C17")
def test_explain_tells_a_stub_from_a_plain_interpreter(
    runner: Runner, uv_environ: dict[str, str], target: Target, work: Path
) -> None:
    plain = make(runner, uv_environ, target, work / "plain", "uv")
    venv = make(runner, uv_environ, target, work / "env", "uv")
    assert command(runner, "convert", venv.path).returncode == 0
    (work / "link").symlink_to(venv.python)
    (work / "plain-link").symlink_to(plain.python)

    result = command(runner, "explain", work / "link")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert f"runs in the environment {venv.path}" in text
    assert f"followed 1 link(s) ({work / 'link'} -> {venv.python}) and found {venv.cfg} next to that path" in text
    assert "comes from 'home'" in text
    assert 3 <= len(text.splitlines()) <= 8

    result = command(runner, "explain", work / "plain-link")
    assert result.returncode == 0, result.stderr
    assert "runs in the base interpreter" in result.stdout
    assert f"in the environment {plain.path}, which is lost this way" in result.stdout
    assert f"virtualenv-symlink-safe convert {plain.path}" in result.stdout

    result = command(runner, "explain", plain.python)
    assert f"runs in the environment {plain.path}" in result.stdout
    assert "A symlink to it placed elsewhere would lose the environment" in result.stdout

    venv.cfg.unlink()
    result = command(runner, "explain", work / "link")
    assert result.returncode == Status.DID_NOT_START
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "symlink-safe: no environment for" in result.stderr

    assert command(runner, "explain", work / "nothing-here").returncode == Status.NOT_AN_ENVIRONMENT


def refused(runner: Runner, status: int, *args: str | Path) -> str:
    """Run the command, expect the status and one line on stderr; return that line."""
    result = command(runner, *args)
    assert result.returncode == status, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ")
    return result.stderr


@pytest.mark.contract("C17")
def test_bad_input_is_refused_in_one_line_changing_nothing(
    runner: Runner, uv_environ: dict[str, str], target: Target, work: Path
) -> None:
    """Each refusal: one line, its own status, nothing changed."""
    assert "does not exist" in refused(runner, Status.NOT_AN_ENVIRONMENT, "convert", work / "missing")
    (work / "plain-folder").mkdir()
    assert "has no pyvenv.cfg" in refused(runner, Status.NOT_AN_ENVIRONMENT, "convert", work / "plain-folder")
    conda = work / "conda"
    (conda / "conda-meta").mkdir(parents=True)
    (conda / "bin").mkdir()
    (conda / "bin" / "python").symlink_to(target.exe)
    assert "conda environment" in refused(runner, Status.FOREIGN_LAYOUT, "convert", conda)
    (work / "no-names" / "bin").mkdir(parents=True)
    (work / "no-names" / "pyvenv.cfg").write_text(f"home = {target.exe.parent}\n")
    assert "has no interpreter in bin/" in refused(runner, Status.NOT_AN_ENVIRONMENT, "convert", work / "no-names")
    windows = work / "windows"
    (windows / "Scripts").mkdir(parents=True)
    (windows / "pyvenv.cfg").write_text(f"home = {target.exe.parent}\n")
    assert "Windows layout" in refused(runner, Status.FOREIGN_LAYOUT, "revert", windows)

    venv = make(runner, uv_environ, target, work / "env", "uv")
    before, cfg = snapshot(venv.path), venv.cfg.read_text()
    venv.cfg.write_text(cfg + f"base-executable = {work / 'gone' / 'python3'}\n")
    assert str(work / "gone" / "python3") in refused(runner, Status.BASE_UNUSABLE, "convert", venv.path)
    venv.cfg.write_text(cfg.replace("version_info = ", "version_info = 3.7.0\nold_version_info = "))
    assert "or later is required, not 3.7" in refused(runner, Status.UNSERVED, "convert", venv.path)
    venv.cfg.write_text(cfg.replace("implementation = ", "implementation = GraalPy\nold_implementation = "))
    assert "only CPython and PyPy are supported for now, not GraalPy" in refused(
        runner, Status.UNSERVED, "convert", venv.path
    )
    venv.cfg.write_text(cfg)
    assert snapshot(venv.path) == before

    marker = _write_marker(venv.path)
    assert "did not finish" in refused(runner, Status.UNFINISHED, "convert", venv.path)
    assert not (venv.path / LOCK_NAME).exists(), "the refused convert left the lock's file it made"
    (venv.path / MARKER_NAME).unlink()
    assert marker.st_size > 0
    assert snapshot(venv.path) == before


@pytest.mark.contract("C17")
def test_base_of_another_machine_is_refused(
    runner: Runner, uv_environ: dict[str, str], target: Target, work: Path
) -> None:
    """A base whose ELF header the stub does not match (here: another machine) is refused, nothing changed."""
    venv = make(runner, uv_environ, target, work / "env", "uv")
    foreign = work / "foreign-python"
    data = bytearray(Path(os.path.realpath(target.exe)).read_bytes())
    data[18:20] = (183).to_bytes(2, "little")  # e_machine: AArch64 instead of this machine's
    foreign.write_bytes(bytes(data))
    foreign.chmod(0o755)
    venv.cfg.write_text(venv.cfg.read_text() + f"base-executable = {foreign}\n")
    for name in interpreter_names(venv):
        (venv.bin / name).unlink()
        (venv.bin / name).symlink_to(foreign)
    before = snapshot(venv.path)
    assert "does not fit" in refused(runner, Status.UNSERVED, "convert", venv.path)
    assert snapshot(venv.path) == before


@pytest.mark.contract("C17")
def test_read_only_bin_is_refused_creating_nothing(
    runner: Runner, uv_environ: dict[str, str], target: Target, work: Path
) -> None:
    venv = make(runner, uv_environ, target, work / "env", "uv")
    if os.geteuid() != 0:
        venv.bin.chmod(0o555)
    elif runner.run(["chattr", "+i", venv.bin]).returncode != 0:
        pytest.skip("root, and 'chattr +i' is refused here: no way to make bin/ read-only for root")
    try:
        before = exact_snapshot(work)
        line = refused(runner, Status.NOT_WRITABLE, "convert", venv.path)
        after = exact_snapshot(work)
    finally:
        if os.geteuid() == 0:
            runner.run(["chattr", "-i", venv.bin], check=True)
        venv.bin.chmod(0o755)
    assert f"{venv.bin} is not writable" in line
    assert after == before, "the refused convert changed or created something (a probe, the lock)"


def installed_where_anyone_reads(site: Path) -> Path:
    """Copy the package (and filelock, when installed) where a second user may import it: the test environment
    lies under folders only root may enter."""
    for name in ("virtualenv_symlink_safe", "filelock"):
        with contextlib.suppress(ImportError):
            package = Path(importlib.import_module(name).__file__ or "").parent
            shutil.copytree(package, site / name, ignore=shutil.ignore_patterns("__pycache__"))
    for path in [site, *site.rglob("*")]:
        path.chmod(0o755)
    return site


@pytest.mark.contract("C17")
@pytest.mark.skipif(os.geteuid() != 0, reason="running as a second user needs root (setpriv)")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="running as a second user needs setpriv (util-linux)")
def test_user_who_may_not_write_is_told_so(runner: Runner) -> None:
    """A user converting root's environment is told bin/ is not writable for lack of permission, not 'No such file'."""
    nobody = pwd.getpwnam("nobody")
    shared = Path(tempfile.mkdtemp(prefix="symlink-safe-perm-")).resolve()
    try:
        shared.chmod(0o755)
        env = shared / "env"
        runner.run(["/usr/bin/python3", "-m", "venv", "--without-pip", env], check=True)
        site = installed_where_anyone_reads(shared / "site")
        before = exact_snapshot(shared)
        as_nobody = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        cmd = [*as_nobody, "/usr/bin/python3", "-m", "virtualenv_symlink_safe", "convert", str(env)]
        result = runner.run(cmd, cwd="/", env={**runner.environ, "PYTHONPATH": str(site)})
        assert result.returncode == Status.NOT_WRITABLE, result.stderr
        assert result.stderr == f"error: {env / 'bin'} is not writable: permission denied; nothing was changed\n"
        assert exact_snapshot(shared) == before
    finally:
        shutil.rmtree(shared)


@pytest.mark.contract("C17")
def test_temporaries_a_killed_run_left_are_removed_and_no_others(
    runner: Runner, uv_environ: dict[str, str], target: Target, work: Path
) -> None:
    """A temporary of ours (name, owner) left by a killed run goes with the next convert; anything else stays."""
    venv = make(runner, uv_environ, target, work / "env", "uv")
    ours = venv.bin / f"{TEMPORARY_PREFIX}0123456789abcdef"
    ours.write_bytes(b"half a stub")
    kept = [venv.bin / f"{TEMPORARY_PREFIX}not-ours", venv.bin / f"{TEMPORARY_PREFIX}fedcba9876543210"]
    kept[0].write_bytes(b"a name of ours, but not a form we make")
    kept[1].mkdir()
    result = command(runner, "convert", "-v", venv.path)
    assert result.returncode == 0, result.stderr
    assert f"{ours.name}: a temporary an interrupted run left, removed" in result.stdout
    assert not ours.exists()
    assert all(path.exists() for path in kept)
    assert_converted(venv)


@pytest.mark.contract("C17")
def test_unknown_name_is_left_alone(runner: Runner, uv_environ: dict[str, str], target: Target, work: Path) -> None:
    venv = make(runner, uv_environ, target, work / "env", "uv")
    venv.add_marker()
    wrapper = venv.bin / f"python3.{target.version[1]}"
    wrapper.unlink()
    wrapper.write_text("#!/bin/sh\nexec true\n")
    wrapper.chmod(0o755)
    before = wrapper.read_bytes()
    result = command(runner, "convert", venv.path)
    assert result.returncode == Status.UNKNOWN_NAMES
    assert result.stderr.count("\n") == 1
    assert f"left alone: bin/{wrapper.name} is a file, neither the base interpreter" in result.stderr
    assert result.stdout == f"Converted 1 environment: {venv.path}\n"
    assert wrapper.read_bytes() == before
    (work / "link").symlink_to(venv.bin / "python3")
    assert_lands_in(runner.probe(work / "link"), venv)


@pytest.mark.contract("C17")
def test_convert_waits_for_the_creation_lock(
    runner: Runner, uv_environ: dict[str, str], target: Target, work: Path
) -> None:
    """While a creation holds the destination's lock, convert waits; once released, it converts."""
    from virtualenv_symlink_safe.creation import Creation  # noqa: PLC0415

    venv = make(runner, uv_environ, target, work / "env", "uv")
    cmd = [sys.executable, "-m", "virtualenv_symlink_safe", "convert", str(venv.path)]
    with Creation(venv.path, clear=False).held():
        proc = subprocess.Popen(cmd, env=runner.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=2)
        assert (venv.bin / "python").is_symlink(), "convert changed the environment while a creation held it"
    out, err = proc.communicate(timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, err
    assert out == f"Converted 1 environment: {venv.path}\n"
    assert_converted(venv)


@pytest.mark.contract("C17")
def test_colour_only_on_a_terminal(runner: Runner, work: Path) -> None:
    missing = work / "missing"
    plain = command(runner, "convert", missing)
    assert plain.stderr == f"error: {missing} does not exist\n"
    primary, secondary = pty.openpty()
    try:
        for environ, coloured in ((runner.environ, True), ({**runner.environ, "NO_COLOR": "1"}, False)):
            cmd = [sys.executable, "-m", "virtualenv_symlink_safe", "convert", str(missing)]
            result = subprocess.run(cmd, env=environ, stderr=secondary, check=False, timeout=RUN_TIMEOUT)
            assert result.returncode == Status.NOT_AN_ENVIRONMENT
            line = os.read(primary, 4096)
            assert line.startswith(b"\x1b[1;31merror\x1b[0m: ") == coloured, line
            assert f"{missing} does not exist".encode() in line
    finally:
        os.close(primary)
        os.close(secondary)


def pypy_copies_layout(runner: Runner, target: Target, path: Path) -> Venv:
    """PyPy's ``venv --copies`` layout: copies, and only ``home`` and ``version`` in pyvenv.cfg.

    Debian's PyPy cannot make one itself (``make`` says why), so its ``venv`` layout gets copies by hand.
    """
    if not target.is_pypy:
        pytest.skip("a layout of PyPy's venv")
    venv = Venv(path, target)
    runner.run([target.exe, "-m", "venv", "--without-pip", venv.path], check=True)
    assert "implementation" not in venv.cfg.read_text()
    real = Path(os.path.realpath(target.exe))
    for name in interpreter_names(venv):
        (venv.bin / name).unlink()
        (venv.bin / name).write_bytes(real.read_bytes())
        (venv.bin / name).chmod(0o755)
    return venv


@pytest.mark.contract("C17")
def test_pypy_venv_copies_layout_keeps_running_pypy(runner: Runner, target: Target, work: Path) -> None:
    """PyPy's ``venv --copies`` layout (copies, and only ``home`` and ``version`` in pyvenv.cfg) runs PyPy after all."""
    venv = pypy_copies_layout(runner, target, work / "env")
    venv.add_marker()
    result = command(runner, "convert", "-v", venv.path)
    assert result.returncode == 0, result.stderr
    assert f"a copy of {target.exe.parent}/pypy" in result.stdout
    assert f"base-executable = {target.exe.parent}/pypy" in venv.cfg.read_text()
    assert_converted(venv)
    (work / "link").symlink_to(venv.python)
    code = "import sys, marker_symlink_safe; print(sys.implementation.name, marker_symlink_safe.WHERE)"
    assert runner.run([work / "link", "-c", code], check=True).stdout.split() == ["pypy", str(venv.path)]


@pytest.mark.contract("C17")
@pytest.mark.skipif(os.geteuid() != 0, reason="converting another user's environment as root needs root")
def test_root_leaves_the_pyvenv_cfg_it_rewrites_to_its_owner(runner: Runner, target: Target, work: Path) -> None:
    """Root converting a user's environment whose ``pyvenv.cfg`` gains a line leaves the file the user's, its mode
    kept."""
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' account to own the environment")
    venv = pypy_copies_layout(runner, target, work / "env")
    venv.cfg.chmod(0o640)
    for path in [venv.path, *venv.path.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid, follow_symlinks=False)
    result = command(runner, "convert", venv.path)
    assert result.returncode == Status.OK, result.stderr
    assert "base-executable = " in venv.cfg.read_text()
    info = venv.cfg.lstat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (nobody.pw_uid, nobody.pw_gid, 0o640)
    assert_converted(venv)


def exact_snapshot(folder: Path) -> dict[str, object]:
    """Every path under ``folder``, and the folder: its ``lstat`` (times but access) and bytes, links unfollowed."""
    seen: dict[str, object] = {}
    for path in [folder, *sorted(folder.rglob("*"))]:
        info = path.lstat()
        facts = (info.st_mode, info.st_ino, info.st_nlink, info.st_uid, info.st_gid, info.st_size, info.st_mtime_ns)
        if path.is_symlink():
            seen[str(path)] = (*facts, str(path.readlink()))
        elif stat.S_ISREG(info.st_mode):
            seen[str(path)] = (*facts, info.st_ctime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            seen[str(path)] = (*facts, info.st_ctime_ns)
    return seen


def base_folder(target: Target, folder: Path) -> Path:
    """A folder holding a base interpreter: a byte copy of the target's, so the test may see it replaced."""
    folder.mkdir()
    real = Path(os.path.realpath(target.exe))
    shutil.copy2(real, folder / real.name)
    return folder / real.name


@pytest.mark.contract("C17")
@pytest.mark.parametrize("where", ["the base's folder", "another folder"])
def test_convert_refuses_a_bin_that_leads_out_of_the_environment(
    runner: Runner, uv_environ: dict[str, str], target: Target, work: Path, where: str
) -> None:
    """``bin/`` a symlink (to the folder holding the base, or anywhere): refused, nothing changed or created."""
    venv = make(runner, uv_environ, target, work / "env", "uv")
    base = base_folder(target, work / "base")
    elsewhere = base.parent if where == "the base's folder" else work / "elsewhere"
    if where == "another folder":
        shutil.copytree(venv.bin, elsewhere, symlinks=True)
    venv.cfg.write_text(venv.cfg.read_text() + f"base-executable = {base}\n")
    shutil.rmtree(venv.bin)
    venv.bin.symlink_to(elsewhere)
    for name in ("python", "python3"):
        if not (elsewhere / name).exists():
            (elsewhere / name).symlink_to(base)
    before = exact_snapshot(work)
    for args in (["convert"], ["revert"], ["convert", "-n"]):
        line = refused(runner, Status.UNSAFE_LAYOUT, *args, venv.path)
        assert f"{venv.bin} is a symlink to {elsewhere}" in line
        assert exact_snapshot(work) == before, f"{args[0]} changed or created something"


@pytest.mark.contract("C17")
def test_convert_refuses_to_replace_the_base_interpreters_own_file(
    runner: Runner, uv_environ: dict[str, str], target: Target, work: Path
) -> None:
    """A ``pyvenv.cfg`` naming a file in the environment's own ``bin/`` as the base: refused, nothing changed."""
    venv = make(runner, uv_environ, target, work / "env", "uv")
    real = Path(os.path.realpath(target.exe))
    own = venv.bin / real.name
    own.unlink(missing_ok=True)
    shutil.copy2(real, own)
    venv.cfg.write_text(venv.cfg.read_text() + f"base-executable = {own}\n")
    before = exact_snapshot(work)
    line = refused(runner, Status.UNSAFE_LAYOUT, "convert", venv.path)
    assert f"{own} is the base interpreter's own file" in line
    assert exact_snapshot(work) == before


def works_as_itself(runner: Runner, venv: Venv) -> None:
    """Every interpreter name starts the interpreter in the environment, whatever each name is now."""
    for name in interpreter_names(venv):
        assert_lands_in(runner.probe(venv.bin / name), venv)


def kill_at_random(runner: Runner, args: list[str], rng: random.Random, longest: float) -> int:
    """Start the command, SIGKILL it at a random moment within ``longest`` seconds; its status."""
    cmd = [sys.executable, "-m", "virtualenv_symlink_safe", *args]
    proc = subprocess.Popen(cmd, env=runner.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0, longest))
    proc.send_signal(signal.SIGKILL)
    return proc.wait(timeout=RUN_TIMEOUT)


@pytest.mark.contract("C17")
def test_killed_convert_and_revert_leave_a_working_environment(
    runner: Runner, uv_environ: dict[str, str], target: Target, work: Path
) -> None:
    """Ten SIGKILLs at random moments of a real convert, then of a real revert: each time the environment works as
    itself, and running the command again completes it, leaving no temporary behind."""
    venv = make(runner, uv_environ, target, work / "env", "uv")
    venv.add_marker()
    rng = random.Random(str(target.exe))  # noqa: S311  # moments to kill at, not secrets
    started = time.monotonic()
    command(runner, "convert", "-n", venv.path)
    longest = 1.5 * (time.monotonic() - started)  # one whole run, and some
    killed = 0
    for _ in range(10):
        killed += kill_at_random(runner, ["convert", str(venv.path)], rng, longest) == -signal.SIGKILL
        works_as_itself(runner, venv)
        assert command(runner, "convert", "-q", venv.path).returncode == 0
        assert_converted(venv)
        assert not [p.name for p in venv.bin.iterdir() if p.name.startswith(".")], "a temporary was left"
        works_as_itself(runner, venv)

        killed += kill_at_random(runner, ["revert", str(venv.path)], rng, longest) == -signal.SIGKILL
        works_as_itself(runner, venv)
        assert command(runner, "revert", "-q", venv.path).returncode == 0
        assert all((venv.bin / name).is_symlink() for name in interpreter_names(venv))
        assert not [p.name for p in venv.bin.iterdir() if p.name.startswith(".")], "a temporary was left"
    assert killed >= 5, "too few runs were killed before they ended: the loop tests little"


#: Run as the environment's owner while root converts it, until told to stop: swaps ``bin/`` for a link to the
#: base's folder and back (until told to be calm), and puts a link to a root-only file over every temporary it sees,
#: and where a temporary was once seen or earlier versions put one.
RACER = """
import os, sys
env, target, stop, calm = sys.argv[1:5]
bin_, aside = os.path.join(env, "bin"), os.path.join(env, "bin.aside")
secret = os.path.join(target, "secret")
# the names earlier versions wrote through: .<name>.symlink-safe-tmp, and the probe
guessed = {f".{name}.symlink-safe-tmp" for name in ("python", "python3", "pyvenv.cfg")}
rounds, seen = 0, set()
while not os.path.exists(stop):
    rounds += 1
    try:
        names = set(os.listdir(bin_))
    except OSError:
        names = set()
    fresh = {n for n in names if n.startswith(".symlink-safe") and not os.path.islink(os.path.join(bin_, n))}
    for name in fresh:  # a temporary seen: put a link in its place
        try:
            os.symlink(secret, os.path.join(bin_, name + ".racer"))
            os.replace(os.path.join(bin_, name + ".racer"), os.path.join(bin_, name))
        except OSError:
            pass
    seen |= fresh
    for name in (seen | guessed) - names:  # a name used once, or guessed, may be used again: wait there
        try:
            os.symlink(secret, os.path.join(bin_, name))
        except OSError:
            pass
    if rounds % 100 or os.path.exists(calm):  # now and then only, so that most runs get as far as writing
        continue
    try:
        os.rename(bin_, aside)
        os.symlink(target, bin_)
        os.unlink(bin_)
        os.rename(aside, bin_)
    except OSError:
        pass
print(rounds)
"""


def put_back_what_the_racer_won(env: Path, base: Path, cfg: str, owner: pwd.struct_passwd) -> None:
    """Put back, as the environment's owner may, a name the racer won (a link of its own renamed into place where
    a temporary was, for an interpreter name or ``pyvenv.cfg``): otherwise every later round is a refusal, and the
    race stops testing writes. Through ``bin/``'s descriptor: the racer swaps ``bin/`` for a link now and then."""
    if (env / "pyvenv.cfg").is_symlink():
        (env / "pyvenv.cfg").unlink()
        (env / "pyvenv.cfg").write_text(cfg)
        os.chown(env / "pyvenv.cfg", owner.pw_uid, owner.pw_gid)
    try:
        bin_fd = os.open(env / "bin", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return  # aside for a moment
    try:
        for name, target in (("python", str(base)), ("python3", "python")):
            try:
                info = os.stat(name, dir_fd=bin_fd, follow_symlinks=False)
            except FileNotFoundError:
                info = None
            if info is not None and stat.S_ISREG(info.st_mode):
                continue  # a stub, as convert left it
            if info is not None and os.readlink(name, dir_fd=bin_fd) == target:
                continue  # the link, as revert left it
            if info is not None:
                os.unlink(name, dir_fd=bin_fd)
            os.symlink(target, name, dir_fd=bin_fd)
            os.chown(name, owner.pw_uid, owner.pw_gid, dir_fd=bin_fd, follow_symlinks=False)
    finally:
        os.close(bin_fd)


def what_is_held(env: Path) -> dict[str, str]:
    """Say what ``bin/python``, ``bin/python3`` and ``pyvenv.cfg`` are: a link's target, a file's owner."""
    held = {"pyvenv.cfg": "a link" if (env / "pyvenv.cfg").is_symlink() else "a file"}
    for name in ("python", "python3"):
        path = env / "bin" / name
        held[name] = f"-> {path.readlink()}" if path.is_symlink() else f"a file of uid {path.lstat().st_uid}"
    return held


def reported_truly(held: dict[str, str], base: Path, *, converted: bool) -> bool:
    """Tell whether what :func:`what_is_held` saw is what a conversion or a revert that succeeded leaves:
    ``bin/python`` a stub of this user's or the link to the base, ``pyvenv.cfg`` a file."""
    python = f"a file of uid {os.geteuid()}" if converted else f"-> {base}"
    return held["python"] == python and held["pyvenv.cfg"] == "a file"


def owned_environment(folder: Path, base: Path, target: Target, owner: pwd.struct_passwd) -> str:
    """Make a plain environment of ``base`` in ``folder`` as ``owner``'s; return its ``pyvenv.cfg``."""
    (folder / "bin").mkdir(parents=True)
    kind = "implementation = PyPy\n" if target.is_pypy else ""
    cfg = f"home = {base.parent}\n{kind}version = {target.short}\n"
    (folder / "pyvenv.cfg").write_text(cfg)
    (folder / "bin" / "python").symlink_to(base)
    (folder / "bin" / "python3").symlink_to("python")
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, owner.pw_uid, owner.pw_gid, follow_symlinks=False)
    return cfg


@pytest.mark.contract("C17")
@pytest.mark.skipif(os.geteuid() != 0, reason="a second user racing root needs root (chown, setpriv)")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="running as a second user needs setpriv (util-linux)")
def test_root_writes_through_no_link_a_user_races_in(runner: Runner, target: Target) -> None:
    """Root converts and reverts a user's environment 20 times while the user races links into it: the base's
    folder and a root-only file there stay byte for byte, and no root file appears outside the environment; once
    ``bin/`` stays in place, a run that says it changed the names did change them."""
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' account to race as")
    racer_python = Path("/usr/bin/python3")
    if not racer_python.exists():
        pytest.skip("no /usr/bin/python3 that 'nobody' may run")
    shared = Path(tempfile.mkdtemp(prefix="symlink-safe-race-")).resolve()
    try:
        shared.chmod(0o755)
        base = base_folder(target, shared / "base")
        (base.parent / "secret").write_bytes(b"root only\n")
        (base.parent / "secret").chmod(0o600)
        env = shared / "env"
        cfg = owned_environment(env, base, target, nobody)
        guarded = exact_snapshot(base.parent)
        outside = {p.name for p in shared.iterdir()}
        stop, calm = shared / "stop", shared / "calm"
        as_nobody = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        racer = subprocess.Popen(
            [*as_nobody, racer_python, "-c", RACER, env, base.parent, stop, calm], stdout=subprocess.PIPE, text=True
        )
        statuses = []
        try:
            for index in range(20):
                if index == 10:  # from now on the racer only renames its links over temporaries, which a run sees
                    calm.touch()
                    time.sleep(0.2)  # a swap of bin/ under way ends
                result = command(runner, "revert" if index % 2 else "convert", env)
                assert "Traceback" not in result.stderr, result.stderr
                assert result.stderr.count("\n") <= 2, result.stderr
                statuses.append(result.returncode)
                if index >= 10 and result.returncode == Status.OK:  # it changed what it says it did, or nothing
                    held = what_is_held(env)
                    assert reported_truly(held, base, converted=not index % 2), (index, result.stdout, held)
                put_back_what_the_racer_won(env, base, cfg, nobody)
        finally:
            stop.touch()
            rounds = int(racer.communicate(timeout=RUN_TIMEOUT)[0] or 0)
        assert rounds > 0, "the racer never ran"
        assert statuses.count(Status.OK) >= 3, f"too few runs got as far as writing: {statuses}"
        assert set(statuses) <= {*Status}, statuses
        assert exact_snapshot(base.parent) == guarded, "root wrote into the base's folder"
        appeared = {p.name for p in shared.iterdir()} - outside - {"stop", "calm"}
        assert not appeared, f"root made files outside the environment: {appeared}"
        made_by_root = [p for p in env.rglob("*") if p.lstat().st_uid == 0 and p.parent != env / "bin"]
        assert not made_by_root, f"root made files in the environment outside bin/: {made_by_root}"
    finally:
        shutil.rmtree(shared)


@pytest.mark.contract("C17")
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_convert_that_fails_on_a_full_disk_changes_nothing(runner: Runner, target: Target, work: Path) -> None:
    """No room for the stub: status 1 in one line, every file as it was, no temporary left; with room, it converts."""
    disk = work / "disk"
    disk.mkdir()
    if runner.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", disk]).returncode != 0:
        pytest.skip("mounting a tmpfs is refused here")
    try:
        env = disk / "env"
        (env / "bin").mkdir(parents=True)
        kind = "implementation = PyPy\n" if target.is_pypy else ""
        (env / "pyvenv.cfg").write_text(f"home = {target.exe.parent}\n{kind}version = {target.short}\n")
        (env / "bin" / "python").symlink_to(target.exe)
        (env / "bin" / "python3").symlink_to("python")
        filler = disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb", buffering=0) as file:
            while True:
                file.write(b"\0" * 4096)
        os.truncate(filler, filler.stat().st_size - 16 * 1024)  # room for a little, not for the stub
        files = {path: facts for path, facts in exact_snapshot(env).items() if not Path(path).is_dir()}

        result = command(runner, "convert", env)
        assert result.returncode == Status.FAILED, result.stderr
        assert result.stderr.count("\n") == 1
        assert "No space left on device; run the command again to finish" in result.stderr
        assert {path: facts for path, facts in exact_snapshot(env).items() if not Path(path).is_dir()} == files
        assert sorted(p.name for p in (env / "bin").iterdir()) == ["python", "python3"], "a temporary was left"

        filler.unlink()
        assert command(runner, "convert", "-q", env).returncode == 0
        assert_converted(Venv(env, target))
    finally:
        runner.run(["umount", disk], check=True)
