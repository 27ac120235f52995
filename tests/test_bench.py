"""The benchmark runs end to end with tiny counts and writes the results it promises; no timing is judged."""

from __future__ import annotations

import collections
import importlib.util
import json
import math
import random
import re
import shutil
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from conftest import targets

if TYPE_CHECKING:
    from conftest import Runner

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench.py"


def load_bench() -> Any:  # noqa: ANN401  # a script, not a package: its types are not importable
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def assert_spread(spread: dict[str, float], n: int) -> None:
    assert spread["n"] == n
    assert spread["ci_low"] <= spread["median"] <= spread["ci_high"]
    assert spread["p25"] <= spread["median"] <= spread["p75"]


def test_median_interval_covers_the_true_median() -> None:
    """Over many samples of a known distribution, the 95% interval holds the true median about 95% of the time."""
    bench = load_bench()
    rng = random.Random(4)  # noqa: S311  # reproducible samples, not secrets
    for n in (20, 101, 400):
        hits = 0
        for _ in range(400):
            spread = bench.Spread.of([rng.lognormvariate(0, 0.5) for _ in range(n)])  # true median: 1
            hits += spread.ci_low <= 1 <= spread.ci_high
        assert 0.92 <= hits / 400 <= 0.99, (n, hits)


def test_median_interval_narrows_with_rounds() -> None:
    bench = load_bench()
    rng = random.Random(5)  # noqa: S311  # reproducible samples, not secrets
    widths = []
    for n in (25, 100, 400, 1600):
        values = [rng.gauss(1.0, 0.05) for _ in range(n)]
        spread = bench.Spread.of(values)
        assert spread.median == pytest.approx(statistics.median(values))
        widths.append(spread.ci_high - spread.ci_low)
    assert widths == sorted(widths, reverse=True)
    assert widths[-1] < widths[0] / 4


@pytest.mark.parametrize("variants", [("a", "b", "c"), ("symlink", "stub", "copies", "trampoline")])
def test_each_variant_follows_each_other_equally_often(variants: tuple[str, ...]) -> None:
    bench = load_bench()
    rounds = [bench.ordered(variants, index) for index in range(math.factorial(len(variants)))]
    assert all(sorted(order) == sorted(variants) for order in rounds)
    sequence = [name for order in rounds for name in order]
    follows = collections.Counter(zip(sequence, sequence[1:]))
    counts = {follows[a, b] for a in variants for b in variants if a != b}
    assert max(counts) - min(counts) <= 1, follows


@pytest.mark.parametrize(
    ("values", "verdict"),
    [
        ([1.010 + i / 10000 for i in range(40)], "met"),
        ([1.030 + i / 10000 for i in range(40)], "missed"),
        ([1.000 + i / 1000 for i in range(40)], "not shown"),
        ([1.0] * 19, "too few rounds"),
    ],
)
def test_verdict(values: list[float], verdict: str) -> None:
    assert load_bench().Spread.of(values).verdict(1.02) == verdict


@pytest.mark.parametrize(
    ("medians", "verdict"),
    [
        ([1.012, 1.018, 1.015, 1.019, 1.014], "met"),
        ([1.012, 1.018, 1.015, 1.021, 1.014], "not shown"),  # five run medians: their whole range counts
        ([1.012, 1.018, 1.015, 1.019], "too few runs"),
    ],
)
def test_verdict_over_run_medians(medians: list[float], verdict: str) -> None:
    bench = load_bench()
    assert bench.Spread.of(medians).verdict(1.02, fewest=bench.MIN_RUNS_JUDGED, unit="runs") == verdict


@pytest.mark.parametrize(
    ("runs", "rounds", "verdict"),
    [(5, 20, "met"), (5, 19, "too few rounds"), (4, 20, "too few runs"), (1, 20, "met"), (1, 19, "too few rounds")],
)
def test_startup_verdict_needs_runs_and_rounds(runs: int, rounds: int, verdict: str) -> None:
    bench = load_bench()
    ratios = [1.01] * (runs * rounds)  # every round of every run, pooled
    spreads = {name: bench.Spread.of(ratios) for name in ("stub", "copies", "trampoline")}
    item = bench.StartupResult(
        bench.Interpreter("/usr/bin/python3.13", "3.13.0"),
        "-c pass",
        {},
        spreads,
        spreads["stub"],
        spreads,
        {name: [1.01] * runs for name in spreads},
    )
    [judged] = bench.verdicts([item], [])
    assert (judged["verdict"], judged["judged_on"]) == (verdict, "rounds" if runs == 1 else "runs")


