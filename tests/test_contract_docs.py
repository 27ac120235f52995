"""The contract page and the tests agree: every rule and case cites a test, every test with an id is cited.

Pure: reads files only, needs no interpreter.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import Status

ROOT = Path(__file__).parent.parent
#: A test whose name carries a case or rule id: test_c4_..., test_e2_..., test_rule_3_1_...
ID_NAME = re.compile(r"test_(c\d+|e\d+|rule_\d+(_\d+)?)_")
CONTRACT = (ROOT / "docs" / "reference" / "contract.rst").read_text(encoding="utf-8")
CITED = set(re.findall(r":test:`[\w.]+::(\w+)`", CONTRACT))
#: Rules whose promise is measured, not tested: rule 9 (cost) is the benchmark's.
UNTESTED_RULES = {"9"}
#: Rules stated in numbered parts, each part citing its own tests.
RULES_IN_PARTS = {"1", "2", "3", "4", "7"}


def id_tests() -> set[str]:
    names = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and ID_NAME.match(node.name):
                names.add(node.name)
    return names


def test_every_test_with_a_contract_id_is_cited() -> None:
    assert id_tests() - CITED == set()


def test_every_case_cites_a_test() -> None:
    table = CONTRACT[CONTRACT.index("Conformance cases") :]
    rows = [row.split("\n     - ") for row in table.split("\n   * - ")[2:]]  # past the header row
    assert [row[0] for row in rows] == [f"C{n}" for n in range(1, 19)] + [f"E{n}" for n in range(1, 8)]
    for case, *cells in rows:
        assert len(cells) == 3, case
        assert f":test:`test_{case[0].lower()}{case[1:]}" in cells[2] or f"_{case.lower()}_" in cells[2], case


def test_every_numbered_rule_cites_a_test() -> None:
    sections = re.split(r"\n(?=\d\.\d\b|Rule \d+:)", CONTRACT)
    for section in sections:
        part = re.match(r"(\d\.\d)\b", section)
        rule = re.match(r"Rule (\d+):", section)
        if part or (rule and rule.group(1) not in UNTESTED_RULES | RULES_IN_PARTS):
            assert ":test:" in section, section[:20]


def test_statuses_match_the_stub() -> None:
    stub = (ROOT / "src" / "stub" / "stub.c").read_text(encoding="utf-8")
    in_stub = {name: int(value) for name, value in re.findall(r"STATUS_(\w+) = (\d+)", stub)}
    assert in_stub == {status.name: status.value for status in Status} | {"OK": 0}


def test_every_cited_test_shows_on_the_tests_page() -> None:
    """The tests page shows tests whose name or ``contract`` marker carries an id; a cited test must be one."""
    for path in (ROOT / "tests").glob("test_*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name in CITED and not ID_NAME.match(node.name):
                assert any("pytest.mark.contract" in ast.unparse(d) for d in node.decorator_list), node.name


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
