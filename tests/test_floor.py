"""The oldest virtualenv and filelock the plugin accepts: pyproject.toml declares them, ``tox -e oldest`` tests them."""

from __future__ import annotations

import configparser
import os
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FLOORED = ("filelock", "virtualenv")


def declared_floors() -> dict[str, str]:
    """The ``>=`` bound of each floored dependency in pyproject.toml."""
    if sys.version_info < (3, 11):
        pytest.skip("reading pyproject.toml needs tomllib (Python 3.11)")
    import tomllib  # noqa: PLC0415

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floors = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement.replace(" ", ""))
        assert match, f"{requirement!r}: a dependency is declared as name>=floor"
        floors[match[1].lower()] = match[2]
    return floors


def test_oldest_env_pins_the_declared_floor() -> None:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini", encoding="utf-8")
    deps = tox["testenv:oldest"]["deps"].split()
    pinned = dict(dep.split("==") for dep in deps)
    floors = declared_floors()
    assert {name: floors[name] for name in FLOORED} == pinned


@pytest.mark.skipif(not os.environ.get("SYMLINK_SAFE_EXPECT_FLOOR"), reason="only in tox -e oldest")
def test_the_floor_is_what_runs() -> None:
    floors = declared_floors()
    assert {name: metadata.version(name) for name in FLOORED} == {name: floors[name] for name in FLOORED}