@pytest.mark.slow
def test_bench_smoke(runner: Runner, tmp_path: Path) -> None:
    # The newest interpreter that virtualenv can seed, so both creation modes are measured.
    target = [t for t in targets() if t.version[:2] >= (3, 9) and not t.is_pypy][-1]
    out = tmp_path / "results.json"
    args = [
        "--python",
        str(target.exe),
        "--rounds",
        "3",
        "--runs",
        "2",
        "--warmup",
        "1",
        "--creation-rounds",
        "2",
        "--seeded-rounds",
        "1",
        "--launcher-rounds",
        "4",
        "--convert-rounds",
        "0",  # test_bench_convert_ratio measures convert
        "--interpreter-rounds",
        "0",  # test_bench_converted_interpreter_ratio measures a converted interpreter
    ]
    result = runner.run([sys.executable, BENCH, *args, "--json", out], check=True)
    assert "start-up: ratio to a symlink environment" in result.stdout
    assert "stub/trampoline" in result.stdout

    document = json.loads(out.read_text())
    assert document["machine"]["nproc"] >= 1
    assert document["stub_build"]["linkage"] in {"static", "dynamic"}
    assert document["floor_compiler"]  # the trampoline's: musl-gcc or zig cc here, linked statically
    assert document["settings"]["rounds"] == 3

    startup = document["startup"]
    assert [item["command"] for item in startup] == ["-c pass", "-S -I -c pass"]
    for item in startup:
        assert item["interpreter"]["exe"] == str(target.exe)
        assert set(item["milliseconds"]) == {"symlink", "stub", "copies", "trampoline"}
        assert set(item["ratio_to_symlink"]) == {"stub", "copies", "trampoline"}
        assert set(item["extra_microseconds"]) == {"stub", "copies", "trampoline"}
        for spread in [*item["milliseconds"].values(), *item["ratio_to_symlink"].values()]:
            assert_spread(spread, 6)  # every round of both runs
        assert_spread(item["stub_to_trampoline"], 6)
        assert {name: len(medians) for name, medians in item["run_medians"].items()} == dict.fromkeys(
            ("stub", "copies", "trampoline"), 2
        )
    assert "start-up run by run" in result.stdout

    launcher = document["launcher"]
    assert set(launcher["extra_microseconds"]) == {"trampoline", "stub"}
    for spread in [launcher["direct_microseconds"], *launcher["extra_microseconds"].values()]:
        assert_spread(spread, 4)
    assert_spread(launcher["stub_over_trampoline_microseconds"], 4)
    assert "launcher: extra us per start over a no-op program" in result.stdout

    creation = document["creation"]
    assert [(item["seeded"], item["skipped"]) for item in creation] == [(False, None), (True, None)]
    for item, rounds in zip(creation, (2, 1)):
        assert set(item["milliseconds"]) == {"cpython3-posix", "symlink-safe", "venv"}
        assert set(item["ratio_to_cpython3_posix"]) == {"symlink-safe", "venv"}
        for spread in [*item["milliseconds"].values(), *item["ratio_to_cpython3_posix"].values()]:
            assert_spread(spread, rounds)

    # Every measurement a target speaks of is judged; two runs and one or two creation rounds are too few to judge by.
    judged = {item["what"]: (item["verdict"], item["judged_on"]) for item in document["targets"]}
    version = document["creation"][0]["interpreter"]["version"]
    if version.startswith(("3.11", "3.13")):
        assert judged.pop(f"start-up {version} -c pass") == ("too few runs", "runs")
    assert set(judged) == {f"creation {version} no-seed", f"creation {version} seeded"}
    assert set(judged.values()) == {("too few rounds", "rounds")}
    assert "targets: met when" in result.stdout


def test_bench_reports_a_failure_in_one_line(runner: Runner, tmp_path: Path) -> None:
    missing = tmp_path / "no-python"
    result = runner.run([sys.executable, BENCH, "--python", missing, "--json", tmp_path / "out.json"])
    assert result.returncode == 1
    assert result.stderr.startswith("bench: error: ")
    assert result.stderr.count("\n") == 1
    assert str(missing) in result.stderr
    assert not (tmp_path / "out.json").exists()


def test_bench_convert_ratio(runner: Runner, tmp_path: Path) -> None:
    """The bench prints the ratio of one ``convert`` to a bare interpreter start, and nothing else when asked."""
    zero = ["--rounds", "0", "--launcher-rounds", "0", "--creation-rounds", "0", "--seeded-rounds", "0"]
    out = tmp_path / "results.json"
    target = targets()[0]
    args = ["--python", str(target.exe), *zero, "--json", str(out)]
    result = runner.run([sys.executable, BENCH, *args, "--convert-rounds", "2"], check=True)
    assert "convert: " in result.stdout
    assert "ratio" in result.stdout.splitlines()[-1]
    converting = json.loads(out.read_text())["convert"]
    assert converting["rounds"] == 2
    # through the console script installed beside the interpreter, paired with the interpreter it names
    assert converting["script"] == str(Path(sys.executable).with_name("virtualenv-symlink-safe"))
    assert converting["python"] == sys.executable
    assert converting["convert_ms"] > 0
    assert converting["bare_ms"] > 0
    skipped = runner.run([sys.executable, BENCH, *args, "--convert-rounds", "0"], check=True)
    assert "convert: " not in skipped.stdout
    assert json.loads(out.read_text())["convert"] is None


