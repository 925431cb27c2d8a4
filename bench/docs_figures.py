"""Figures in the docs are generated from committed JSON: this puts them there, and tests check they match.

A doc marks a generated block with ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``;
:data:`BLOCKS` says which committed JSON and which renderer fill it.
tests/test_docs_figures.py fails when a block differs from its rendering, so
a figure in the docs cannot drift from the run it came from.

The summary of docs/performance.md and the README's figures come from the
committed runs of ``bench/run_all.py`` (docs/performance-<date>.json in its
format 2, not a ``--quick`` one), each figure from the newest run of its
benchmark: every figure the median of its runs with their min–max, which run
it is from, and how the server ran as the run read it from the server.
Without such a file they say so instead of showing a figure.

    .venv/bin/python bench/docs_figures.py          # rewrite every block from its JSON
    .venv/bin/python bench/run_all.py --runs 3 --docs   # measure, then the same
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from spread import fmt_spread, pick, spread  # noqa: E402

DOCS = ROOT / "docs"
NO_RUN = ("No committed run of the benchmarks yet: these figures are generated from "
          "`docs/performance-<date>.json`, written by `.venv/bin/python bench/run_all.py --runs 3 --docs` "
          "(see [How the figures are made](docs/performance.md#how-the-figures-are-made)).")


def _full_runs(folder: Path) -> list[tuple[str, str, Path, dict]]:
    """The committed ``bench/run_all.py`` outputs in ``folder`` the docs may show (format 2, not quick), newest first."""
    found = []
    for path in folder.glob("performance-*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("format") == 2 and not data.get("quick"):
            found.append((data.get("generated", ""), path.name, path, data))
    return sorted(found, reverse=True)


def newest_runs(folder: Path = DOCS) -> list[Path]:
    """The committed full runs the summary shows, newest first: for every benchmark (and broker) the newest run
    that measured it, so a run of a few benchmarks adds their figures without hiding the others'."""
    shown, seen = [], set()
    for _generated, _name, path, data in _full_runs(folder):
        fresh = set(data.get("benchmarks") or {}) - seen
        if fresh:
            shown.append(path)
            seen |= fresh
    return shown


def _newest_of(runs: list[tuple[Path, dict]]) -> dict[str, tuple[int, Path, dict]]:
    """Each benchmark key (``issue``, ``issue@mosquitto`` …) → the number, path and data of the newest run of it."""
    chosen: dict[str, tuple[int, Path, dict]] = {}
    for number, (path, data) in enumerate(runs, 1):
        for key in data["benchmarks"]:
            chosen.setdefault(key, (number, path, data))
    return chosen


