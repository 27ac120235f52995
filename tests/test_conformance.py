"""The conformance cases of the stub contract, each against real environments of every target interpreter.

Case names (C1, E3, ...) are those of the conformance table; rule numbers are the contract's.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from conftest import EMULATION_SLOWDOWN, RUN_TIMEOUT, Status, build_marker_wheel

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Runner, Target, Venv


def copies_reference(
    runner: Runner, target: Target, dest: Path, *invocation: str | Path, **kwargs: object
) -> dict[str, object]:
    """What plain CPython reports from a ``--copies`` environment at ``dest``; the environment is removed after."""
    runner.create(target, dest, "--copies", creator=target.builtin)
    try:
        return runner.probe(*invocation, **kwargs)
    finally:
        shutil.rmtree(dest)


def assert_lands_in(report: dict[str, object], venv: Venv) -> None:
    assert report["prefix"] == str(venv.path)
    assert report["marker"] == str(venv.path), "the environment's own site-packages is not on sys.path"


# C1: env/bin/python by absolute path, sys.* as in a --copies environment.
@pytest.mark.contract("C1", "rule 1.1", "rule 2.1", "rule 4.1")
def test_absolute_path_matches_a_copies_environment(runner: Runner, target: Target, work: Path) -> None:
    dest = work / "env"
    expected = copies_reference(runner, target, dest, dest / "bin" / "python")
    venv = runner.create(target, dest)
    got = runner.probe(venv.python)
    assert_lands_in(got, venv)
    expected["marker"] = str(dest)  # the reference environment had no marker
    assert got == expected


# C2: "python" found on PATH.
@pytest.mark.contract("C2", "rule 1.2")
def test_name_found_on_path_matches_a_copies_environment(runner: Runner, target: Target, work: Path) -> None:
    dest = work / "env"
    env = {**runner.environ, "PATH": f"{dest / 'bin'}{os.pathsep}{runner.environ['PATH']}"}
    expected = copies_reference(runner, target, dest, "python", env=env)
    venv = runner.create(target, dest)
    got = runner.probe("python", env=env)
    assert_lands_in(got, venv)
    expected["marker"] = str(dest)
    assert got == expected


# C3: a relative path from another directory.
@pytest.mark.contract("C3", "rule 1.1")
def test_relative_path_from_another_directory_matches_a_copies_environment(
    runner: Runner, target: Target, work: Path
) -> None:
    dest, other = work / "env", work / "other"
    other.mkdir()
    expected = copies_reference(runner, target, dest, "../env/bin/python", cwd=other)
    venv = runner.create(target, dest)
    got = runner.probe("../env/bin/python", cwd=other)
    assert_lands_in(got, venv)
    expected["marker"] = str(dest)
    # Plain CPython (3.8 to 3.13 alike) keeps "other/../env" in sys.executable, and before 3.11 in
    # sys._base_executable too; the stub hands over a clean path (rule 4.1), the only difference. PyPy tidies it.
    raw = str(other / "../env/bin/python")
    assert expected["executable"] == (os.path.normpath(raw) if target.is_pypy else raw)
    for key in ("executable", "base_executable"):
        expected[key] = os.path.normpath(str(expected[key]))
    assert got == expected


# C4 (and C9 with pip): the seed note's reproducer, verbatim apart from the package, which comes from a
# local wheel so the test needs no index.
@pytest.mark.contract("C4", "rule 2.3")
def test_link_to_the_interpreter_imports_what_pip_installed(runner: Runner, target: Target, work: Path) -> None:
    wheel = build_marker_wheel(work)
    create = f"'{sys.executable}' -m virtualenv --app-data '{runner.app_data}' -p '{target.exe}' --creator symlink-safe"
    if target.version[:2] >= (3, 9):
        create += " venv >/dev/null"
    else:  # virtualenv's bundled seeder no longer ships pip for 3.8: the interpreter's own ensurepip does
        create += " --no-seed venv >/dev/null && venv/bin/python -m ensurepip --default-pip >/dev/null"
    # Seeding pip and running it are whole Python programs of seconds: under qemu-user (tox -e arch) they take ten
    # times as long, and the bound scales with them (EMULATION_SLOWDOWN: 1 on hardware, so 60 s there)
    bound = RUN_TIMEOUT * EMULATION_SLOWDOWN
    runner.run(["bash", "-c", create], cwd=work, check=True, timeout=bound)
    seed_reproducer(runner, work, f"venv/bin/python -m pip install --quiet --no-index '{wheel}'", timeout=bound)
    pip = runner.run([work / "venv" / "bin" / "pip", "--version"], check=True, timeout=bound).stdout
    assert f"{work / 'venv'}" in pip, "C9: pip's console script did not run in the environment"


def seed_reproducer(runner: Runner, work: Path, install: str, timeout: float = RUN_TIMEOUT) -> None:
    """The seed note's reproducer on the environment ``work/venv``, its package put there by ``install``."""
    script = textwrap.dedent(f"""\
        set -e
        {install} && \\
          echo 'in-place' && \\
          venv/bin/python -c 'import symlink_safe_probe' && \\
          echo 'succeeded' && \\
          ln -s venv/bin/python ./symlink && \\
          echo 'symlink:' && \\
          ./symlink -c 'import symlink_safe_probe; print(symlink_safe_probe.PREFIX)'
    """)
    result = runner.run(["bash", "-c", script], cwd=work, check=True, timeout=timeout)
    assert result.stdout.splitlines() == ["in-place", "succeeded", "symlink:", str(work / "venv")]


