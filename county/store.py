"""Storing events exactly once in effect, and the quarantine: the platform's writes to PostgreSQL.

:func:`apply` takes a batch of checked messages (events and refusals, from :mod:`county.intake`) and
writes them in one transaction, hall by hall in arrival order:

* an event is ``INSERT ... ON CONFLICT (site, seq) DO NOTHING``: the primary key (site, seq) is what
  makes a re-delivered event (QoS 1, a bridge's resend, the same entry heard live and fetched over
  HTTP) a no-op. When the number is taken, the stored digest decides: the same event is a duplicate
  (counted, dropped); another event under a used number (a hall replaying with a reset sequence, its
  database replaced) is quarantined as ``seq_reset`` with an alert, never stored over the first;
* every seq at or below a hall's ``high_water`` is accounted for (stored, quarantined, or confirmed
  absent by the hall's own journal): an event there that is not already stored is a replay as above;
* ``high_water`` moves up while the next number is accounted for; an event above ``high_water + 1``
  means a gap, which :func:`apply` reports so the caller fetches it from the hall's journal;
* a refusal goes to ``quarantine`` (the first 4 KB of the payload) with an open alert per hall and
  reason; a flood of them is thinned (:class:`Thinner`), and :func:`prune_quarantine` keeps the table within
  ``QUARANTINE_KEEP_DAYS`` and ``QUARANTINE_KEEP_PER_HALL`` rows a hall, so it cannot fill the disk.

:func:`apply_page` does the same for one page of a hall's journal fetched over HTTP, and since that
page is the hall's own answer to "everything after N", it also confirms absent whatever numbers between
N and the page's end it does not hold.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field

from county.intake import Event, Refused

log = logging.getLogger("hallq.county.ingest")

# reasons whose seq is the hall's own and final: the number is accounted for (quarantined, not missing)
ACCOUNTED = {"clock_skew", "bad_catchup"}
# the quarantine's retention (prune_quarantine, hourly on the ingesting process): rows older than this go, and a
# hall (or the rows with no hall) keeps only its newest rows past the cap; 4 KB each: 40 MB a hall at most
QUARANTINE_KEEP_DAYS = 30
QUARANTINE_KEEP_PER_HALL = 10_000


@dataclass
class Outcome:
    new: int = 0
    duplicates: int = 0
    quarantined: int = 0
    gaps: set[str] = field(default_factory=set)  # halls with a gap to fetch


class Thinner:
    """At most ``per_minute`` quarantine rows per (hall, reason) a minute; the rest are counted and logged."""

    def __init__(self, per_minute: int = 60) -> None:
        self.per_minute = per_minute
        self._window: dict[tuple, tuple[float, int]] = {}
        self.dropped = 0

    def allow(self, key: tuple) -> bool:
        now = time.monotonic()
        start, n = self._window.get(key, (now, 0))
        if now - start >= 60:
            if n > self.per_minute:
                log.warning("quarantine %s: %d more refusals in the last minute not kept (counted only)", key,
                            n - self.per_minute)
            start, n = now, 0
        self._window[key] = (start, n + 1)
        if len(self._window) > 10000:  # keys come from outside: bounded
            self._window.clear()
        if n < self.per_minute:
            return True
        self.dropped += 1
        return False


def _progress(conn, site: str, cache: dict) -> dict:
    p = cache.get(site)
    if p is None:
        p = conn.execute("SELECT high_water, max_seen FROM hall_progress WHERE site = %s FOR UPDATE",
                         (site,)).fetchone()
        if p is None:
            conn.execute("INSERT INTO hall_progress (site) VALUES (%s) ON CONFLICT DO NOTHING", (site,))
            p = conn.execute("SELECT high_water, max_seen FROM hall_progress WHERE site = %s FOR UPDATE",
                             (site,)).fetchone()
        p = {**p, "live": 0, "catchup": 0, "dups": 0, "last_at": None}
        cache[site] = p
    return p


def _accounted(conn, site: str, low: int, limit: int) -> list[int]:
    """The numbers above ``low`` accounted for (stored, or quarantined for good), first ``limit`` of them."""
    rows = conn.execute(
        "(SELECT seq FROM events WHERE site = %s AND seq > %s ORDER BY seq LIMIT %s) UNION "
        "(SELECT seq FROM quarantine WHERE site = %s AND seq > %s AND reason = ANY(%s) ORDER BY seq LIMIT %s) "
        "ORDER BY seq LIMIT %s", (site, low, limit, site, low, list(ACCOUNTED), limit, limit)).fetchall()
    return [r["seq"] for r in rows]


def _advance(conn, site: str, p: dict) -> None:
    """Move high_water up over every number accounted for right after it (one index probe while a gap stays
    open, so events arriving during a long gap do not cost more and more)."""
    chunk = 1
    while p["max_seen"] > p["high_water"]:
        seqs = _accounted(conn, site, p["high_water"], chunk)
        moved = False
        for seq in seqs:
            if seq != p["high_water"] + 1:
                return
            p["high_water"], moved = seq, True
        if not moved or len(seqs) < chunk:
            return
        chunk = min(chunk * 8, 4096)


def quarantine(conn, r: Refused, source: str, topic: str | None, thinner: Thinner | None) -> bool:
    """Keep a refusal (thinned) and raise or bump its alert; log one clear line. Whether a row was written."""
    if r.seq is not None and r.digest is not None and r.site is not None:
        same = conn.execute("SELECT 1 FROM quarantine WHERE site = %s AND seq = %s AND digest = %s LIMIT 1",
                            (r.site, r.seq, r.digest)).fetchone()
        if same:
            return False  # the same refused entry again (QoS 1, the catch-up): already kept
    if thinner is not None and not thinner.allow((r.site, r.reason)):
        return False
    log.warning("quarantined a %s event from hall %s (seq %s): %s: %s", source, r.site or "?",
                r.seq if r.seq is not None else "?", r.reason, r.detail)
    conn.execute("INSERT INTO quarantine (site, seq, reason, detail, source, topic, digest, payload) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                 (r.site, r.seq, r.reason, r.detail, source, topic, r.digest, r.payload))
    raise_alert(conn, r.site, f"quarantine_{r.reason}", r.detail)
    return True


def prune_quarantine(conn, keep_days: int = QUARANTINE_KEEP_DAYS, per_hall: int = QUARANTINE_KEEP_PER_HALL) -> int:
    """Delete the quarantine's rows older than ``keep_days`` and, per hall, all but its newest ``per_hall`` rows;
    return how many. The thinning (:class:`Thinner`) bounds a hostile hall's rows a minute, this their total.

    A row whose number was accounted for (``ACCOUNTED``) and is still above its hall's high-water mark (a gap open
    behind it) may go too: the catch-up fetches that entry from the hall's journal again, refuses it again and
    keeps it again, so nothing is lost but a fetch. Alerts stay (one open row per hall and reason)."""
    old = conn.execute("DELETE FROM quarantine WHERE received_at < now() - make_interval(days => %s)",
                       (keep_days,)).rowcount
    over = conn.execute(
        "DELETE FROM quarantine q USING (SELECT id, row_number() OVER (PARTITION BY site ORDER BY id DESC) AS n "
        "FROM quarantine) r WHERE q.id = r.id AND r.n > %s", (per_hall,)).rowcount
    if old or over:
        log.info("quarantine housekeeping: %d rows older than %d days and %d past %d rows a hall deleted", old,
                 keep_days, over, per_hall)
    return old + over


def raise_alert(conn, site: str | None, kind: str, detail: str) -> None:
    conn.execute("INSERT INTO alerts (site, kind, detail) VALUES (%s, %s, %s) "
                 "ON CONFLICT (COALESCE(site, ''), kind) WHERE cleared_at IS NULL "
                 "DO UPDATE SET count = alerts.count + 1, last_at = now(), detail = excluded.detail",
                 (site, kind, detail[:1000]))


def _store(conn, e: Event, source: str, p: dict, out: Outcome, thinner: Thinner | None) -> None:
    ev = e.event
    if e.seq <= p["high_water"]:
        row = conn.execute("SELECT digest FROM events WHERE site = %s AND seq = %s", (e.site, e.seq)).fetchone()
        if row is not None and row["digest"] == e.digest:
            out.duplicates += 1
            p["dups"] += 1
            return
        stored = "another event" if row is not None else "a number already accounted for"
        refused = Refused("seq_reset", f"seq {e.seq} is {stored} (high-water mark {p['high_water']}): the hall replays "
                          "a reset sequence (its database replaced?); not ingested", site=e.site, seq=e.seq,
                          digest=e.digest, payload=json.dumps(ev, ensure_ascii=False).encode()[:4096])
        if quarantine(conn, refused, source, None, thinner):
            out.quarantined += 1
        return
    inserted = conn.execute(
        "INSERT INTO events (site, seq, at, business_day, actor, action, ticket, business, window_no, data, digest, "
        "source) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (site, seq) DO NOTHING "
        "RETURNING seq",
        (e.site, e.seq, e.at, ev["day"], ev["actor"], ev["action"], ev["ticket"], ev["business"], ev["window"],
         json.dumps(ev["data"], ensure_ascii=False), e.digest, source)).fetchone()
    if inserted is None:
        row = conn.execute("SELECT digest FROM events WHERE site = %s AND seq = %s", (e.site, e.seq)).fetchone()
        if row["digest"] == e.digest:
            out.duplicates += 1
            p["dups"] += 1
            return
        refused = Refused("seq_reset", f"seq {e.seq} already holds another event from this hall: a replay of a "
                          "reset sequence; not ingested", site=e.site, seq=e.seq, digest=e.digest,
                          payload=json.dumps(ev, ensure_ascii=False).encode()[:4096])
        if quarantine(conn, refused, source, None, thinner):
            out.quarantined += 1
        return
    out.new += 1
    p["live" if source == "live" else "catchup"] += 1
    p["last_at"] = max(p["last_at"], e.at) if p["last_at"] else e.at
    _seen(conn, e.site, e.seq, p, out)


def _seen(conn, site: str, seq: int, p: dict, out: Outcome) -> None:
    p["max_seen"] = max(p["max_seen"], seq)
    if seq == p["high_water"] + 1:
        p["high_water"] = seq
    _advance(conn, site, p)
    if p["max_seen"] > p["high_water"]:
        out.gaps.add(site)


def _save(conn, cache: dict, heard: bool = True) -> None:
    """Write the halls' progress back in one statement (their rows are locked already, by :func:`_preload` or
    :func:`_progress`): a batch of a few hundred events touches up to every hall of the county, and an UPDATE per
    hall cost as much as the events' own INSERT at a steady 5,000 events/s (small batches)."""
    if not cache:
        return
    rows = json.dumps([{"site": site, "high_water": p["high_water"], "max_seen": p["max_seen"], "live": p["live"],
                        "catchup": p["catchup"], "dups": p["dups"],
                        "last_at": p["last_at"].isoformat() if p["last_at"] else None}
                       for site, p in sorted(cache.items())], ensure_ascii=False, separators=(",", ":"))
    conn.execute(
        "UPDATE hall_progress h SET high_water = r.high_water, max_seen = GREATEST(h.max_seen, r.max_seen), "
        "live_events = h.live_events + r.live, catchup_events = h.catchup_events + r.catchup, "
        "duplicates = h.duplicates + r.dups, last_event_at = GREATEST(h.last_event_at, r.last_at), "
        "last_heard_at = CASE WHEN %s THEN now() ELSE h.last_heard_at END "
        "FROM json_to_recordset(%s::json) AS r(site text, high_water bigint, max_seen bigint, live bigint, "
        "catchup bigint, dups bigint, last_at timestamptz) WHERE h.site = r.site", (heard, rows))