# (benchmark, figure, path in one run's JSON, decimals, unit, target as written, target value, "<=" or ">=", scale)
ROWS: list[tuple] = [
    ("issue", "tickets issued per second, `wrk` load, 16 connections", ("wrk", "tickets_per_second"), 0, "/s",
     "≥ 1,500/s", 1500, ">=", 1),
    ("issue", "issue latency p99, `wrk` load", ("wrk", "latency", "p99_ms"), 1, " ms", "≤ 30 ms", 30, "<=", 1),
    ("issue", "tickets issued per second, Python client (2 processes × 8 threads)", ("python", "tickets_per_second"),
     0, "/s", "≥ 1,500/s", 1500, ">=", 1),
    ("issue", "issue latency p99, Python client", ("python", "latency", "p99_ms"), 1, " ms", "≤ 30 ms", 30, "<=", 1),
    ("issue", "server CPU per ticket issued (its processes' user + system time, Python client load)",
     ("server_cpu_ms_per_ticket",), 2, " ms", "≤ 0.5 ms", 0.5, "<=", 1),
    ("call", "server CPU per call next with completion, 100 calls/s (idle work included)",
     ("server_cpu_ms_per_call",), 2, " ms", "≤ 1.0 ms", 1.0, "<=", 1),
    ("call", "call next → call event at an MQTT subscriber, 100 calls/s, p99", ("latency", "p99_ms"), 1, " ms",
     "≤ 20 ms", 20, "<=", 1),
    ("call", "calls whose event never arrived", ("calls_not_received",), 0, "", "0", 0, "<=", 1),
    ("call_rate", "calls next with completion per second, 16 windows at once (`wrk`, one connection per window)",
     ("calls_per_second",), 0, "/s", "≥ 800/s", 800, ">=", 1),
    ("call_rate", "… its latency p99", ("latency", "p99_ms"), 1, " ms", "–", None, "<=", 1),
    ("call_rate", "… server CPU per call at that rate", ("server_cpu_ms_per_call",), 2, " ms", "–", None, "<=", 1),
    ("call_rate", "… calls whose event never arrived", ("calls_not_received",), 0, "", "0", 0, "<=", 1),
    ("call_scaling", "call next p50, 10 … 100,000 waiting: largest spread against 10", ("p50_spread_vs_smallest",),
     1, " %", "within ±20 %", 20, "<=", 100),
    ("startup", "server cold start until healthy and publishing, p50", ("cold_start", "p50_ms"), 0, " ms",
     "≤ 1,500 ms", 1500, "<=", 1),
    ("startup", "server idle RSS (Granian's master and worker)", ("idle_memory_mb", "rss_max"), 1, " MB", "≤ 80 MB",
     80, "<=", 1),
    ("startup", "its broker's idle RSS", ("idle_memory_mb", "broker_rss_max"), 1, " MB", "–", None, "<=", 1),
    ("login_flood", "call next p95 during a flood of wrong passwords, against idle",
     ("p95_ratio", "flood_many_clients"), 2, "×", "≤ 2×", 2, "<=", 1),
    ("pages", "console pages and polled endpoints, worst p95", ("worst_p95_ms",), 1, " ms", "≤ 200 ms", 200, "<=", 1),
    ("simulation", "a hall day against the real server: requests per second", ("server", "requests_per_second"), 0,
     "/s", "–", None, ">=", 1),
    ("backup", "`hallq backup` of a year (1,000,000 tickets) under load", ("runs", 0, "backup_seconds"), 1, " s",
     "≤ 30 s", 30, "<=", 1),
    ("backup", "issue p99 during the backup", ("runs", 0, "issue_during", "p99_ms"), 1, " ms", "≤ 100 ms", 100, "<=",
     1),
    ("statistics", "statistics over 1,000,000 tickets: worst report", ("largest", "worst_report_ms"), 0, " ms",
     "≤ 500 ms", 500, "<=", 1),
    ("app_statistics", "application statistics over 100,000 applications: worst report p99", ("worst_p99_ms",), 0,
     " ms", "≤ 500 ms", 500, "<=", 1),
    ("board", "call event → board drawn, p99", ("call_to_drawn", "p99_ms"), 1, " ms", "≤ 100 ms", 100, "<=", 1),
    ("board", "board idle CPU", ("idle_cpu_percent_of_one_core", "no_notices"), 1, " % of a core", "≤ 5 %", 5,
     "<=", 1),
    ("board", "board RSS after 100,000 events", ("flood", "rss_mb", -1, "rss_mb"), 1, " MB", "≤ 150 MB", 150, "<=",
     1),
    ("announcer", "call event → announcement audio ready, p99", ("uncached", "p99_ms"), 1, " ms", "≤ 300 ms", 300,
     "<=", 1),
    ("announcer", "… phrases cached, p99", ("cached", "p99_ms"), 1, " ms", "≤ 50 ms", 50, "<=", 1),
    ("kiosk", "kiosk cold start to the home screen", ("cold_start_to_home", "median_s"), 2, " s", "≤ 3 s", 3, "<=",
     1),
    ("kiosk", "kiosk \"confirm\" → ticket bytes at the printer, p95", ("confirm_to_printer", "latency", "p95_ms"), 1,
     " ms", "≤ 1,000 ms", 1000, "<=", 1),
    ("kiosk", "a printed ticket's ESC/POS", ("confirm_to_printer", "ticket_bytes", "max"), 0, " bytes", "≤ 1,024",
     1024, "<=", 1),
    ("ime", "pinyin keyboard: a lookup, p99", ("lookup", "p99_ms"), 1, " ms", "–", None, "<=", 1),
    ("station", "village station on one box, idle: CPU of all its processes", ("idle_summary",
     "cpu_percent_of_one_core"), 1, " % of a core", "≤ 10 %", 10, "<=", 1),
    ("station", "… idle: RSS summed over all its processes", ("idle_summary", "rss_mb_sum"), 0, " MB", "≤ 450 MB",
     450, "<=", 1),
    ("station", "… idle: the board's RSS", ("idle_summary", "board_rss_mb"), 1, " MB", "≤ 150 MB", 150, "<=", 1),
    ("station", "… peak hour: call → board drawn, p99", ("peak", "call_to_board_drawn", "p99_ms"), 1, " ms",
     "≤ 100 ms", 100, "<=", 1),
    ("cost", "instructions per ticket issued, the server's request path in one thread (callgrind: the same on "
     "any day)", ("instructions_per_ticket",), 3, " M", "–", None, "<=", 1e-6),
    ("cost", "instructions per call next with completion, the same way", ("instructions_per_call",), 3, " M", "–",
     None, "<=", 1e-6),
    ("cost", "… with the publisher on, per ticket: every thread until published", ("with_publishing",
     "instructions_per_ticket"), 3, " M", "–", None, "<=", 1e-6),
    ("cost", "… with the publisher on, per call", ("with_publishing", "instructions_per_call"), 3, " M", "–", None,
     "<=", 1e-6),
    ("cost", "… its thread CPU per call, calls back to back (caches warm)", ("native", "thread_cpu_ms_per_call"), 2,
     " ms", "–", None, "<=", 1),
    ("cost", "… the same calls, each after 10 ms asleep (a hall's pace: 100 calls/s)",
     ("after_gap", "10 ms", "thread_cpu_ms_per_call"), 2, " ms", "–", None, "<=", 1),
]


