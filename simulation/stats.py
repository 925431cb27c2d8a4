"""The report of a simulated day, and the comparison of scenarios side by side. Pure.

Wait = from taking the number (issued_at) to the first call (called_at), both
as the hall answered them, per business where the number was taken.
Utilisation = the time a window had a resident called or at the counter
(walking up, recalls and service) over the time it was open for calls
(signed in, not paused, not on the lunch break). "Unserved at closing" are
the numbers still waiting when the windows stopped calling; the end-of-day
close expires them.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from typing import Any

from hallq import i18n
from hallq.i18n import pick
from simulation import promises
from simulation.percentiles import MIN, summary
from simulation.records import DayResult


def _hhmm(ms: int) -> str:
    m = ms // 60_000
    return f"{m // 60:02d}:{m % 60:02d}" if ms >= 0 else f"-{(-m) // 60:02d}:{(-m) % 60:02d}"


def peak_waiting(intervals: list[tuple[int, int]]) -> tuple[int, int | None]:
    """The most tickets waiting at once (first waits) and when."""
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    best, when, cur = 0, None, 0
    for t, d in events:
        cur += d
        if cur > best:
            best, when = cur, t
    return best, when


def report(result: DayResult, hall, run: dict[str, Any] | None = None) -> dict[str, Any]:
    """The day's figures as one JSON-ready dict."""
    tickets = result.tickets
    businesses: dict[str, Any] = {}
    for code, b in hall.businesses.items():
        mine = [t for t in tickets if t.business == code]
        turned = Counter(c for r, c in result.turned_away if r.business == code)
        if not mine and not turned:
            continue
        waits = [(t.first_call_ms - t.issued_ms) / MIN for t in mine if t.first_call_ms is not None]
        businesses[code] = {
            "name": b.name, "issued": len(mine),
            "green": sum(t.klass == "green" for t in mine), "appointment": sum(t.klass == "appointment" for t in mine),
            "served": sum(t.outcome == "done" for t in mine), "no_show": sum(t.outcome == "no_show" for t in mine),
            "unserved": sum(t.outcome == "unserved" for t in mine), "transferred_out": sum(t.transferred for t in mine),
            "requeued": sum(t.requeues for t in mine), "turned_away": dict(turned),
            "wait_minutes": summary(waits),
        }
    classes = {k: summary([(t.first_call_ms - t.issued_ms) / MIN for t in tickets
                          if t.klass == k and t.first_call_ms is not None])
               for k in ("green", "appointment", "ordinary")}
    windows = []
    for w in result.windows:
        open_ms = w.time.get("idle", 0) + w.time.get("busy", 0)
        if not open_ms and not w.served:
            continue
        windows.append({"number": w.number, "served": w.served, "busy_minutes": round(w.time.get("busy", 0) / MIN, 1),
                        "open_minutes": round(open_ms / MIN, 1),
                        "paused_minutes": round((w.time.get("paused", 0) + w.time.get("break", 0)) / MIN, 1),
                        "utilisation": round(w.time.get("busy", 0) / open_ms, 3) if open_ms else None,
                        "serves": w.serves, "lost": w.lost})
    busy = sum(w["busy_minutes"] for w in windows)
    opened = sum(w["open_minutes"] for w in windows)
    intervals = [(t.issued_ms, t.first_call_ms if t.first_call_ms is not None else result.end_ms) for t in tickets]
    peak, peak_at = peak_waiting(intervals)
    all_waits = [(t.first_call_ms - t.issued_ms) / MIN for t in tickets if t.first_call_ms is not None]
    return {
        "scenario": {"name": result.scenario.name, "title": result.scenario.title,
                     "tidal_auto": result.scenario.tidal_auto},
        "period": {"from": _hhmm(result.start_ms), "until": _hhmm(result.end_ms), "closed_at": _hhmm(result.closed_ms)},
        "totals": {
            "issued": len(tickets), "served": sum(t.outcome == "done" for t in tickets),
            "no_show": sum(t.outcome == "no_show" for t in tickets),
            "unserved": sum(t.outcome == "unserved" for t in tickets),
            "expired_at_close": result.expired_at_close,
            "turned_away": dict(Counter(c for _, c in result.turned_away)),
            "came_back_when_issuing": result.came_back,
            "bookings": result.booked, "bookings_refused": dict(Counter(c for _, c in result.booking_refused)),
            "requeued": sum(t.requeues for t in tickets),
            "requeue_refused": dict(Counter(t.requeue_refused for t in tickets if t.requeue_refused)),
            "transfers": sum(t.transferred for t in tickets),
            "wait_minutes": summary(all_waits),
            "peak_waiting": peak, "peak_at": _hhmm(peak_at) if peak_at is not None else None,
            "utilisation": round(busy / opened, 3) if opened else None,
        },
        "businesses": businesses, "classes": classes, "windows": windows,
        **_promises(result, hall),
        "notes": result.notes, "run": {"events": result.events, **(run or {})},
    }


