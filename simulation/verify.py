"""Check a simulated day against the server's own journal (the audit trail). Pure.

The report is built from the server's answers; the journal is what the
server wrote down, in its transactions. They must tell the same story:

* the same tickets were issued, and no other;
* every issued ticket was called, or left unserved and expired by the close;
* each ticket's wait (issue → first call) is the same to the millisecond;
* the report's per-business average and p90 follow from the journal's waits;
* no ticket was called again without being put back in the queue (requeue, transfer).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from simulation.records import DayResult
from simulation.percentiles import MIN, percentile


def _ms(a: str, b: str) -> int:
    return round((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() * 1000)


def journal_waits(entries: list[dict[str, Any]], day: str) -> dict[str, dict[str, Any]]:
    """Per ticket label of ``day``: business, issued and first-call times, final state, from the journal."""
    tickets: dict[str, dict[str, Any]] = {}
    for e in entries:
        label = e.get("ticket")
        if not label or not e["at"].startswith(day):
            continue
        t = tickets.setdefault(label, {"business": None, "issued": None, "first_call": None, "calls": [],
                                       "final": None, "expired_reason": None, "back_in_queue": 0})
        action = e["action"]
        if action == "issue":
            t["business"], t["issued"] = e["business"], e["at"]
        elif action == "call":
            t["calls"].append((e["at"], e["window"]))
            if t["first_call"] is None:
                t["first_call"] = e["at"]
        elif action in ("complete", "no_show", "expire", "cancel"):
            t["final"] = action
            if action == "expire":
                t["expired_reason"] = (e.get("data") or {}).get("reason")
        elif action in ("requeue", "transfer"):
            t["final"] = None
            t["back_in_queue"] += 1
    return tickets


def verify(result: DayResult, rep: dict[str, Any], entries: list[dict[str, Any]], day: str) -> dict[str, Any]:
    """Compare the run and its report with the journal; ``ok`` with the problems found."""
    problems: list[str] = []
    journal = journal_waits(entries, day)
    issued = {k: v for k, v in journal.items() if v["issued"] is not None}
    mine = {t.label: t for t in result.tickets}
    if set(issued) != set(mine):
        problems.append(f"tickets issued: journal has {sorted(set(issued) - set(mine))[:5]} the run does not, "
                        f"the run has {sorted(set(mine) - set(issued))[:5]} the journal does not")
    waits: dict[str, list[float]] = {}
    for label, j in issued.items():
        t = mine.get(label)
        if j["first_call"] is None:
            if j["final"] != "expire" or j["expired_reason"] != "day_closed":
                problems.append(f"{label}: never called, yet not expired by the end-of-day close ({j['final']})")
            if t is not None and t.outcome != "unserved":
                problems.append(f"{label}: the run says {t.outcome}, the journal says never called")
            continue
        wait = _ms(j["issued"], j["first_call"])
        waits.setdefault(j["business"], []).append(wait / MIN)
        if t is not None and t.first_call_ms is not None and t.first_call_ms - t.issued_ms != wait:
            problems.append(f"{label}: wait {t.first_call_ms - t.issued_ms} ms in the run, {wait} ms in the journal")
        if t is not None and t.outcome == "unserved" and j["final"] != "expire":
            problems.append(f"{label}: unserved in the run but {j['final']} in the journal")
    unserved = sorted(t.label for t in result.tickets if t.outcome == "unserved")
    expired = sorted(k for k, v in issued.items() if v["final"] == "expire" and v["expired_reason"] == "day_closed")
    if unserved != expired:
        problems.append(f"unserved at closing: run {len(unserved)}, expired by the close {len(expired)}")
    for code, values in waits.items():
        got = rep["businesses"].get(code, {}).get("wait_minutes", {})
        want_avg = round(sum(values) / len(values), 2)
        want_p90 = round(percentile(values, 90), 2)
        if got.get("avg") != want_avg or got.get("p90") != want_p90:
            problems.append(f"{code}: report avg/p90 {got.get('avg')}/{got.get('p90')}, "
                            f"journal {want_avg}/{want_p90}")
    for label, j in issued.items():
        if len(j["calls"]) > 1 + j["back_in_queue"]:
            problems.append(f"{label}: called {len(j['calls'])} times but put back in the queue only "
                            f"{j['back_in_queue']} times")
    return {"ok": not problems, "tickets": len(issued), "problems": problems}
