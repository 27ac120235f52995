"""C17, issue 13: ``convert`` costs about twice a bare interpreter start, so it imports little and builds no parser.

The time itself is measured by ``bench/bench.py --convert-rounds`` (too noisy for a test on a shared machine); these
tests pin what keeps it low: the modules a conversion imports, and the hand-read usual forms agreeing with argparse.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import pytest

from virtualenv_symlink_safe.cli import _parse_simple, _parser

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Runner

#: Modules a conversion must not import: each cost a bare start's fraction or more (``python -X importtime``).
HEAVY = (
    *("argparse", "contextlib", "dataclasses", "importlib.resources", "logging", "pathlib", "re", "shutil"),
    *("threading", "typing", "virtualenv"),
)

#: Runs the command in-process and lists what it imported beyond the interpreter's start (whose ``.pth`` files may
#: import anything).
_IMPORTED = """
import sys
started = set(sys.modules)
from virtualenv_symlink_safe.cli import main
status = main(sys.argv[1:])
modules = sorted(set(sys.modules) - started)
import json  # only now: json imports re
print(json.dumps({"status": status, "modules": modules}))
"""


def test_c17_convert_imports_little(runner: Runner, work: Path) -> None:
    env = work / "env"
    runner.run([sys.executable, "-m", "venv", "--without-pip", env], check=True)
    for args in (["convert", "-q", env], ["revert", env], ["convert", "-n", "-v", env]):
        result = runner.run([sys.executable, "-c", _IMPORTED, *map(str, args)], check=True)
        report = json.loads(result.stdout.splitlines()[-1])
        assert report["status"] == 0
        assert "virtualenv_symlink_safe.convert" in report["modules"]  # the run did the work
        heavy = sorted(name for name in report["modules"] if name.split(".")[0] in HEAVY or name in HEAVY)
        assert not heavy, f"{args[0]} imported {heavy}"


def _by_argparse(argv: list[str]) -> tuple[str, list[str], bool, int]:
    args = _parser().parse_args(argv)
    return args.command, args.envs, args.dry_run, getattr(args, "verbose", 0) - getattr(args, "quiet", 0)


@pytest.mark.parametrize(
    "argv",
    [
        ["convert", "env"],
        ["revert", "a", "b"],
        ["convert", "-q", "env"],
        ["convert", "env", "-q", "-q"],
        ["convert", "-v", "--quiet", "a", "b", "--verbose", "-v"],
        ["revert", "-n", "env", "--dry-run"],
        ["convert", "--dry-run", "convert"],
        ["convert", "a", "a"],
    ],
)
def test_c17_usual_forms_read_as_argparse_reads_them(argv: list[str]) -> None:
    assert _parse_simple(argv) == _by_argparse(argv)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["convert"],
        ["convert", "-q"],
        ["-v", "convert", "env"],
        ["explain", "python"],
        ["convert", "a", "-q", "b"],
        ["convert", "-qv", "env"],
        ["convert", "--verb", "env"],
        ["convert", "--", "env"],
        ["convert", "-", "env"],
        ["convert", ""],
        ["convert", "env", "--help"],
        ["--version"],
    ],
)
def test_c17_other_forms_left_to_argparse(argv: list[str]) -> None:
    assert _parse_simple(argv) is None