def _promises(result: DayResult, hall) -> dict[str, Any]:
    """Targets kept, the bound replayed, the estimates checked (simulation/promises.py)."""
    out: dict[str, Any] = {"policy": hall.queue.dispatch, "estimates": promises.estimate_errors(result)}
    if result.day_start is not None:
        out["promises"] = promises.by_class(result, hall, result.day_start)
        if hall.queue.dispatch == "promises":
            out["bound"] = promises.bound_check(result, hall, result.day_start, hall.queue.max_promises_in_a_row)
    return out


# -- text tables ----------------------------------------------------------------------------

# the tables' words: simulation.<key> of simulation.po (hallq/locale/<lang>/simulation.po)
LABELS = ("business", "issued", "served", "no_show", "unserved", "avg", "p90", "max", "window", "util", "busy", "open",
          "total", "turned", "min", "best_p90", "best_unserved", "green", "appointment", "ordinary", "class", "peak",
          "same", "target", "kept", "p90_promise", "estimate", "bound", "policy", "old", "new")


def labels(lang: str) -> dict[str, str]:
    """The tables' words in ``lang`` (``estimate`` and ``bound`` keep their ``{fields}`` to fill)."""
    return {k: i18n.text(f"simulation.{k}", lang) for k in LABELS}


def width(text: str) -> int:
    """Columns a text takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(rows: list[list[str]]) -> str:
    cols = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(c + " " * (cols[i] - width(c)) if i == 0 else " " * (cols[i] - width(c)) + c
                             for i, c in enumerate(r)).rstrip())
        if k == 0:
            out.append("  ".join("-" * c for c in cols))
    return "\n".join(out)


def _m(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def render(rep: dict[str, Any], lang: str = "zh-Hans") -> str:
    """One day's report as readable tables."""
    L = labels(lang)
    t = rep["totals"]
    head = f"{rep['scenario']['name']}: {rep['scenario']['title']}  ({rep['period']['from']}–{rep['period']['until']})"
    rows = [[L["business"], L["issued"], L["served"], L["no_show"], L["unserved"], L["avg"], L["p90"], L["max"]]]
    for b in rep["businesses"].values():
        w = b["wait_minutes"]
        rows.append([pick(b["name"], lang), str(b["issued"]), str(b["served"]), str(b["no_show"]), str(b["unserved"]),
                     _m(w["avg"]), _m(w["p90"]), _m(w["max"])])
    w = t["wait_minutes"]
    rows.append([L["total"], str(t["issued"]), str(t["served"]), str(t["no_show"]), str(t["unserved"]),
                 _m(w["avg"]), _m(w["p90"]), _m(w["max"])])
    classes = class_table(rep, L)
    wins = [[L["window"], L["served"], L["busy"], L["open"], L["util"]]] + [
        [str(x["number"]), str(x["served"]), f"{x['busy_minutes']:.0f}", f"{x['open_minutes']:.0f}",
         "-" if x["utilisation"] is None else f"{x['utilisation']:.0%}"] for x in rep["windows"]]
    extra = [f"{L['peak']}: {t['peak_waiting']} ({t['peak_at']})", *promise_lines(rep, L)]
    if t["turned_away"]:
        extra.append(f"{L['turned']}: " + ", ".join(f"{k} {v}" for k, v in t["turned_away"].items()))
    extra += [f"note: {n}" for n in rep["notes"]]
    return "\n\n".join([head, table(rows), table(classes), table(wins), "\n".join(extra)])


