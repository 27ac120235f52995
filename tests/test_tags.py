"""C15: tools that inspect ``sys.executable`` see the same platform through the stub as in a plain environment."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import TAGS_REPORT, seeded
from test_elf import this_machine
from virtualenv_symlink_safe.elf import read_header, stub_mismatch

if TYPE_CHECKING:
    from conftest import Runner, Target


@pytest.mark.contract("C15", "rule 5")
@pytest.mark.slow
def test_tags_libc_and_architecture_equal_a_plain_environments(runner: Runner, target: Target, work: Path) -> None:
    plain = seeded(runner, target, work / "plain", target.builtin)
    stubbed = seeded(runner, target, work / "stubbed", "symlink-safe")
    assert plain.python.is_symlink()
    assert not stubbed.python.is_symlink(), "the stub environment's python must be the stub"

    expected = json.loads(runner.run([plain.python, "-c", TAGS_REPORT], check=True).stdout)
    got = json.loads(runner.run([stubbed.python, "-c", TAGS_REPORT], check=True).stdout)

    assert any("manylinux" in tag for tag in expected["tags"]), "the plain environment saw no manylinux tags"
    assert got["tags"] == expected["tags"]
    assert got["libc_ver"] == expected["libc_ver"]
    assert got["architecture"] == expected["architecture"]


# Rule 5 per interpreter: the pure ELF parsing is tested in test_elf.py, which needs no interpreter.
def test_interpreters_are_dynamic_glibc(target: Target) -> None:
    header = read_header(Path(os.path.realpath(target.exe)))
    machine = this_machine()
    assert (header.elf_class, header.encoding, header.machine) == machine[:3]
    assert header.interpreter == machine.glibc_loader


@pytest.mark.contract("rule 5")
def test_stub_fits_every_interpreter(target: Target) -> None:
    assert stub_mismatch(str(target.exe)) is None