def _preload(conn, sites: set[str], cache: dict) -> None:
    """Lock and read the progress rows of a batch's halls in two statements (sorted: the same lock order as any
    other writer), rather than a round trip per hall."""
    todo = sorted(s for s in sites if s not in cache)
    if not todo:
        return
    conn.execute("INSERT INTO hall_progress (site) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING", (todo,))
    rows = conn.execute("SELECT site, high_water, max_seen FROM hall_progress WHERE site = ANY(%s) ORDER BY site "
                        "FOR UPDATE", (todo,)).fetchall()
    for r in rows:
        cache[r["site"]] = {"high_water": r["high_water"], "max_seen": r["max_seen"], "live": 0, "catchup": 0,
                            "dups": 0, "last_at": None}


def _insert_many(conn, events: list[Event], source: str) -> set[tuple[str, int]]:
    """``INSERT ... ON CONFLICT (site, seq) DO NOTHING`` of many events in one statement, one round trip whatever
    their number; the keys actually inserted. A key not returned was taken already, and the caller looks at it one
    by one (a duplicate or a replay), exactly as :func:`_store` does.

    The rows go as one JSON text (``json_to_recordset``): ``json.dumps`` writes a thousand events in C, where
    binding a dozen arrays of a thousand values each went through psycopg's Python dumpers value by value (half
    the writer's time, measured). ``at`` goes as the instant intake parsed, in Python's ISO form."""
    rows = json.dumps([{**e.event, "at": e.at.isoformat(), "digest": e.digest} for e in events], ensure_ascii=False,
                      separators=(",", ":"))
    found = conn.execute(
        "INSERT INTO events (site, seq, at, business_day, actor, action, ticket, business, window_no, data, digest, "
        "source) SELECT r.site, r.seq, r.at, r.day, r.actor, r.action, r.ticket, r.business, r.\"window\", "
        "COALESCE(r.data, '{}'), r.digest, %s FROM json_to_recordset(%s::json) AS r(site text, seq bigint, "
        "at timestamptz, day date, actor text, action text, ticket text, business text, \"window\" integer, "
        "data jsonb, digest text) ON CONFLICT (site, seq) DO NOTHING RETURNING site, seq", (source, rows)).fetchall()
    return {(r["site"], r["seq"]) for r in found}


