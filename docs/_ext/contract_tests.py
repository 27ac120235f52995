"""Link the contract's rules and cases to the tests that pin them, and show those tests' source."""

from __future__ import annotations

import ast
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

if TYPE_CHECKING:
    from docutils.parsers.rst.states import Inliner
    from sphinx.application import Sphinx

_ROOT = Path(__file__).parent.parent.parent

# docs/reference/contract.rst cites the test that pins each rule and case with :test:`file::name`; the role checks
# that the test exists (a renamed test fails the build) and links to its source, which the ``contract-tests``
# directive shows on the page _PAGE for every test whose ``contract`` marker carries an id.

#: The page that holds the ``contract-tests`` directive, where each :test: link points.
_PAGE = "development/contract-tests"

_TESTS = _ROOT / "tests"


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
    here = posixpath.dirname(inliner.document.settings.env.docname) or "."
    target = posixpath.relpath(_PAGE, here)
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
                if not ids:
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


def setup(app: Sphinx) -> dict[str, bool]:
    """Register the ``test`` role and the ``contract-tests`` directive.

    :param app: the Sphinx application

    :returns: the extension's metadata

    """
    app.add_role("test", _test_role)
    app.add_directive("contract-tests", ContractTests)
    return {"parallel_read_safe": True}
