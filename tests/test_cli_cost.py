"""What the command costs an environment it judges: it never imports virtualenv, and argparse is its one parser.

Start-up time is no longer pinned (issue 19 retired the 1.5 bare starts goal); ``bench/bench.py --convert-rounds``
still measures it for ``docs/explanation/cost.rst``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from virtualenv_symlink_safe import __version__
from virtualenv_symlink_safe.cli import build_parser, main
from virtualenv_symlink_safe.errors import Status

if TYPE_CHECKING:
    from conftest import Runner

#: Runs the command in-process and lists what it imported beyond the interpreter's start.
_IMPORTED = """
import json, sys
started = set(sys.modules)
from virtualenv_symlink_safe.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(set(sys.modules) - started)}))
"""


@pytest.mark.parametrize("args", [["convert", "-q"], ["revert"], ["convert", "-n", "-v"]])
def test_convert_does_not_import_virtualenv(runner: Runner, work: Path, args: list[str]) -> None:
    env = work / "env"
    runner.run([sys.executable, "-m", "venv", "--without-pip", env], check=True)
    result = runner.run([sys.executable, "-c", _IMPORTED, *args, env], check=True)
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["status"] == Status.OK
    assert "virtualenv_symlink_safe.convert" in report["modules"]  # the run did the work
    assert not [name for name in report["modules"] if name.split(".")[0] == "virtualenv"]


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == Status.OK
    assert capsys.readouterr().out == f"virtualenv-symlink-safe {__version__}\n"


@pytest.mark.parametrize("argv", [[], ["convert"], ["-v"], ["convert", "--no-such-option", "env"], ["frobnicate"]])
def test_command_line_mistakes_exit_with_the_usage_status(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == Status.USAGE
    assert capsys.readouterr().err.splitlines()[-1].startswith("virtualenv-symlink-safe")


@pytest.mark.parametrize(
    ("argv", "verbosity"),
    [
        (["convert", "-q", "env"], -1),
        (["-v", "convert", "env"], 1),
        (["convert", "env", "-vv"], 2),
        (["revert", "-v", "-q", "-q", "env"], -1),
    ],
)
def test_verbosity_counts_options_before_and_after_the_command(argv: list[str], verbosity: int) -> None:
    args = build_parser().parse_args(argv)
    assert getattr(args, "verbose", 0) - getattr(args, "quiet", 0) == verbosity


def test_reference_lists_every_status_by_its_name() -> None:
    reference = (Path(__file__).parent.parent / "docs" / "reference" / "cli.rst").read_text(encoding="utf-8")
    listed = {
        int(number): name for number, name in re.findall(r"^ +(?:\* - )?(\d+) \(``(\w+)``\)$", reference, re.MULTILINE)
    }
    assert listed == {status.value: status.name for status in Status}
