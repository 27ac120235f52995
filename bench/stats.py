"""The summary every figure of the benchmark gets: a median, a confidence interval of it, and quartiles."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

Z_95 = 1.959964
#: Below this many rounds the interval's normal approximation is too rough to judge a target by.
MIN_JUDGED = 20


@dataclass
class Spread:
    """A sample summarised: median, a 95% confidence interval of the median, and quartiles."""

    median: float
    ci_low: float
    ci_high: float
    p25: float
    p75: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """Summarise ``values``.

        The confidence interval comes from order statistics (the binomial count of values below the true median,
        in its normal approximation), so it assumes nothing about the shape of the distribution; with fewer than
        six values it is the whole range.

        :param values: at least one measurement

        :returns: the summary (every field equal for a single value)

        """
        ordered = sorted(values)
        n = len(ordered)
        if n == 1:
            only = ordered[0]
            return cls(only, only, only, only, only, 1)
        p25, median, p75 = statistics.quantiles(ordered, n=4, method="inclusive")
        half = Z_95 * math.sqrt(n) / 2
        # The ranks n/2 - half and 1 + n/2 + half, counted from 1 and rounded to the nearest.
        low = max(0, round(n / 2 - half) - 1)
        high = min(n - 1, round(n / 2 + half))
        return cls(median, ordered[low], ordered[high], p25, p75, n)

    def cell(self, digits: int = 3) -> str:
        """Format with the confidence interval and the interquartile range.

        :param digits: decimals to show, 3 for a ratio, 0 for microseconds

        :returns: e.g. ``1.012 [1.009-1.015] (0.970-1.052)``

        """
        median, low, high, p25, p75 = (
            f"{v:.{digits}f}" for v in (self.median, self.ci_low, self.ci_high, self.p25, self.p75)
        )
        return f"{median} [{low}-{high}] ({p25}-{p75})"

    def verdict(self, target: float, *, fewest: int = MIN_JUDGED, unit: str = "rounds") -> str:
        """Judge the median against a target ratio.

        :param target: the largest acceptable ratio
        :param fewest: the fewest values to judge by
        :param unit: what the values are, for the verdict on too few of them

        :returns: ``met`` when the whole confidence interval is within it, ``missed`` when none of it is,
            ``not shown`` otherwise, and ``too few rounds`` (or other ``unit``) below ``fewest``

        """
        if self.n < fewest:
            return f"too few {unit}"
        if self.ci_high <= target:
            return "met"
        if self.ci_low > target:
            return "missed"
        return "not shown"