def as_run(result: dict) -> str:
    """How the server of a run ran, as the run read it from the server's /api/v1/health (bench/common.labels)."""
    sy = result.get("system")
    if not sy:
        return "no server"
    if "in_process" in sy:  # bench_cost: the app called in-process, no HTTP server, no broker
        return sy["in_process"]
    broker = {"hall": "hall's own broker", "mosquitto": "own Mosquitto", "none": "no broker"}.get(
        sy.get("broker_choice"), str(sy.get("broker_choice")))
    link = "" if sy.get("mqtt_link") in ("connected", "follower") else f" ({sy.get('mqtt_link')})"
    sq, sv = sy.get("sqlite") or {}, sy.get("server") or {}
    return (f"{broker}{link}; `synchronous={sq.get('synchronous', '?')}`, {sq.get('journal_mode', '?')}; "
            f"{sv.get('workers', '?')}×{sv.get('threads', '?')}")


def figures(data: dict, bench: str, path: tuple, scale: float = 1) -> tuple[list[float], int, str] | None:
    """The values of one figure over the successful runs of ``bench``, how many runs there were, and how it ran."""
    entry = data["benchmarks"].get(bench)
    if not entry:
        return None
    ok = [r["result"] for r in entry["runs"] if r.get("ok") and "result" in r]
    values = [v * scale for v in (pick(r, path) for r in ok) if v is not None]
    if not values:
        return None
    runs = {as_run(r) for r in ok}
    return values, len(entry["runs"]), "; ".join(sorted(runs))


def _header(data: dict, path: Path, link: str) -> str:
    m = data["machine"]
    dirty = " with uncommitted changes" if data.get("uncommitted_changes") else ""
    return (f"Generated from [`{path.name}`]({link}): `{data['command']}`, {data['generated'][:10]}, commit "
            f"`{data.get('git')}`{dirty}; {data['runs_per_benchmark']} runs of each benchmark, in turns; "
            f"{m.get('cpus')} × {m.get('cpu_model', '?')}, load average {m.get('load_average_1_5_15', '?')} "
            f"at the start (the load generators share these cores){_speed(data)}. Each figure: the median of the runs "
            f"(min–max).")


def _speed(data: dict) -> str:
    """The reference work's CPU time over the runs (bench/calibrate.py), where the file has it: how fast the
    cores were in this spell, so a figure of CPU per operation can be told from the machine's mood."""
    times = [r["calibration_ms"] for b in data["benchmarks"].values() for r in b["runs"] if "calibration_ms" in r]
    if not times:
        return ""
    return (f"; the machine's speed: the reference work of `bench/calibrate.py` took {fmt_spread(times, 0, ' ms')} "
            f"of CPU before the runs (more is slower)")


def _reference(data: dict) -> str:
    """The median time of the reference work over a file's runs, where it has it: how fast its cores were."""
    times = [r["calibration_ms"] for b in data["benchmarks"].values() for r in b["runs"] if "calibration_ms" in r]
    return f" (reference work {spread(times)['median']:.0f} ms)" if times else ""


