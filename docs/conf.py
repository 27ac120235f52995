"""Sphinx configuration for the virtualenv-symlink-safe documentation."""
# ruff: noqa: INP001  # docs/ is a folder of pages, not a package

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from pathlib import Path
from typing import TYPE_CHECKING

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

if TYPE_CHECKING:
    from docutils.parsers.rst.states import Inliner
    from sphinx.application import Sphinx

_ROOT = Path(__file__).parent.parent

# The version comes from the git tag when the package is built; the docs show that of the installed package.
try:
    release = _version("virtualenv-symlink-safe")
except PackageNotFoundError:  # sphinx-build run outside the docs tox env, without the package
    release = "unknown"

project = "virtualenv-symlink-safe"
author = "virtualenv-symlink-safe developers"
copyright = author  # noqa: A001  # the name Sphinx reads
version = ".".join(release.split(".")[:2])

extensions: list[str] = []
# changelog/: towncrier fragments, gathered into changelog.rst at release
exclude_patterns = ["_build", "changelog"]
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


# --- the contract's tests ------------------------------------------------------------------------------------------
# docs/reference/contract.rst cites the test that pins each rule and case with :test:`file::name`; the role checks
# that the test exists (a renamed test fails the build) and links to its source, which the ``contract-tests``
# directive shows on docs/reference/contract-tests.rst for every test whose name or ``contract`` marker carries an id.

_TESTS = _ROOT / "tests"
#: A test whose name carries a case or rule id: test_c4_..., test_e2_..., test_rule_3_1_...
_ID_NAME = re.compile(r"test_(c\d+|e\d+|rule_\d+(_\d+)?)_")


def _test_functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test")}


def _contract_ids(node: ast.FunctionDef) -> list[str]:
    """Read the ids that a ``@pytest.mark.contract(...)`` decorator gives a test."""
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "pytest.mark.contract":
            return [arg.value for arg in decorator.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
    return []


def _anchor(name: str) -> str:
    return name.replace("_", "-")


def _test_role(  # the signature Sphinx gives roles
    _name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Inliner,
    _options: dict[str, object] | None = None,
    _content: list[str] | None = None,
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    file, _, name = text.partition("::")
    path = _TESTS / file
    if not path.is_file() or name not in _test_functions(path):
        message = inliner.reporter.warning(f"no test {name!r} in tests/{file}", line=lineno)
        return [nodes.literal(rawtext, name)], [message]
    docname = inliner.document.settings.env.docname
    target = "contract-tests" if docname.startswith("reference/") else "reference/contract-tests"
    link = nodes.reference(rawtext, "", refuri=f"{target}.html#{_anchor(name)}", internal=True)
    link += nodes.literal(name, name)
    return [link], []


class ContractTests(SphinxDirective):
    """Show the source of every test that carries a contract id, file by file."""

    def run(self) -> list[nodes.Node]:
        """Build one section per test, its anchor being the test's name."""
        result: list[nodes.Node] = []
        for path in sorted(_TESTS.glob("test_*.py")):
            self.env.note_dependency(str(path))
            lines = path.read_text(encoding="utf-8").splitlines()
            for name, node in _test_functions(path).items():
                ids = _contract_ids(node)
                if not (_ID_NAME.match(name) or ids):
                    continue
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                section = nodes.section(ids=[_anchor(name)])
                section += nodes.title(name, f"{path.name}::{name}")
                if ids:
                    section += nodes.paragraph("", "Pins: " + ", ".join(ids))
                code = "\n".join(lines[start - 1 : node.end_lineno])
                block = nodes.literal_block(code, code, language="python")
                section += block
                result.append(section)
        return result


def setup(app: Sphinx) -> None:
    """Show the changelog fragments not yet released on the changelog page."""
    app.connect("source-read", _insert_unreleased)
    app.add_role("test", _test_role)
    app.add_directive("contract-tests", ContractTests)
