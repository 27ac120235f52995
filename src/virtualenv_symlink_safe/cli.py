"""The ``virtualenv-symlink-safe`` command: ``convert``, ``revert`` and ``explain``, with pip's and uv's manners.

Quiet on success (one summary line), ``-v`` for detail, ``-q`` for nothing, errors one line each on standard error,
colour only on a terminal. Exit statuses are documented in ``docs/reference/cli.rst``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .environment import Refused

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: the command's cost is mostly imports
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TextIO

    from .convert import Outcome

PROG = "virtualenv-symlink-safe"
#: Exit status of an unexpected failure while changing files (a full disk, say).
STATUS_FAILED = 1


class Output:
    """Where and how much to print: ``verbosity`` 0 prints the summary, 1 and more detail, below 0 nothing.

    :param verbosity: ``-v`` count minus ``-q`` count

    """

    def __init__(self, verbosity: int) -> None:
        self.verbosity = verbosity

    @staticmethod
    def _paint(stream: TextIO, text: str, code: str) -> str:
        # Colour only on a terminal, and never when NO_COLOR asks for none (https://no-color.org).
        if os.environ.get("NO_COLOR") or not stream.isatty():
            return text
        return f"\033[{code}m{text}\033[0m"

    def summary(self, text: str) -> None:
        """Print the one line a successful run prints, unless ``-q``."""
        if self.verbosity >= 0:
            print(text, file=sys.stdout)  # noqa: T201

    def detail(self, text: str) -> None:
        """Print a line only with ``-v``."""
        if self.verbosity > 0:
            print(text, file=sys.stdout)  # noqa: T201

    def error(self, text: str) -> None:
        """Print a failure, one line on standard error, even with ``-q``."""
        print(f"{self._paint(sys.stderr, 'error', '1;31')}: {text}", file=sys.stderr)  # noqa: T201

    def warning(self, text: str) -> None:
        """Print something left undone, one line on standard error, even with ``-q``."""
        print(f"{self._paint(sys.stderr, 'warning', '1;33')}: {text}", file=sys.stderr)  # noqa: T201


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: given after the subcommand they count there, given before it they count from the main parser
    common.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="say more (repeatable)")
    common.add_argument("-q", "--quiet", action="count", default=argparse.SUPPRESS, help="print nothing on success")
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Make existing virtual environments survive a symlink to their interpreter, or explain one.",
        parents=[common],
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in (
        ("convert", "make each environment symlink-safe: its interpreter names become the stub"),
        ("revert", "make each environment plain again: its interpreter names symlinks to the base interpreter"),
    ):
        command = commands.add_parser(name, parents=[common], help=summary, description=summary + ".")
        command.add_argument("envs", nargs="+", metavar="ENV", type=Path, help="an environment's folder")
        command.add_argument("-n", "--dry-run", action="store_true", help="say what would change, change nothing")
    explain = commands.add_parser(
        "explain",
        parents=[common],
        help="run an interpreter once and say which environment it lands in, and why",
        description="Run the interpreter reached by PATH once and say which environment it lands in, and why.",
    )
    explain.add_argument("path", metavar="PATH", help="an interpreter: a symlink, a stub, any python")
    return parser


def _run_envs(args: argparse.Namespace, out: Output) -> int:
    from .convert import STATUS_UNKNOWN_NAMES, convert, revert  # noqa: PLC0415

    act = convert if args.command == "convert" else revert
    verb = {"convert": ("Converted", "Would convert"), "revert": ("Reverted", "Would revert")}[args.command]
    done: list[Outcome] = []
    unchanged: list[Outcome] = []
    status = 0
    for env in args.envs:
        try:
            outcome = act(env, dry_run=args.dry_run)
        except Refused as refusal:
            where = os.path.abspath(env)  # noqa: PTH100  # the folder as named, links unresolved
            out.error(str(refusal) if str(refusal).startswith(where) else f"{where}: {refusal}")
            status = status or refusal.status
            continue
        except OSError as exception:
            out.error(f"{env}: {exception}")
            status = status or STATUS_FAILED
            continue
        if outcome.plan.changed:
            done.append(outcome)
        elif outcome.plan.keep or not outcome.plan.unknown:  # nothing left to say "already" of otherwise
            unchanged.append(outcome)
        if not _report(outcome, out):
            status = status or STATUS_UNKNOWN_NAMES
    parts = []
    if done:
        parts.append(f"{verb[args.dry_run]} {_count(done)}: {', '.join(str(o.plan.env.path) for o in done)}")
    if unchanged:
        state = "already symlink-safe" if args.command == "convert" else "already plain"
        parts.append(f"{state}: {', '.join(str(o.plan.env.path) for o in unchanged)}")
    if parts:
        out.summary("; ".join(parts))
    return status


def _report(outcome: Outcome, out: Output) -> bool:
    """Print the detail of one environment, and the names left alone; say whether none was."""
    plan = outcome.plan
    out.detail(f"{plan.env.path}: base interpreter {plan.base.path} (from {plan.base.key!r} in {plan.base.cfg})")
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


def _count(outcomes: list[Outcome]) -> str:
    return "1 environment" if len(outcomes) == 1 else f"{len(outcomes)} environments"


def _run_explain(args: argparse.Namespace, out: Output) -> int:
    from .explain import explain  # noqa: PLC0415

    try:
        explanation = explain(args.path)
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
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__  # noqa: PLC0415

        print(f"{PROG} {__version__}")  # noqa: T201
        return 0
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required: convert, revert or explain", file=sys.stderr)  # noqa: T201
        return 2
    out = Output(getattr(args, "verbose", 0) - getattr(args, "quiet", 0))
    try:
        return _run_explain(args, out) if args.command == "explain" else _run_envs(args, out)
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, and keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return STATUS_FAILED


__all__ = [
    "main",
]
