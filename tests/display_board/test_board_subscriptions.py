"""What a board subscribes to (display_board/board_main.py): of the availability topics only the server's, since every
part of the hall may write its own and a board subscribed to all of them could be flooded through any one; and a
board id the hall's broker would give no account is refused when board.toml is read, not later."""

from __future__ import annotations

import pytest

from display_board.board_main import BOARD_NARROW, BOARD_TOPICS
from hallq import contract
from hallq.feed import HallFeed


class Recorder:
    def __init__(self) -> None:
        self.filters: list[str] = []

    def subscribe(self, topic_filter: str, handler, qos: int = 1) -> None:
        self.filters.append(topic_filter)


def test_a_board_reads_only_the_servers_availability():
    conn = Recorder()
    HallFeed(conn, "tiny", BOARD_TOPICS, deliver=lambda *a: None, narrow=BOARD_NARROW).start()
    status = [f for f in conn.filters if "/status/" in f]
    assert status == ["hallq/tiny/status/server/queue"]
    assert "hallq/tiny/windows/+" in conn.filters and "hallq/tiny/calls" in conn.filters


def test_a_subscription_fixes_only_the_parameters_given():
    assert contract.STATUS.subscription("tiny") == "hallq/tiny/status/+/+"
    assert contract.STATUS.subscription("tiny", kind="server") == "hallq/tiny/status/server/+"


@pytest.mark.parametrize("ident,ok", [("zone-b", True), ("zone_b", False), ("Lobby", False), ("a" * 40, True)])
def test_a_board_id_is_a_device_id(ident, ok):
    import re

    from display_board.settings import IDENT

    assert bool(re.fullmatch(IDENT, ident)) is ok
