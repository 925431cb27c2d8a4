"""Run every benchmark in bench/ ``--runs`` times and keep every run in one JSON file; ``--docs`` renders the docs.

Each script is run on its own (one after another: they share the machine's
cores with the servers they start), bounded by ``--timeout``, and must print
one JSON object; what it printed, its exit code and its run time are kept,
with the machine, the date and the commit. The runs take turns (every
benchmark once, then every benchmark again), so a slower spell of the
shared machine falls on all of them rather than on one benchmark's runs.
The server benchmarks run with the broker of ``--broker`` (default the
hall's own; ``--broker hall,mosquitto`` runs each with both, side by side:
the second is kept as ``<name>@mosquitto``).

Right before every run the machine's speed is taken (bench/calibrate.py: a fixed
piece of work timed in CPU time) and kept with the run as ``calibration_ms``,
so a slower spell of shared cores shows beside the figures it made dearer.

The figures in docs/performance.md and the README, in one command (a quiet machine, about an hour):

    .venv/bin/python bench/run_all.py --runs 3 --docs

writes docs/performance-<date>.json and then rewrites the generated blocks
from it (bench/docs_figures.py); commit both. Other uses:

    .venv/bin/python bench/run_all.py --only issue,call --runs 1 --out /tmp/perf.json
    .venv/bin/python bench/run_all.py --quick --runs 1 --out /tmp/smoke.json   # seconds each: does it work?
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from calibrate import calibration_ms
from common import ROOT, machine

HERE = Path(__file__).resolve().parent
# not benchmarks
HELPERS = {"common.py", "run_all.py", "compare.py", "docs_figures.py", "doc_blocks.py", "spread.py", "calibrate.py",
           "profile_threads.py", "floor_app.py"}
FORMAT = 2  # every run kept per benchmark ("runs"); bench/docs_figures.py reads only this format
# --quick: a few seconds each, to see that every benchmark works; such a file is labelled and never rendered
QUICK = {"issue": ["--seconds", "3", "--warmup", "1"], "call": ["--seconds", "3"],
         "call_rate": ["--seconds", "2", "--warmup", "1", "--most", "300"],
         "call_scaling": ["--sizes", "10,1000", "--calls", "30"], "cost": ["--requests", "20"],
         "startup": ["--runs", "2", "--idle", "1"],
         "pages": ["--requests", "3"], "simulation": ["--until", "09:15"],
         "login_flood": ["--seconds", "1", "--rounds", "1"], "kiosk": ["--presses", "3", "--starts", "1"],
         "board": ["--calls", "20", "--flood", "2000", "--idle", "2"], "announcer": ["--calls", "10"],
         "statistics": ["--tickets", "10000", "--repeat", "1"], "backup": ["--tickets", "20000"],
         "dispatch": ["--seeds", "1"], "ime": ["--loads", "1", "--rounds", "2"],
         "app_statistics": ["--applications", "10000", "--repeat", "2"],
         "station": ["--idle", "3", "--settle", "2", "--calls", "6", "--interval", "1"],
         "floor": ["--runs", "1", "--seconds", "1"]}


def takes_broker(script: Path) -> bool:
    """Whether a benchmark starts a server and so takes ``--broker`` (bench/common.py's option)."""
    return "add_broker_option(" in script.read_text(encoding="utf-8")


def scripts(only: list[str] | None = None, skip: list[str] | None = None) -> list[Path]:
    """The benchmark scripts, by name (``bench_issue.py`` is ``issue``)."""
    found = sorted(p for p in HERE.glob("*.py") if p.name not in HELPERS and not p.name.startswith("_"))
    name = lambda p: p.stem.removeprefix("bench_")  # noqa: E731
    if only:
        unknown = set(only) - {name(p) for p in found}
        if unknown:
            raise SystemExit(f"run_all: unknown benchmarks {sorted(unknown)}; known: {[name(p) for p in found]}")
        found = [p for p in found if name(p) in only]
    return [p for p in found if name(p) not in (skip or [])]


def parse(stdout: str) -> dict | None:
    """The one JSON object a benchmark printed (anything printed before it is ignored)."""
    text = stdout.strip()
    for start in [0] + [i for i, c in enumerate(text) if c == "{" and (i == 0 or text[i - 1] == "\n")]:
        try:
            value = json.loads(text[start:])
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def run(script: Path, timeout: float, args: list[str] | None = None) -> dict:
    t0 = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(script), *(args or [])], cwd=HERE, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return {"ok": False, "seconds": round(time.perf_counter() - t0, 1), "error": f"timed out after {timeout:.0f} s",
                "stderr_tail": (e.stderr or b"")[-2000:].decode("utf-8", "replace") if isinstance(e.stderr, bytes)
                else (e.stderr or "")[-2000:]}
    seconds = round(time.perf_counter() - t0, 1)
    result = parse(done.stdout)
    entry: dict = {"ok": done.returncode == 0 and result is not None, "seconds": seconds,
                   "exit_code": done.returncode}
    if result is not None:
        entry["result"] = result
    else:
        entry["error"] = "printed no JSON object"
    if not entry["ok"]:
        entry["stderr_tail"] = done.stderr[-2000:]
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="comma-separated benchmark names (e.g. issue,simulation)")
    ap.add_argument("--skip", help="comma-separated benchmark names to leave out")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark run (default 1800)")
    ap.add_argument("--runs", type=int, default=3, help="runs of every benchmark, in turns (default 3)")
    ap.add_argument("--broker", default="hall",
                    help="comma-separated brokers for the server benchmarks: hall (default), mosquitto, none")
    ap.add_argument("--quick", action="store_true", help="a few seconds per benchmark: a smoke check, not figures")
    ap.add_argument("--out", help="the JSON file (default docs/performance-<today>.json)")
    ap.add_argument("--docs", action="store_true",
                    help="then rewrite the generated blocks of the docs from it (bench/docs_figures.py)")
    args = ap.parse_args(argv)
    chosen = scripts(args.only.split(",") if args.only else None, args.skip.split(",") if args.skip else None)
    brokers = args.broker.split(",")
    bad = set(brokers) - {"hall", "mosquitto", "none"}
    if bad or args.runs < 1:
        raise SystemExit(f"run_all: --broker takes hall, mosquitto, none (got {sorted(bad)}); --runs at least 1")
    started = datetime.now(timezone.utc)
    out_path = Path(args.out or ROOT / "docs" / f"performance-{started.date().isoformat()}.json")
    if args.docs and args.quick:
        raise SystemExit("run_all: --quick runs are a smoke check and are never rendered into the docs")
    results: dict[str, dict] = {}
    for i in range(args.runs):
        for script in chosen:
            name = script.stem.removeprefix("bench_")
            for broker in (brokers if takes_broker(script) else [None]):
                key = name if broker in (None, "hall") else f"{name}@{broker}"
                extra = (QUICK.get(name, []) if args.quick else []) + (["--broker", broker] if broker else [])
                print(f"run_all: {key} run {i + 1}/{args.runs} ...", file=sys.stderr, flush=True)
                speed = calibration_ms()  # the cores' speed right before this run (bench/calibrate.py)
                entry = run(script, args.timeout, extra)
                entry["calibration_ms"] = speed
                slot = results.setdefault(key, {"script": script.name, "arguments": extra, "runs": []})
                slot["runs"].append(entry)
                slot["ok"] = all(r["ok"] for r in slot["runs"])
                print(f"run_all: {key}: {'ok' if entry['ok'] else 'FAILED'} in {entry['seconds']} s",
                      file=sys.stderr, flush=True)
    out = {"format": FORMAT, "generated": started.isoformat(timespec="seconds"),
           "command": " ".join(["bench/run_all.py", *(argv if argv is not None else sys.argv[1:])]),
           "runs_per_benchmark": args.runs, "quick": args.quick, "machine": machine(), "git": _git(),
           "uncommitted_changes": _dirty(), "benchmarks": results}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"run_all: wrote {out_path}", file=sys.stderr)
    if args.docs:
        import docs_figures

        for line in docs_figures.write_all():
            print(f"run_all: {line}", file=sys.stderr)
    return 0 if all(r["ok"] for r in results.values()) else 1


def _git() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=5).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def _dirty() -> bool | None:
    """Whether tracked files differ from the commit (the figures are then of code no commit holds)."""
    try:
        return bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                   capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.TimeoutExpired):
        return None


if __name__ == "__main__":
    sys.exit(main())