def _pacing(data: dict, key: str) -> str:
    """How bench_cost's publisher was paced in a run, as the run says (``with_publishing.paced``); runs made before
    it said so let the publisher's clock decide when its snapshot sets fell."""
    for run in data["benchmarks"][key]["runs"]:
        counted = (run.get("result") or {}).get("with_publishing")
        paced = counted.get("paced") if isinstance(counted, dict) else None
        if isinstance(paced, str) and paced:
            return paced
    return ("the publisher on its own clock: its time-driven snapshot sets weigh more under Valgrind's ~50× slower "
            "clock, and spread")


def _load(paths: list[Path]) -> list[tuple[Path, dict]]:
    return [(p, json.loads(p.read_text(encoding="utf-8"))) for p in paths]


def _keys(chosen: dict, bench: str) -> list[str]:
    """The keys of one benchmark, the hall's broker first (``issue``, then ``issue@mosquitto`` …)."""
    return sorted((k for k in chosen if k == bench or k.startswith(bench + "@")), key=lambda k: (k != bench, k))


def _summary(paths: list[Path]) -> str:
    if not paths:
        return NO_RUN.replace("docs/performance.md#", "#")
    runs = _load(paths)
    chosen = _newest_of(runs)
    lines = ["Each figure comes from the newest committed run of its benchmark (the table's *run* column):", ""]
    lines += [f"{n}. {_header(data, path, path.name)}" for n, (path, data) in enumerate(runs, 1)]
    lines += ["", "| figure | target | measured | runs | as run | run | |", "|---|---|---|---|---|---|---|"]
    for bench, label, fpath, digits, unit, target_text, target, direction, scale in ROWS:
        for key in _keys(chosen, bench):
            number, _path, data = chosen[key]
            found = figures(data, key, fpath, scale)
            if found is None:
                lines.append(f"| {label} | {target_text} | failed or not measured | "
                             f"{len(data['benchmarks'][key]['runs'])} | | {number} | |")
                continue
            values, count, how = found
            if fpath[0] == "with_publishing":  # bench_cost's second count: the same app with its publisher on
                how = how.replace("one thread", "and the publisher's thread").replace(
                    "no publisher", "publishing to a Mosquitto of its own") + "; " + _pacing(data, key)
            med = spread(values)["median"]
            verdict = "" if target is None else ("met" if (med <= target if direction == "<=" else med >= target)
                                                 else "**not met**")
            lines.append(f"| {label} | {target_text} | {fmt_spread(values, digits, unit)} | {len(values)} of {count} "
                         f"| {how} | {number} | {verdict} |")
    return "\n".join(lines)


README_ROWS = {("issue", ("wrk", "tickets_per_second")), ("issue", ("wrk", "latency", "p99_ms")),
               ("issue", ("python", "tickets_per_second")), ("call", ("latency", "p99_ms")),
               ("call_rate", ("calls_per_second",)), ("call_scaling", ("p50_spread_vs_smallest",)),
               ("startup", ("idle_memory_mb", "rss_max")), ("board", ("call_to_drawn", "p99_ms")),
               ("board", ("flood", "rss_mb", -1, "rss_mb"))}


def _readme(paths: list[Path]) -> str:
    if not paths:
        return NO_RUN
    runs = _load(paths)
    chosen = _newest_of(runs)
    wanted = [r for r in ROWS if (r[0], r[2]) in README_ROWS]
    used = sorted({chosen[r[0]][0] for r in wanted if r[0] in chosen})
    counts = sorted({runs[n - 1][1]["runs_per_benchmark"] for n in used})
    files = ", ".join(f"[`{runs[n - 1][0].name}`](docs/{runs[n - 1][0].name}) of {runs[n - 1][1]['generated'][:10]}"
                      f"{_reference(runs[n - 1][1])}" for n in used)
    lines = [f"Medians of {' or '.join(map(str, counts)) or 'no'} runs (min–max), "
             f"{runs[0][1]['machine'].get('cpus')} shared cores, the server with the hall's own broker, each from the "
             f"newest committed run of its benchmark ([docs/performance.md](docs/performance.md); {files}):", ""]
    for bench, label, fpath, digits, unit, target_text, _target, _direction, scale in wanted:
        found = figures(chosen[bench][2], bench, fpath, scale) if bench in chosen else None
        shown = "not measured" if found is None else fmt_spread(found[0], digits, unit)
        lines.append(f"- {label}: {shown} (target {target_text})")
    return "\n".join(lines)


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