# C5: relative link -> absolute link -> env/bin/python3.
@pytest.mark.contract("C5", "rule 2.3")
def test_chain_of_links_lands_in_the_environment_keeping_the_last_name(
    runner: Runner, target: Target, work: Path
) -> None:
    check_c5_chain_of_links(runner, runner.create(target, work / "env"), work)


def check_c5_chain_of_links(runner: Runner, venv: Venv, work: Path) -> None:
    (work / "links").mkdir()
    (work / "links" / "absolute").symlink_to(venv.bin / "python3")
    (work / "relative").symlink_to("links/absolute")
    got = runner.probe(work / "relative")
    assert_lands_in(got, venv)
    assert got["executable"] == str(venv.bin / "python3")


# C6: a link placed inside another environment's bin/ belongs to that other environment.
@pytest.mark.contract("C6", "rule 2.3")
def test_link_inside_another_environment_belongs_to_that_environment(
    runner: Runner, target: Target, work: Path
) -> None:
    venv = runner.create(target, work / "env")
    check_c6_link_inside_another_environment(
        runner, venv, runner.create(target, work / "other", creator=target.builtin)
    )


def check_c6_link_inside_another_environment(runner: Runner, venv: Venv, other: Venv) -> None:
    (other.bin / "borrowed").symlink_to(venv.python)
    got = runner.probe(other.bin / "borrowed")
    assert_lands_in(got, other)
    assert got["executable"] == str(other.bin / "borrowed")


# C7: a directory symlink in the middle of the path, which plain CPython gets wrong.
@pytest.mark.contract("C7", "rule 2.2")
def test_a_linked_bin_directory_finds_its_environment(runner: Runner, target: Target, work: Path) -> None:
    check_c7_directory_symlink(runner, runner.create(target, work / "env"), work)


def check_c7_directory_symlink(runner: Runner, venv: Venv, work: Path) -> None:
    (work / "tools").symlink_to(venv.bin)
    got = runner.probe(work / "tools" / "python")
    assert_lands_in(got, venv)
    assert got["executable"] == str(venv.python)


@pytest.mark.contract("C7", "rule 2.2")
def test_plain_cpython_loses_the_environment_through_a_linked_bin_directory(
    runner: Runner, target: Target, work: Path
) -> None:
    """The control for C7: without the stub the same invocation loses the environment."""
    venv = runner.create(target, work / "env", creator=target.builtin)
    (work / "tools").symlink_to(venv.bin)
    got = runner.probe(work / "tools" / "python")
    assert got["marker"] is None
    assert got["prefix"] != str(venv.path)


# C8: a symlinked environment directory: sys.prefix as CPython says for the link.
@pytest.mark.contract("C8", "rule 2.1")
def test_linked_environment_directory_gives_the_links_prefix(runner: Runner, target: Target, work: Path) -> None:
    dest, link = work / "env", work / "envlink"
    link.symlink_to(dest)
    expected = copies_reference(runner, target, dest, link / "bin" / "python")
    got = check_c8_symlinked_environment_directory(runner, runner.create(target, dest), link)
    expected["marker"] = str(dest)
    assert got == expected


def check_c8_symlinked_environment_directory(runner: Runner, venv: Venv, link: Path) -> dict[str, object]:
    got = runner.probe(link / "bin" / "python")
    assert got["marker"] == str(venv.path)
    assert got["prefix"] == str(link)
    return got


