"""The benchmark runs end to end with tiny counts and writes the results it promises; no timing is judged."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import TARGETS

if TYPE_CHECKING:
    from conftest import Runner

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench.py"


def assert_spread(spread: dict[str, float], n: int) -> None:
    assert spread["n"] == n
    assert 0 < spread["p25"] <= spread["median"] <= spread["p75"]


@pytest.mark.slow
def test_bench_smoke(runner: Runner, tmp_path: Path) -> None:
    # The newest interpreter that virtualenv can seed, so both creation modes are measured.
    target = [t for t in TARGETS if t.version[:2] >= (3, 9) and not t.is_pypy][-1]
    out = tmp_path / "results.json"
    args = [
        "--python",
        str(target.exe),
        "--rounds",
        "3",
        "--warmup",
        "1",
        "--creation-rounds",
        "2",
        "--seeded-rounds",
        "1",
    ]
    result = runner.run([sys.executable, BENCH, *args, "--json", out], check=True)
    assert "start-up: median ratio" in result.stdout

    document = json.loads(out.read_text())
    assert document["machine"]["nproc"] >= 1
    assert document["stub_build"]["linkage"] in {"static", "dynamic"}
    assert document["settings"]["rounds"] == 3

    startup = document["startup"]
    assert [item["command"] for item in startup] == ["-c pass", "-S -I -c pass"]
    for item in startup:
        assert item["interpreter"]["exe"] == str(target.exe)
        assert set(item["milliseconds"]) == {"symlink", "stub", "copies", "trampoline"}
        assert set(item["ratio_to_symlink"]) == {"stub", "copies", "trampoline"}
        for spread in [*item["milliseconds"].values(), *item["ratio_to_symlink"].values()]:
            assert_spread(spread, 3)

    creation = document["creation"]
    assert [(item["seeded"], item["skipped"]) for item in creation] == [(False, None), (True, None)]
    for item, rounds in zip(creation, (2, 1)):
        assert set(item["milliseconds"]) == {"cpython3-posix", "symlink-safe", "venv"}
        assert set(item["ratio_to_cpython3_posix"]) == {"symlink-safe", "venv"}
        for spread in [*item["milliseconds"].values(), *item["ratio_to_cpython3_posix"].values()]:
            assert_spread(spread, rounds)