# name: (doc, committed JSON (or a function finding it, None when there is none), renderer)
def _backup(data: dict) -> str:
    """hallq backup of a year while kiosks issue: its time and the issue latency before and during it."""
    import statistics

    def spread(values: list[float], unit: str) -> str:
        return f"{statistics.median(values):.1f}{unit} ({min(values):.1f}–{max(values):.1f})"
    runs = data["runs"]
    secs = [r["backup_seconds"] for r in runs]
    during = [r["issue_during"]["p99_ms"] for r in runs]
    before = [r["issue_before"]["p99_ms"] for r in runs]
    t = data["targets"]
    lines = [f"{data['machine']['date']}, {len(runs)} runs of `bench/bench_backup.py` ({data['tickets']:,} tickets, "
             f"{runs[0]['database_mb']:.0f} MB; kiosks issuing {data['rate_per_s']:.0f} tickets/s throughout; "
             f"{data['machine']['cpus']} cores, load average {data['machine']['load_average_1_5_15'][0]:.1f} at the "
             "start), median (min–max):", "",
             "| backup | issue p99 before | issue p99 during | tickets lost or refused |", "|---|---|---|---|",
             f"| **{spread(secs, ' s')}** (target ≤ {t['backup_seconds']} s) | {spread(before, ' ms')} | "
             f"**{spread(during, ' ms')}** (target ≤ {t['issue_p99_ms_during']} ms) | "
             f"{sum(r['errors'] for r in runs)} |"]
    return "\n".join(lines)


def _search(data: dict) -> str:
    """Item search over 2,000 items through a real server: p50/p99 per run, median (min–max)."""
    import statistics

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} ms ({min(values):.1f}–{max(values):.1f})"
    runs = data["runs"]
    m = data.get("machine") or {}
    return "\n".join([
        f"{m.get('date', '')}, {len(runs)} runs of `bench/bench_search.py` ({data['items']:,} items, 23 queries × 30, "
        f"one keep-alive client, the hall's own broker on; load average {(m.get('load_average_1_5_15') or [0])[0]:.1f} "
        "at the start), median (min–max):", "",
        "| p50 | p99 | index rebuild | unexpected statuses |", "|---|---|---|---|",
        f"| {spread([r['overall']['p50_ms'] for r in runs])} | **{spread([r['overall']['p99_ms'] for r in runs])}** "
        f"(target ≤ {data['target_p99_ms']} ms) | {spread([r['index_rebuild']['median_ms'] for r in runs])} | "
        f"{sum(len(r['unexpected_status']) for r in runs)} |"])


