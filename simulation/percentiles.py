"""The arithmetic of the reports: nearest-rank percentiles and the summary of a list of waits.

Its own module so that the day's report (:mod:`simulation.stats`) and the promises' figures
(:mod:`simulation.promises`), which the report includes, both build on it without importing
each other.
"""

from __future__ import annotations

import math
from typing import Any

MIN = 60_000.0  # milliseconds in a minute: the waits are kept in ms, reported in minutes


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "avg": None, "p50": None, "p90": None, "max": None}
    return {"n": len(values), "avg": round(sum(values) / len(values), 2), "p50": round(percentile(values, 50), 2),
            "p90": round(percentile(values, 90), 2), "max": round(max(values), 2)}
