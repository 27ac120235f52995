"""The contract page and the tests agree: every rule and case cites a test, every cited test pins what it is cited for.

Pure: reads files only, needs no interpreter.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import Status

ROOT = Path(__file__).parent.parent
CONTRACT = (ROOT / "docs" / "reference" / "contract.rst").read_text(encoding="utf-8")
#: Rules whose promise is measured, not tested: rule 9 (cost) is the benchmark's.
UNTESTED_RULES = {"rule 9"}
#: The cases of the conformance table, in order.
CASES = [f"C{n}" for n in range(1, 19)] + [f"E{n}" for n in range(1, 8)]
#: A name that carries a case or rule id (test_c4_..., test_e2_..., test_rule_3_1_...): ids belong in the marker.
ID_NAME = re.compile(r"test_(c\d+|e\d+|rule_\d+(_\d+)?)_")


def page_sections() -> dict[str, list[tuple[str, str]]]:
    """Each id the page defines (``rule 2``, ``rule 2.6``, ``C7``), in order, with the tests cited under it."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in CONTRACT.splitlines():
        if heading := re.match(r"Rule (\d+):|(\d+\.\d+)(?= |$)|   \* - ([CE]\d+)$", line):
            current = heading.group(3) or f"rule {heading.group(1) or heading.group(2)}"
            sections[current] = []
        elif line.startswith("Conformance cases"):
            current = None
        cited = re.findall(r":test:`([\w.]+)::(\w+)`", line)
        assert current is not None or not cited, line
        if current is not None:
            sections[current] += cited
    return sections


def pinned() -> dict[tuple[str, str], list[str]]:
    """Every test function, by file and name, with the ids its ``@pytest.mark.contract(...)`` gives it."""
    tests = {}
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                tests[path.name, node.name] = [
                    arg.value
                    for decorator in node.decorator_list
                    if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "pytest.mark.contract"
                    for arg in decorator.args
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                ]
    return tests


SECTIONS = page_sections()
TESTS = pinned()


def test_the_page_defines_every_rule_and_case() -> None:
    rules = [section for section in SECTIONS if section.startswith("rule ")]
    assert [rule for rule in rules if "." not in rule] == [f"rule {n}" for n in range(1, 11)]
    assert [section for section in SECTIONS if not section.startswith("rule ")] == CASES


def test_every_cited_test_exists() -> None:
    missing = {f"{file}::{name}" for cited in SECTIONS.values() for file, name in cited if (file, name) not in TESTS}
    assert missing == set()


def test_every_cited_test_pins_what_it_is_cited_for() -> None:
    """A test cited under rule 2.6 or case C7 carries ``"rule 2.6"`` or ``"C7"`` in its ``contract`` marker."""
    unpinned = {
        f"{file}::{name} lacks {section!r}"
        for section, cited in SECTIONS.items()
        for file, name in cited
        if section not in TESTS.get((file, name), [section])
    }
    assert unpinned == set()


def test_every_rule_and_case_cites_a_test() -> None:
    """Every case, every numbered part and every rule without parts (but the measured one) cites a test."""
    with_parts = {section.split(".")[0] for section in SECTIONS if "." in section}
    uncited = [s for s, cited in SECTIONS.items() if not cited and s not in with_parts | UNTESTED_RULES]
    assert uncited == []


def test_every_case_row_has_its_cells() -> None:
    table = CONTRACT[CONTRACT.index("Conformance cases") :]
    rows = [row.split("\n     - ") for row in table.split("\n   * - ")[2:]]  # past the header row
    assert [row[0] for row in rows] == CASES
    for case, *cells in rows:
        assert len(cells) == 3, case


def test_every_pinned_id_is_on_the_page() -> None:
    unknown = {f"{file}::{name}: {i!r}" for (file, name), ids in TESTS.items() for i in ids if i not in SECTIONS}
    assert unknown == set()


def test_every_test_that_pins_an_id_is_cited() -> None:
    cited = {test for tests in SECTIONS.values() for test in tests}
    assert {f"{file}::{name}" for (file, name), ids in TESTS.items() if ids and (file, name) not in cited} == set()


def test_tests_are_named_by_behaviour_not_by_contract_id() -> None:
    assert [f"{file}::{name}" for file, name in TESTS if ID_NAME.match(name)] == []


def test_statuses_match_the_stub() -> None:
    stub = (ROOT / "src" / "stub" / "stub.c").read_text(encoding="utf-8")
    in_stub = {name: int(value) for name, value in re.findall(r"STATUS_(\w+) = (\d+)", stub)}
    assert in_stub == {status.name: status.value for status in Status} | {"OK": 0}


def test_python_reads_stubs_with_the_stubs_own_bounds() -> None:
    """The command's Python model of the stub (``environment.py``) uses the marker and bounds ``stub.c`` defines."""
    from virtualenv_symlink_safe import environment  # noqa: PLC0415  # the package, not the docs, is under test

    stub = (ROOT / "src" / "stub" / "stub.c").read_text(encoding="utf-8")
    assert f'#define STUB_MARKER "{environment.STUB_MARKER.decode()}"' in stub
    assert f"#define STUB_HEAD {environment.STUB_HEAD}" in stub
    assert f"#define MAX_LINK_STEPS {environment.MAX_LINK_STEPS} " in stub
    assert f"#define MAX_NESTING {environment.MAX_NESTING} " in stub
    assert "#define MAX_CFG_SIZE (1024 * 1024)" in stub
    assert environment.MAX_CFG_SIZE == 1024 * 1024
    assert "#define MAX_STUB_SIZE (4 * 1024 * 1024)" in stub
    assert environment.MAX_STUB_SIZE == 4 * 1024 * 1024
