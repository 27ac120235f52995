"""Say which environment an interpreter path lands in, and why: the stub's trace turned into a few lines of prose."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field

from .environment import NotAnEnvironment, find_cfg

#: The status of ``explain`` when the interpreter did not start (the stub failed): its own message is shown.
STATUS_DID_NOT_START = 10
#: A bound on the one run: an interpreter that hangs at start-up must not hang the command.
TIMEOUT = 60

_PROBE = (
    "import json, sys; print(json.dumps({'executable': sys.executable, 'prefix': sys.prefix,"
    " 'base_prefix': sys.base_prefix, 'implementation': sys.implementation.name,"
    " 'version': '.'.join(map(str, sys.version_info[:3])) + getattr(sys, 'abiflags', '')}))"
)
_TRACE = "symlink-safe: trace: "


@dataclass
class Explanation:
    """What one run of an interpreter path showed."""

    lines: list[str] = field(default_factory=list)
    """The explanation, a few lines."""
    detail: list[str] = field(default_factory=list)
    """The stub's raw trace, for ``-v``."""
    status: int = 0
    """0 when the interpreter ran; :data:`STATUS_DID_NOT_START` when it did not."""


def _trace(lines: list[str], prefix: str) -> list[str]:
    return [line[len(prefix) :] for line in lines if line.startswith(prefix)]


def _after(items: list[str], start: str) -> list[str]:
    return [item[len(start) :] for item in items if item.startswith(start)]


def _stub_story(path: str, trace: list[str]) -> list[str]:
    """Tell the stub's decisions, from its trace lines (``src/stub/stub.c``), as prose."""
    story: list[str] = []
    invoked = (_after(trace, "invocation path (the kernel's record) ") or _after(trace, "invocation path ") or [path])[
        0
    ]
    links = _after(trace, "no pyvenv.cfg; following the link to ")
    found = [(how, item) for how in ("lexical", "physical") for item in _after(trace, f"{how} check found ")]
    if found:
        how, item = found[0]
        cfg, _, venv = item.partition("; argv[0] becomes ")
        followed = f" followed {len(links)} link(s) ({' -> '.join([invoked, *links])}) and" if links else ""
        check = (
            "next to that path (the lexical check: CPython finds it there too)"
            if how == "lexical"
            else "in the resolved folder of that path (the physical check: CPython would not find it)"
        )
        story.append(f"The stub, started as {invoked},{followed} found {cfg} {check}.")
        story.append(f"So the environment is {os.path.dirname(cfg)}, and argv[0] becomes {venv}.")
    for key_line in _after(trace, "base interpreter (from "):
        key, _, base = key_line.partition(") ")
        story.append(f"The base interpreter {base} comes from {key} in that pyvenv.cfg.")
    story.extend(
        f"That base is itself a stub, so the stub went on to its own environment: {stub}."
        for stub in _after(trace, "the base is a stub, going on to its own environment: ")
    )
    for item in _after(trace, "exec "):
        base, _, argv0 = item.partition(" with argv[0] ")
        story.append(
            f"It started {base} with argv[0] {argv0}: the interpreter runs as the environment, "
            "and so does a symlink to it from anywhere."
        )
    return story


def _plain_story(path: str, report: dict[str, str]) -> list[str]:
    """Tell what CPython does without a stub: it looks for pyvenv.cfg next to the path only, links unresolved."""
    in_env = report["prefix"] != report["base_prefix"]
    story = [
        (
            f"{path} is no stub: {report['implementation']} {report['version']} looked for pyvenv.cfg next to the"
            " path it was started by, in its folder and that folder's parent, without resolving symlinks."
        )
    ]
    if in_env:
        story.append(f"It found {report['prefix']}/pyvenv.cfg there, so it runs in the environment {report['prefix']}.")
        story.append(
            f"A symlink to it placed elsewhere would lose the environment; "
            f"'virtualenv-symlink-safe convert {report['prefix']}' makes it survive one."
        )
        return story
    story.append(
        f"It found none, so it runs as the base interpreter, sys.prefix {report['prefix']}, in no environment."
    )
    found = find_cfg(os.path.abspath(path))
    if found is not None and found[2]:
        env = os.path.dirname(found[0])
        story.append(
            f"{path} leads through symlinks to {found[1]} in the environment {env}, which is lost this way; "
            f"'virtualenv-symlink-safe convert {env}' makes it survive the symlink."
        )
    return story


def explain(path: str) -> Explanation:
    """Run the interpreter reached by ``path`` once, with the stub's trace on, and say where it lands and why.

    :param path: an interpreter path, as the user would run it (a symlink, a stub, any python; a bare name is
        searched on ``PATH``)

    :returns: the explanation

    :raises NotAnEnvironment: when ``path`` names no executable file

    """
    program = path if os.sep in path else shutil.which(path)
    if program is None or not os.path.isfile(program) or not os.access(program, os.X_OK):
        msg = f"{path} is not an executable file" if program else f"{path} is not found on PATH"
        raise NotAnEnvironment(msg)
    environ = {**os.environ, "SYMLINK_SAFE_TRACE": "1"}
    try:
        result = subprocess.run(  # the user named this program to be run  # noqa: PLW1510
            [program, "-c", _PROBE], env=environ, capture_output=True, text=True, errors="replace", timeout=TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired) as exception:
        return Explanation([f"{path} could not be run: {exception}"], status=STATUS_DID_NOT_START)
    stderr = result.stderr.splitlines()
    trace = _trace(stderr, _TRACE)
    report: dict[str, str] | None = None
    if result.returncode == 0:
        try:
            report = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            report = None
    explanation = Explanation(detail=[f"trace: {line}" for line in trace])
    if report is not None:
        where = "the environment" if report["prefix"] != report["base_prefix"] else "the base interpreter, prefix"
        explanation.lines.append(f"{path} runs in {where} {report['prefix']} (sys.executable {report['executable']}).")
    if trace:
        explanation.lines.extend(_stub_story(path, trace))
    elif report is not None:
        explanation.lines.extend(_plain_story(path, report))
    if report is None:
        failure = [line for line in stderr if not line.startswith(_TRACE)]
        explanation.lines.append(f"{path} did not start (exit status {result.returncode}): {' '.join(failure)}")
        explanation.status = STATUS_DID_NOT_START
    return explanation


__all__ = [
    "STATUS_DID_NOT_START",
    "Explanation",
    "explain",
]
