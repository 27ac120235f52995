"""Sphinx configuration for the virtualenv-symlink-safe documentation."""
# ruff: noqa: INP001  # docs/ is a folder of pages, not a package

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sphinx.application import Sphinx

_ROOT = Path(__file__).parent.parent
_PYPROJECT = (_ROOT / "pyproject.toml").read_text(encoding="utf-8")
_VERSION = re.search(r'^version = "([^"]+)"$', _PYPROJECT, re.MULTILINE)

project = "virtualenv-symlink-safe"
author = "virtualenv-symlink-safe developers"
copyright = author  # noqa: A001  # the name Sphinx reads
release = _VERSION.group(1) if _VERSION else "unknown"
version = ".".join(release.split(".")[:2])

extensions: list[str] = []
exclude_patterns = ["_build", "changelog/*"]
nitpicky = True
highlight_language = "none"

html_theme = "furo"
html_title = f"{project} {release}"


#: Where docs/changelog.rst shows the fragments in docs/changelog/ that no release has collected yet.
_DRAFT_MARK = ".. towncrier-draft::"


def _unreleased_changes() -> str:
    """Render the pending changelog fragments as towncrier would at the next release, under "Unreleased"."""
    cmd = [sys.executable, "-m", "towncrier", "build", "--draft", "--version", "Unreleased"]
    draft = subprocess.run(cmd, cwd=_ROOT, capture_output=True, text=True, check=True).stdout
    body = draft.split("\n", 2)[2] if draft.startswith("Unreleased") else draft  # towncrier's dated title
    return f"Unreleased\n==========\n\n{body.strip()}\n"


def _insert_unreleased(_app: Sphinx, docname: str, source: list[str]) -> None:
    if docname == "changelog" and _DRAFT_MARK in source[0]:
        source[0] = source[0].replace(_DRAFT_MARK, _unreleased_changes())


def setup(app: Sphinx) -> None:
    """Show the changelog fragments not yet released on the changelog page."""
    app.connect("source-read", _insert_unreleased)
