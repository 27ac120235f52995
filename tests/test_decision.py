"""Rule 7.2: the stub's query mode (``stub --symlink-safe-decide PATH``) and :func:`decide`, which reads it.

The query mode is the one implementation of rules 1 to 3 that Python code asks. The agreement test drives it and the
stub itself over random layouts (seeded, so a failure is reproduced by its seed): for each invocation path the
decision reported equals what the stub does when started through that path. The base interpreter is a small compiled
program that records the ``argv`` it was given and the file it runs as, so what the stub really did is seen, not
inferred.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import RUN_TIMEOUT, Status
from test_trust import NOBODY, as_nobody, needs_nobody, nobody_target, shared  # noqa: F401  # fixtures
from virtualenv_symlink_safe.decision import QUERY_OPTION, Decision, StubUnavailable, decide
from virtualenv_symlink_safe.stub import stub_resource

if TYPE_CHECKING:
    from conftest import Runner, Target

STUB = Path(stub_resource())

#: A base interpreter that records what it was started with: each argv entry, then /proc/self/exe, each ended by NUL.
RECORDER_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    static char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *to = getenv("RECORD_TO");
    FILE *out = to ? fopen(to, "wb") : NULL;
    int i;
    if (!out || n < 0)
        return 3;
    exe[n] = '\0';
    for (i = 0; i < argc; i++)
        fprintf(out, "%s%c", argv[i], 0);
    fprintf(out, "%s%c", exe, 0);
    return fclose(out) == 0 ? 0 : 4;
}
"""


