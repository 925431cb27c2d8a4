"""Live ingestion: the halls' journal events from the county broker into PostgreSQL.

One process of a county ingests at a time: the one holding a PostgreSQL advisory lock
(``county.db.INGEST_LOCK``) on a connection of its own; a second platform process (another worker, a
standby machine) waits for the lock and takes over when the first dies, since PostgreSQL frees a
session's lock with its connection.

The ingester subscribes at QoS 1 to ``hallq/+/journal`` and ``hallq/+/status/server/queue`` on the
county broker with a persistent session (``clean_session=False``, a fixed client id): while the
platform is down or restarting, the broker (NATS JetStream) keeps the messages of its session and
delivers them when it is back. The subscriber is :mod:`county.receiver` (not paho-mqtt: it reads
messages in chunks and acknowledges them in bulk; its docstring says why). Messages go through a
bounded queue to one writer thread, which checks them (:mod:`county.intake`) and writes them in
batches of up to ``BATCH`` in one transaction (:mod:`county.store`); a batch that fails is written
again one message at a time, so one bad message never holds up the others. A gap, and a hall coming
back online, ask the catch-up (:mod:`county.catchup`) to fetch from that hall's journal; so does every
start.

The broker's message is acknowledged once the receiver's thread has queued it, before it is written: a
message lost between the two (a crash, a full queue) is exactly what the catch-up fills, from the
hall's own journal. Exactly-once in effect rests on the key (site, seq), not on the delivery.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from datetime import datetime, timezone

from county import db as county_db
from county import intake, store
from county.catchup import CatchUp
from county.config import CountyConfig, CountyConfigError, resolve_secret
from county.receiver import Message, Receiver
from hallq.contract import STATUS
from hallq.mqtt import BrokerAddress

log = logging.getLogger("hallq.county.ingest")

BATCH = 1000
# at most one transaction every BATCH_EVERY seconds: at a steady 5,000 events/s the writer would otherwise commit
# whatever tens of events came in while it wrote the last ones, and a batch's fixed cost (the transaction, its
# halls' progress rows, the commit) would cost more than its events; 0.1 s is well inside the 2 s target
BATCH_EVERY = 0.1
QUEUE_MAX = 200_000
PLATFORM_SITE = "_county"  # the platform's own availability: hallq/_county/status/platform/ingest (no hall's site)
HOUSEKEEP_SECONDS = 3600.0  # the quarantine's retention (store.prune_quarantine), by the ingesting process only


class Ingester:
    def __init__(self, cfg: CountyConfig) -> None:
        self.cfg = cfg
        self.thinner = store.Thinner()
        self.catchup = CatchUp(cfg, self.thinner)
        self.known = frozenset(s for s, h in cfg.halls.items() if h.active)
        self._queue: deque[Message] = deque()  # appended by the receiver's thread, taken by the writer's
        self._arrived = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock_conn = None
        self.connection: Receiver | None = None
        self.leading = threading.Event()
        self.received = 0
        self.dropped = 0
        self.stored = 0
        self.duplicates = 0
        self.quarantined = 0

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        t = threading.Thread(target=self._lead, name="county-ingest-lead", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self.catchup.stop()
        if self.connection is not None:
            self.connection.stop()
        for t in self._threads:
            t.join(5)
        if self._lock_conn is not None:
            try:
                self._lock_conn.close()
            except Exception:
                pass

    def _lead(self) -> None:
        """Wait for the county's ingest lock, then ingest until stopped."""
        waiting_logged = False
        while not self._stop.is_set():
            try:
                conn = county_db.connect(self.cfg.database_url, autocommit=True)
                got = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (county_db.INGEST_LOCK,)).fetchone()["ok"]
            except Exception as e:
                log.warning("cannot reach the county database to take the ingest lock (%s); retrying",
                            f"{e.__class__.__name__}: {e}"[:200])
                self._stop.wait(2.0)
                continue
            if got:
                self._lock_conn = conn
                break
            conn.close()
            if not waiting_logged:
                log.info("another platform process ingests for this county; standing by")
                waiting_logged = True
            self._stop.wait(2.0)
        if self._stop.is_set():
            return
        self._begin()

    def _begin(self) -> None:
        b = self.cfg.broker
        password = ""
        if b.password:
            try:
                password = resolve_secret(b.password, "[broker] password")
            except CountyConfigError as e:
                log.error("%s: live ingestion cannot connect; catch-up over HTTP goes on", e)
        address = BrokerAddress.parse(b.url, b.username, password)
        self.connection = Receiver(address, f"hallq-{PLATFORM_SITE}-platform-ingest",
                                   STATUS.topic(PLATFORM_SITE, kind="platform", id="ingest"),
                                   ["hallq/+/journal", "hallq/+/status/server/queue"], self._on_messages,
                                   tls_ca=b.tls_ca)
        writer = threading.Thread(target=self._write_loop, name="county-ingest-writer", daemon=True)
        writer.start()
        self._threads.append(writer)
        keeper = threading.Thread(target=self._housekeep, name="county-ingest-housekeeping", daemon=True)
        keeper.start()
        self._threads.append(keeper)
        self.connection.start()
        self.catchup.start()
        self.leading.set()
        log.info("ingesting the county's hall events from %s (%d halls in the registry)", address, len(self.known))

    def _housekeep(self) -> None:
        """At the start and every hour, while this process ingests: the quarantine kept within its retention (one
        process of the county does it, the one holding the ingest lock)."""
        while not self._stop.is_set():
            try:
                with county_db.connect(self.cfg.database_url, autocommit=True) as conn:
                    store.prune_quarantine(conn)
            except Exception as e:  # the database away: the next hour
                log.warning("quarantine housekeeping failed (%s); next try in an hour",
                            f"{e.__class__.__name__}: {e}"[:200])
            self._stop.wait(HOUSEKEEP_SECONDS)

    # -- the receiver's thread: only queue ---------------------------------------------------------

    def _on_messages(self, messages: list[Message]) -> None:
        self.received += len(messages)
        room = QUEUE_MAX - len(self._queue)
        if room < len(messages):
            dropped = len(messages) - max(room, 0)
            messages = messages[:max(room, 0)]
            before, self.dropped = self.dropped, self.dropped + dropped
            if before == 0 or before // 10000 != self.dropped // 10000:
                log.warning("ingest queue full (%d messages): dropped %d so far; the catch-up fetches them from the "
                            "halls' journals", QUEUE_MAX, self.dropped)
        self._queue.extend(messages)
        self._arrived.set()

    # -- the writer --------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        conn = None
        q = self._queue
        last = 0.0
        while not self._stop.is_set():
            if not q:
                self._arrived.wait(0.5)
                self._arrived.clear()
                if not q:
                    continue
            wait = last + BATCH_EVERY - time.monotonic()
            if wait > 0 and len(q) < BATCH:
                self._stop.wait(wait)
            last = time.monotonic()
            batch = []
            while q and len(batch) < BATCH:
                batch.append(q.popleft())
            while not self._stop.is_set():
                try:
                    if conn is None or conn.closed:
                        conn = county_db.connect(self.cfg.database_url)
                    self._write(conn, batch)
                    break
                except Exception as e:
                    log.error("writing %d events failed (%s); retrying one by one",
                              len(batch), f"{e.__class__.__name__}: {e}"[:300])
                    conn = self._close(conn)
                    if self._write_singly(batch):
                        break
                    self._stop.wait(1.0)  # the database is away: hold the batch and try again

    @staticmethod
    def _close(conn):
        try:
            if conn is not None:
                conn.close()
        except Exception:
            pass
        return None

    def _write(self, conn, batch: list[tuple[str, bytes, bool]]) -> None:
        now = datetime.now(timezone.utc)
        items = []
        statuses = []
        for topic, payload, _retained in batch:
            site = intake.site_of_status(topic)
            if site is not None:
                statuses.append((site, payload))
                continue
            items.append((intake.live(topic, payload, self.known, self.cfg.ingest, now), topic))
        out = store.apply(conn, items, self.thinner) if items else store.Outcome()
        self.stored += out.new
        self.duplicates += out.duplicates
        self.quarantined += out.quarantined
        for site in out.gaps:
            self.catchup.request(site)
        for site, payload in statuses:
            self._status(conn, site, payload)

    def _status(self, conn, site: str, payload: bytes) -> None:
        if site not in self.known:
            return
        try:
            state = json.loads(payload).get("state") if payload else None
        except (ValueError, AttributeError):
            return
        with conn.transaction():
            store.hall_heard(conn, site, str(state))
        if state == "online":
            self.catchup.request(site, now=True)  # back from an outage: what the bridge dropped is in its journal

    def _write_singly(self, batch) -> bool:
        """Each message in its own transaction: one that fails is logged and dropped (the catch-up fetches it
        again from the hall's journal); False when the database itself is away."""
        try:
            conn = county_db.connect(self.cfg.database_url)
        except Exception:
            return False
        try:
            for item in batch:
                try:
                    self._write(conn, [item])
                except Exception as e:
                    log.error("could not store a message on %s (%d bytes): %s; left to the catch-up", item[0][:120],
                              len(item[1]), f"{e.__class__.__name__}: {e}"[:300])
                    if conn.closed:
                        return False
            return True
        finally:
            self._close(conn)

    def idle(self) -> bool:
        return not self._queue

    def status(self) -> dict:
        return {"leading": self.leading.is_set(), "broker_connected": bool(self.connection and
                                                                          self.connection.connected.is_set()),
                "received": self.received, "stored": self.stored, "duplicates": self.duplicates,
                "quarantined": self.quarantined, "dropped": self.dropped, "queued": len(self._queue),
                "caught_up": self.catchup.fetched, "catching_up": self.catchup.busy()}

