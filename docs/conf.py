"""Sphinx configuration for the virtualenv-symlink-safe documentation."""
# ruff: noqa: INP001  # docs/ is a folder of pages, not a package

from __future__ import annotations

import re
from pathlib import Path

_PYPROJECT = (Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
_VERSION = re.search(r'^version = "([^"]+)"$', _PYPROJECT, re.MULTILINE)

project = "virtualenv-symlink-safe"
author = "virtualenv-symlink-safe developers"
copyright = author  # noqa: A001  # the name Sphinx reads
release = _VERSION.group(1) if _VERSION else "unknown"
version = ".".join(release.split(".")[:2])

extensions: list[str] = []
exclude_patterns = ["_build", "changelog/*"]  # towncrier fragments, collected into changelog.rst at release
nitpicky = True
highlight_language = "none"

html_theme = "furo"
html_title = f"{project} {release}"
