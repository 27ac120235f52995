"""``--contract ID`` (tests/conftest.py) runs the tests whose ``contract`` marker pins a case or rule."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

#: Tests pinning what their markers say, collected by the suite's own conftest.
PINNED = """
import pytest

@pytest.mark.contract("C7", "rule 2.2")
def test_linked_bin():
    pass

@pytest.mark.contract("C17")
def test_convert():
    pass

@pytest.mark.contract("rule 2.6")
def test_trust():
    pass

@pytest.mark.contract("E4", "rule 1.3")
def test_loop():
    pass

def test_unpinned():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\naddopts = --strict-markers\nmarkers =\n    contract(*ids): the ids a test pins\n")
    pytester.makepyfile(test_pinned=PINNED)
    return pytester


@pytest.mark.parametrize(
    ("ids", "selected"),
    [
        (["C7"], ["test_linked_bin"]),
        (["C1"], []),  # C1 is no prefix of C17
        (["2.6"], ["test_trust"]),
        (["rule_1_3"], ["test_loop"]),
        (["rule 2"], ["test_linked_bin", "test_trust"]),  # a rule takes in its parts
        (["c17", "E4"], ["test_convert", "test_loop"]),
    ],
    ids=["case", "no-prefix-of-a-case", "bare-number", "test-name-spelling", "rule", "two-lower-case"],
)
def test_contract_option_selects_the_tests_that_pin_an_id(
    suite: pytest.Pytester, ids: list[str], selected: list[str]
) -> None:
    args = [arg for i in ids for arg in ("--contract", i)]
    result = suite.runpytest_subprocess("--collect-only", "-q", *args)
    collected = [line.split("::")[1] for line in result.outlines if line.startswith("test_pinned.py::")]
    assert collected == selected, result.outlines
    assert result.ret == (pytest.ExitCode.OK if selected else pytest.ExitCode.NO_TESTS_COLLECTED)


def test_contract_option_refuses_what_is_no_id(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("--collect-only", "-q", "--contract", "trust")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--contract 'trust': not a case (C7, E4) or rule (rule 2.6, 2.6)" in result.errlines[0], result.errlines
