"""Did a change make hallq slower? Run benchmarks on two commits, alternately, and compare.

A figure measured today and one measured last week differ by what the shared
cores were doing (five runs of bench_issue.py on one day gave 688 to 1,032
tickets/s, issue 16). So the base commit is checked out in a git worktree and both trees'
own benchmark scripts run in turns, base and head alternating (and which goes
first alternating too), so whatever else the machine does falls on both alike.

    .venv/bin/python bench/compare.py --base 33651b7 --runs 3
    .venv/bin/python bench/compare.py --base 33651b7 --only issue,call --out docs/x.json

Prints (and with ``--out`` writes) one JSON object: every run's output for each
side, and per figure the median over the runs for each side and head's change
against base. Both trees run with this checkout's .venv; each tree's own code
comes first on the import path. Each tree's scripts run with their own
defaults: this tree's server benchmarks with the hall's own broker, a tree
from before ``--broker`` (issue 16) with MQTT pointed at a closed port.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from common import ROOT, machine

# benchmark -> (its arguments, the figures compared: name -> path in its JSON output)
BENCHMARKS = {
    "issue": (["--seconds", "8"], {"tickets_per_second": ("tickets_per_second",),
                                   "issue_p50_ms": ("latency", "p50_ms"), "issue_p99_ms": ("latency", "p99_ms"),
                                   "server_cpu_ms_per_ticket": ("server_cpu_ms_per_ticket",),
                                   "wrk_tickets_per_second": ("wrk", "tickets_per_second"),
                                   "wrk_issue_p99_ms": ("wrk", "latency", "p99_ms"),
                                   "wrk_server_cpu_ms_per_ticket": ("wrk", "server_cpu_ms_per_ticket")}),
    "call": (["--seconds", "10"], {"call_to_mqtt_p50_ms": ("latency", "p50_ms"),
                                   "call_to_mqtt_p99_ms": ("latency", "p99_ms"),
                                   "calls_not_received": ("calls_not_received",),
                                   "server_cpu_ms_per_call": ("server_cpu_ms_per_call",)}),
    "call_scaling": (["--sizes", "10,100000", "--calls", "300"],
                     {"call_p50_ms_10_waiting": ("curve", 0, "p50_ms"),
                      "call_p50_ms_100000_waiting": ("curve", 1, "p50_ms"),
                      "call_p99_ms_100000_waiting": ("curve", 1, "p99_ms")}),
}


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def worktree(rev: str) -> Path:
    """The base commit checked out beside this one (made once, reused)."""
    sha = git("rev-parse", "--short", rev)
    path = Path(tempfile.gettempdir()) / f"hallq-base-{sha}"
    if not (path / ".git").exists():
        git("worktree", "add", "--detach", "--force", str(path), sha)
    return path


def run_one(tree: Path, name: str, timeout: float) -> dict:
    args, _ = BENCHMARKS[name]
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the tree's own packages before the editable install's
    out = subprocess.run([sys.executable, str(tree / "bench" / f"bench_{name}.py"), *args], cwd=tree, env=env,
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise SystemExit(f"compare: bench_{name}.py failed in {tree} (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout)


def figure(result: dict, path: tuple) -> float:
    value: object = result
    for step in path:
        value = value[step]  # type: ignore[index]
    return float(value)  # type: ignore[arg-type]


def summarise(runs: dict[str, list[dict]], name: str) -> dict:
    out = {}
    for label, path in BENCHMARKS[name][1].items():
        base = statistics.median(figure(r, path) for r in runs["base"])
        head = statistics.median(figure(r, path) for r in runs["head"])
        out[label] = {"base_median": round(base, 3), "head_median": round(head, 3),
                      "base_runs": [round(figure(r, path), 3) for r in runs["base"]],
                      "head_runs": [round(figure(r, path), 3) for r in runs["head"]],
                      "change": round(head / base - 1, 4) if base else None}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="the commit to compare against (e.g. before a refactoring)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default=",".join(BENCHMARKS), help=f"of {', '.join(BENCHMARKS)}")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args(argv)
    names = args.only.split(",")
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        raise SystemExit(f"compare: unknown benchmarks {sorted(unknown)}; known: {sorted(BENCHMARKS)}")
    trees = {"base": worktree(args.base), "head": ROOT}
    report: dict = {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "command": "bench/compare.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                    "machine": machine(), "base": git("rev-parse", "--short", args.base),
                    "head": git("rev-parse", "--short", "HEAD"),
                    "head_uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
                    "benchmarks": {}}
    for name in names:
        runs: dict[str, list[dict]] = {"base": [], "head": []}
        for i in range(args.runs):
            for side in (("base", "head") if i % 2 == 0 else ("head", "base")):
                print(f"compare: {name} run {i + 1}/{args.runs} on {side}", file=sys.stderr)
                runs[side].append(run_one(trees[side], name, args.timeout))
        report["benchmarks"][name] = {"arguments": BENCHMARKS[name][0], "figures": summarise(runs, name), "runs": runs}
    text = json.dumps(report, ensure_ascii=False, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
