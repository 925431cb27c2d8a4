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

import doc_blocks as blocks  # noqa: E402
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


BLOCKS = {
    "performance-summary": (ROOT / "docs" / "performance.md", newest_runs, _summary),
    "readme-figures": (ROOT / "README.md", newest_runs, _readme),
    "call-figures": (ROOT / "docs" / "performance.md", ROOT / "docs" / "performance-calls-2026-12-06.json", blocks.calls),
    "dispatch-figures": (ROOT / "docs" / "dispatch.md", ROOT / "docs" / "dispatch-figures.json", blocks.dispatch),
    "structure-figures": (ROOT / "docs" / "performance.md", ROOT / "docs" / "performance-structure-2026-12-06.json",
                          blocks.structure),
    "backup-figures": (ROOT / "docs" / "deployment.md", ROOT / "docs" / "performance-backup-2026-12-06.json", blocks.backup),
    "search-figures": (ROOT / "docs" / "api.md", ROOT / "docs" / "performance-search-2026-12-06.json", blocks.search),
    "county-figures": (ROOT / "docs" / "county.md", ROOT / "docs" / "performance-county-2026-12-06.json", blocks.county),
    "floor-figures": (ROOT / "docs" / "performance.md", ROOT / "docs" / "performance-2026-12-07-h.json", blocks.floor),
    "schedule-figures": (ROOT / "docs" / "performance.md", ROOT / "docs" / "profile-call-threads-2026-12-07-c.json",
                         blocks.schedule),
    "wake-figures": (ROOT / "docs" / "performance.md", ROOT / "docs" / "compare-wake-2026-12-07.json", blocks.compared),
    "partition-figures": (ROOT / "docs" / "county.md", ROOT / "docs" / "partition-2026-12-06.json", blocks.partition),
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