def _flush(conn, pending: list[Event], source: str, cache: dict, out: Outcome, thinner: Thinner | None) -> None:
    """Write the events held back for one bulk insert, then account for each in arrival order."""
    if not pending:
        return
    inserted = _insert_many(conn, pending, source)
    for e in pending:
        p = cache[e.site]
        if (e.site, e.seq) in inserted:
            out.new += 1
            p["live" if source == "live" else "catchup"] += 1
            p["last_at"] = max(p["last_at"], e.at) if p["last_at"] else e.at
            _seen(conn, e.site, e.seq, p, out)
        else:
            _store(conn, e, source, p, out, thinner)  # taken: the stored digest decides (duplicate or replay)
    pending.clear()


def apply(conn, items: list[tuple[Event | Refused, str | None]], thinner: Thinner | None = None) -> Outcome:
    """Write a batch of live messages ``(checked, topic)`` in one transaction.

    The events go in bulk (:func:`_insert_many`) with the same outcome as one at a time: an event is held back
    for the bulk insert only while nothing before it in the batch could change its fate, i.e. its seq is above
    its hall's high-water mark and not already held back; a refusal, or an event that is not (a resend, a
    replay), first writes what is held back and then goes one by one, in arrival order."""
    out = Outcome()
    cache: dict[str, dict] = {}
    pending: list[Event] = []
    held: set[tuple[str, int]] = set()
    with conn.transaction():
        _preload(conn, {c.site for c, _ in items if isinstance(c, Event)}, cache)
        for checked, topic in items:
            if isinstance(checked, Refused):
                _flush(conn, pending, "live", cache, out, thinner)
                held.clear()
                if quarantine(conn, checked, "live", topic, thinner):
                    out.quarantined += 1
                if checked.reason in ACCOUNTED and checked.site and checked.seq is not None:
                    _seen(conn, checked.site, checked.seq, _progress(conn, checked.site, cache), out)
                continue
            p = _progress(conn, checked.site, cache)
            key = (checked.site, checked.seq)
            if checked.seq <= p["high_water"] or key in held:
                _flush(conn, pending, "live", cache, out, thinner)
                held.clear()
                _store(conn, checked, "live", p, out, thinner)
                continue
            pending.append(checked)
            held.add(key)
        _flush(conn, pending, "live", cache, out, thinner)
        _save(conn, cache)
    return out


