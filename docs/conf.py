"""Sphinx configuration for the virtualenv-symlink-safe documentation."""
# ruff: noqa: INP001  # docs/ is a folder of pages, not a package

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))  # the project's own extensions

# The version comes from the git tag when the package is built; the docs show that of the installed package.
try:
    release = _version("virtualenv-symlink-safe")
except PackageNotFoundError:  # sphinx-build run outside the docs tox env, without the package
    release = "unknown"

project = "virtualenv-symlink-safe"
author = "virtualenv-symlink-safe developers"
copyright = author  # noqa: A001  # the name Sphinx reads
version = ".".join(release.split(".")[:2])

extensions = ["contract_tests", "sphinxcontrib.towncrier.ext"]
# the changelog fragments no release has collected yet, rendered by towncrier under "Unreleased" (changelog.rst)
towncrier_draft_autoversion_mode = "draft"
towncrier_draft_include_empty = True
towncrier_draft_working_directory = Path(__file__).parent.parent
# changelog/: towncrier fragments, gathered into changelog.rst at release
exclude_patterns = ["_build", "changelog"]
nitpicky = True
highlight_language = "none"

html_theme = "furo"
html_title = f"{project} {release}"