# C9: a console script whose shebang names env/bin/python (pip's is checked in C4).
@pytest.mark.contract("C9")
def test_console_script_runs_in_the_environment_of_its_shebang(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    script = venv.bin / "where"
    script.write_text(
        f"#!{venv.python}\nimport marker_symlink_safe, sys\nprint(sys.prefix, marker_symlink_safe.WHERE)\n"
    )
    script.chmod(0o755)
    (work / "where-link").symlink_to(script)
    for invocation in (script, work / "where-link"):
        out = runner.run([invocation], check=True).stdout.split()
        assert out == [str(venv.path), str(venv.path)]


# C10: subprocess and multiprocessing children run in the environment too.
@pytest.mark.contract("C10", "rule 4.2")
def test_subprocess_and_multiprocessing_children_run_in_the_environment(
    runner: Runner, target: Target, work: Path
) -> None:
    venv = runner.create(target, work / "env")
    (work / "py").symlink_to(venv.python)
    program = work / "children.py"
    program.write_text(
        textwrap.dedent("""\
        import multiprocessing, subprocess, sys

        def where(_=None):
            import marker_symlink_safe
            return sys.prefix + " " + marker_symlink_safe.WHERE

        if __name__ == "__main__":
            code = "import sys, marker_symlink_safe as m; print(sys.prefix, m.WHERE)"
            child = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
            print(child.stdout.strip())
            for method in ("spawn", "forkserver"):
                with multiprocessing.get_context(method).Pool(1) as pool:
                    print(pool.apply(where))
        """)
    )
    out = runner.run([work / "py", program], check=True).stdout.splitlines()
    assert out == [f"{venv.path} {venv.path}"] * 3


# C11 (rule 3.3): an environment made from inside a stub environment works, with no exec loop.
@pytest.mark.contract("C11", "rule 3.3")
def test_venv_made_from_inside_the_environment_works(runner: Runner, target: Target, work: Path) -> None:
    check_c11_nested_venv(runner, runner.create(target, work / "env"), work)


def check_c11_nested_venv(runner: Runner, venv: Venv, work: Path) -> None:
    target = venv.target
    runner.run([venv.python, "-m", "venv", "--without-pip", work / "nested"], check=True)
    nested = venv.__class__(work / "nested", target)
    nested.add_marker()
    got = runner.probe(nested.python)  # a loop would hit RUN_TIMEOUT and fail
    assert_lands_in(got, nested)
    # 3.8-3.10 link nested/bin/python to our stub (home = env/bin); 3.11+ link it to the real base, making
    # nested a plain PEP 405 environment that is not ours to fix.
    links_to_stub = nested.python.samefile(venv.python)
    assert links_to_stub == (target.version[:2] < (3, 11))
    if links_to_stub:
        (work / "nested-link").symlink_to(nested.python)
        assert_lands_in(runner.probe(work / "nested-link"), nested)


@pytest.mark.contract("C11", "rule 3.3")
def test_virtualenv_made_from_inside_the_environment_works(runner: Runner, target: Target, work: Path) -> None:
    check_c11_nested_virtualenv(runner, runner.create(target, work / "env"), work)


def check_c11_nested_virtualenv(runner: Runner, venv: Venv, work: Path) -> None:
    runner.virtualenv("-p", venv.python, "--no-seed", work / "nested-virtualenv")
    nested = venv.__class__(work / "nested-virtualenv", venv.target)
    nested.add_marker()
    assert_lands_in(runner.probe(nested.python), nested)


@pytest.mark.contract("rule 3.3")
def test_base_that_is_another_environments_stub_leads_on_to_its_base(
    runner: Runner, target: Target, work: Path
) -> None:
    """A base key naming another environment's stub leads on to that environment's base."""
    first = runner.create(target, work / "first")
    second = runner.create(target, work / "second")
    text = second.cfg.read_text()
    lines = [line for line in text.splitlines() if not line.startswith(("base-executable", "executable", "home"))]
    second.cfg.write_text("\n".join([*lines, f"base-executable = {first.python}"]) + "\n")
    assert_lands_in(runner.probe(second.python), second)


# C12: the environment can be moved and copied, each copy works as itself.
@pytest.mark.contract("C12", "rule 2.3")
def test_moved_and_copied_environments_each_work_as_themselves(runner: Runner, target: Target, work: Path) -> None:
    check_c12_move_and_copy(runner, runner.create(target, work / "env"), work)


def check_c12_move_and_copy(runner: Runner, venv: Venv, work: Path) -> None:
    target = venv.target
    moved = venv.__class__(work / "moved", target)
    runner.run(["mv", venv.path, moved.path], check=True)
    copy = venv.__class__(work / "copy", target)
    runner.run(["cp", "-a", moved.path, copy.path], check=True)
    copy.add_marker()  # rewrite WHERE so each environment names itself
    moved.add_marker()
    assert_lands_in(runner.probe(moved.python), moved)
    assert_lands_in(runner.probe(copy.python), copy)
    (work / "to-copy").symlink_to(copy.bin / "python3")
    assert_lands_in(runner.probe(work / "to-copy"), copy)


# C13 (rule 1.3): a forged argv[0] is not believed.
@pytest.mark.contract("C13", "rule 1.3")
def test_forged_argv0_is_not_believed(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    decoy = runner.create(target, work / "decoy", creator=target.builtin)
    too_long = "/" + "x" * os.pathconf("/", "PC_PATH_MAX")  # absolute, but beyond any path the stub takes
    for forged in ("some-name", "python", str(decoy.python), "../nowhere/python", too_long):
        got = runner.probe(forged, executable=str(venv.python), cwd=work)
        assert_lands_in(got, venv)


# C14: exit status, signals, stdin and file descriptors are the interpreter's own.
@pytest.mark.contract("C14", "rule 4.2")
def test_exit_status_signals_stdin_and_fds_are_the_interpreters(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    plain = runner.create(target, work / "plain", creator=target.builtin)
    link = work / "py"
    link.symlink_to(venv.python)
    for python in (plain.python, venv.python, link):
        assert runner.run([python, "-c", "import sys; sys.exit(3)"]).returncode == 3
        killed = runner.run([python, "-c", "import os; os.kill(os.getpid(), 9)"])
        assert killed.returncode == -signal.SIGKILL
        closed = runner.run(["bash", "-c", 'exec 0<&-; "$0" -c "import sys; print(sys.stdin is None)"', python])
        assert closed.stdout.strip() == "True"
        read_fd, write_fd = os.pipe()
        try:
            child = subprocess.Popen(
                [python, "-c", f"import os; os.write({write_fd}, str(os.getpid()).encode())"],
                pass_fds=(write_fd,),
                env=runner.environ,
            )
            assert child.wait(timeout=RUN_TIMEOUT) == 0
            os.close(write_fd)
            write_fd = -1
            assert os.read(read_fd, 64).decode() == str(child.pid), "the interpreter is not the process we started"
        finally:
            os.close(read_fd)
            if write_fd != -1:
                os.close(write_fd)


# E1: pyvenv.cfg deleted.
@pytest.mark.contract("E1", "rule 2.4")
def test_deleted_pyvenv_cfg_fails_in_one_line_naming_it(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    venv.cfg.unlink()
    (work / "link").symlink_to(venv.python)
    for invocation in (venv.python, work / "link"):
        result = runner.run([invocation, "-c", "pass"])
        assert result.returncode == Status.NO_ENV
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("symlink-safe: ")
        assert str(venv.cfg) in result.stderr


@pytest.mark.contract("E1", "rule 2.4")
def test_stub_hard_linked_out_of_its_environment_suggests_a_symlink(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    os.link(venv.python, work / "hard")
    result = runner.run([work / "hard", "-c", "pass"])
    assert result.returncode == Status.NO_ENV
    assert "hard link or copy" in result.stderr
    assert "symlink" in result.stderr


# E3: the base interpreter removed or not executable.
@pytest.mark.contract("E3", "rule 3.2")
def test_missing_or_unexecutable_base_fails_naming_key_and_path(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    original = venv.cfg.read_text()
    not_executable = work / "not-executable"
    not_executable.write_text("")
    for base in (work / "removed-python", not_executable, work):
        venv.cfg.write_text(
            "\n".join(
                f"base-executable = {base}" if line.startswith("base-executable") else line
                for line in original.splitlines()
            )
        )
        result = runner.run([venv.python, "-c", "pass"])
        assert result.returncode == Status.BASE_UNUSABLE, result.stderr
        assert result.stderr.count("\n") == 1
        assert "'base-executable'" in result.stderr
        assert str(base) in result.stderr


@pytest.mark.contract("rule 3.1")
def test_base_keys_are_tried_in_order(runner: Runner, target: Target, work: Path) -> None:
    """base-executable, then executable, then home joined with pythonX.Y."""
    venv = runner.create(target, work / "env")
    original = dict(line.split(" = ", 1) for line in venv.cfg.read_text().splitlines())
    keep = {k: v for k, v in original.items() if k not in {"base-executable", "executable"}}
    for extra in ({"executable": original["base-executable"]}, {}):
        venv.cfg.write_text("".join(f"{k} = {v}\n" for k, v in {**keep, **extra}.items()))
        assert_lands_in(runner.probe(venv.python), venv)
    venv.cfg.write_text("".join(f"{k} = {v}\n" for k, v in keep.items() if k != "home"))
    result = runner.run([venv.python, "-c", "pass"])
    assert result.returncode == Status.NO_BASE_KEY
    assert str(venv.cfg) in result.stderr
