"""The publisher is woken by commits, its own process's and the other server processes' (queue_server/publisher.py).

An idle hall costs no polling: the leading publisher reads the journal again only when woken, or every
``SAFETY_POLL``. Here the leader's safety poll is an hour, so whatever it publishes in the test came from a
wake-up: a commit of another process (another ``Database`` on the same file, as another Granian worker has)
reaches it through the wake socket.
"""

from __future__ import annotations

import json
import socket
import threading
import time

from hallq import contract
from hallq.testing import wait_until
from queue_server.db import Database
from queue_server import publisher
from queue_server.leadership import Doorbell
from queue_server.publisher import Publisher


class FakeConnection:
    """What the publisher needs of hallq.mqtt.Connection, connected at once; keeps what was published."""

    address = "fake"

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.connected.set()
        self.sent: list[tuple[str, dict]] = []
        self._lock = threading.Lock()

    def on_connect(self, hook) -> None:
        hook()

    def subscribe(self, *args, **kwargs) -> None:
        pass

    def start(self, waker=None) -> None:
        self.waker = waker

    def serve(self, timeout: float) -> None:
        self.waker.wait(timeout)

    def pending_write(self) -> bool:
        return False

    def stop(self) -> None:
        pass

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, again: bytes | None = None) -> bool:
        with self._lock:
            self.sent.append((topic, json.loads(payload)))
        return True

    def journal(self) -> list[dict]:
        with self._lock:
            return [p for t, p in self.sent if t == contract.JOURNAL.topic("tiny")]


def leader_on_its_own_database(state) -> tuple[Publisher, FakeConnection, Database]:
    conn = FakeConnection()
    db = Database(state.db.path)
    leader = Publisher(db, state.hall, lambda: conn, state.data_dir)
    leader.safety_poll = 3600.0
    leader.poll_interval = 3600.0
    leader.start()
    wait_until(lambda: leader.leader and any(t.endswith("/board") for t, _ in conn.sent), timeout=10)
    return leader, conn, db


def test_a_commit_of_another_process_wakes_the_leader(state, api):
    leader, conn, db = leader_on_its_own_database(state)
    follower = Publisher(state.db, state.hall, FakeConnection, state.data_dir)  # the app's own database
    follower.start()
    try:
        assert leader._bell.listening and leader._next_wait() == 3600.0
        ticket = api.issue("alpha")
        wait_until(lambda: any(e["action"] == "issue" and e["ticket"] == ticket["ticket"] for e in conn.journal()),
                   timeout=10)
        assert not follower.leader
    finally:
        follower.stop()
        leader.stop()
        db.close()


def test_without_the_wake_socket_it_polls_as_before(state, api):
    squatter = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    squatter.bind(Doorbell(state.data_dir / "publisher.lock", "publisher").address)  # the name is taken: the leader cannot listen
    conn = FakeConnection()
    db = Database(state.db.path)
    leader = Publisher(db, state.hall, lambda: conn, state.data_dir, poll_interval=0.02)
    leader.safety_poll = 3600.0
    leader.start()
    try:
        wait_until(lambda: leader.leader, timeout=10)
        assert not leader._bell.listening and leader._next_wait() <= 0.02
        ticket = api.issue("alpha")  # committed on the app's database: only the poll sees it
        wait_until(lambda: any(e["ticket"] == ticket["ticket"] for e in conn.journal()), timeout=10)
    finally:
        leader.stop()
        db.close()
        squatter.close()


class AnsweringConnection(FakeConnection):
    """A broker that acknowledges every publish 1 ms after it (the acknowledgement then waits on the socket until
    read): records how the publisher reads them."""

    DELAY = 0.001

    def __init__(self) -> None:
        super().__init__()
        self.arriving: list[float] = []  # when each acknowledgement not yet read reaches the socket
        # (acknowledgements read, in a serve() that could wait on the socket: not the one right after a step)
        self.reads: list[tuple[int, bool]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, again: bytes | None = None) -> bool:
        with self._lock:
            self.arriving.append(time.monotonic() + self.DELAY)
        return super().publish(topic, payload, qos, retain)

    def _take(self, timeout: float) -> bool:
        now = time.monotonic()
        with self._lock:
            here = [t for t in self.arriving if t <= now]
            self.arriving = [t for t in self.arriving if t > now]
        if here:
            self.reads.append((len(here), timeout > 0))
        return bool(here)

    def serve(self, timeout: float) -> None:
        if self._take(timeout) or timeout <= 0:
            return
        # as select() on the socket and the waker: until an acknowledgement arrives or a commit wakes
        with self._lock:
            first = min(self.arriving, default=None)
        if first is None or not self.waker.wait(max(0.0, min(timeout, first - time.monotonic()))):
            self._take(timeout)


def test_at_a_busy_pace_acknowledgements_are_read_with_the_next_write_not_on_their_own(state, api, monkeypatch):
    """A wake-up costs more CPU than reading a few bytes: at 100 calls a second, each call's acknowledgements
    must not wake the publisher again; an idle hall's are read after ACK_LATENCY all the same."""
    monkeypatch.setattr(publisher, "ACK_LATENCY", 1.0)  # the commits 10 ms apart stay within it on a loaded machine
    conn = AnsweringConnection()
    leader = Publisher(state.db, state.hall, lambda: conn, state.data_dir)  # woken by the app's commits
    leader.safety_poll = leader.poll_interval = 3600.0
    leader.start()
    try:
        wait_until(lambda: leader.leader and conn.reads and not conn.arriving, timeout=10)
        before = len(conn.reads)
        for _ in range(5):  # commits 10 ms apart, well within ACK_LATENCY of each other
            api.issue("alpha")
            time.sleep(0.01)
        wait_until(lambda: not conn.arriving, timeout=10)
        busy = conn.reads[before:]
        # each ticket's acknowledgements were read by the next step's write (the next ticket's, or the coalesced
        # snapshots'), without waiting on the socket; only the last step's, with nothing after it, waited out
        # ACK_LATENCY and were then read on their own
        assert [waited for _, waited in busy[:-1]] == [False] * (len(busy) - 1), busy
        assert busy[-1][1] is True, busy
        assert sum(read for read, _ in busy) >= 5 + 1  # the five journal entries and the coalesced snapshots
    finally:
        leader.stop()
