"""One version everywhere: the package metadata (from the git tag), ``__version__``, ``stub-build.json``, the docs."""

from __future__ import annotations

import json
import runpy
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

import virtualenv_symlink_safe

DOCS_CONF = Path(__file__).parent.parent / "docs" / "conf.py"


def test_version_is_the_built_one() -> None:
    # "0.0.0" is the fallback of a tree without git or PKG-INFO; a checkout and an sdist both know better.
    assert version("virtualenv-symlink-safe") not in {"0.0.0", "unknown"}


def test_dunder_version_is_the_metadata_version() -> None:
    assert virtualenv_symlink_safe.__version__ == version("virtualenv-symlink-safe")


def test_stub_build_json_names_the_version() -> None:
    text = files("virtualenv_symlink_safe").joinpath("stub-build.json").read_text(encoding="utf-8")
    assert json.loads(text)["version"] == version("virtualenv-symlink-safe")


def test_docs_release_is_the_version() -> None:
    conf = runpy.run_path(str(DOCS_CONF))
    assert conf["release"] == version("virtualenv-symlink-safe")
    assert conf["html_title"].endswith(conf["release"])