@pytest.fixture(scope="session")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recording base interpreter, compiled once (``.ci/run`` installs ``cc``: the stub needs it too)."""
    folder = tmp_path_factory.mktemp("recorder")
    (folder / "recorder.c").write_text(RECORDER_C)
    program = folder / "recorder"
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-O1", "-o", program, folder / "recorder.c"], check=True, timeout=RUN_TIMEOUT)
    return program


@dataclass
class Ran:
    """What happened when the stub was started through a path."""

    status: int
    stdout: bytes
    stderr: bytes
    argv: list[bytes] | None
    """What the base was given, ``None`` when no base ran."""
    exe: bytes | None
    """The file the base ran as."""


def run_stub(path: str | os.PathLike[str], *args: str, cwd: Path, record_to: Path) -> Ran:
    """Start ``path`` (``argv[0]`` is ``path``), with the recorder as the base it may start."""
    record_to.unlink(missing_ok=True)
    environ = {key: value for key, value in os.environ.items() if key != "SYMLINK_SAFE_TRACE"}
    result = subprocess.run(
        [os.fspath(path), *args],
        env={**environ, "RECORD_TO": os.fspath(record_to)},
        cwd=cwd,
        capture_output=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    if not record_to.exists():
        return Ran(result.returncode, result.stdout, result.stderr, None, None)
    *argv, exe = record_to.read_bytes().split(b"\0")[:-1]
    return Ran(result.returncode, result.stdout, result.stderr, argv, exe)


def environment(folder: Path, cfg: str, stub: Path = STUB) -> Path:
    """An environment holding the stub as ``bin/python`` and ``cfg`` as its ``pyvenv.cfg``; returns ``bin/python``."""
    (folder / "bin").mkdir(parents=True)
    shutil.copy2(stub, folder / "bin" / "python")
    (folder / "pyvenv.cfg").write_text(cfg)
    return folder / "bin" / "python"


# --- the agreement over random layouts --------------------------------------------------------------------------------

LAYOUTS = 40
#: Names ``home`` may hold the base by (rule 3.1), versioned ones for the versions the layouts write.
HOME_NAMES = ("python3.12", "python3.9", "python3", "python", "pypy3.10", "pypy3", "pypy")


@dataclass
class Layout:
    """A random tree of environments, links and base interpreters under ``root``."""

    root: Path
    rng: random.Random
    recorder: Path
    stubs: list[Path] = field(default_factory=list)
    """The stubs, each an environment's ``bin/python`` (one may stand outside any environment)."""
    links: list[Path] = field(default_factory=list)

    def base_value(self) -> str:
        """A value for ``base-executable`` or ``executable``: mostly the recorder, else the ways one goes wrong."""
        kind = self.rng.choice(["recorder"] * 4 + ["relative", "missing", "not-executable", "folder", "stub"] * 1)
        bases = self.root / "bases"
        if kind == "recorder":
            return str(bases / "recorder")
        if kind == "relative":  # from the working directory, which is the root for both runs
            return "bases/recorder"
        if kind == "missing":
            return str(bases / "missing")
        if kind == "not-executable":
            return str(bases / "not-executable")
        if kind == "folder":
            return str(bases)
        return str(self.rng.choice(self.stubs)) if self.stubs else str(bases / "recorder")  # rule 3.3: nesting

    def cfg_text(self) -> bytes:
        rng = self.rng
        lines = []
        if rng.random() < 0.3:
            lines.append(f"version_info = {rng.choice(['3.12.1.final.0', '3.9.0', 'x'])}")
        if rng.random() < 0.3:
            lines.append(f"version = {rng.choice(['3.12.1', '3.9.18', ''])}")
        if rng.random() < 0.2:
            lines.append(f"implementation = {rng.choice(['PyPy', 'CPython'])}")
        keys = rng.sample(["base-executable", "executable", "home"], rng.randint(0, 3))
        for key in keys:
            spelled = key.upper() if rng.random() < 0.1 else key
            if key == "home":
                home = rng.choice(["home", "home", "empty-home", "missing-home"])
                lines.append(f"{spelled} = {self.root / 'bases' / home}")
            else:
                lines.append(f"  {spelled}={self.base_value()}  ")
        rng.shuffle(lines)
        text = "\n".join(lines).encode() + b"\n"
        if rng.random() < 0.04:
            text += b"nul = \0\n"  # rule 3.4: not text
        if rng.random() < 0.02:
            text += b"#" * (1024 * 1024)  # rule 3.4: larger than 1 MiB
        return text

    def build(self) -> None:
        rng, root = self.rng, self.root
        bases = root / "bases"
        (bases / "home").mkdir(parents=True)
        (bases / "empty-home").mkdir()
        shutil.copy2(self.recorder, bases / "recorder")
        shutil.copy(self.recorder, bases / "not-executable")
        (bases / "not-executable").chmod(0o644)
        for name in rng.sample(HOME_NAMES, rng.randint(0, len(HOME_NAMES))):
            (bases / "home" / name).symlink_to(bases / "recorder")
        envs = [root / f"env{n}" for n in range(rng.randint(1, 4))]
        for env in envs:
            (env / "bin").mkdir(parents=True)
            shutil.copy2(STUB, env / "bin" / "python")
            self.stubs.append(env / "bin" / "python")
        for env in envs:  # after every stub exists, so that a base may name any of them
            where = rng.choice(["env", "env", "env", "bin", "none"])
            if where == "none":
                continue
            cfg = env / "pyvenv.cfg" if where == "env" else env / "bin" / "pyvenv.cfg"
            cfg.write_bytes(self.cfg_text())
            if rng.random() < 0.1:
                cfg.chmod(0o666)  # rule 2.6: anyone may rewrite it, in a folder that is not open to all
        if rng.random() < 0.3:  # a hard link taken out of its environment
            (root / "loose").mkdir()
            os.link(self.stubs[0], root / "loose" / "python")
            self.stubs.append(root / "loose" / "python")
        # odd bytes in a folder name: a path may hold any byte but NUL (rule 2.5)
        links = root / rng.choice(["links", "links with space", os.fsdecode(b"links-\xff-\x01")])
        links.mkdir()
        for n in range(rng.randint(2, 8)):
            self.add_link(links / f"l{n}")

    def add_link(self, link: Path) -> None:
        rng = self.rng
        kind = rng.choice(["file", "file", "file", "folder", "folder", "dangling"])
        if kind == "file":
            target = (
                rng.choice(self.stubs + self.links) if self.links and rng.random() < 0.5 else rng.choice(self.stubs)
            )
        elif kind == "folder":
            env = rng.choice(self.stubs).parent
            target = rng.choice([env, env.parent, env.parent.parent, link.parent])
        else:
            target = self.root / "gone"
        if rng.random() < 0.5:
            link.symlink_to(os.path.relpath(target, link.parent))
        else:
            link.symlink_to(target)
        self.links.append(link)

    def invocations(self) -> list[str]:
        """Paths that start a stub: the stubs, the links to them, names through linked folders, odd spellings, some
        relative to the root (the working directory of both runs)."""
        candidates = [str(path) for path in self.stubs + self.links]
        for link in self.links:
            if link.is_dir():
                candidates.extend(str(link / tail) for tail in ("python", "bin/python", "env0/bin/python"))
        for path in self.rng.sample(candidates, min(3, len(candidates))):
            folder, name = os.path.split(path)
            candidates.append(f"{folder}/./{name}")
            candidates.append(f"{folder}//../{Path(folder).name}/{name}")
        found = set()
        for path in candidates:
            try:
                if not any(stub.samefile(path) for stub in self.stubs):
                    continue
            except OSError:
                continue
            found.add(f"./{os.path.relpath(path, self.root)}" if self.rng.random() < 0.2 else path)
        return sorted(found)


