"""The server's housekeeping thread: tidal windows, statistics rollups, bad-review follow-ups,
sign-in throttles that went quiet (hourly), and erasing personal data past its retention (daily).

It wakes after commits (at most every ``MIN_GAP`` seconds) and every
``[tidal] check_seconds`` anyway, since waits grow with the clock. Each round
first looks without writing (:func:`queue_server.domain.tidal.plan`), so a calm
hall never takes the write lock; a decision is then made again inside one
transaction, so two server processes cannot both act on it. With several
processes only the one holding the MQTT publisher's lock runs rounds.
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta

from queue_server.domain import followups, retention, statistics, throttles, tidal
from queue_server.domain.context import SYSTEM

log = logging.getLogger("hallq.watch")
MIN_GAP = 2.0
THROTTLES_EVERY = timedelta(hours=1)
FOLLOWUPS_PER_ROUND = 200  # bad ratings given a follow-up per round: a catch-up is many short transactions


class Watch:
    def __init__(self, state) -> None:
        self.state = state
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0
        self._throttles_at: datetime | None = None  # hall time of the last look at quiet throttles
        self._retention_day: date | None = None  # the hall day personal data was last erased for

    def start(self) -> None:
        self.state.db.add_commit_listener(self._wake.set)
        self._thread = threading.Thread(target=self._run, name="hallq-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        period = self.state.hall.config.tidal.check_seconds
        while not self._stop.is_set() and not self.state._closed:
            self._wake.wait(period)
            self._wake.clear()
            if self._stop.is_set() or self.state._closed:
                break
            try:
                self.run_once()
            except Exception:
                if self.state._closed:
                    break
                log.exception("housekeeping round failed; will retry")
            self._stop.wait(MIN_GAP)

    def run_once(self) -> dict:
        """One round; returns what it did (for tests and logs)."""
        st = self.state
        if st.publisher is not None and not st.publisher.leader:
            return {}
        self.rounds += 1
        now = st.hall.now()
        done: dict = {}
        with st.db.read() as conn:
            queues = st.snapshots.queues(conn, now)
            todo = tidal.plan(conn, st.hall.config.tidal, queues, now)
            pending = followups.pending_count(conn)
        if todo:
            with st.service.transaction(SYSTEM) as tx:
                done["tidal"] = tidal.evaluate(tx, queues)
            for change in done["tidal"]:
                log.info("tidal: %s %s %s", *change)
        if pending:
            with st.service.transaction(SYSTEM) as tx:
                done["followups"] = followups.open_pending(tx, limit=FOLLOWUPS_PER_ROUND)
        rolled = statistics.roll_up_pending(st.db, now, limit=5)
        if rolled:
            done["rolled_up"] = rolled
        if self._throttles_at is None or not timedelta(0) <= now - self._throttles_at < THROTTLES_EVERY:
            self._throttles_at = now
            if throttles.quiet_due(st.db.connection(), now):
                with st.service.transaction(SYSTEM) as tx:
                    done["throttles_ended"] = throttles.forget_quiet(tx)
        if self._retention_day != now.date():
            erased = retention.erase_personal_data(st.service, now.date())
            self._retention_day = now.date()
            if any(erased.values()):
                done["erased"] = erased
                log.info("personal data erased after [privacy] personal_data_days: %s", erased)
        return done


def start_watch(app) -> Watch:
    """Start the housekeeping thread of a serving app (not of unit tests' apps)."""
    watch = Watch(app.extensions["hallq"])
    app.extensions["hallq_watch"] = watch
    watch.start()
    return watch

