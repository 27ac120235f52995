"""The oldest virtualenv the plugin accepts: pyproject.toml declares it, ``tox -e oldest`` tests it."""

from __future__ import annotations

import configparser
import os
import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FLOORED = ("virtualenv",)


def declared_floors() -> dict[str, str]:
    """The ``>=`` bound of each floored dependency, as the installed plugin declares it (from pyproject.toml)."""
    floors = {}
    for requirement in metadata.requires("virtualenv-symlink-safe") or []:
        if ";" in requirement:  # an extra's dependency
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement.replace(" ", ""))
        assert match, f"{requirement!r}: a dependency is declared as name>=floor"
        floors[match[1].lower()] = match[2]
    return {name: floors[name] for name in FLOORED}


def test_oldest_env_pins_the_declared_floor() -> None:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini", encoding="utf-8")
    pinned = dict(dep.split("==") for dep in tox["testenv:oldest"]["deps"].split())
    assert pinned == declared_floors()


@pytest.mark.skipif(not os.environ.get("SYMLINK_SAFE_EXPECT_FLOOR"), reason="only in tox -e oldest")
def test_the_floor_is_what_runs() -> None:
    assert {name: metadata.version(name) for name in FLOORED} == declared_floors()
