"""The ``virtualenv-symlink-safe`` command: ``convert``, ``revert`` and ``explain``, with pip's and uv's manners.

Quiet on success (one summary line), ``-v`` for detail, ``-q`` for nothing, errors one line each on standard error,
colour only on a terminal. Exit statuses are documented in ``docs/reference/cli.rst``.

The usual forms, ``convert ENV...`` or ``revert ENV...`` with ``-q``, ``-v`` or ``-n``, are read by hand: building
the argparse parser (gettext look-ups, ``shutil`` for the terminal width, regular expressions) cost more than the
conversion itself. Everything else, help and mistakes included, goes through argparse, which has the final word.
"""

from __future__ import annotations

import os
import sys

from .environment import Refused

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: the command's cost is mostly imports
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
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
    import argparse  # noqa: PLC0415  # see the module's docstring

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
        command.add_argument("envs", nargs="+", metavar="ENV", help="an environment's folder")
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


#: What each option of ``convert`` and ``revert`` adds to the verbosity, or ``None`` for ``--dry-run``.
_SIMPLE_OPTIONS = {"-v": 1, "--verbose": 1, "-q": -1, "--quiet": -1, "-n": None, "--dry-run": None}


def _parse_simple(argv: Sequence[str]) -> tuple[str, list[str], bool, int] | None:
    """Read ``convert|revert [OPTION]... ENV... [OPTION]...`` as argparse reads it, without building the parser.

    :param argv: the arguments

    :returns: the command, the environments, whether a dry run, the verbosity; ``None`` for any other form (options
        before the command, combined or abbreviated options, ``--``, names starting with ``-``, options between
        names), which argparse then reads

    """
    if not argv or argv[0] not in {"convert", "revert"}:
        return None
    rest = argv[1:]
    options = [arg for arg in rest if arg.startswith("-")]
    if any(arg not in _SIMPLE_OPTIONS for arg in options):
        return None
    at = [index for index, arg in enumerate(rest) if not arg.startswith("-")]
    if not at or at[-1] - at[0] + 1 != len(at) or "" in rest:
        return None  # no name, options between names, or an empty name: argparse says what it makes of those
    steps = [_SIMPLE_OPTIONS[arg] for arg in options]
    envs = [rest[index] for index in at]
    return argv[0], envs, None in steps, sum(step for step in steps if step is not None)


def _run_envs(command: str, envs: list[str], *, dry_run: bool, out: Output) -> int:
    from .convert import STATUS_UNKNOWN_NAMES, convert, revert  # noqa: PLC0415

    act = convert if command == "convert" else revert
    verb = {"convert": ("Converted", "Would convert"), "revert": ("Reverted", "Would revert")}[command]
    done: list[Outcome] = []
    unchanged: list[Outcome] = []
    status = 0
    for env in envs:
        try:
            outcome = act(env, dry_run=dry_run)
        except Refused as refusal:
            where = os.path.abspath(env)  # the folder as named, links unresolved
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
        parts.append(f"{verb[dry_run]} {_count(done)}: {', '.join(str(o.plan.env.path) for o in done)}")
    if unchanged:
        state = "already symlink-safe" if command == "convert" else "already plain"
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


def _run_explain(path: str, out: Output) -> int:
    from .explain import explain  # noqa: PLC0415

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
    arguments = sys.argv[1:] if argv is None else list(argv)
    if (simple := _parse_simple(arguments)) is not None:
        command, envs, dry_run, verbosity = simple
        return _guarded(lambda: _run_envs(command, envs, dry_run=dry_run, out=Output(verbosity)))
    parser = _parser()
    args = parser.parse_args(arguments)
    if args.version:
        from . import __version__  # noqa: PLC0415

        print(f"{PROG} {__version__}")  # noqa: T201
        return 0
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required: convert, revert, explain or check", file=sys.stderr)  # noqa: T201
        return 2
    out = Output(getattr(args, "verbose", 0) - getattr(args, "quiet", 0))
    if args.command == "explain":
        return _guarded(lambda: _run_explain(args.path, out))
    if args.command == "check":
        from .check import run  # noqa: PLC0415

        return _guarded(lambda: run(args.folders, out))
    return _guarded(lambda: _run_envs(args.command, args.envs, dry_run=args.dry_run, out=out))


def _guarded(run: Callable[[], int]) -> int:
    try:
        return run()
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, and keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return STATUS_FAILED


__all__ = [
    "main",
]
