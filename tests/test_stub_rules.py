"""The stub's harder edges, run for real: bad pyvenv.cfg files, link loops, nesting, deep paths, odd bytes, tracing.

Case names (E2, C16, ...) are those of the conformance table; rule numbers are the contract's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from conftest import PROBE, RUN_TIMEOUT, Status, calls_after, newest, strace_or_skip
from virtualenv_symlink_safe.environment import STUB_HEAD, STUB_MARKER

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Runner, Target, Venv


#: What a child reports of the process it runs in, as bytes in hex so no byte is lost on the way.
REPORT = r"""
import json, os, sys
fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
print(json.dumps({
    "environ": sorted([k.hex(), v.hex()] for k, v in os.environb.items()),
    "argv": [os.fsencode(a).hex() for a in sys.argv[1:]],
    "fds": fds,
    "prefix": os.fsencode(sys.prefix).hex(),
}))
"""


def assert_one_line_failure(result: subprocess.CompletedProcess[str], status: int, *mentions: str) -> None:
    assert result.returncode == status, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("symlink-safe: ")
    assert result.stderr.count("\n") == 1, result.stderr
    for mention in mentions:
        assert mention in result.stderr


def point_base_at(venv: Venv, base: Path | str) -> None:
    """Rewrite the environment's base-executable."""
    lines = venv.cfg.read_text().splitlines()
    venv.cfg.write_text(
        "".join(f"base-executable = {base}\n" if line.startswith("base-exec") else f"{line}\n" for line in lines)
    )


# E2: pyvenv.cfg empty, without a base key, garbage, huge, unreadable.
@pytest.mark.contract("E2", "rule 3.4")
@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"", Status.NO_BASE_KEY),
        (b"version = 3.12.1\ninclude-system-site-packages = false\nhome\n", Status.NO_BASE_KEY),
        (bytes(range(256)) * 4, Status.CFG_NOT_TEXT),
        (bytes(range(1, 256)).replace(b"=", b"") * 64, Status.NO_BASE_KEY),
        (b"# " + b"x" * (10 * 1024 * 1024) + b"\n", Status.CFG_TOO_LARGE),
    ],
    ids=["empty", "no-base-key", "garbage-with-nul", "garbage-without-equals", "10MiB"],
)
def test_bad_pyvenv_cfg_fails_in_one_line_with_its_status(
    runner: Runner, target: Target, work: Path, content: bytes, status: int
) -> None:
    venv = runner.create(target, work / "env")
    venv.cfg.write_bytes(content)
    (work / "link").symlink_to(venv.python)
    for invocation in (venv.python, work / "link"):
        assert_one_line_failure(runner.run([invocation, "-c", "pass"]), status, str(venv.cfg))


@pytest.mark.contract("E2", "rule 3.4")
def test_unreadable_pyvenv_cfg_fails_in_one_line(runner: Runner, target: Target, work: Path) -> None:
    """A pyvenv.cfg whose read fails (root reads any file by mode, so use one the kernel refuses to read)."""
    venv = runner.create(target, work / "env")
    venv.cfg.unlink()
    venv.cfg.symlink_to("/proc/self/mem")  # a regular file; reading its first page fails with EIO
    assert_one_line_failure(runner.run([venv.python, "-c", "pass"]), Status.CFG_UNREADABLE, str(venv.cfg), "error")


# E4 and rule 1.3: argv[0] naming a link loop or a chain longer than the kernel follows.
@pytest.mark.contract("E4", "rule 1.3", "rule 2.5")
def test_argv0_naming_a_link_loop_or_long_chain_falls_back_to_the_kernels_path(
    runner: Runner, target: Target, work: Path
) -> None:
    venv = runner.create(target, work / "env")
    (work / "a").symlink_to("b")
    (work / "b").symlink_to("a")
    chain = [work / f"l{i}" for i in range(50)]
    for here, there in zip(chain, chain[1:]):
        here.symlink_to(there.name)
    chain[-1].symlink_to(venv.python)
    for forged in (work / "a", chain[0]):
        got = runner.probe(forged, executable=str(venv.python))
        assert got["prefix"] == str(venv.path)
        assert got["executable"] == str(venv.python)


