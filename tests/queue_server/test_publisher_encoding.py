"""The publisher encodes a retained snapshot once: what it publishes is ``contract.encode`` of it, byte for byte.

Its comparison with the last one published (less ``updated_at``) is the encoding it publishes from
(queue_server/publisher.py ``_encode``); the topics' consumers (boards, county, announcers) read exactly
what ``hallq.contract.encode`` writes.
"""

from __future__ import annotations

from hallq import contract
from tests.conftest import make_id
from queue_server.publisher import _encode, _without_time


def same_as_contract(topic_def: contract.Topic, payload: dict) -> None:
    assert _encode(topic_def, payload, _without_time(payload)) == contract.encode(topic_def, payload)


def test_every_snapshot_of_a_hall_in_use_is_encoded_as_the_contract_encodes(state, api):
    api.issue("alpha")
    api.issue("beta", id_number=make_id())
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    snap, now = state.snapshots, state.hall.now()
    with state.db.read() as conn:
        queues = snap.queues(conn, now)
        windows = snap.windows(conn)
        board = snap.board(conn, now, queues, windows)
        notices = snap.notices(conn, now)
    assert queues and windows and board["recent_calls"]
    for q in queues.values():
        same_as_contract(contract.QUEUE, q)
    for w in windows:
        same_as_contract(contract.WINDOW, w)
    same_as_contract(contract.BOARD, board)
    same_as_contract(contract.NOTICES, notices)


def test_payloads_of_other_shapes_fall_back_to_the_contract():
    for payload in ({}, {"updated_at": "2026-11-23T09:30:00+08:00"}, {"a": "甲", "updated_at": None},
                    {"updated_at": "t", "a": 1}, {"a": [1, {"b": "乙"}]}, {"version": 9, "a": 1}):
        same_as_contract(contract.BOARD, payload)
