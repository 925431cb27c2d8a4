"""A figure over several runs: its median and its spread (min–max), and the format the docs print it in.

Imported by run_all.py, docs_figures.py and their tests; it imports nothing of the project's, so reading a
committed JSON never starts anything.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def spread(values: Sequence[float]) -> dict:
    """``{"median", "min", "max", "runs"}`` of the runs' values (every run kept, in order)."""
    if not values:
        raise ValueError("spread of no runs: a figure needs at least one run")
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": list(values)}


def fmt(value: float, digits: int = 1) -> str:
    """``1,234.5``: thousands grouped, ``digits`` decimals."""
    return f"{value:,.{digits}f}"


def fmt_spread(values: Sequence[float], digits: int = 1, unit: str = "") -> str:
    """``808.0/s (688.0–1,032.0)``: the median of the runs, then min–max; one run is printed alone."""
    s = spread(values)
    if len(s["runs"]) == 1:
        return f"{fmt(s['median'], digits)}{unit} (1 run)"
    return f"{fmt(s['median'], digits)}{unit} ({fmt(s['min'], digits)}–{fmt(s['max'], digits)})"


def pick(result: dict, path: Sequence[str | int]) -> float | None:
    """The number at ``path`` in one run's JSON (``("latency", "p99_ms")``), or None when that run lacks it."""
    value: object = result
    for step in path:
        try:
            value = value[step]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
