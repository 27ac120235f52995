"""The ``virtualenv-symlink-safe`` command: ``convert``, ``revert`` and ``explain``, with pip's and uv's manners.

Quiet on success (one summary line), ``-v`` for detail, ``-q`` for nothing, errors one line each on standard error,
colour only on a terminal. Exit statuses are :class:`~virtualenv_symlink_safe.errors.Status`, documented in
``docs/reference/cli.rst``.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from . import __version__
from .errors import CommandError, Refused, Status

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .convert import Outcome

PROG = "virtualenv-symlink-safe"
#: What converting or reverting one folder gives: an environment's outcome or an installation's.
_Outcome = TypeVar("_Outcome")


@dataclass(frozen=True)
class Output:
    """Where and how much to print: ``verbosity`` 0 prints the summary, 1 and more detail, below 0 nothing."""

    verbosity: int
    """``-v`` count minus ``-q`` count."""

    @staticmethod
    def _paint(stream: TextIO, text: str, code: str) -> str:
        # Colour only on a terminal, and never when NO_COLOR asks for none (https://no-color.org).
        if os.environ.get("NO_COLOR") or not stream.isatty():
            return text
        return f"\033[{code}m{text}\033[0m"

    def summary(self, text: str) -> None:
        """Print the one line a successful run prints, unless ``-q``."""
        if self.verbosity >= 0:
            print(text)  # noqa: T201

    def detail(self, text: str) -> None:
        """Print a line only with ``-v``."""
        if self.verbosity > 0:
            print(text)  # noqa: T201

    def error(self, text: str) -> None:
        """Print a failure, one line on standard error, even with ``-q``."""
        print(f"{self._paint(sys.stderr, 'error', '1;31')}: {text}", file=sys.stderr)  # noqa: T201

    def warning(self, text: str) -> None:
        """Print something left undone, one line on standard error, even with ``-q``."""
        print(f"{self._paint(sys.stderr, 'warning', '1;33')}: {text}", file=sys.stderr)  # noqa: T201


def build_parser() -> argparse.ArgumentParser:
    """Build the command line's parser: the one definition of every option.

    :returns: the parser

    """
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: given after the subcommand they count there, given before it they count from the main parser
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="say more (repeatable)")
    common.add_argument("-q", "--quiet", action="count", default=argparse.SUPPRESS, help="print nothing on success")
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Make existing virtual environments survive a symlink to their interpreter, or explain one.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, summary in (
        ("convert", "make each environment symlink-safe: its interpreter names become the stub"),
        ("revert", "make each environment plain again: its interpreter names symlinks to the base interpreter"),
    ):
        command = commands.add_parser(name, parents=[common], help=summary, description=summary + ".")
        command.add_argument(
            "envs",
            nargs="+",
            type=Path,
            metavar="ENV",
            help="an environment's folder, or an interpreter installation's",
        )
        command.add_argument("-n", "--dry-run", action="store_true", help="say what would change, change nothing")
    explain = commands.add_parser(
        "explain",
        parents=[common],
        help="run an interpreter once and say which environment it lands in, and why",
        description="Run the interpreter reached by PATH once and say which environment it lands in, and why.",
    )
    explain.add_argument("path", metavar="PATH", help="an interpreter: a symlink, a stub, any python")
    summary = "list the environments under each folder (default: the usual places) and say which are symlink-safe"
    check = commands.add_parser("check", parents=[common], help=summary, description=summary + ".")
    check.add_argument("folders", nargs="*", metavar="FOLDER", help="an environment, or a folder holding some")
    return parser


def _attempt(act: Callable[..., _Outcome], path: Path, *, dry_run: bool, out: Output) -> tuple[_Outcome | None, Status]:
    """Convert or revert ``path``; when that fails, print its one line and give its status instead of an outcome."""
    try:
        return act(path, dry_run=dry_run), Status.OK
    except CommandError as failure:
        where = str(path.absolute())  # the folder as named, links unresolved
        out.error(str(failure) if str(failure).startswith(where) else f"{where}: {failure}")
        return None, failure.status
    except OSError as exception:  # a file that changed or vanished while it was read
        where = f" {exception.filename}" if exception.filename else ""
        out.error(f"{path.absolute()}: cannot read{where}: {exception.strerror or exception}; nothing was changed")
        return None, Status.FAILED


def _run_envs(command: str, envs: list[Path], *, dry_run: bool, out: Output) -> Status:
    from .convert import convert, revert  # noqa: PLC0415  # explain needs neither

    act = convert if command == "convert" else revert
    done: list[Outcome] = []
    unchanged: list[Outcome] = []
    status = Status.OK
    for env in envs:
        outcome, failed = _attempt(act, env, dry_run=dry_run, out=out)
        if outcome is None:
            status = status or failed
            continue
        if outcome.plan.changed:
            done.append(outcome)
        elif outcome.plan.keep or not outcome.plan.unknown:  # nothing left to say "already" of otherwise
            unchanged.append(outcome)
        if not _report(outcome, out):
            status = status or Status.UNKNOWN_NAMES
    changed = [str(o.plan.env.path) for o in done]
    already = [str(o.plan.env.path) for o in unchanged]
    if summary := _summary(command, "environment", changed, already, dry_run=dry_run):
        out.summary(summary)
    return status


def _run_paths(command: str, paths: list[Path], *, dry_run: bool, out: Output) -> Status:
    """Convert or revert each interpreter installation named (contract rule 10), then each environment."""
    from .installation import is_installation  # noqa: PLC0415  # explain and check need none of it

    installations = [path for path in paths if is_installation(path)]
    envs = [path for path in paths if path not in installations]
    status = _run_installations(command, installations, dry_run=dry_run, out=out) if installations else Status.OK
    return (_run_envs(command, envs, dry_run=dry_run, out=out) if envs else Status.OK) or status


def _run_installations(command: str, prefixes: list[Path], *, dry_run: bool, out: Output) -> Status:
    from .installation import convert_installation, revert_installation  # noqa: PLC0415

    act = convert_installation if command == "convert" else revert_installation
    changed: list[str] = []
    unchanged: list[str] = []
    status = Status.OK
    for prefix in prefixes:
        outcome, failed = _attempt(act, prefix, dry_run=dry_run, out=out)
        if outcome is None:
            status = status or failed
            continue
        plan = outcome.plan
        becomes = "a launcher, the interpreter kept beside it" if command == "convert" else "the interpreter again"
        for name, what in plan.changes.items():
            out.detail(f"  bin/{name}: {what} -> {becomes}")
        for name in plan.keep:
            out.detail(f"  bin/{name}: {'a launcher' if command == 'convert' else 'the interpreter'} already")
        (changed if plan.changed else unchanged).append(str(plan.prefix))
        if plan.unknown:
            names = "; ".join(f"bin/{name} is {what}" for name, what in plan.unknown.items())
            out.warning(f"{plan.prefix}: left alone: {names}")
            status = status or Status.UNKNOWN_NAMES
    if summary := _summary(command, "installation", changed, unchanged, dry_run=dry_run):
        out.summary(summary)
    return status


def _summary(command: str, kind: str, changed: list[str], unchanged: list[str], *, dry_run: bool) -> str:
    """Give the one summary line of a ``convert`` or ``revert`` run over folders of one ``kind``; empty for none."""
    parts = []
    if changed:
        verb = {"convert": ("Converted", "Would convert"), "revert": ("Reverted", "Would revert")}[command][dry_run]
        count = f"1 {kind}" if len(changed) == 1 else f"{len(changed)} {kind}s"
        parts.append(f"{verb} {count}: {', '.join(changed)}")
    if unchanged:
        parts.append(f"{'already symlink-safe' if command == 'convert' else 'already plain'}: {', '.join(unchanged)}")
    return "; ".join(parts)


def _report(outcome: Outcome, out: Output) -> bool:
    """Print the detail of one environment, and the names left alone; say whether none was."""
    plan = outcome.plan
    out.detail(f"{plan.env.path}: base interpreter {plan.base} (from {plan.key!r} in {plan.cfg})")
    for name in outcome.removed:
        out.detail(f"  {name}: a temporary an interrupted run left, removed")
    for name, what in plan.changes.items():
        becomes = f"a symlink to {plan.links[name]}" if name in plan.links else "the stub"
        out.detail(f"  {name}: {what} -> {becomes}")
    for name in plan.keep:
        out.detail(f"  {name}: the stub already")
    if plan.cfg_line:
        out.detail(f"  pyvenv.cfg: adds '{plan.cfg_line}'")
    if plan.unknown:
        names = "; ".join(f"bin/{name} is {what}" for name, what in plan.unknown.items())
        out.warning(f"{plan.env.path}: left alone: {names}")
    return not plan.unknown


def _run_explain(path: str, out: Output) -> int:
    from .explain import explain  # noqa: PLC0415  # convert and revert do not need it

    try:
        explanation = explain(path)
    except Refused as refusal:
        out.error(str(refusal))
        return refusal.status
    if explanation.status:
        out.error(" ".join(explanation.lines))
    else:
        for line in explanation.lines:
            out.summary(line)
    for line in explanation.detail:
        out.detail(line)
    return explanation.status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    :param argv: the arguments, ``sys.argv[1:]`` when ``None``

    :returns: the exit status

    """
    args = build_parser().parse_args(argv)
    out = Output(getattr(args, "verbose", 0) - getattr(args, "quiet", 0))
    try:
        if args.command == "explain":
            return _run_explain(args.path, out)
        if args.command == "check":
            from .check import run  # noqa: PLC0415  # convert and revert do not need it

            return run(args.folders, out)
        return _run_paths(args.command, args.envs, dry_run=args.dry_run, out=out)
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, and keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Status.FAILED


__all__ = [
    "build_parser",
    "main",
]