def test_bench_convert_needs_the_console_script(runner: Runner, tmp_path: Path) -> None:
    """Run by an interpreter with no console script beside it, the bench says so in one line and exits 1."""
    base = next(target.exe for target in targets() if target.version >= (3, 9))  # the bench itself needs 3.9
    if base.with_name("virtualenv-symlink-safe").exists():
        pytest.skip(f"{base} has the console script beside it")
    zero = ["--rounds", "0", "--launcher-rounds", "0", "--creation-rounds", "0", "--seeded-rounds", "0"]
    out = tmp_path / "results.json"
    cmd = [str(base), str(BENCH), "--python", str(base), *zero, "--convert-rounds", "1", "--json", str(out)]
    result = runner.run(cmd)
    assert result.returncode == 1
    assert (
        result.stderr
        == f"bench: error: no virtualenv-symlink-safe console script beside {base}: install the package there\n"
    )
    assert not out.exists()


def test_bench_measures_the_stub_it_is_given(runner: Runner, tmp_path: Path) -> None:
    """``--stub`` puts the given file in the stub environments: here a copy of the installed stub."""
    from virtualenv_symlink_safe.stub import stub_resource  # noqa: PLC0415

    given = tmp_path / "given-stub"
    given.write_bytes(Path(stub_resource()).read_bytes())
    zero = ["--creation-rounds", "0", "--seeded-rounds", "0", "--convert-rounds", "0", "--warmup", "0"]
    out = tmp_path / "results.json"
    args = ["--python", str(targets()[0].exe), "--rounds", "2", "--launcher-rounds", "2", *zero, "--json", str(out)]
    runner.run([sys.executable, BENCH, *args, "--stub", str(given)], check=True)
    document = json.loads(out.read_text())
    assert document["stub_build"]["path"] == str(given)
    assert "statically linked" in document["stub_build"]["header"] or "loader" in document["stub_build"]["header"]
    assert_spread(document["startup"][0]["stub_to_trampoline"], 2)
    missing = runner.run([sys.executable, BENCH, *args, "--stub", str(tmp_path / "none")])
    assert missing.returncode == 1
    assert missing.stderr == f"bench: error: --stub {tmp_path / 'none'}: no such file\n"


def test_bench_converted_interpreter_ratio(runner: Runner, tmp_path: Path) -> None:
    """A converted interpreter (contract rules 9 and 10) is measured against the same one unconverted, paired."""
    target = [t for t in targets() if not t.is_pypy][-1]
    out = tmp_path / "results.json"
    skip = ["--rounds", "0", "--launcher-rounds", "0", "--creation-rounds", "0", "--seeded-rounds", "0"]
    args = [*skip, "--convert-rounds", "0", "--warmup", "1", "--interpreter-rounds", "3", "--python", str(target.exe)]
    result = runner.run([sys.executable, BENCH, *args, "--json", out], check=True)
    assert "converted interpreter (convert PREFIX): ratio to the same interpreter unconverted" in result.stdout
    measured = json.loads(out.read_text())["converted_interpreter"]
    (ways,) = measured.values()
    assert "bin/python3 -c pass" in ways
    assert "venv bin/python -c pass" in ways
    assert len(ways) == 3
    for spreads in ways.values():
        assert_spread(spreads["ratio"], 3)


@pytest.mark.parametrize(("linkage", "says"), [("static", "statically linked"), ("dynamic", "loader")])
def test_bench_links_the_floor_as_asked(runner: Runner, tmp_path: Path, linkage: str, says: str) -> None:
    """``--floor-linkage dynamic`` links the trampoline and no-op program against the loader: the musllinux floor."""
    from virtualenv_symlink_safe.elf import read_header  # noqa: PLC0415

    zero = ["--creation-rounds", "0", "--seeded-rounds", "0", "--convert-rounds", "0", "--interpreter-rounds", "0"]
    args = ["--python", str(targets()[0].exe), "--rounds", "1", "--launcher-rounds", "1", "--warmup", "0", *zero]
    out = tmp_path / "results.json"
    result = runner.run([sys.executable, BENCH, *args, "--floor-linkage", linkage, "--keep", "--json", out], check=True)
    kept = Path(re.search(r"environments kept in (.+)", result.stderr)[1])  # type: ignore[index]
    try:
        programs = [kept / "launcher" / "noop", kept / "launcher" / "trampoline", *kept.glob("*/startup-1/trampoline")]
        assert len(programs) == 3
        for program in programs:
            assert says in read_header(program).describe(), program
        assert json.loads(out.read_text())["settings"]["floor_linkage"] == linkage
    finally:
        shutil.rmtree(kept)