# E5 and rule 3.3: bases that are stubs, nested too deep or in a cycle.
@pytest.mark.contract("E5", "rule 3.3")
def test_environments_that_are_each_others_base_fail_without_a_hang(runner: Runner, target: Target, work: Path) -> None:
    first = runner.create(target, work / "first")
    second = runner.create(target, work / "second")
    point_base_at(first, second.python)
    point_base_at(second, first.python)
    for venv in (first, second):
        assert_one_line_failure(runner.run([venv.python, "-c", "pass"]), Status.NESTING, "lead back")


@pytest.mark.contract("E5", "rule 3.3")
def test_nesting_deeper_than_eight_fails(runner: Runner, target: Target, work: Path) -> None:
    envs = [runner.create(target, work / f"env{i}") for i in range(10)]
    for outer, inner in zip(envs, envs[1:]):
        point_base_at(outer, inner.python)
    # env0 -> env1 -> ... -> env9 (real base): nine stubs in a row is one more than allowed
    assert_one_line_failure(runner.run([envs[0].python, "-c", "pass"]), Status.NESTING, "more than 8")
    # env1 .. env9: eight stubs as bases are fine, and the interpreter runs as env1
    assert runner.probe(envs[1].python)["marker"] == str(envs[1].path)


# Rule 3.3: a stub is recognised by the marker in its first 4 KiB, so a real interpreter costs one short read.


@pytest.mark.contract("rule 3.3")
def test_marker_lies_in_the_stubs_first_page(runner: Runner, target: Target, work: Path) -> None:
    stub = runner.create(target, work / "env").python.read_bytes()
    assert stub.count(STUB_MARKER) == 1
    assert stub.index(STUB_MARKER) + len(STUB_MARKER) <= STUB_HEAD


MAX_STUB_SIZE = 4 * 1024 * 1024


@pytest.mark.contract("rule 3.3")
@pytest.mark.parametrize(
    ("where", "is_stub"),
    [
        ((200, 0), True),
        ((STUB_HEAD - len(STUB_MARKER), 0), True),
        ((STUB_HEAD, 0), False),  # the marker beyond the head
        ((200, MAX_STUB_SIZE), True),
        ((200, MAX_STUB_SIZE + 1), False),  # larger than any stub: not even read
    ],
)
def test_base_is_a_stub_by_its_head(
    runner: Runner, target: Target, work: Path, where: tuple[int, int], *, is_stub: bool
) -> None:
    """A base whose head holds the marker is taken for a stub; beyond the head, or too large, it is a program.

    ``where`` is the marker's offset and the file's size (at least what the marker needs).
    """
    offset, size = where
    venv = runner.create(target, work / "env")
    head = f'#!/bin/sh\nexec {target.exe} "$@"\n#'.encode()
    content = head + b"x" * (offset - len(head)) + STUB_MARKER + b"\n"
    base = work / "base"
    base.write_bytes(content + b"#" * max(0, size - len(content)))
    base.chmod(0o755)
    point_base_at(venv, base)
    result = runner.run([venv.python, "-c", "print('ran')"])
    if is_stub:  # its own environment is looked for next to it, and there is none
        assert_one_line_failure(result, Status.NO_ENV, "no environment for", str(base))
    else:
        assert (result.returncode, result.stdout) == (0, "ran\n"), result.stderr


