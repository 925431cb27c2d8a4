"""Publishing committed changes over MQTT: the journal is the outbox.

Every state change is committed together with its journal entry; this
publisher then reads the journal in order and publishes

* every journal entry on ``hallq/<site>/journal`` (QoS 1, with its journal
  sequence number: what the hall's broker bridges to the county platform),
* each call, recall and call-back on ``hallq/<site>/calls`` (QoS 1, with its
  call sequence number), and
* fresh retained snapshots of what the entries touched: the board, the
  windows and the business queues (and notices), as the registry of journal
  actions says (queue_server/domain/actions.py; an action it does not know is
  logged and waits for the periodic refresh),

so nothing is ever published that was not committed, and nothing committed
is forgotten: if the broker is away the cursor simply does not move, and on
every (re)connect the publisher republishes every retained snapshot, then
the calls it had not yet sent (calls older than ``replay_max_age`` are not
re-announced; the boards show them in their recent calls anyway). A call
committed before the (re)connect and sent after it carries ``"replayed":
true``: the announcers judge only those by their age, never a live call.
A clean stop saves the cursor, so a restart re-sends nothing.

Calls are sent the moment they are read. Snapshots are coalesced: the
entries read mark what is stale, and the stale snapshots are rebuilt at most
every ``SNAPSHOT_INTERVAL`` (0.25 s), so a burst of a hundred changes costs
one board, not a hundred; a change in a quiet moment goes out at once.

It runs as one thread woken by each commit (``Database`` commit listener),
which also does its MQTT connection's network I/O: a connection without paho
(hallq/mqttlink.py, ``WireConnection.start(waker)``), which waits on the
commits' wake-ups and the broker's socket together, writes a step's messages
in one send and reads every acknowledgement that came in one recv.
With several server processes on one database, exactly one publishes: the
one holding the ``publisher.lock`` file lock; if it dies the lock is freed
and another takes over. The others wake it after each of their commits with
an empty datagram on a Unix socket of its own (Linux's abstract namespace,
named after the lock file, so nothing is left on disk when it dies:
queue_server/leadership.py, ``Doorbell``), so an
idle hall costs no polling: the journal is read again only on a wake-up and,
as a safety net, every ``SAFETY_POLL`` (1 s). Where that socket cannot be
had, it polls every ``poll_interval`` (20 ms) as before.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hallq import contract
from hallq.mqttbase import Waker
from hallq.mqttlink import WireConnection
from queue_server.db import Database
from queue_server.domain import actions
from queue_server.domain.actions import Stale
from queue_server.domain.context import Hall
from queue_server.leadership import Doorbell, Leadership
from queue_server.snapshots import Snapshots

log = logging.getLogger("hallq.publisher")

PERIODIC = 15.0  # seconds between refreshes of time-dependent snapshots (waits, opening state)
# at most four snapshot sets a second, however many changes; calls are never held back (the boards, strips and
# announcers take them from the calls topic), and a change after a quiet quarter second goes out at once. 0.1 s
# built a set for every tenth call at 100 calls/s: a set costs as much as several calls' publishing
SNAPSHOT_INTERVAL = 0.25
SAFETY_POLL = 1.0  # with the wake socket: how often the journal is read anyway (a write that woke no one)
BATCH = 1000  # journal entries read per step; a full batch steps again at once
ACK_LATENCY = 0.05  # seconds the broker's answers may wait to be read while only a commit wakes the publisher
# between two batches of the subscriptions' deferred work (a flood of device health reports, _drain): the thread
# waits this long, as idle, so the HTTP threads (and the commit of a call, which wakes it at once) are not kept
# waiting for the GIL or the database by a flood
DEFERRED_PAUSE = 0.01


class _Dirty:
    """What the changes since the last snapshots made stale."""

    def __init__(self) -> None:
        self.windows: set[int] = set()
        self.businesses: set[str] = set()
        self.board = False
        self.notices = False
        self.everything = False

    @property
    def pending(self) -> bool:
        return bool(self.windows or self.businesses or self.board or self.notices or self.everything)


class Publisher:
    def __init__(self, db: Database, hall: Hall, connection_factory: Callable[[], WireConnection], data_dir: Path,
                 replay_max_age: float = 120.0, poll_interval: float = 0.02,
                 subscriptions: list[tuple[str, Any]] | None = None) -> None:
        self.db = db
        self.subscriptions = subscriptions or []  # (topic filter, handler): listened to while leading
        # a handler with offer/drain (queue_server/health_listener.py) only takes its messages in the read; their
        # work is done after each step, a bounded amount at a time (_drain), so that it never holds up a call
        self._drains = [h.drain for _, h in self.subscriptions if callable(getattr(h, "drain", None))]
        self._deferred_left = False  # a drain left work for the next step
        self.hall = hall
        self.snap = Snapshots(hall)
        self._factory = connection_factory
        self.conn: WireConnection | None = None
        self.lock_path = data_dir / "publisher.lock"
        self.replay_max_age = replay_max_age
        self.poll_interval = poll_interval  # without the wake socket; with it, SAFETY_POLL
        self.safety_poll = SAFETY_POLL
        self._bell = Doorbell(self.lock_path, "publisher")  # the followers' commits wake the leader
        self._wake = Waker()  # commits set it; the MQTT I/O waits on it together with the broker's socket
        self._full = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lead = Leadership(self.lock_path)
        self.cursor = 0
        self._replay_until = 0  # journal seq: the calls up to it were committed before the last (re)connect
        self._cursor_saved = 0
        self._cursor_saved_at = 0.0
        self._last: dict[str, bytes] = {}
        self._last_periodic = 0.0
        self._last_snapshot = 0.0
        self._failing_since: float | None = None
        self._last_failure_log = 0.0
        self._dirty = _Dirty()
        self._unknown: set[str] = set()  # journal actions not registered, warned about once
        self.published_calls = 0

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self.db.add_commit_listener(self._committed)
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
        if self.leader and not (self._thread and self._thread.is_alive()):
            try:  # what was sent is not sent again after a restart (the periodic save lags up to a second)
                self._save_cursor(force=True)
            except sqlite3.Error:
                log.exception("could not save the publisher's cursor at stop: calls up to the last second may be "
                              "sent again after the restart")
        if self.conn is not None:
            self.conn.stop()
        self._bell.close()
        self._lead.release()

    def wake(self) -> None:
        self._wake.set()

    def _committed(self) -> None:
        """A commit of this process: wake this publisher, or, when another process leads, that one."""
        self._wake.set()
        if not self._lead.held:
            # no leader yet (it reads the journal from its cursor when it starts), or its queue is full of wake-ups
            # already: either way this commit is read
            self._bell.ring()

    def _open_inbox(self) -> None:
        """Listen for the other processes' commits; without it, poll every ``poll_interval``."""
        try:
            self._bell.listen(self._wake.set, "mqtt-publisher-wake")
        except OSError as e:
            log.warning("the other server processes cannot wake the publisher (%s); polling the journal every %g s",
                        e, self.poll_interval)

    @property
    def leader(self) -> bool:
        return self._lead.held

    # -- the loop ---------------------------------------------------------------------

    def _try_lead(self) -> bool:
        if not self._lead.take():
            return False
        self._open_inbox()  # before the cursor is read: a commit after it wakes us
        saved = self.db.connection().execute("SELECT value FROM meta WHERE key = 'published_seq'").fetchone()
        top = self.db.connection().execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]
        self.cursor = int(saved[0]) if saved else top
        self._cursor_saved = self.cursor
        self.conn = self._factory()
        self.conn.on_connect(self._full.set)
        self.conn.on_connect(self._wake.set)
        for topic_filter, handler in self.subscriptions:
            self.conn.subscribe(topic_filter, self._deferred(handler), qos=0)
        self.conn.start(self._wake)  # its network I/O runs in this thread, in _wait()
        log.info("publishing hall state to %s (from journal seq %d)", self.conn.address, self.cursor)
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.leader:
                if not self._try_lead():
                    self._stop.wait(1.0)
                    continue
            self._wait(self._next_wait())
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self._step()
                self._drain()
                self._failing_since = None
            except Exception:
                # a lasting fault (a full disk) must not write a traceback twice a second
                now = time.monotonic()
                if self._failing_since is None or now - self._last_failure_log > 60:
                    log.exception("publishing failed; retrying every 0.5 s (logged again in a minute if it lasts)")
                    self._last_failure_log = now
                self._failing_since = self._failing_since or now
                self._stop.wait(0.5)

    def _deferred(self, handler: Any) -> Any:
        """What to subscribe for ``handler``: its ``offer``, which wakes this thread when it has work, if it has one."""
        offer = getattr(handler, "offer", None)
        if offer is None or not self._drains:
            return handler

        def take(topic: str, payload: bytes, retained: bool) -> None:
            if offer(topic, payload, retained):
                self._wake.set()
        return take

    def _drain(self) -> None:
        """The subscriptions' deferred work, a bounded batch each (a flood of device health reports waits for the
        next steps, never a call): after the step's messages are written."""
        conn = self.conn
        left = False
        for drain in self._drains:
            if conn is not None and conn.connected.is_set() and conn.pending_write():
                conn.serve(0.0)
            left = drain() or left
        self._deferred_left = left  # more: the next step comes after DEFERRED_PAUSE, or a commit

    def _wait(self, timeout: float) -> None:
        """Until woken or ``timeout``, doing the connection's I/O meanwhile (acknowledgements, keepalive).

        What the last step queued is written at once (a call goes out now). The broker's answers are not
        urgent (acknowledgements, the devices' health): for up to ``ACK_LATENCY`` only a commit wakes this
        thread, so that at a hall's busy pace they are read with the next step's write rather than each
        waking the thread on its own (a wake-up costs more CPU than the reading, docs/performance.md)."""
        conn = self.conn
        assert conn is not None, "only the leader waits on its connection"
        deadline = time.monotonic() + timeout
        conn.serve(0.0)  # writes what is queued, reads what has come; connects and pings when due
        quiet_until = time.monotonic() + ACK_LATENCY
        while not (self._wake.is_set() or self._stop.is_set()):
            now = time.monotonic()
            if now >= deadline:
                return
            if conn.connected.is_set() and now < quiet_until and not conn.pending_write():
                self._wake.wait(min(deadline, quiet_until) - now)
                continue
            conn.serve(deadline - now)

    def _next_wait(self) -> float:
        poll = self.safety_poll if self._bell.listening else self.poll_interval
        if self._deferred_left:
            poll = min(poll, DEFERRED_PAUSE)
        if self._dirty.pending and self.conn is not None and self.conn.connected.is_set():  # (flushed once connected)
            return max(0.0, min(poll, self._last_snapshot + SNAPSHOT_INTERVAL - time.monotonic()))
        return poll

    def _step(self) -> None:
        conn = self.conn
        if conn is None or not conn.connected.is_set():
            return
        db = self.db.connection()
        now = self.hall.now()
        if self._full.is_set():
            self._full.clear()
            self._last.clear()
            # every call committed until now and sent from here on is a re-send (held while the broker was away, or
            # by a server that stopped): marked so that no listener takes a live call for a stale one
            self._replay_until = db.execute("SELECT COALESCE(MAX(seq), 0) FROM journal").fetchone()[0]
            self.snap.refresh_names(db)
            self._dirty.everything = True
        rows = db.execute("SELECT * FROM journal WHERE seq > ? ORDER BY seq LIMIT ?", (self.cursor, BATCH)).fetchall()
        if rows:
            self._take_rows(db, rows, now)
            if len(rows) == BATCH and self.cursor == rows[-1]["seq"]:
                self._wake.set()  # more waiting: the next step reads them without waiting for a wake-up
        if time.monotonic() - self._last_periodic > PERIODIC:
            self._dirty.everything = True  # waits and opening state change with time; unchanged payloads are skipped
        # calls went out above as they came; snapshots are coalesced to one set per SNAPSHOT_INTERVAL
        if self._dirty.pending and time.monotonic() - self._last_snapshot >= SNAPSHOT_INTERVAL:
            self._flush_snapshots(db, now)
        self._save_cursor()

    def _take_rows(self, db: sqlite3.Connection, rows: list[sqlite3.Row], now: datetime) -> None:
        """Publish the calls among ``rows`` now; note which snapshots they make stale (queue_server/domain/actions.py)."""
        d = self._dirty
        oldest = now - timedelta(seconds=self.replay_max_age)
        site = self.hall.config.site
        journal_topic = contract.JOURNAL.topic(site)
        for r in rows:
            # every entry, for the county platform (docs/county.md): QoS 1, in order; one lost on the way is
            # fetched by the county from GET /journal, so an entry re-sent after a reconnect is only a duplicate
            if not self._send(contract.JOURNAL, journal_topic, contract.journal_event(site, dict(r)), force=True):
                return  # broker gone: resume from this entry on reconnect
            action = r["action"]
            stale = actions.stale(action)
            if action not in actions.ACTIONS and action not in self._unknown:
                self._unknown.add(action)
                log.warning("journal action %r is not in queue_server/domain/actions.py: "
                            "its changes reach MQTT only with the periodic refresh", action)
            if Stale.CALL in stale:
                if datetime.fromisoformat(r["at"]) >= oldest:
                    call = self.snap.call_from_journal(db, r)
                    if r["seq"] <= self._replay_until:
                        call["replayed"] = True
                    # a live call the broker does not acknowledge before the link drops (a link gone quiet holds up
                    # to 1.5 keepalives of them) is sent again on the next connection marked as re-sent, so the
                    # announcer judges its age instead of reading it as live however late it comes
                    if not self._send(contract.CALLS, contract.CALLS.topic(self.hall.config.site), call, force=True,
                                      resent_marked=not call.get("replayed")):
                        return  # broker gone mid-batch: resume from this entry on reconnect
                    self.published_calls += 1
                else:
                    log.info("not re-announcing call seq %s of %s (older than %.0f s)",
                             json.loads(r["data"]).get("seq"), r["at"], self.replay_max_age)
            if Stale.NAMES in stale:
                self.snap.refresh_names(db)
            d.everything = d.everything or Stale.EVERYTHING in stale
            d.notices = d.notices or Stale.NOTICES in stale
            if Stale.WINDOW in stale and r["window"] is not None:
                d.windows.add(r["window"])
            if Stale.QUEUES in stale:
                d.businesses.add("*")  # capacity changed: every estimate may move
            if Stale.QUEUE in stale:
                if r["business"]:
                    d.businesses.add(r["business"])
                if action == "transfer":
                    data = json.loads(r["data"])
                    d.businesses.update(filter(None, (data.get("from_business"), data.get("to_business"))))
                    if data.get("to_window"):
                        d.windows.add(data["to_window"])
            d.board = d.board or Stale.BOARD in stale
            self.cursor = r["seq"]

    def _flush_snapshots(self, db: sqlite3.Connection, now: datetime) -> None:
        d, self._dirty = self._dirty, _Dirty()
        self._last_snapshot = time.monotonic()
        if d.everything:
            self._publish_all(db, now)
            return
        if d.notices:
            self._publish_notices(db, now)
        if d.windows or d.businesses or d.board:
            self._publish_some(db, now, d.windows, d.businesses)

    # -- snapshots --------------------------------------------------------------------------

    def _publish_all(self, db: sqlite3.Connection, now: datetime) -> None:
        self._last_periodic = time.monotonic()
        site = self.hall.config.site
        queues, windows, board = self.snap.snapshot_set(db, now)
        for w in windows:
            self._send(contract.WINDOW, contract.WINDOW.topic(site, number=w["number"]), w)
        for code, q in queues.items():
            self._send(contract.QUEUE, contract.QUEUE.topic(site, business=code), q)
        self._publish_notices(db, now)
        self._send(contract.BOARD, contract.BOARD.topic(site), board)

    def _publish_some(self, db: sqlite3.Connection, now: datetime, windows: set[int], businesses: set[str]) -> None:
        site = self.hall.config.site
        queues, all_windows, board = self.snap.snapshot_set(db, now)
        for w in all_windows:
            if w["number"] in windows:
                self._send(contract.WINDOW, contract.WINDOW.topic(site, number=w["number"]), w)
        for code, q in queues.items():
            if "*" in businesses or code in businesses:
                self._send(contract.QUEUE, contract.QUEUE.topic(site, business=code), q)
        self._send(contract.BOARD, contract.BOARD.topic(site), board)

    def _publish_notices(self, db: sqlite3.Connection, now: datetime) -> None:
        self._send(contract.NOTICES, contract.NOTICES.topic(self.hall.config.site), self.snap.notices(db, now))

    def _send(self, topic_def: contract.Topic, topic: str, payload: dict[str, Any], force: bool = False,
              resent_marked: bool = False) -> bool:
        if topic_def.retained and not force:
            # skip a retained publish identical to the last one but for its timestamp (most snapshots of a
            # flush are unchanged); the one that goes out is built from the same encoding
            stable = _without_time(payload)
            if self._last.get(topic) == stable:
                return True
            conn = self.conn
            assert conn is not None, "only the leader, connected, sends (_step)"
            ok = conn.publish(topic, _encode(topic_def, payload, stable), qos=topic_def.qos, retain=True)
            if ok:
                self._last[topic] = stable
            return ok
        conn = self.conn
        assert conn is not None, "only the leader, connected, sends (_step)"
        # resent_marked: sent again on a new connection, it says so (the same JSON object, one member more)
        return conn.publish(topic, contract.encode(topic_def, payload), qos=topic_def.qos, retain=topic_def.retained,
                            again=_marked_replayed if resent_marked else None)

    def _save_cursor(self, force: bool = False) -> None:
        if self.cursor == self._cursor_saved or (not force and time.monotonic() - self._cursor_saved_at < 1.0):
            return
        with self.db.write() as tx:
            tx.execute("INSERT INTO meta (key, value) VALUES ('published_seq', ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(self.cursor),))
        self._cursor_saved = self.cursor
        self._cursor_saved_at = time.monotonic()


def _marked_replayed(data: bytes) -> bytes:
    """An encoded call (a JSON object) with ``"replayed": true``: how it is sent again after a reconnect."""
    return data[:-1] + b',"replayed":true}'


def _without_time(payload: dict[str, Any]) -> bytes:
    """The payload less its ``updated_at``, encoded as :func:`hallq.contract.encode` encodes (so that
    :func:`_encode` can reuse it). Not sorted: a snapshot is built in the same order every time, and a
    differing order would only publish the same state once more."""
    return json.dumps({k: v for k, v in payload.items() if k != "updated_at"}, ensure_ascii=False,
                      separators=(",", ":")).encode()


_VERSION = b'{"version":' + str(contract.VERSION).encode()


def _encode(topic_def: contract.Topic, payload: dict[str, Any], stable: bytes) -> bytes:
    """``contract.encode(topic_def, payload)``, byte for byte, from ``stable`` (:func:`_without_time`) when
    ``updated_at`` is the payload's last key (every snapshot's): its one encoding, not a second."""
    keys = list(payload)
    if "version" in payload or (keys and "updated_at" in payload and keys[-1] != "updated_at"):
        return contract.encode(topic_def, payload)
    body = _VERSION + (b"," + stable[1:] if stable != b"{}" else b"}")
    if "updated_at" in payload:
        stamp = json.dumps(payload["updated_at"], ensure_ascii=False).encode()
        body = body[:-1] + b',"updated_at":' + stamp + b"}"
    return body
