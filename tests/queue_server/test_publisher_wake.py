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

from hallq import contract
from hallq.testing import wait_until
from queue_server.db import Database
from queue_server.publisher import Publisher, _wake_address


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

    def stop(self) -> None:
        pass

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
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
        assert leader._inbox is not None and leader._next_wait() == 3600.0
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
    squatter.bind(_wake_address(state.data_dir / "publisher.lock"))  # the name is taken: the leader cannot listen
    conn = FakeConnection()
    db = Database(state.db.path)
    leader = Publisher(db, state.hall, lambda: conn, state.data_dir, poll_interval=0.02)
    leader.safety_poll = 3600.0
    leader.start()
    try:
        wait_until(lambda: leader.leader, timeout=10)
        assert leader._inbox is None and leader._next_wait() <= 0.02
        ticket = api.issue("alpha")  # committed on the app's database: only the poll sees it
        wait_until(lambda: any(e["ticket"] == ticket["ticket"] for e in conn.journal()), timeout=10)
    finally:
        leader.stop()
        db.close()
        squatter.close()
