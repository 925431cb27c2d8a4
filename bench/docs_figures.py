"""Figures in the docs are generated from committed JSON: this puts them there, and tests check they match.

A doc marks a generated block with ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``;
:data:`BLOCKS` says which committed JSON and which renderer fill it.
tests/test_docs_figures.py fails when a block differs from its rendering, so
a figure in the docs cannot drift from the run it came from.

    .venv/bin/python bench/docs_figures.py          # rewrite every block from its JSON
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _dispatch(data: dict) -> str:
    from bench_dispatch import render

    return render(data)


def _calls(data: dict) -> str:
    """The call-next figures: latency to an MQTT subscriber, and its flatness against the queue's size."""
    import statistics

    def spread(values: list[float], unit: str = " ms") -> str:
        return f"{statistics.median(values):.1f}{unit} ({min(values):.1f}–{max(values):.1f})"
    runs = [r["latency"] for r in data["call_to_mqtt"]]
    lines = [f"{data['date']}, {len(runs)} runs of `bench/bench_call.py` (100 calls/s for 10 s, Mosquitto), "
             "median (min–max) over the runs:", "",
             "| p50 | p90 | p99 | max | calls lost |", "|---|---|---|---|---|",
             f"| {spread([r['p50_ms'] for r in runs])} | {spread([r['p90_ms'] for r in runs])} | "
             f"**{spread([r['p99_ms'] for r in runs])}** | {spread([r['max_ms'] for r in runs])} | "
             f"{sum(r['calls_not_received'] for r in data['call_to_mqtt'])} of "
             f"{sum(r['n'] for r in runs)} |", "",
             f"{len(data['call_scaling'])} runs of `bench/bench_call_scaling.py` (every class queued), "
             "p50 of a call by the queue's size, median (min–max) over the runs:", "",
             "| waiting | p50 | p99 |", "|---|---|---|"]
    sizes = [c["waiting"] for c in data["call_scaling"][0]["curve"]]
    for i, n in enumerate(sizes):
        curve = [run["curve"][i] for run in data["call_scaling"]]
        lines.append(f"| {n:,} | {spread([c['p50_ms'] for c in curve])} | {spread([c['p99_ms'] for c in curve])} |")
    worst = [run["p50_spread_vs_smallest"] for run in data["call_scaling"]]
    lines += ["", f"Largest p50 spread against the 10-ticket queue: {statistics.median(worst):.1%} "
              f"({min(worst):.1%}–{max(worst):.1%}) (target ±20 %)."]
    return "\n".join(lines)


def _structure(data: dict) -> str:
    """Two commits benchmarked in turns (bench/compare.py): the figures of each and the change."""
    names = {"tickets_per_second": "tickets issued per second", "issue_p50_ms": "issue p50 (ms)",
             "issue_p99_ms": "issue p99 (ms)", "call_to_mqtt_p50_ms": "call next → MQTT p50 (ms)",
             "call_to_mqtt_p99_ms": "call next → MQTT p99 (ms)", "calls_not_received": "calls lost",
             "call_p50_ms_10_waiting": "call next p50, 10 waiting (ms)",
             "call_p50_ms_100000_waiting": "call next p50, 100,000 waiting (ms)",
             "call_p99_ms_100000_waiting": "call next p99, 100,000 waiting (ms)"}
    runs = len(next(iter(data["benchmarks"].values()))["runs"]["base"])
    lines = [f"{data['machine']['date']}, `{data['command']}`: base `{data['base']}` against head "
             f"`{data['head']}`, {runs} runs each, in turns; median (every run):", "",
             "| figure | base | head | change |", "|---|---|---|---|"]
    for bench in data["benchmarks"].values():
        for key, f in bench["figures"].items():
            every = lambda xs: ", ".join(f"{x:g}" for x in xs)  # noqa: E731
            change = "–" if f["change"] is None else f"{f['change']:+.1%}"
            lines.append(f"| {names.get(key, key)} | {f['base_median']:g} ({every(f['base_runs'])}) | "
                         f"{f['head_median']:g} ({every(f['head_runs'])}) | {change} |")
    return "\n".join(lines)


# name: (doc, committed JSON, renderer)
BLOCKS = {
    "call-figures": (ROOT / "docs" / "performance.md", ROOT / "docs" / "performance-calls-2026-12-06.json", _calls),
    "dispatch-figures": (ROOT / "docs" / "dispatch.md", ROOT / "docs" / "dispatch-figures.json", _dispatch),
    "structure-figures": (ROOT / "docs" / "performance.md", ROOT / "docs" / "performance-structure-2026-12-06.json",
                          _structure),
}


def rendered(name: str) -> str:
    doc, data, render = BLOCKS[name]
    return render(json.loads(data.read_text(encoding="utf-8")))


def block(name: str) -> str:
    """What the doc holds between the markers now."""
    doc = BLOCKS[name][0]
    m = re.search(rf"<!-- {name}:begin -->\n(.*?)<!-- {name}:end -->", doc.read_text(encoding="utf-8"), re.S)
    if m is None:
        raise LookupError(f"{doc}: no <!-- {name}:begin --> … <!-- {name}:end --> block")
    return m.group(1).rstrip("\n")


def write(name: str) -> None:
    doc = BLOCKS[name][0]
    text = doc.read_text(encoding="utf-8")
    new = re.sub(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)",
                 lambda m: m.group(1) + rendered(name) + "\n" + m.group(2), text, flags=re.S)
    doc.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    for name in BLOCKS:
        write(name)
        print(f"{BLOCKS[name][0].relative_to(ROOT)}: {name} written from {BLOCKS[name][1].relative_to(ROOT)}")
