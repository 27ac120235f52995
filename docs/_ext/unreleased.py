"""Show the changelog fragments no release has collected yet, under "Unreleased", where the changelog asks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sphinx.application import Sphinx

_ROOT = Path(__file__).parent.parent.parent


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


def setup(app: Sphinx) -> dict[str, bool]:
    """Register the hook that fills in the draft.

    :param app: the Sphinx application

    :returns: the extension's metadata

    """
    app.connect("source-read", _insert_unreleased)
    return {"parallel_read_safe": True}