# Rule 2.5: a base path in pyvenv.cfg longer than PATH_MAX is one clear failure, not a truncated path.
@pytest.mark.contract("rule 2.5")
def test_base_path_too_long(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    point_base_at(venv, "/" + "b" * os.pathconf("/", "PC_PATH_MAX"))
    result = runner.run([venv.python, "-c", "pass"])
    assert_one_line_failure(result, Status.PATH_TOO_LONG, "path too long: /bbb")


@pytest.mark.contract("rule 2.5")
def test_a_walk_looks_in_each_folder_once(runner: Runner, target: Target, work: Path) -> None:
    """A chain within one plain folder: its pyvenv.cfg places are opened once, its path resolved once, not per step."""
    strace = strace_or_skip()
    venv = runner.create(target, work / "env")
    links = work / "links"
    links.mkdir()
    (links / "b").symlink_to(venv.python)
    (links / "a").symlink_to("b")  # a -> b -> env/bin/python: three steps, the first two in one folder
    trace = work / "trace"
    traced = "trace=open,openat,readlink,execve"
    result = runner.run([strace, "-o", trace, "-e", traced, links / "a", "-c", "import sys; print(sys.prefix)"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(venv.path)
    calls = calls_after(trace.read_text(), links / "a")  # the stub's own calls
    cfg_opens = re.findall(r'open(?:at)?\((?:AT_FDCWD, )?"([^"]*pyvenv\.cfg)"', calls)
    assert sorted(cfg_opens) == sorted([str(work / "pyvenv.cfg"), str(links / "pyvenv.cfg"), str(venv.cfg)]), calls
    assert len(re.findall(rf'readlink\("{re.escape(str(links))}",', calls)) == 1, calls


@pytest.mark.contract("rule 1.3")
def test_proc_is_read_only_when_argv0_is_not_the_file_executed(runner: Runner, target: Target, work: Path) -> None:
    """argv[0] that is, as text, the file name the kernel executed needs no look into /proc; any other is checked."""
    strace = strace_or_skip()
    venv = runner.create(target, work / "env")
    tools = work / "tools"
    tools.mkdir()
    link = tools / "py"
    link.symlink_to(venv.python)
    script = work / "script"
    script.write_text(f"#!{link}\nimport sys\nprint(sys.prefix)\n")
    script.chmod(0o755)
    show = ["-c", "import sys; print(sys.prefix)"]
    cases = {  # name: the file executed, its argv, whether the stub must look into /proc
        "by its path": (link, [str(link), *show], False),
        "by its name on PATH, as a shell runs it": (link, ["py", *show], False),
        "as a script's #! interpreter": (script, [str(script)], True),
        "with a forged argv[0]": (link, ["python3", *show], True),
    }
    environ = {**runner.environ, "PATH": f"{tools}{os.pathsep}{runner.environ.get('PATH', os.defpath)}"}
    for name, (executed, argv, looks) in cases.items():
        trace = work / "trace"
        execute = "import os, sys; os.execv(sys.argv[1], sys.argv[2:])"
        traced = "trace=execve,open,openat,readlink,stat,newfstatat,statx"
        result = runner.run(
            [strace, "-f", "-o", trace, "-e", traced, sys.executable, "-c", execute, executed, *argv], env=environ
        )
        assert result.returncode == 0, (name, result.stderr)
        assert result.stdout.strip() == str(venv.path), name
        calls = calls_after(trace.read_text(), executed)
        # The stub's look opens (or stats) the link; a sanitizer runtime, as in tox -e sanitize, readlinks it itself.
        looked = re.search(r'(?:open|openat|stat|newfstatat|statx)\((?:AT_FDCWD, )?"/proc/self/exe"', calls)
        assert bool(looked) is looks, (name, calls)


# E6: a working directory nested deeper than PATH_MAX.
@pytest.mark.contract("E6", "rule 2.5")
def test_link_in_a_working_directory_deeper_than_path_max_works(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    fd = os.open(work, os.O_RDONLY)
    try:
        for _ in range(60):  # 60 * 101 bytes > PATH_MAX
            os.mkdir("d" * 100, dir_fd=fd)
            deeper = os.open("d" * 100, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = deeper
        os.symlink(venv.python, "py", dir_fd=fd)
        result = subprocess.run(
            ["./py", "-c", "import sys, marker_symlink_safe as m; print(sys.prefix, m.WHERE)"],
            executable=None,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
            env={**runner.environ, "SYMLINK_SAFE_TRACE": "1"},
            preexec_fn=lambda: os.fchdir(fd),  # the cwd is too long to name in cwd=
            pass_fds=(fd,),
        )
    finally:
        os.close(fd)
    # getcwd() fails there, so "./py" cannot be completed; the kernel's record of the stub is used instead, read
    # through the stub's descriptor of /proc/self/exe: the same path under qemu-user (tox -e arch), whose own
    # readlink of /proc/self/exe fails there with ENAMETOOLONG
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(venv.path), str(venv.path)]
    assert f"invocation path (the kernel's record) {venv.python}" in result.stderr, result.stderr


# C16: what the interpreter sees is exactly what the stub was given.
@pytest.mark.contract("C16", "rule 4.3")
def test_environment_argv_and_fds_pass_through_unchanged(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    plain = runner.create(target, work / "plain", creator=target.builtin)
    (work / "link").symlink_to(venv.python)
    environ = {k.encode(): v.encode() for k, v in runner.environ.items()}
    environ |= {b"SPACES": b"a b  c", b"NEWLINE": b"one\ntwo", b"NOT_UTF8": b"\xff\xfe", b"EMPTY": b""}
    args = [b"", b" ", b"two words", b"new\nline", b"\xff\xfe", b"-c", b"--", b"$HOME"]
    extra_fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(3)]
    try:
        reports = {}
        for name, python in {"stub": venv.python, "link": work / "link", "plain": plain.python}.items():
            result = subprocess.run(
                [os.fsencode(python), b"-c", REPORT.encode(), *args],
                capture_output=True,
                timeout=RUN_TIMEOUT,
                check=True,
                env=environ,
                pass_fds=extra_fds,
            )
            reports[name] = json.loads(result.stdout)
    finally:
        for fd in extra_fds:
            os.close(fd)
    for report in reports.values():
        assert report["environ"] == sorted([k.hex(), v.hex()] for k, v in environ.items())
        assert report["argv"] == [a.hex() for a in args]
    assert reports["stub"]["fds"] == reports["plain"]["fds"] == reports["link"]["fds"]
    assert set(extra_fds) <= set(reports["stub"]["fds"])
    assert bytes.fromhex(reports["link"]["prefix"]) == os.fsencode(venv.path)


# Rule 2.5: any byte but NUL in the paths on the way.
@pytest.mark.contract("rule 2.5")
def test_any_byte_but_nul_in_the_path_works(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    odd = os.fsencode(work) + b"/odd \"'$`\\ \n\t\xff\xc3\xa9 env"
    os.rename(os.fsencode(venv.path), odd)  # noqa: PTH104  # Path cannot hold undecodable bytes
    link = os.fsencode(work) + b"/link \xfe\n"
    os.symlink(odd + b"/bin/python", link)  # noqa: PTH211  # likewise
    code = b"import os, sys, marker_symlink_safe; print(os.fsencode(sys.prefix).hex())"
    for invocation in (odd + b"/bin/python", link):
        result = subprocess.run([invocation, b"-c", code], capture_output=True, timeout=RUN_TIMEOUT, check=True)
        assert bytes.fromhex(result.stdout.decode().strip()) == odd


# Rule 1.2: a bare argv[0] is searched on PATH the way execvp does.
@pytest.mark.contract("rule 1.2")
def test_bare_name_is_searched_on_path_as_execvp_does(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    decoy_dir, dir_named_python = work / "decoy", work / "has-dir"
    decoy_dir.mkdir()
    (decoy_dir / "python").write_text("not executable")
    (dir_named_python / "python").mkdir(parents=True)
    cases = {
        "empty entry is the working directory": (f"/nonexistent::{os.defpath}", venv.bin, "./python"),
        "relative entry": ("env/bin", work, "env/bin/python"),
        "unusable entries are skipped": (f"{decoy_dir}:{dir_named_python}:{venv.bin}", work, f"{venv.bin}/python"),
    }
    for name, (path, cwd, found) in cases.items():
        env = {**runner.environ, "PATH": path, "SYMLINK_SAFE_TRACE": "1"}
        result = runner.run(["python", "-c", "import sys; print(sys.prefix)"], env=env, cwd=cwd, executable=venv.python)
        assert result.stdout.strip() == str(venv.path), name
        assert f"found on PATH: {found}\n" in result.stderr, name
        assert "not the running file" not in result.stderr, name


@pytest.mark.contract("rule 1.2")
def test_unset_path_is_searched_as_execvps_default(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    env = {k: v for k, v in runner.environ.items() if k != "PATH"} | {"SYMLINK_SAFE_TRACE": "1"}
    result = runner.run(["python3", "-c", "import sys; print(sys.prefix)"], env=env, executable=venv.python)
    assert result.stdout.strip() == str(venv.path)
    # execvp's default path (/bin:/usr/bin) holds Debian's python3: found, then refused as not the running file
    assert re.search(r"found on PATH: (/usr)?/bin/python3\n", result.stderr), result.stderr
    assert re.search(r"not the running file, ignored: (/usr)?/bin/python3\n", result.stderr), result.stderr


# Rule 7: the trace variable.
@pytest.mark.contract("rule 7.1")
def test_trace_tells_each_check_and_decision(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    (work / "link").symlink_to(venv.python)
    base = dict(line.split(" = ", 1) for line in venv.cfg.read_text().splitlines())["base-executable"]
    for value in ("", "0"):
        quiet = runner.run([work / "link", "-c", "pass"], env={**runner.environ, "SYMLINK_SAFE_TRACE": value})
        assert quiet.stderr == ""
    code = "import os; print(os.environ['SYMLINK_SAFE_TRACE'])"
    traced = runner.run([work / "link", "-c", code], env={**runner.environ, "SYMLINK_SAFE_TRACE": "1"}, check=True)
    assert traced.stdout == "1\n", "the variable must reach the interpreter unchanged"
    lines = traced.stderr.splitlines()
    assert all(line.startswith("symlink-safe: trace: ") for line in lines)
    text = "\n".join(line.removeprefix("symlink-safe: trace: ") for line in lines)
    assert f"argv[0] is {work / 'link'}" in text
    assert f"following the link to {venv.python}" in text
    assert f"lexical check found {venv.cfg}; argv[0] becomes {venv.python}" in text
    assert f"base interpreter (from 'base-executable') {base}" in text
    assert lines[-1] == f"symlink-safe: trace: exec {base} with argv[0] {venv.python}"


@pytest.mark.contract("rule 6")
def test_the_stub_needs_no_python_on_path(runner: Runner, target: Target, work: Path) -> None:
    """The stub itself uses nothing but the kernel: an empty environment still works."""
    venv = runner.create(target, work / "env")
    result = subprocess.run(
        [venv.python, "-c", PROBE], capture_output=True, text=True, timeout=RUN_TIMEOUT, check=True, env={}
    )
    assert json.loads(result.stdout)["marker"] == str(venv.path)


@pytest.mark.contract("rule 4.1")
def test_interpreter_without_argv(runner: Runner, target: Target, work: Path) -> None:
    """argc == 0 (a caller may execve with an empty argv): the kernel's record stands in for argv[0]."""
    venv = runner.create(target, work / "env")
    code = (
        "import ctypes; libc = ctypes.CDLL(None); none = (ctypes.c_char_p * 1)(None); "
        f"libc.execve({bytes(venv.python)!r}, none, none)"
    )
    result = runner.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL)
    # CPython without arguments reads a program from stdin, which is empty here: it exits 0 having run nothing
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.skipif(not os.environ.get("SYMLINK_SAFE_EXPECT_SANITIZED"), reason="only in tox -e sanitize")
def test_sanitized_stub_is_in_use(runner: Runner, work: Path) -> None:
    """Under tox -e sanitize, the environments really run the AddressSanitizer build."""
    venv = runner.create(newest(), work / "env")
    assert b"__asan_init" in venv.python.read_bytes()
    assert runner.probe(venv.python)["marker"] == str(venv.path)