def apply_page(conn, site: str, after: int, items: list[Event | Refused], next_after: int,
               thinner: Thinner | None = None, clock_offset: float | None = None) -> tuple[Outcome, int]:
    """Write one page of the hall's journal (entries after ``after``, up to ``next_after``), in one transaction;
    return what happened and the new high-water mark. ``clock_offset``: the platform's clock less the hall's,
    as the page's ``now`` showed it (seconds; None when the hall did not say)."""
    out = Outcome()
    cache: dict[str, dict] = {}
    with conn.transaction():
        p = _progress(conn, site, cache)
        for checked in items:
            if isinstance(checked, Refused):
                if quarantine(conn, checked, "catchup", None, thinner):
                    out.quarantined += 1
                continue
            _store(conn, checked, "catchup", p, out, thinner)
        if after <= p["high_water"] < next_after:
            # the hall's own journal answered "everything after `after`": every number up to next_after is known
            p["high_water"] = next_after
            p["max_seen"] = max(p["max_seen"], next_after)
            _advance(conn, site, p)
        _save(conn, cache)
        conn.execute("UPDATE hall_progress SET last_catchup_at = now(), catchup_error = NULL, "
                     "clock_offset_seconds = COALESCE(%s, clock_offset_seconds), "
                     "clock_offset_at = CASE WHEN %s::double precision IS NULL THEN clock_offset_at ELSE now() END "
                     "WHERE site = %s", (clock_offset, clock_offset, site))
    out.gaps.discard(site)
    return out, p["high_water"]


def hall_heard(conn, site: str, state: str) -> None:
    """The hall's server said it is online/offline/stopped (its availability, bridged): kept with since when."""
    if state not in ("online", "offline", "stopped"):
        return
    conn.execute("UPDATE hall_progress SET last_heard_at = CASE WHEN %s = 'online' THEN now() ELSE last_heard_at END, "
                 "server_state_since = CASE WHEN server_state IS DISTINCT FROM %s THEN now() "
                 "ELSE server_state_since END, server_state = %s WHERE site = %s", (state, state, state, site))