def class_table(rep: dict[str, Any], L: dict[str, str]) -> list[list[str]]:
    """Per class: issued, waits from taking the number, and against the target (opening time from its start)."""
    promised = rep.get("promises", {}).get("classes", {})
    rows = [[L["class"], L["issued"], L["avg"], L["p90"], L["p90_promise"], L["kept"]]]
    for k, v in rep["classes"].items():
        if v["n"]:
            p = promised.get(k, {})
            rows.append([L[k], str(v["n"]), _m(v["avg"]), _m(v["p90"]), _m(p.get("p90")),
                         "-" if p.get("kept") is None else f"{p['kept']:.0%}"])
    return rows


def promise_lines(rep: dict[str, Any], L: dict[str, str]) -> list[str]:
    out = [f"{L['policy']}: {L['new'] if rep.get('policy') == 'promises' else L['old']}"]
    e = (rep.get("estimates") or {}).get("all")
    if e:
        out.append(L["estimate"].format(m=_m(e["median_abs_error"]), p=_m(e["p90_abs_error"]),
                                        h="-" if e["range_holds"] is None else f"{e['range_holds']:.0%}"))
    if rep.get("bound"):
        out.append(L["bound"].format(n=rep["bound"]["checked"], b=rep["bound"]["beyond_bound"]))
    return out


def compare(reports: list[dict[str, Any]], lang: str = "zh-Hans") -> str:
    """Scenarios side by side: waits and unserved per business, utilisation; which is best at what."""
    L = labels(lang)
    by_policy = len({x.get("policy") for x in reports}) > 1  # --compare-policies: one scenario, two rules
    names = [(L["new"] if r.get("policy") == "promises" else L["old"]) if by_policy else r["scenario"]["name"]
             for r in reports]
    rows = [[L["business"], *names]]
    codes = list(dict.fromkeys(c for r in reports for c in r["businesses"]))
    for code in codes:
        name = pick(next(r["businesses"][code]["name"] for r in reports if code in r["businesses"]), lang)
        for key, label in (("avg", L["avg"]), ("p90", L["p90"])):
            rows.append([f"{name} {label}", *[_m(r["businesses"].get(code, {}).get("wait_minutes", {}).get(key))
                                              for r in reports]])
        rows.append([f"{name} {L['unserved']}", *[str(r["businesses"].get(code, {}).get("unserved", "-"))
                                                  for r in reports]])
    for k in ("green", "appointment", "ordinary"):
        if not any(r["classes"][k]["n"] for r in reports):
            continue
        promised = [r.get("promises", {}).get("classes", {}).get(k, {}) for r in reports]
        if k == "ordinary":  # not a promise: its wait from taking the number, as the hall's other figures
            rows.append([f"{L[k]} {L['p90']}", *[_m(r["classes"][k]["p90"]) for r in reports]])
        else:  # a promise: from where it starts, in opening time, as its target counts
            rows.append([f"{L[k]} {L['p90_promise']}", *[_m(p.get("p90")) for p in promised]])
        rows.append([f"{L[k]} {L['kept']}", *["-" if p.get("kept") is None else f"{p['kept']:.0%}"
                                              for p in promised]])
    rows.append([f"{L['total']} {L['avg']}", *[_m(r["totals"]["wait_minutes"]["avg"]) for r in reports]])
    rows.append([f"{L['total']} {L['p90']}", *[_m(r["totals"]["wait_minutes"]["p90"]) for r in reports]])
    rows.append([f"{L['total']} {L['unserved']}", *[str(r["totals"]["unserved"]) for r in reports]])
    rows.append([f"{L['total']} {L['util']}", *["-" if r["totals"]["utilisation"] is None
                                                 else f"{r['totals']['utilisation']:.0%}" for r in reports]])
    titles = "\n".join(dict.fromkeys(f"  {r['scenario']['name']}: {r['scenario']['title']}" for r in reports))
    p90 = [(r["totals"]["wait_minutes"]["p90"] if r["totals"]["wait_minutes"]["p90"] is not None else math.inf,
            name) for r, name in zip(reports, names)]
    unserved = [(r["totals"]["unserved"], name) for r, name in zip(reports, names)]
    verdict = f"{L['best_p90']}: {_best(p90, L)}; {L['best_unserved']}: {_best(unserved, L)}"
    return "\n\n".join([titles, table(rows), verdict])


def _best(scored: list[tuple[float, str]], L: dict[str, str]) -> str:
    """The scenario(s) with the lowest figure, or "the same" when none is better."""
    low = min(v for v, _ in scored)
    best = [name for v, name in scored if v == low]
    return L["same"] if len(best) == len(scored) else ", ".join(best)
