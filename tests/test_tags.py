"""C15: tools that inspect ``sys.executable`` see the same platform through the stub as in a plain environment."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from conftest import TAGS_REPORT, seeded

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Runner, Target


@pytest.mark.slow
def test_c15_tags_libc_architecture(runner: Runner, target: Target, work: Path) -> None:
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
