"""Catch-up: whatever live delivery missed is fetched from the hall's own journal over HTTP.

A hall's journal is the truth, numbered without reuse; ``GET /api/v1/journal?after=N&limit=M`` pages it,
read with the county's own key for that hall (a ``[[devices]] kind = "county"`` key: it may read the
journal and nothing else). A hall is caught up:

* at the platform's start, every hall (events may have been missed while it was down);
* when a live event leaves a gap (its seq is above the hall's high-water mark + 1);
* when the hall's server comes back online (its availability, bridged with its journal);
* every ``[ingest] reconcile_seconds``, every hall: the tail of a hall's journal that never arrived live
  (the bridge's queue overflowed during a long outage, the hall went quiet after the loss) shows up here.

Each page is stored in one transaction (:func:`county.store.apply_page`), so a page is all in or not
at all, and the high-water mark moves to the page's end. A hall that cannot be reached is retried with
a growing delay (up to ``[ingest] catchup_retry_max`` seconds), its error kept in
``hall_progress.catchup_error``, never blocking the other halls: halls are caught up on a pool of
``catchup_threads`` workers, and an attempt at a hall that cannot be reached holds its worker for
``catchup_connect_timeout`` seconds at most (a cut line loses the connection's SYN: nothing answers). So after
a partition of many halls each is tried again within seconds of its link's return (issue 13: every hall caught
up within 60 s; docs/county.md, "Partition").
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from county import db as county_db
from county import intake, store
from county.config import CountyConfig, CountyConfigError, Ingest, resolve_secret
from hallq.client import ApiError, HallClient

log = logging.getLogger("hallq.county.catchup")

# The hall serves at most 1,000 entries a page, each mostly well under 1 KB (its data is cut to 4 KB in the
# events the platform stores): a page answer over this is no honest journal page and is not read on (16 halls are
# caught up at once). A page found too big is asked again with fewer entries, down to one.
PAGE_MAX_BYTES = 8 * 1024 * 1024
CLOCK_SLACK_SECONDS = 60  # a hall's clock read from a page may be this much further ahead than intake allows


class CatchUp:
    def __init__(self, cfg: CountyConfig, thinner: store.Thinner) -> None:
        self.cfg = cfg
        self.thinner = thinner
        self._pending: set[str] = set()
        self._running: set[str] = set()
        self._retry_at: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=cfg.ingest.catchup_threads, thread_name_prefix="county-catchup")
        self._local = threading.local()
        self._thread: threading.Thread | None = None
        self.fetched = 0  # events fetched (new ones) since start
        self.rounds = 0

    # -- what to do --------------------------------------------------------------------------

    def request(self, site: str, now: bool = False) -> None:
        """Fetch ``site``'s journal past its high-water mark soon; ``now``: without waiting out the delay
        after failures (the hall just said it is back online)."""
        if site not in self.cfg.halls:
            return
        with self._lock:
            self._pending.add(site)
            if now:
                self._retry_at.pop(site, None)
        self._wake.set()

    def busy(self) -> list[str]:
        """The halls waiting for, or in, a catch-up."""
        with self._lock:
            return sorted(self._pending | self._running)

    def request_all(self) -> None:
        with self._lock:
            self._pending.update(s for s, h in self.cfg.halls.items() if h.active)
        self._wake.set()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="county-catchup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        self.request_all()
        next_round = time.monotonic() + self.cfg.ingest.reconcile_seconds
        while not self._stop.is_set():
            self._wake.wait(max(0.05, min(1.0, next_round - time.monotonic())))
            self._wake.clear()
            if time.monotonic() >= next_round:
                self.request_all()
                next_round = time.monotonic() + self.cfg.ingest.reconcile_seconds
            now = time.monotonic()
            with self._lock:
                ready = {s for s in self._pending - self._running if self._retry_at.get(s, 0) <= now}
                self._pending -= ready
                self._running |= ready
            for site in sorted(ready):
                self._pool.submit(self._one, site)

    # -- one hall ------------------------------------------------------------------------------

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = county_db.connect(self.cfg.database_url)
            self._local.conn = conn
        return conn

    def _one(self, site: str) -> None:
        try:
            self.catch_up(site)
            self._failures.pop(site, None)
            self._retry_at.pop(site, None)
        except Exception as e:  # a hall away, a bad answer, the database away: this hall only, retried later
            n = self._failures.get(site, 0) + 1
            self._failures[site] = n
            delay = min(self.cfg.ingest.catchup_retry_max, 0.5 * 2 ** min(n, 7))
            self._retry_at[site] = time.monotonic() + delay
            what = f"{e.__class__.__name__}: {e}"[:300]
            if n == 1 or n % 10 == 0:
                log.warning("catch-up of hall %s failed (%d in a row; next try in %.0f s): %s", site, n, delay, what)
            try:
                conn = self._conn()
                with conn.transaction():
                    conn.execute("UPDATE hall_progress SET catchup_error = %s WHERE site = %s", (what, site))
            except Exception:
                self._local.conn = None
            with self._lock:
                self._pending.add(site)  # retried after the delay
        finally:
            with self._lock:
                self._running.discard(site)
            self._wake.set()

    def catch_up(self, site: str) -> int:
        """Fetch and store every entry of ``site``'s journal past its high-water mark; return how many were new."""
        hall = self.cfg.halls[site]
        try:
            key = resolve_secret(hall.credential, f"hall {site}'s credential")
        except CountyConfigError as e:
            raise RuntimeError(str(e)) from None
        # no inner retry: this hall's own delay paces the next try, and a worker is not held by a hall that is away
        client = HallClient(hall.journal_url, token=key, timeout=10, retries=0, ca_file=hall.cafile or None,
                            connect_timeout=self.cfg.ingest.catchup_connect_timeout, max_answer_bytes=PAGE_MAX_BYTES)
        conn = self._conn()
        row = conn.execute("SELECT high_water FROM hall_progress WHERE site = %s", (site,)).fetchone()
        conn.commit()
        after = row["high_water"] if row else 0
        new = 0
        limit = self.cfg.ingest.catchup_page
        clock_told = False
        try:
            while not self._stop.is_set():
                try:
                    asked = time.time()
                    page = client.get(f"/journal?after={after}&limit={limit}")
                    offset, problem = hall_clock(page, (asked + time.time()) / 2, self.cfg.ingest)
                except ApiError as e:
                    if e.code == "answer_too_large" and limit > 1:
                        limit = max(1, limit // 4)
                        log.warning("hall %s's journal page after %d is over %d bytes: asking %d entries a page",
                                    site, after, PAGE_MAX_BYTES, limit)
                        continue
                    raise RuntimeError(f"GET {hall.journal_url}/api/v1/journal answered {e.status} {e.code}"
                                       + (" (is the county's key in the hall's [[devices]], kind = \"county\"?)"
                                          if e.status in (401, 403) else "")
                                       + (f" (one entry over {PAGE_MAX_BYTES} bytes: not read)"
                                          if e.code == "answer_too_large" else "")) from None
                if problem and not clock_told:  # once a catch-up: the hall's clock is read again on the next
                    log.warning("hall %s's clock is not used: %s", site, problem)
                    clock_told = True
                entries, next_after = self._page(site, after, page)
                now = datetime.now(timezone.utc)
                items = [intake.fetched(site, e, self.cfg.ingest, now) for e in entries]
                out, high = store.apply_page(conn, site, after, items, next_after, self.thinner, offset)
                new += out.new
                self.fetched += out.new
                if out.new or out.quarantined:
                    log.info("caught up hall %s: %d new, %d duplicates, %d quarantined (seq %d..%d)", site, out.new,
                             out.duplicates, out.quarantined, after + 1, next_after)
                if len(entries) < limit or next_after <= after:
                    break
                after = max(high, next_after)
        finally:
            client.close()
        self.rounds += 1
        return new

    @staticmethod
    def _page(site: str, after: int, page) -> tuple[list, int]:
        """The entries and the next cursor of a journal page, checked: numbers rising, all after ``after``."""
        if not isinstance(page, dict) or not isinstance(page.get("entries"), list) \
                or type(page.get("next_after")) is not int:
            raise RuntimeError(f"hall {site}'s journal page is not {{entries: [...], next_after: n}}")
        entries, next_after = page["entries"], page["next_after"]
        last = after
        for e in entries:
            if isinstance(e, dict) and e.get("site", site) != site:
                raise RuntimeError(f"hall {site}'s journal_url answers for hall {str(e.get('site'))[:40]!r}: fix its "
                                   "journal_url in county.toml (nothing stored)")
            seq = e.get("seq") if isinstance(e, dict) else None
            if type(seq) is not int or seq <= last or seq >= 2**63:
                raise RuntimeError(f"hall {site}'s journal page after {after} is out of order at {seq!r} "
                                   "(numbers must rise): not stored")
            last = seq
        if next_after != last:
            # an empty page ends where it began: a next_after beyond the page's last entry would move the hall's
            # high-water mark over numbers nobody has seen, and every later real event would be refused (seq_reset)
            raise RuntimeError(f"hall {site}'s journal page after {after} says next_after {next_after}, its entries "
                               f"end at {last}" + ("" if entries else " (none: the page is empty)")
                               + ": not stored")
        return entries, next_after


def clock_offset(page, platform_time: float, rules: Ingest | None = None) -> float | None:
    """The platform's clock less the hall's, in seconds, from a journal page's ``now`` (the hall's clock as it
    answered) and the platform's time halfway through the request; None when the page has no usable ``now``.

    A hall whose events all came by catch-up (its bridge down, or the catch-up faster than the bridge) is still
    read on its own clock: the console's and 就近办's "today" and waits are the hall's (county/console.py).

    >>> clock_offset({"now": "2026-12-07T09:00:00+08:00"}, datetime(2026, 12, 7, 1, 0, 5, tzinfo=timezone.utc).timestamp())
    5.0
    >>> clock_offset({"now": "not a time"}, 0.0) is None and clock_offset({}, 0.0) is None
    True
    >>> clock_offset({"now": "9999-12-31T23:59:59-23:59"}, 0.0) is None  # beyond what intake accepts: not used
    True
    """
    return hall_clock(page, platform_time, rules)[0]


def hall_clock(page, platform_time: float, rules: Ingest | None = None) -> tuple[float | None, str | None]:
    """:func:`clock_offset`, and why the page's ``now`` was not used when it was there but not usable.

    An offset is used only within what intake accepts of the hall's entries' times (``[ingest]``): the hall's
    clock at most ``max_clock_ahead_seconds`` (plus a minute for the request) ahead of the platform's, at most
    ``max_age_days`` behind it. A clock further off has all its entries refused (``clock_skew``) anyway, and an
    offset of thousands of years would break every reading of the hall's "today" (console, alerts, 就近办)."""
    rules = rules or Ingest()
    raw = page.get("now") if isinstance(page, dict) else None
    if raw is None:
        return None, None
    try:
        hall = datetime.fromisoformat(raw) if isinstance(raw, str) and len(raw) <= 40 else None
    except ValueError:
        hall = None
    if hall is None or hall.tzinfo is None:
        return None, f"its journal page's now {str(raw)[:40]!r} is not a time with its offset"
    offset = platform_time - hall.timestamp()
    ahead, behind = rules.max_clock_ahead_seconds + CLOCK_SLACK_SECONDS, rules.max_age_days * 86400
    if not -ahead <= offset <= behind:
        return None, (f"its journal page's now {raw} is {abs(offset):.0f} s "
                      f"{'ahead of' if offset < 0 else 'behind'} the platform's clock, beyond what intake accepts "
                      f"(max_clock_ahead_seconds {rules.max_clock_ahead_seconds}, max_age_days {rules.max_age_days})")
    return offset, None
