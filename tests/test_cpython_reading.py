"""Rules 2.1 and 3.1, differentially: the stub's reading of ``pyvenv.cfg`` against each CPython's own.

For each CPython on the machine, a seeded generator draws layouts (a ``pyvenv.cfg`` above ``bin/``, in ``bin/``,
both or neither, readable or not) and contents (``home`` lines with every kind of white space, key spellings,
separators, line ends, comments and noise). Each layout is built twice:

- with the stub as ``env/bin/python``, run with no argument; every ``home`` names one of three prefixes, A, B and C,
  whose ``python3`` is a script printing its letter, so the stub's decision is what it prints (or its exit status);
- with a copy of the interpreter itself as ``env/bin/python`` (as a ``--copies`` environment, or the stub's exec,
  gives CPython a path that is not a link), reporting ``sys.base_prefix``. Each prefix holds a link to the
  interpreter's standard library, so CPython's prefix search ends in the prefix its ``home`` names: that is CPython's
  decision.

Both run as root without the capabilities that read any file (``setpriv``), so a mode 000 file is unreadable, as it is
for every other user. CPython 3.11 and later must decide as the stub does, for every layout. CPython 3.8 to 3.10 read
``pyvenv.cfg`` with the C code of that time (``bin/`` first, ``home`` compared case-sensitively, ``=`` a word of its
own, the rest of the line the value, a last line without a newline ignored); the stub reads as 3.11 and later do. Both
readings are written out below, and each interpreter must match its own; the layouts where they differ are counted,
and the contract lists them (rule 3.1).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import RUN_TIMEOUT, Target

if TYPE_CHECKING:
    from conftest import Runner

#: Layouts drawn per interpreter: bounded, and the same on every run (the seed is the interpreter's version).
EXAMPLES = 80
LETTERS = "ABC"
IS_ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv")
#: White space as str.strip() knows it, and what only looks like it (a zero-width space, a byte order mark).
PADS = ["", "", "", " ", " ", "  ", "\t", "\x0b", "\x0c", "\r", "\x1c", "\x85", "\xa0", "\u2003", "\u3000"]
LOOKALIKES = ["\u200b", "\ufeff", "\u180e"]
KEYS = ["home"] * 6 + ["HOME", "Home", " home", "home\t", "\xa0home", "ho me", "homes"]
SEPARATORS = [" = ", " = ", "=", " =", "= ", "\t=\t", " == ", " =\xa0"]
NOISE = [
    "include-system-site-packages = false",
    "prompt = my env",
    "version = 3.12.1",
    "# home = {C}",
    "#home = {C}",
    "[section]",
    "",
    "home",
    "=",
    "executable-not = {C}",
]


@dataclass
class Layout:
    parent: bytes | None  # env/pyvenv.cfg
    here: bytes | None  # env/bin/pyvenv.cfg
    parent_readable: bool = True
    here_readable: bool = True
    notes: list[str] = field(default_factory=list)


def pad(rng: random.Random) -> str:
    return rng.choice(PADS) if rng.random() > 0.08 else rng.choice(LOOKALIKES)


def draw_cfg(rng: random.Random, prefixes: dict[str, Path]) -> bytes:
    if rng.random() < 0.2:  # as venv and virtualenv write it, which every reading agrees on
        return f"home = {prefixes[rng.choice(LETTERS)]}\ninclude-system-site-packages = false\n".encode()
    lines: list[str] = []
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4])):
        if rng.random() < 0.7:  # mostly home lines
            value = str(prefixes[rng.choice(LETTERS)])
            pad_lead, pad_trail = pad(rng), pad(rng) + rng.choice(["", "", "", *PADS])
            lines.append(f"{rng.choice(KEYS)}{rng.choice(SEPARATORS)}{pad_lead}{value}{pad_trail}")
        else:
            lines.append(rng.choice(NOISE).format(C=prefixes["C"]))
    end = rng.choice(["\n"] * 6 + ["\r\n", "\r\n", "\r"])
    text = end.join(lines) + rng.choice([end, ""])
    return text.encode()


def draw_layout(rng: random.Random, prefixes: dict[str, Path]) -> Layout:
    kind = rng.choice(["parent", "parent", "here", "both", "both", "neither"])
    layout = Layout(
        parent=draw_cfg(rng, prefixes) if kind in {"parent", "both"} else None,
        here=draw_cfg(rng, prefixes) if kind in {"here", "both"} else None,
    )
    if SETPRIV or not IS_ROOT:
        layout.parent_readable = rng.random() > 0.2
        layout.here_readable = rng.random() > 0.2
    return layout


# ---------------------------------------------------------------------------------------------------------------------
# The two readings, written out from CPython's source: Modules/getpath.py and getpath.c's readlines (3.11 and later),
# and getpath.c's calculate_read_pyenv and Python/pathconfig.c's _Py_FindEnvConfigValue (3.8 to 3.10).


def home_311(data: bytes) -> str | None:
    """Decode UTF-8 (surrogateescape), split at "\\n", first "=", str.strip(), lower(): the first home wins."""
    for line in data.decode("utf-8", "surrogateescape").split("\n"):
        key, had_equals, value = line.partition("=")
        if had_equals and key.strip().lower() == "home":
            return value.strip()
    return None


def wcstok(text: str, start: int, delimiters: str) -> tuple[str | None, int]:
    while start < len(text) and text[start] in delimiters:
        start += 1
    if start >= len(text):
        return None, start
    end = start
    while end < len(text) and text[end] not in delimiters:
        end += 1
    return text[start:end], min(end + 1, len(text))


def lines_38(data: bytes) -> list[bytes]:
    """The lines fgets returns, each with its "\\n"; a last one without it ends the reading."""
    out, start = [], 0
    while (cut := data.find(b"\n", start)) >= 0:
        out.append(data[start : cut + 1])
        start = cut + 1
    if start < len(data):
        out.append(data[start:])
    return out


def home_38_exact(data: bytes) -> str | None:
    for line in lines_38(data):
        if not line.endswith(b"\n"):
            return None  # "line has overflowed - bail": also a last line without its newline
        if line.startswith(b"#"):
            continue
        text = line.decode("utf-8", "surrogateescape")
        key, at = wcstok(text, 0, " \t\r\n")
        if key != "home":
            continue
        equals, at = wcstok(text, at, " \t")
        if equals != "=":
            continue
        value, _ = wcstok(text, at, "\r\n")
        if value is not None:
            return value
    return None


def letter_of(home: str | None, prefixes: dict[str, Path]) -> str:
    for letter, prefix in prefixes.items():
        if home == str(prefix):
            return letter
    return "-"


def expected(layout: Layout, prefixes: dict[str, Path], version: tuple[int, int]) -> str:
    """The letter CPython of ``version`` takes its prefix from ("-": none of them), or "fails" (site.py cannot read)."""
    files = [(layout.parent, layout.parent_readable), (layout.here, layout.here_readable)]
    if version < (3, 11):
        files.reverse()  # the executable's directory first, then its parent
    # getpath: the first that can be opened; a file that exists but cannot be read is passed over like a missing one
    chosen = next((data for data, readable in files if data is not None and readable), None)
    # site.py: bin/ first, then the parent, by os.path.isfile; it opens the first found, strictly as UTF-8
    first_site = next(((d, r) for d, r in (files if version < (3, 11) else files[::-1]) if d is not None), None)
    if first_site is not None:
        data, readable = first_site
        if not readable:
            return "fails"
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "fails"
    if chosen is None:
        return "-"
    return letter_of((home_311 if version >= (3, 11) else home_38_exact)(chosen), prefixes)


def stub_expected(layout: Layout, prefixes: dict[str, Path]) -> str:
    """What the stub decides: 3.11's reading; a status when it finds nothing it can run."""
    files = [(layout.parent, layout.parent_readable), (layout.here, layout.here_readable)]
    chosen = next((data for data, readable in files if data is not None and readable), None)
    if chosen is None:
        return "status 103" if any(data is not None for data, _ in files) else "status 102"
    home = home_311(chosen)
    if home is None:
        return "status 106"
    letter = letter_of(home, prefixes)
    return letter if letter != "-" else "status 107"


# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bench:
    """Per interpreter: the three prefixes and a copy of the interpreter's own file."""

    prefixes: dict[str, Path]
    interpreter: Path
    stub: Path
    version: tuple[int, int]


def make_bench(target: Target, root: Path) -> Bench:
    info = subprocess.run(
        [
            str(target.exe),
            "-c",
            "import os, sys, sysconfig; print(os.path.realpath(sys.executable)); print(sysconfig.get_path('stdlib'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=RUN_TIMEOUT,
    ).stdout.splitlines()
    real_exe, stdlib = Path(info[0]), Path(info[1])
    prefixes = {}
    for letter in LETTERS:
        prefix = root / f"prefix{letter}"
        (prefix / "lib").mkdir(parents=True)
        (prefix / "lib" / stdlib.name).symlink_to(stdlib)  # CPython's prefix search ends here, and imports work
        report = prefix / "python3"
        report.write_text(f"#!/bin/sh\necho {letter}\n")
        report.chmod(0o755)
        prefixes[letter] = prefix
    interpreter = root / "interpreter"
    shutil.copy2(real_exe, interpreter)
    from virtualenv_symlink_safe.stub import stub_resource  # noqa: PLC0415  # the stub under test, as installed

    return Bench(prefixes, interpreter, Path(stub_resource()), (target.version[0], target.version[1]))


def build(tree: Path, layout: Layout, python: Path) -> Path:
    (tree / "env" / "bin").mkdir(parents=True)
    exe = tree / "env" / "bin" / "python"
    shutil.copy2(python, exe)
    for data, readable, where in (
        (layout.parent, layout.parent_readable, tree / "env" / "pyvenv.cfg"),
        (layout.here, layout.here_readable, tree / "env" / "bin" / "pyvenv.cfg"),
    ):
        if data is not None:
            where.write_bytes(data)
            where.chmod(0o644 if readable else 0)
    return exe


def unprivileged() -> list[str]:
    """Root without the capabilities that read and search any file: a mode 000 file is unreadable to it too."""
    if not IS_ROOT:
        return []
    assert SETPRIV is not None
    return [SETPRIV, "--bounding-set=-dac_override,-dac_read_search"]


def stub_decides(runner: Runner, exe: Path) -> str:
    result = runner.run([*unprivileged(), exe], cwd=exe.parent.parent.parent)
    if result.returncode != 0:
        return f"status {result.returncode}"
    return result.stdout.strip()


def cpython_decides(runner: Runner, exe: Path, bench: Bench) -> tuple[str, str]:
    code = "import sys; print(sys.base_prefix); print(sys.prefix)"
    result = runner.run([*unprivileged(), exe, "-c", code], cwd=exe.parent.parent.parent)
    if result.returncode != 0:
        return "fails", result.stderr
    base_prefix, prefix = result.stdout.splitlines()
    env = exe.parent.parent
    has_cfg = (env / "pyvenv.cfg").exists() or (env / "bin" / "pyvenv.cfg").exists()
    assert (prefix == str(env)) == has_cfg, "CPython runs in env exactly when it has a pyvenv.cfg (site.py)"
    return letter_of(base_prefix, bench.prefixes), result.stderr


@pytest.mark.contract("rule 2.1", "rule 3.1")
def test_stub_reads_pyvenv_cfg_as_cpython_does(
    runner: Runner, target: Target, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if target.is_pypy:
        pytest.skip("PyPy reads pyvenv.cfg with code of its own; the contract follows CPython")
    if IS_ROOT and SETPRIV is None:
        pytest.skip("unreadable files need setpriv (util-linux) to drop root's capabilities")
    work = tmp_path_factory.mktemp(f"reading-{target.short}")
    work.chmod(0o755)
    bench = make_bench(target, work)
    rng = random.Random(f"symlink-safe {target.id}")  # noqa: S311  # reproducible layouts, not secrets
    counts = {"agree": 0, "of which from a prefix": 0, "cpython fails": 0, "3.8-3.10 read otherwise": 0}
    for number in range(EXAMPLES):
        layout = draw_layout(rng, bench.prefixes)
        stub_exe = build(work / f"{number}-stub", layout, bench.stub)
        cpython_exe = build(work / f"{number}-cpython", layout, bench.interpreter)
        what = f"example {number}: {layout}"

        cpython, stderr = cpython_decides(runner, cpython_exe, bench)
        assert cpython == expected(layout, bench.prefixes, bench.version), f"{what}: CPython's own reading\n{stderr}"
        stub = stub_decides(runner, stub_exe)
        assert stub == stub_expected(layout, bench.prefixes), f"{what}: the stub"
        if cpython == "fails":
            counts["cpython fails"] += 1  # the stub runs a base, which then fails the same way
        elif bench.version >= (3, 11) or cpython == expected(layout, bench.prefixes, (3, 11)):
            # where CPython runs from a prefix, the stub runs that prefix's interpreter; where it finds none, the
            # stub has nothing to run and says so (102, 106, 107)
            assert stub == cpython or (cpython == "-" and stub.startswith("status")), what
            counts["agree"] += 1
            counts["of which from a prefix"] += cpython in LETTERS
        else:
            counts["3.8-3.10 read otherwise"] += 1
    sys.stdout.write(f"\n{target.id}: {counts}\n")
    # the old reading seldom accepts a drawn home line (a space after the path is part of it there): count agreement
    assert counts["of which from a prefix"] >= EXAMPLES // (6 if bench.version >= (3, 11) else 20), counts


@pytest.mark.contract("rule 3.1")
def test_reading_models_agree_on_plain_files() -> None:
    """The two readings agree on what venv and virtualenv write; they differ only on odd spacing and line ends."""
    plain = b"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.12.1\n"
    assert home_311(plain) == home_38_exact(plain) == "/usr/bin"
    assert home_311(b"home = /usr/bin\xc2\xa0\n") == "/usr/bin"
    assert home_38_exact(b"home = /usr/bin\xc2\xa0\n") == "/usr/bin\xa0"
    assert home_38_exact(b"home=/usr/bin\n") is None
    assert home_38_exact(b"home = /usr/bin") is None
    assert home_311(b"HOME = /usr/bin") == "/usr/bin"


# ---------------------------------------------------------------------------------------------------------------------
# The stub's single cases of issue 18: each with its status and its one line, with an environment of the interpreter.


def traced(runner: Runner) -> dict[str, str]:
    return {**runner.environ, "SYMLINK_SAFE_TRACE": "1"}


def one_line(result: subprocess.CompletedProcess[str], status: int, *mentions: str) -> None:
    assert result.returncode == status, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("symlink-safe: ")
    for mention in mentions:
        assert mention in result.stderr


@pytest.mark.contract("rule 2.1")
def test_unreadable_parent_cfg_falls_back_to_the_one_in_bin(runner: Runner, target: Target, tmp_path: Path) -> None:
    if IS_ROOT and SETPRIV is None:
        pytest.skip("an unreadable file needs setpriv (util-linux) to drop root's capabilities")
    venv = runner.create(target, tmp_path / "env")
    shutil.copy2(venv.cfg, venv.bin / "pyvenv.cfg")
    venv.cfg.chmod(0)
    probe = "import sys; print(sys.prefix)"
    # CPython reads bin/pyvenv.cfg then (3.11 and later after the parent's, 3.8 to 3.10 before it); so does the stub
    result = runner.run([*unprivileged(), venv.python, "-c", probe])
    if not target.is_pypy:  # PyPy's own start-up code is not what the contract follows
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(venv.path)
    # with no bin/pyvenv.cfg either, the unreadable one is named: status 103, in one line
    (venv.bin / "pyvenv.cfg").unlink()
    one_line(runner.run([*unprivileged(), venv.python, "-c", "pass"]), 103, f"cannot read {venv.cfg}", "denied")


@pytest.mark.contract("rule 3.1")
def test_no_break_space_after_home_is_stripped(runner: Runner, target: Target, tmp_path: Path) -> None:
    venv = runner.create(target, tmp_path / "env")
    home = target.exe.parent
    for space in ("\xa0", "\u2003", "\u3000", "\x85"):
        venv.cfg.write_bytes(f"home = {home}{space}\n".encode())
        result = runner.run([venv.python, "-c", "import sys; print(sys.prefix)"], env=traced(runner))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(venv.path)
        assert f"base interpreter (from 'home') {home}/" in result.stderr


@pytest.mark.contract("rule 3.2")
@pytest.mark.parametrize("key", ["base-executable", "home"])
def test_base_behind_a_link_loop_fails_in_one_line(runner: Runner, target: Target, tmp_path: Path, key: str) -> None:
    venv = runner.create(target, tmp_path / "env")
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    venv.cfg.write_text(f"{key} = {tmp_path / 'loop1'}\n")
    one_line(runner.run([venv.python, "-c", "pass"]), 108, f"{tmp_path / 'loop1'}: ")  # then the C library's words


@pytest.mark.contract("rule 3.2")
def test_fifo_as_base_is_refused(runner: Runner, target: Target, tmp_path: Path) -> None:
    venv = runner.create(target, tmp_path / "env")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    venv.cfg.write_text(f"base-executable = {fifo}\n")
    result = runner.run([venv.python, "-c", "pass"])
    one_line(result, 107, f"'base-executable' in {venv.cfg} is not usable: {fifo}: not a regular file")
    assert "directory" not in result.stderr


@pytest.mark.contract("rule 3.4")
def test_fifo_as_pyvenv_cfg_is_not_waited_on(runner: Runner, target: Target, tmp_path: Path) -> None:
    venv = runner.create(target, tmp_path / "env")
    venv.cfg.unlink()
    os.mkfifo(venv.cfg)
    # nothing counts, nothing hangs: the walk ends without an environment (102), in one line (CPython 3.11 and later,
    # started with a FIFO there, wait on it for ever: getpath opens it to read)
    one_line(runner.run([venv.python, "-c", "pass"]), 102, f"no environment for {venv.python}")