def assert_agree(decision: Decision, ran: Ran, root: Path) -> None:
    assert ran.status == decision.status, (decision, ran)
    if decision.status == 0:
        assert ran.argv is not None, f"the stub did not start the base: {ran}"
        assert decision.environment is not None
        assert decision.base is not None
        assert ran.argv == [os.fsencode(decision.environment)], "argv[0] is not the one decided"
        assert ran.exe == os.fsencode(os.path.realpath(root / decision.base)), "another base ran"
        assert decision.message is None
    else:
        assert ran.argv is None, "a base ran although the decision was a failure"
        assert decision.message is not None
        assert ran.stderr == b"symlink-safe: " + os.fsencode(decision.message) + b"\n"


@pytest.mark.contract("rule 7.2", "rule 2", "rule 3")
def test_query_mode_and_the_stub_agree_over_random_layouts(
    recorder: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statuses: set[int] = set()
    reached = dict.fromkeys(("lexical", "physical", "nested", "ignored", "links", "relative"), 0)
    for seed in range(LAYOUTS):
        layout = Layout(work / f"layout{seed}", random.Random(seed), recorder)  # noqa: S311  # layouts, not secrets
        layout.build()
        monkeypatch.chdir(layout.root)  # a relative path or base is taken against it, by both runs alike
        for path in layout.invocations():
            decision = decide(path)
            ran = run_stub(path, cwd=layout.root, record_to=work / "record")
            try:
                assert_agree(decision, ran, layout.root)
            except AssertionError as failure:
                msg = f"layout seed {seed}, invoked as {path}: {failure}"
                raise AssertionError(msg) from failure
            statuses.add(decision.status)
            reached["lexical"] += decision.found_by == "lexical"
            reached["physical"] += decision.found_by == "physical"
            reached["nested"] += bool(decision.nested)
            reached["ignored"] += bool(decision.ignored)
            reached["links"] += len(decision.steps) > 1
            reached["relative"] += not path.startswith("/")
    # the layouts are worth something only if they reach every kind of decision
    assert {0, Status.NO_ENV, Status.NO_BASE_KEY, Status.BASE_UNUSABLE, Status.NESTING} <= statuses, statuses
    assert all(reached.values()), reached


# --- the query mode's interface ---------------------------------------------------------------------------------------


@pytest.mark.contract("rule 7.2")
def test_query_mode_writes_the_decision_as_records(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    (work / "link").symlink_to(venv.python)
    base = dict(line.split(" = ", 1) for line in venv.cfg.read_text().splitlines())["base-executable"]
    result = subprocess.run(
        [venv.python, QUERY_OPTION, "link"], cwd=work, capture_output=True, timeout=RUN_TIMEOUT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    records = [
        "format=1",
        f"invoked={work / 'link'}",
        f"walk={work / 'link'}",
        f"walk={venv.python}",
        "found-by=lexical",
        f"environment={venv.python}",
        f"cfg={venv.cfg}",
        "key=base-executable",
        f"base={base}",
        "status=0",
    ]
    assert result.stdout == b"".join(os.fsencode(record) + b"\0" for record in records)


@pytest.mark.contract("rule 7.2")
def test_decide_reads_the_stubs_decision(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    (work / "tools").symlink_to(venv.bin)
    decision = decide(work / "tools" / "python")
    assert decision == Decision(
        invoked=work / "tools" / "python",
        status=0,
        message=None,
        environment=venv.python,
        cfg=venv.cfg,
        key="base-executable",
        base=Path(dict(line.split(" = ", 1) for line in venv.cfg.read_text().splitlines())["base-executable"]),
        steps=(work / "tools" / "python",),
        ignored=(),
        nested=(),
        found_by="physical",
    )


@pytest.mark.contract("rule 7.2")
def test_query_mode_reports_a_failure_with_its_status(work: Path) -> None:
    (work / "bin").mkdir()
    shutil.copy2(STUB, work / "bin" / "python")
    decision = decide(work / "bin" / "python")
    assert decision.status == Status.NO_ENV
    assert decision.message is not None
    assert decision.message.startswith(f"no environment for {work / 'bin' / 'python'}: ")
    assert (decision.environment, decision.base, decision.steps) == (None, None, (work / "bin" / "python",))


@pytest.mark.contract("rule 7.2", "rule 3.3")
def test_query_mode_reports_nested_stubs(recorder: Path, work: Path) -> None:
    inner = environment(work / "inner", f"base-executable = {recorder}\n")
    outer = environment(work / "outer", f"home = {work / 'nowhere'}\nexecutable = {inner}\n")
    decision = decide(outer)
    assert (decision.environment, decision.cfg, decision.key) == (
        outer,
        work / "outer" / "pyvenv.cfg",
        "base-executable",
    )
    assert (decision.base, decision.nested, decision.steps) == (recorder, (inner,), (outer,))
    assert_agree(decision, run_stub(outer, cwd=work, record_to=work / "record"), work)


@pytest.mark.contract("rule 7.2")
def test_query_mode_runs_nothing(recorder: Path, work: Path) -> None:
    python = environment(work / "env", f"base-executable = {recorder}\n")
    ran = run_stub(python, QUERY_OPTION, str(python), cwd=work, record_to=work / "record")
    assert ran.status == 0
    assert ran.argv is None, "the query mode started the base"
    assert ran.stdout.endswith(b"status=0\0")


@pytest.mark.contract("rule 7.2", "rule 6")
def test_query_mode_that_cannot_write_says_so(recorder: Path, work: Path) -> None:
    python = environment(work / "env", f"base-executable = {recorder}\n")
    with Path("/dev/full").open("wb") as full:
        result = subprocess.run(
            [python, QUERY_OPTION, python], stdout=full, stderr=subprocess.PIPE, timeout=RUN_TIMEOUT, check=False
        )
    assert result.returncode == Status.QUERY_UNWRITTEN
    assert result.stderr == b"symlink-safe: cannot write the decision on stdout: No space left on device\n"


@pytest.mark.contract("rule 7.2", "rule 4.3")
@pytest.mark.parametrize(
    "args",
    [
        pytest.param([QUERY_OPTION], id="no-path"),
        pytest.param([QUERY_OPTION, "a", "b"], id="two-paths"),
        pytest.param(["-c", QUERY_OPTION], id="not-first"),
        pytest.param([QUERY_OPTION + "=x", "a"], id="other-spelling"),
    ],
)
def test_other_invocations_pass_to_the_base(recorder: Path, work: Path, args: list[str]) -> None:
    python = environment(work / "env", f"base-executable = {recorder}\n")
    ran = run_stub(python, *args, cwd=work, record_to=work / "record")
    assert ran.status == 0, ran.stderr
    assert ran.argv == [os.fsencode(python), *map(os.fsencode, args)]
    assert ran.stdout == b""


@pytest.mark.contract("rule 7.2", "rule 1.4")
@needs_nobody
def test_query_mode_is_not_honoured_under_privilege(runner: Runner, nobody_target: Target, shared: Path) -> None:  # noqa: F811
    if os.statvfs(shared).f_flag & os.ST_NOSUID:
        pytest.skip(f"{shared} lies on a file system mounted nosuid, where a setuid stub gains nothing")
    venv = runner.create(nobody_target, shared / "env")
    venv.python.chmod(0o4755)
    args: list[str | Path] = [*as_nobody(), venv.python, QUERY_OPTION, venv.python]
    result = subprocess.run(args, capture_output=True, timeout=RUN_TIMEOUT, check=False, env=runner.environ)
    # the stub acts as a stub: the base interpreter gets the option and rejects it, as plain python does
    plain = subprocess.run([nobody_target.exe, QUERY_OPTION, venv.python], capture_output=True, check=False)
    assert (result.returncode, result.stdout) == (plain.returncode, b"") == (2, b"")
    assert f"unknown option {QUERY_OPTION}".encode() in result.stderr
    # the control: without the setuid bit the same invocation reports the decision
    venv.python.chmod(0o755)
    result = subprocess.run(args, capture_output=True, timeout=RUN_TIMEOUT, check=False, env=runner.environ)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"format=1\0")


# --- decide()'s errors ------------------------------------------------------------------------------------------------


def test_decide_without_a_stub_says_so(work: Path) -> None:
    with pytest.raises(StubUnavailable, match="does not exist; this installation has no compiled stub"):
        decide(work, stub=work / "no-stub")


def test_decide_with_a_program_that_is_no_stub_says_so(work: Path) -> None:
    true = Path(shutil.which("true") or "/bin/true")
    with pytest.raises(StubUnavailable, match=r"gave no decision \(it wrote nothing; exit status 0"):
        decide(work, stub=true)


@pytest.mark.parametrize(
    ("output", "why"),
    [
        pytest.param(r"format=1\0invoked=/x\0", "no status record", id="no-status"),
        pytest.param(r"format=2\0invoked=/x\0status=0\0", "not format=1", id="other-format"),
        pytest.param(r"format=1\0invoked=/x\0status=0", "does not end with a NUL byte", id="unterminated"),
        pytest.param(r"format=1\0invoked=/x\0surprise=1\0status=0\0", "unknown record surprise=1", id="unknown"),
        pytest.param(r"format=1\0invoked=/x\0status=0\0", "disagree", id="no-base"),
    ],
)
def test_decide_refuses_a_malformed_answer(work: Path, output: str, why: str) -> None:
    fake = work / "fake-stub"
    fake.write_text(f"#!/bin/sh\nprintf '{output}'\n")
    fake.chmod(0o755)
    with pytest.raises(StubUnavailable, match=why):
        decide(work, stub=fake)
