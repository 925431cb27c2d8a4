"""Every test here is also a run of the journal: at its end, every action in every database it
opened must be in the registry (queue_server/domain/actions.py), or the test errors.

The publisher decides from an entry's action what to republish on MQTT; an action missing from
the registry would leave the boards stale until the periodic refresh, unnoticed.
"""

from __future__ import annotations

import pytest

from hallq.demo import DEMO_PASSWORD_HASH
from hallq.mqtt import BrokerAddress
from hallq.mqttlink import WireConnection
from queue_server.publisher import Publisher
from tests.queue_server.journal_actions_scan import JournalActions


@pytest.fixture
def admin(state):
    """An administrator created in the console (the tiny hall's file has none): job number 999, the demo password."""
    with state.db.write() as conn:
        conn.execute("INSERT INTO staff (job_no, name, role, password_hash) VALUES ('999', '管理员', 'admin', ?)",
                     (DEMO_PASSWORD_HASH,))
    return "999"


@pytest.fixture(autouse=True)
def journal_actions(monkeypatch) -> JournalActions:
    seen = JournalActions()
    seen.install(monkeypatch.setattr)
    yield seen
    unknown = seen.unregistered()
    assert not unknown, (f"journal actions not registered in queue_server/domain/actions.py: {sorted(unknown)} "
                         f"(in {sorted({p for ps in unknown.values() for p in ps})[:3]})")


@pytest.fixture
def publisher(state):
    """``make(url)``: a publisher of the tiny hall's journal to the broker at ``url``, connected; stopped after the
    test."""
    made: list[Publisher] = []

    def make(url: str, keepalive: int = 30) -> tuple[Publisher, WireConnection]:
        conn = WireConnection(BrokerAddress.parse(url), "tiny", "server", "queue", keepalive=keepalive)
        p = Publisher(state.db, state.hall, lambda: conn, state.data_dir)
        made.append(p)
        p.start()
        assert conn.wait_connected(10), "the publisher did not connect"
        return p, conn

    yield make
    for p in made:
        p.stop()
