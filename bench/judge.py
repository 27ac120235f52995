"""Judge a benchmark's figures against the project's targets: a verdict is a reading of a baseline, not a gate.

A target counts as met only when the whole confidence interval of the median lies within it. With five runs or
more, a start-up target is judged on the runs' medians, since a run's median moves from one run to the next by more
than its own interval says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stats import MIN_JUDGED, Spread

if TYPE_CHECKING:
    from bench import CreationResult, StartupResult

#: The targets of contract rule 9 and of creation: the stub's start-up ratio on these CPython versions, and
#: creation against cpython3-posix.
STARTUP_TARGET = 1.02
STARTUP_TARGET_VERSIONS = ("3.11", "3.13")
CREATION_TARGET = 1.03
#: The fewest run medians to judge a start-up target by: their whole range is then a 94% interval of their median.
MIN_RUNS_JUDGED = 5


def verdicts(startup: list[StartupResult], creation: list[CreationResult]) -> list[dict[str, str | float]]:
    """Judge the results against the targets: start-up of ``-c pass`` on 3.11 and 3.13, and every creation.

    :param startup: start-up results
    :param creation: creation results

    :returns: one entry per judged measurement

    """
    judged: list[dict[str, str | float]] = []
    for item in startup:
        if item.command == "-c pass" and item.interpreter.version.startswith(STARTUP_TARGET_VERSIONS):
            what = f"start-up {item.interpreter.version} {item.command}"
            if len(item.run_medians["stub"]) == 1:
                spread = item.ratio_to_symlink["stub"]
                verdict, basis = spread.verdict(STARTUP_TARGET), "rounds"
            else:
                medians = item.run_medians["stub"]
                spread = Spread.of(medians)
                verdict, basis = spread.verdict(STARTUP_TARGET, fewest=MIN_RUNS_JUDGED, unit="runs"), "runs"
                # Each run's median asks as many rounds as one run's verdict does.
                if verdict != "too few runs" and item.ratio_to_symlink["stub"].n < MIN_JUDGED * len(medians):
                    verdict = "too few rounds"
            judged.append({"what": what, "target": STARTUP_TARGET, "median": spread.median, "ci_high": spread.ci_high})
            judged[-1].update(verdict=verdict, judged_on=basis)
    for entry in creation:
        if not entry.skipped:
            spread = entry.ratio_to_cpython3_posix["symlink-safe"]
            what = f"creation {entry.interpreter.version} {'seeded' if entry.seeded else 'no-seed'}"
            judged.append({"what": what, "target": CREATION_TARGET, "median": spread.median, "ci_high": spread.ci_high})
            judged[-1].update(verdict=spread.verdict(CREATION_TARGET), judged_on="rounds")
    return judged


def format_verdicts(judged: list[dict[str, str | float]]) -> str:
    """Format the verdicts, one line each.

    :param judged: what :func:`verdicts` returned

    :returns: the lines

    """
    head = "targets: met when the upper end of the median's confidence interval is within the target"
    lines = [f"{head} (over the rounds of one run, or over the medians of {MIN_RUNS_JUDGED} or more runs)", ""]
    for entry in judged:
        numbers = f"median {entry['median']:.3f}, upper end {entry['ci_high']:.3f}, target {entry['target']:.2f}"
        lines.append(f"{entry['what']:32} {entry['verdict']:15} {numbers}, over {entry['judged_on']}")
    return "\n".join(lines)
