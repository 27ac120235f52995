"""Say which environment an interpreter path lands in, and why: the stub's own decision told as a few lines of prose."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .decision import Decision, decide
from .environment import is_stub
from .errors import NotAnEnvironment, Status

if TYPE_CHECKING:
    from collections.abc import Iterator

#: A bound on the one run: an interpreter that hangs at start-up must not hang the command.
TIMEOUT = 60

_PROBE = (
    "import json, sys; print(json.dumps({'executable': sys.executable, 'prefix': sys.prefix,"
    " 'base_prefix': sys.base_prefix, 'implementation': sys.implementation.name,"
    " 'version': '.'.join(map(str, sys.version_info[:3])) + getattr(sys, 'abiflags', '')}))"
)


@dataclass
class Explanation:
    """What one run of an interpreter path showed."""

    lines: list[str] = field(default_factory=list)
    """The explanation, a few lines."""
    detail: list[str] = field(default_factory=list)
    """The stub's decision step by step, for ``-v``."""
    status: int = 0
    """0 when the interpreter ran; :attr:`Status.DID_NOT_START` when it did not."""


@dataclass(frozen=True)
class _Report:
    """What the interpreter said of itself."""

    executable: str
    prefix: str
    base_prefix: str
    implementation: str
    version: str

    @property
    def in_environment(self) -> bool:
        return self.prefix != self.base_prefix


def _program(path: str) -> str:
    """Find the file ``path`` names: searched on ``PATH`` when it has no slash, as a shell would, else as written."""
    program = path if os.sep in path else shutil.which(path)
    if program is None:
        msg = f"{path} is not found on PATH"
        raise NotAnEnvironment(msg)
    if not Path(program).is_file() or not os.access(program, os.X_OK):
        msg = f"{path} is not an executable file"
        raise NotAnEnvironment(msg)
    return program


def _run(program: str) -> tuple[_Report | None, subprocess.CompletedProcess[str]]:
    """Run the program once with the probe; the trace is off, so standard error holds only a failure."""
    environ = {key: value for key, value in os.environ.items() if key != "SYMLINK_SAFE_TRACE"}
    result = subprocess.run(  # the user named this program to be run
        [program, "-c", _PROBE],
        env=environ,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        return None, result
    try:
        return _Report(**json.loads(result.stdout.strip().splitlines()[-1])), result
    except (ValueError, IndexError, TypeError):
        return None, result


def _stub_story(decision: Decision) -> Iterator[str]:
    """Tell the stub's decision as prose: the links followed, the check that found the environment, the base."""
    invoked, links = decision.invoked, decision.steps[1:]
    for cfg, why in decision.ignored:
        yield f"The stub passed over {cfg}: {why} (contract rule 2.6)."
    if decision.cfg is None or decision.environment is None:
        if decision.launcher is not None and decision.base is not None:
            yield (
                f"{decision.launcher} is the launcher of a converted interpreter (contract rule 10): it found no "
                f"environment, so it started its interpreter {decision.base} with the arguments unchanged, as if "
                "that had been started directly."
            )
        return
    followed = f" followed {len(links)} link(s) ({' -> '.join(map(str, [invoked, *links]))}) and" if links else ""
    check = (
        "next to that path (the lexical check: CPython finds it there too)"
        if decision.found_by == "lexical"
        else "in the resolved folder of that path (the physical check: CPython would not find it)"
    )
    yield f"The stub, started as {invoked},{followed} found {decision.cfg} {check}."
    yield f"So the environment is {decision.cfg.parent}, and argv[0] becomes {decision.environment}."
    for stub in decision.nested:
        yield f"That base is itself a stub, so the stub went on to its own environment: {stub}."
    if decision.base is not None:
        where = "the last pyvenv.cfg" if decision.nested else "that pyvenv.cfg"
        named = decision.launcher or decision.base
        yield f"The base interpreter {named} comes from '{decision.key}' in {where}."
        if decision.launcher is not None:
            yield (
                f"That is the launcher of a converted interpreter (contract rule 10), so the stub starts its "
                f"interpreter {decision.base} in its place."
            )
        yield (
            f"It started {decision.base} with argv[0] {decision.environment}: the interpreter runs as the environment, "
            "and so does a symlink to it from anywhere."
        )


def _plain_story(path: str, report: _Report, decision: Decision) -> Iterator[str]:
    """Tell what CPython does without a stub: it looks for pyvenv.cfg next to the path only, links unresolved."""
    yield (
        f"{path} is no stub: {report.implementation} {report.version} looked for pyvenv.cfg next to the"
        " path it was started by, in its folder and that folder's parent, without resolving symlinks."
    )
    if report.in_environment:
        yield f"It found {report.prefix}/pyvenv.cfg there, so it runs in the environment {report.prefix}."
        yield (
            "A symlink to it placed elsewhere would lose the environment; "
            f"'virtualenv-symlink-safe convert {report.prefix}' makes it survive one."
        )
        return
    yield f"It found none, so it runs as the base interpreter, sys.prefix {report.prefix}, in no environment."
    if decision.cfg is not None and decision.environment is not None:
        env = decision.cfg.parent
        yield (
            f"{path} leads through symlinks to {decision.environment} in the environment {env}, which is lost this "
            f"way; 'virtualenv-symlink-safe convert {env}' makes it survive the symlink."
        )


def _detail(decision: Decision) -> Iterator[str]:
    """Give the decision one step a line, as the stub reported it (``stub --symlink-safe-decide``)."""
    yield f"decision: invoked {decision.invoked}"
    yield from (f"decision: walk {step}" for step in decision.steps)
    yield from (f"decision: ignored {cfg} ({why})" for cfg, why in decision.ignored)
    if decision.cfg is not None:
        yield f"decision: {decision.found_by} check found {decision.cfg}; argv[0] becomes {decision.environment}"
    yield from (f"decision: the base is a stub {stub}" for stub in decision.nested)
    if decision.launcher is not None:
        yield f"decision: launcher {decision.launcher}"
    if decision.base is not None:
        origin = f"from '{decision.key}'" if decision.key else "the launcher's interpreter"
        yield f"decision: base {decision.base} ({origin})"
    yield f"decision: status {decision.status}" + (f": {decision.message}" if decision.message else "")


def explain(path: str) -> Explanation:
    """Run the interpreter reached by ``path`` once, ask the stub for its decision, and say where it lands and why.

    :param path: an interpreter path, as the user would run it (a symlink, a stub, any python; a bare name is
        searched on ``PATH``)

    :returns: the explanation

    :raises NotAnEnvironment: when ``path`` names no executable file
    :raises StubUnavailable: when this installation's stub cannot be asked for its decision

    """
    program = _program(path)
    decision = decide(program)
    explanation = Explanation(detail=list(_detail(decision)))
    try:
        report, result = _run(program)
    except (OSError, subprocess.TimeoutExpired) as exception:
        return Explanation([f"{path} could not be run: {exception}"], status=Status.DID_NOT_START)
    if report is not None:
        where = "the environment" if report.in_environment else "the base interpreter, prefix"
        explanation.lines.append(f"{path} runs in {where} {report.prefix} (sys.executable {report.executable}).")
    if is_stub(Path(program)):
        explanation.lines.extend(_stub_story(decision))
    elif report is not None:
        explanation.lines.extend(_plain_story(path, report, decision))
    if report is None:
        failure = " ".join(line for line in result.stderr.splitlines() if line)
        explanation.lines.append(f"{path} did not start (exit status {result.returncode}): {failure}")
        explanation.status = Status.DID_NOT_START
    return explanation


__all__ = [
    "Explanation",
    "explain",
]