def _partition(data: dict) -> str:
    """Issue 13's partition runs (tests/county/test_partition.py, HALLQ_PARTITION_JSON), one file of them all
    (``{"runs": [...]}``): every run in a line with the medians and spreads, then the median run in detail."""
    runs = data["runs"] if "runs" in data else [data]
    if len(runs) == 1:
        return _partition_run(runs[0])
    by_catch_up = sorted(runs, key=lambda r: r["caught_up_seconds_max"] or float("inf"))
    median_run = by_catch_up[(len(runs) - 1) // 2]
    caught = [r["caught_up_seconds_max"] for r in runs if r["caught_up_seconds_max"] is not None]
    lines = [f"{len(runs)} full runs, medians (min–max): the last partitioned hall caught up "
             f"{fmt_spread(caught, 1, ' s') if caught else 'never'} after its link's return (target "
             f"≤ {runs[0]['catch_up_target_seconds']:.0f} s); events lost {sum(r['lost'] for r in runs)} and counted "
             f"twice {sum(r['duplicates'] for r in runs)} in all {sum(r['events'] for r in runs):,}; issue p99 of the "
             f"worst hall during the partition {fmt_spread([r['issue_p99_ms_max_during'] for r in runs], 0, ' ms')}.",
             "", "| run | commit | load average at the start | events | lost | counted twice | last caught up | "
             "issue p99, worst hall, before / during |", "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(runs, 1):
        lines.append(f"| {i} | `{r['git']}` | {r['machine']['load_average_1_5_15'][0]:.1f} | {r['events']:,} | "
                     f"{r['lost']} | {r['duplicates']} | "
                     + ("–" if r["caught_up_seconds_max"] is None else f"{r['caught_up_seconds_max']:.1f} s")
                     + f" | {r['issue_p99_ms_max_before']:.0f} / {r['issue_p99_ms_max_during']:.0f} ms |")
    lines += ["", f"Run {runs.index(median_run) + 1}, the median, in detail:", "", _partition_run(median_run)]
    return "\n".join(lines)


def _partition_run(data: dict) -> str:
    """One partition run: the whole, then each hall."""
    import statistics

    m, imp, halls = data["machine"], data["impairment"], data["per_hall"]
    cut = {s: h for s, h in halls.items() if h["partitioned"]}
    caught = [h["caught_up_seconds"] for h in cut.values() if h["caught_up_seconds"] is not None]
    link = next((r for r in (imp.get("emulator_at_end") or {}).get("rules", []) if r["packets"]), None)
    through = (f" The emulator carried {link['packets']:,} packets of the halls' links and lost "
               f"{link['lost']:,} of them ({link['lost'] / link['packets']:.2%}), {link['overflow']} over its "
               "limit." if link else "")
    late = (imp.get("emulator_at_end") or {}).get("late")
    if late:
        through += (f" It wrote the packets it held {late['mean_ms']:.1f} ms after their due time on average, "
                    f"{late['max_ms']:.0f} ms at most ({late['over_50_ms']:,} of {late['held']:,} over 50 ms).")
    cuts = [r for r in (imp.get("emulator_during_partition") or {}).get("rules", []) if r["loss"] >= 1]
    if cuts:
        through += (f" During the partition it dropped all {sum(r['lost'] for r in cuts):,} packets to and from the "
                    f"{len(cuts)} cut halls ({sum(r['packets'] for r in cuts):,} sent).")
    dirty = f" (uncommitted changes in {', '.join(data['uncommitted_changes'])})" if data["uncommitted_changes"] else ""
    ingest = data.get("county_ingest")
    if ingest:
        through += (f" The county's `[ingest]`: `catchup_threads = {ingest['catchup_threads']}`, `catchup_page = "
                    f"{ingest['catchup_page']}`, `reconcile_seconds = {ingest['reconcile_seconds']:g}`.")
    lines = [
        f"{data['generated'][:10]}, `{data['command']}`, commit `{data['git']}`{dirty}; {m['cpus']} × "
        f"{m['cpu_model']}, kernel {m['kernel']}, load average {m['load_average_1_5_15'][0]:.1f} at the start "
        f"(shared with other work). Links: {imp['what']}.{through}", "",
        "| halls | partitioned | for | events | lost | counted twice | quarantined | caught up after the link's "
        "return | issue p99, worst hall, before / during |", "|---|---|---|---|---|---|---|---|---|",
        f"| {data['halls']} | {data['partitioned']} | {data['partition_seconds']:.0f} s | {data['events']:,} | "
        f"**{data['lost']}** | **{data['duplicates']}** | {data['quarantined']} | "
        + (f"**{max(caught):.1f} s** at most, median {statistics.median(caught):.1f} s "
           f"(target ≤ {data['catch_up_target_seconds']:.0f} s)" if caught else "–")
        + (f", **not in time: {', '.join(data['not_caught_up_in_time'])}**" if data["not_caught_up_in_time"] else "")
        + (f", **not at all in {data['catch_up_target_seconds'] + data['waited_for_late_halls_seconds']:.0f} s: "
           f"{', '.join(data['not_caught_up_at_all'])}**" if data.get("not_caught_up_at_all") else "")
        + f" | {data['issue_p99_ms_max_before']:.0f} ms / {data['issue_p99_ms_max_during']:.0f} ms |", "",
        "| hall | partitioned | events | behind at the link's return | heard again / caught up after it | "
        "by catch-up / live | issue p50 / p99 before | issue p50 / p99 during |", "|---|---|---|---|---|---|---|---|"]

    def secs(x: float | None) -> str:
        return "–" if x is None else f"{x:.1f} s"
    for site, h in halls.items():
        b, d = h["issue_before"], h["issue_during"]
        lines.append(
            f"| {site} | {'yes' if h['partitioned'] else 'no'} | {h['events']:,} | "
            f"{'–' if h['behind_at_link_return'] is None else format(h['behind_at_link_return'], ',')} | "
            f"{secs(h.get('first_heard_seconds'))} / {secs(h['caught_up_seconds'])} | "
            f"{h['received_by_catch_up']:,} / {h['received_live']:,} | {b['p50_ms']:.0f} / {b['p99_ms']:.0f} ms | "
            f"{d['p50_ms']:.0f} / {d['p99_ms']:.0f} ms |")
    return "\n".join(lines)


def _county(data: dict) -> str:
    """Issue 13's ingestion target, from bench/bench_county.py runs: as fast as the broker takes them (the
    sustained rate) and at 5,000 events/s (commit → visible in the console)."""
    fast, steady = data["max"], data["rate_5000"]
    loads = [r["machine"]["load_average_1_5_15"][0] for r in fast + steady]
    cpu = lambda part, runs: fmt_spread([r["cpu"][f"{part}_cpu_s_per_1000_events"] for r in runs], 3, " s")  # noqa
    rate = [r["ingested_per_s_sustained"] for r in fast]
    p99 = [r["commit_to_visible_ms"]["p99_ms"] for r in steady]
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    return "\n".join([
        f"{data['generated'][:10]}, commit `{data['git']}`, {fast[0]['halls']} halls, {len(fast)} runs of "
        f"`{data['commands']['max']}` and {len(steady)} of `{data['commands']['rate_5000']}`; "
        f"{fast[0]['machine']['cpus']} × {fast[0]['machine']['cpu_model']}, load average "
        f"{min(loads):.1f}–{max(loads):.1f} at the runs' start ({data['note']}). Medians (min–max):", "",
        "| figure | target | measured | |", "|---|---|---|---|",
        f"| events ingested per second, sustained, publishers as fast as the broker takes them | ≥ 5,000/s | "
        f"{fmt_spread(rate, 0, '/s')} | {met(spread(rate)['median'] >= 5000)} |",
        f"| a hall's commit → visible in the supervision view, p99, at "
        f"{spread([r['published_per_s'] for r in steady])['median']:,.0f} events/s | ≤ 2,000 ms | "
        f"{fmt_spread(p99, 0, ' ms')} | {met(spread(p99)['median'] <= 2000)} |",
        f"| CPU per 1,000 events at 5,000/s: platform / PostgreSQL / NATS | – | {cpu('platform', steady)} / "
        f"{cpu('postgresql', steady)} / {cpu('nats', steady)} | |"])


BLOCKS = {
    "performance-summary": (ROOT / "docs" / "performance.md", newest_runs, _summary),
    "readme-figures": (ROOT / "README.md", newest_runs, _readme),
    "call-figures": (ROOT / "docs" / "performance.md", ROOT / "docs" / "performance-calls-2026-12-06.json", _calls),
    "dispatch-figures": (ROOT / "docs" / "dispatch.md", ROOT / "docs" / "dispatch-figures.json", _dispatch),
    "structure-figures": (ROOT / "docs" / "performance.md", ROOT / "docs" / "performance-structure-2026-12-06.json",
                          _structure),
    "backup-figures": (ROOT / "docs" / "deployment.md", ROOT / "docs" / "performance-backup-2026-12-06.json", _backup),
    "search-figures": (ROOT / "docs" / "api.md", ROOT / "docs" / "performance-search-2026-12-06.json", _search),
    "county-figures": (ROOT / "docs" / "county.md", ROOT / "docs" / "performance-county-2026-12-06.json", _county),
    "partition-figures": (ROOT / "docs" / "county.md", ROOT / "docs" / "partition-2026-12-06.json", _partition),
}


def source(name: str) -> Path | list[Path]:
    """The committed JSON a block is made from (the summaries: the newest run of each benchmark)."""
    found = BLOCKS[name][1]
    return found() if callable(found) else found


def rendered(name: str) -> str:
    doc, _, render = BLOCKS[name]
    path = source(name)
    if render in (_summary, _readme):
        return render(path)
    assert path is not None
    return render(json.loads(path.read_text(encoding="utf-8")))


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


def write_all() -> list[str]:
    """Rewrite every block; say what was written from what."""
    done = []
    for name in BLOCKS:
        write(name)
        paths = source(name)
        names = ", ".join(str(p.relative_to(ROOT)) for p in (paths if isinstance(paths, list) else [paths]))
        done.append(f"{BLOCKS[name][0].relative_to(ROOT)}: {name} written from {names or '(no committed run yet)'}")
    return done


if __name__ == "__main__":
    for line in write_all():
        print(line)
