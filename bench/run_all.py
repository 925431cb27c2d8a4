"""Run every benchmark in bench/ and collect their figures in docs/performance-latest.json.

Each script is run on its own (one after another: they share the machine's
cores with the servers they start), bounded by ``--timeout``, and must print
one JSON object; what it printed, its exit code and its run time are kept,
with the machine and the date, so docs/performance.md can be written from
the file.

    .venv/bin/python bench/run_all.py                     # everything (a few minutes)
    .venv/bin/python bench/run_all.py --only simulation,startup --out /tmp/perf.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from common import ROOT, machine

HERE = Path(__file__).resolve().parent
HELPERS = {"common.py", "run_all.py", "compare.py", "docs_figures.py"}  # not benchmarks


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


def run(script: Path, timeout: float) -> dict:
    t0 = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(script)], cwd=HERE, capture_output=True, text=True,
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
    ap.add_argument("--timeout", type=float, default=900, help="seconds per benchmark (default 900)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance-latest.json"))
    args = ap.parse_args(argv)
    chosen = scripts(args.only.split(",") if args.only else None, args.skip.split(",") if args.skip else None)
    started = datetime.now(timezone.utc)
    results: dict[str, dict] = {}
    for script in chosen:
        name = script.stem.removeprefix("bench_")
        print(f"run_all: {name} ...", file=sys.stderr, flush=True)
        results[name] = run(script, args.timeout)
        print(f"run_all: {name}: {'ok' if results[name]['ok'] else 'FAILED'} in {results[name]['seconds']} s",
              file=sys.stderr, flush=True)
    out = {"generated": started.isoformat(timespec="seconds"), "command": " ".join(["bench/run_all.py", *(argv or
           sys.argv[1:])]), "machine": machine(), "git": _git(), "benchmarks": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"run_all: wrote {args.out}", file=sys.stderr)
    return 0 if all(r["ok"] for r in results.values()) else 1


def _git() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=5).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


if __name__ == "__main__":
    sys.exit(main())
