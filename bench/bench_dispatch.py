"""The dispatch policies compared on simulated hall days, against the real server (issue 10's figures).

For each seed (the simulation file's own, then others) and each scenario of
config/city-hall/simulation.toml that a manager plans (``tidal_auto``
scenarios are not reproducible and are left out), the same day is played by
``hallq simulate --compare-policies``: under the previous rule (``age_limit``)
and under the promises, each on a fresh ``hallq serve``. Printed per
scenario and policy: the promise waits (minutes of opening time from the
promise's start) of green-channel and appointment tickets, the ordinary
tickets' waits from taking the number, the estimates' errors and the
range's hits, and the bound check. ``--render`` turns a saved JSON into the
table of docs/dispatch.md, which tests/test_docs_figures.py compares with
the committed JSON so the two cannot disagree.

    .venv/bin/python bench/bench_dispatch.py [--seeds 3] [--engine server|memory] > docs/dispatch-figures.json
    .venv/bin/python bench/bench_dispatch.py --render docs/dispatch-figures.json
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import time
from pathlib import Path

from common import ROOT, emit, machine

SIMULATION = ROOT / "config" / "city-hall" / "simulation.toml"
POLICIES = ("age_limit", "promises")


def play(seed: int, scenarios: list[str], engine: str) -> list[dict]:
    from simulation import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["--scenario", str(SIMULATION), "--seed", str(seed), "--only", ",".join(scenarios),
                         "--compare-policies", "--engine", engine, "--json", "-"])
    if code != 0:
        raise SystemExit(f"hallq simulate failed for seed {seed} (exit {code})")
    reports = json.loads(out.getvalue())
    return reports if isinstance(reports, list) else [reports]


def figures(rep: dict) -> dict:
    p, e = rep["promises"]["classes"], rep["estimates"]["all"]
    return {"green_p90": p["green"]["p90"], "appointment_p90": p["appointment"]["p90"],
            "green_kept": p["green"]["kept"], "appointment_kept": p["appointment"]["kept"],
            "ordinary_p90": rep["classes"]["ordinary"]["p90"], "ordinary_avg": rep["classes"]["ordinary"]["avg"],
            "hall_avg": rep["totals"]["wait_minutes"]["avg"],
            "estimate_median_error": e["median_abs_error"], "estimate_p90_error": e["p90_abs_error"],
            "range_holds": e["range_holds"],
            "beyond_bound": rep["bound"]["beyond_bound"] if "bound" in rep else None,
            "verified": rep.get("verified", {"ok": None})["ok"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="the file's seed and this many minus one others")
    ap.add_argument("--engine", choices=["server", "memory"], default="server")
    ap.add_argument("--render", metavar="JSON", help="print the docs table of a saved run and stop")
    args = ap.parse_args()
    if args.render:
        print(render(json.loads(Path(args.render).read_text(encoding="utf-8"))))
        return
    from simulation.scenario import load_simulation

    sim = load_simulation(SIMULATION)
    scenarios = [s.name for s in sim.scenarios if not s.tidal_auto]
    seeds = [sim.seed] + [sim.seed + k for k in range(1, args.seeds)]
    t0 = time.perf_counter()
    runs = []
    for seed in seeds:
        for rep in play(seed, scenarios, args.engine):
            runs.append({"seed": seed, "scenario": rep["scenario"]["name"], "policy": rep["policy"],
                         **figures(rep)})
    emit({"benchmark": "dispatch", "engine": args.engine, "simulation": str(SIMULATION.relative_to(ROOT)),
          "seeds": seeds, "scenarios": scenarios, "runs": runs, "wall_seconds": round(time.perf_counter() - t0, 1),
          "machine": machine()})


# -- the docs table ---------------------------------------------------------------------------------

ROWS = (("green_p90", "绿色通道 90% (min, from the promise)"), ("appointment_p90", "预约 90% (min, from the slot)"),
        ("ordinary_p90", "普通 90% (min, from the number)"), ("estimate_median_error", "estimate: median error"),
        ("estimate_p90_error", "estimate: p90 error"), ("range_holds", "range holds the real wait"),
        ("beyond_bound", "tickets beyond their bound"))


def _cell(values: list[float | None], share: bool) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    med, lo, hi = statistics.median(values), min(values), max(values)
    if share:
        return f"{med:.0%} ({lo:.0%}–{hi:.0%})"
    if len(set(values)) == 1:
        return f"{med:g}"
    return f"{med:.1f} ({lo:.1f}–{hi:.1f})"


def render(data: dict) -> str:
    """docs/dispatch.md's table: per scenario and figure, the median over the seeds with (min–max)."""
    lines = [f"Median over {len(data['seeds'])} simulated Mondays (seeds {', '.join(map(str, data['seeds']))}), "
             f"(min–max); engine: {data['engine']}.", "",
             "| scenario | figure | previous rule (`age_limit`) | promises |", "|---|---|---|---|"]
    for scenario in data["scenarios"]:
        for key, label in ROWS:
            cells = [_cell([r[key] for r in data["runs"] if r["scenario"] == scenario and r["policy"] == p],
                           key == "range_holds") for p in POLICIES]
            lines.append(f"| {scenario} | {label} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
