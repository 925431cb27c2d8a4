"""The board's model and presenter, without a window: what the hall TV shows, rule by rule."""

from __future__ import annotations

import gc
import json
import logging
from datetime import timedelta

import pytest

from hallq import contract
from hallq.feed import HallFeed
from display_board.model import BoardModel
from display_board.presenter import present
from display_board.settings import load_boards
from tests.conftest import CITY
from tests.display_board.payloads import T0, board, call, notices, queue, status

BOARDS = CITY.parent / "board.toml"


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def boards():
    return load_boards(BOARDS)


@pytest.fixture
def mono():
    return FakeTime()


@pytest.fixture
def lobby(boards, mono):
    m = BoardModel(boards["lobby"], monotonic=mono)
    m.set_link(True)
    return m


def feed_into(model):
    """A HallFeed without a broker: raw bytes in, the model updated as on the board."""
    return HallFeed(None, "liupanshui", (contract.BOARD, contract.CALLS, contract.QUEUE, contract.WINDOW,
                                         contract.NOTICES, contract.STATUS),
                    deliver=lambda t, p, payload: model.apply(t, p, payload))


def send(model, topic_def, payload, **params):
    return model.apply(topic_def, params, payload)


def test_a_board_switched_on_shows_the_retained_state_at_once_without_flashing(lobby):
    send(lobby, contract.BOARD, board([call(1, "A001", 1), call(2, "B001", 4)],
                                      queues=[queue("commerce", 4, 60), queue("construction", 0, 0)]))
    view = present(lobby, T0)
    assert view.newest.ticket == "B001" and view.prompt == "请到 4 号窗口" and view.prompt_2 == "Please go to window 4"
    assert [r.ticket for r in view.recent] == ["A001"]
    assert [(q.name, q.waiting, q.wait) for q in view.queues] == [
        ("商事登记", "等候 4 人", "约 60 分钟"), ("工程建设项目", "等候 0 人", "无需等候")]
    assert not view.flashing and not view.banner


def test_a_new_call_becomes_the_newest_and_flashes_for_a_while(lobby, mono):
    send(lobby, contract.BOARD, board([call(1, "A001", 1)]))
    assert send(lobby, contract.CALLS, call(2, "C001", 7, area="一楼B区"))
    view = present(lobby, T0)
    assert view.newest.ticket == "C001" and view.flashing and view.newest_detail == "社会事务 · 一楼B区"
    mono.t += lobby.settings.flash_seconds + 0.1
    assert not present(lobby, T0).flashing


def test_a_qos1_repeat_changes_nothing(lobby, mono):
    send(lobby, contract.BOARD, board([]))
    c = call(1, "A001", 1)
    assert send(lobby, contract.CALLS, c)
    version = lobby.version
    mono.t += 60  # the flash is over: a repeat must not start it again
    assert not send(lobby, contract.CALLS, dict(c))
    assert lobby.version == version and lobby.stats.duplicates == 1 and not lobby.flashing()


def test_a_gap_is_counted_and_the_next_snapshot_fills_it(lobby):
    send(lobby, contract.BOARD, board([call(1, "A001", 1)]))
    send(lobby, contract.CALLS, call(4, "A004", 1))
    assert lobby.stats.gaps == 1 and [c.ticket for c in lobby.recent] == ["A004", "A001"]
    send(lobby, contract.BOARD, board([call(1, "A001", 1), call(2, "A002", 2), call(3, "B001", 4),
                                       call(4, "A004", 1)]))
    assert [c.ticket for c in lobby.recent] == ["A004", "B001", "A002", "A001"]
    # the calls a gap skipped, arriving late, are known and do not flash
    assert not send(lobby, contract.CALLS, call(2, "A002", 2))


def test_a_late_snapshot_does_not_remove_newer_calls(lobby):
    send(lobby, contract.BOARD, board([call(1, "A001", 1)]))
    send(lobby, contract.CALLS, call(2, "A002", 2))
    send(lobby, contract.BOARD, board([call(1, "A001", 1)]))  # built before seq 2 was committed
    assert lobby.newest.ticket == "A002"


def test_a_recall_moves_the_ticket_to_the_top_marked_as_a_recall(lobby, mono):
    send(lobby, contract.BOARD, board([call(1, "A001", 1), call(2, "B001", 4)]))
    mono.t += 30
    send(lobby, contract.CALLS, call(3, "A001", 1, kind="recall", recalls=1))
    view = present(lobby, T0)
    assert (view.newest.ticket, view.newest.mark) == ("A001", "重呼") and view.flashing
    assert [r.ticket for r in view.recent] == ["B001"]  # once per ticket


def test_the_recent_list_is_bounded_by_the_board_setting(lobby):
    send(lobby, contract.BOARD, board([]))
    for seq in range(1, 40):
        send(lobby, contract.CALLS, call(seq, f"C{seq:03d}", 7 + seq % 5))
    view = present(lobby, T0)
    assert len(lobby.recent) == lobby.settings.recent_calls == 1 + len(view.recent)
    assert view.newest.ticket == "C039" and view.recent[-1].ticket == "C032"


def test_a_new_business_day_starts_an_empty_list(lobby):
    send(lobby, contract.BOARD, board([call(1, "A001", 1)]))
    tomorrow = T0 + timedelta(days=1)
    send(lobby, contract.BOARD, board([], day="2026-11-24", updated=tomorrow))
    assert lobby.recent == [] and present(lobby, tomorrow).placeholder == "暂无叫号"


def test_a_restarted_numbering_is_noticed_not_ignored(lobby):
    """A server with a new database starts at seq 1 again: the board must not wait for seq 501."""
    send(lobby, contract.BOARD, board([call(500, "A120", 1)]))
    assert send(lobby, contract.CALLS, call(1, "A001", 2, at=T0 + timedelta(hours=1)))
    assert lobby.newest.ticket == "A001" and lobby.stats.restarts == 1
    assert send(lobby, contract.CALLS, call(2, "A002", 2, at=T0 + timedelta(hours=1, seconds=5)))
    assert lobby.newest.ticket == "A002"


def test_a_restarted_server_s_first_snapshot_is_the_truth(lobby):
    send(lobby, contract.STATUS, status("online"), kind="server", id="queue")
    send(lobby, contract.BOARD, board([call(7, "A007", 1)]))
    send(lobby, contract.STATUS, status("offline"), kind="server", id="queue")
    send(lobby, contract.STATUS, status("online"), kind="server", id="queue")
    send(lobby, contract.BOARD, board([]))  # a new, empty database
    assert lobby.recent == []


def test_an_area_board_shows_only_its_windows_and_their_businesses(boards, mono):
    zone = BoardModel(boards["zone-b"], monotonic=mono)
    zone.set_link(True)
    send(zone, contract.BOARD, board([call(1, "A001", 1), call(2, "C001", 7), call(3, "E001", 12)],
                                     queues=[queue("commerce", 3, 30), queue("social", 9, 20),
                                             queue("delivery", 1, 3)]))
    assert not send(zone, contract.CALLS, call(4, "A002", 2))
    view = present(zone, T0)
    assert view.newest.ticket == "E001" and [r.ticket for r in view.recent] == ["C001"]
    assert [q.business for q in view.queues] == ["social", "delivery"]
    assert view.recent_title == "最近叫号" and view.prompt_2 == ""  # one language on this board


def test_connection_lost_and_server_offline_are_said_plainly_and_recover(lobby):
    send(lobby, contract.BOARD, board([call(1, "A001", 1)]))
    lobby.set_link(False)
    view = present(lobby, T0)
    assert view.banner == "叫号信息连接中断，正在自动重连…" and view.stale and not view.flashing
    assert "Connection lost" in view.banner_2 and "可能不是最新" in view.banner_2
    lobby.set_link(True)
    assert present(lobby, T0).banner == ""
    send(lobby, contract.STATUS, status("offline"), kind="server", id="queue")
    assert present(lobby, T0).banner == "叫号服务器离线，正在等待恢复…"
    send(lobby, contract.STATUS, status("online"), kind="kiosk", id="k1")  # not the server
    assert present(lobby, T0).banner
    send(lobby, contract.STATUS, status("online"), kind="server", id="queue")
    assert present(lobby, T0).banner == ""


def test_before_any_snapshot_the_board_says_it_is_loading(lobby):
    assert present(lobby, T0).placeholder == "正在获取叫号信息…"


def test_wait_texts(lobby):
    send(lobby, contract.BOARD, board([], queues=[queue("commerce", 3, None), queue("social", 2, 0),
                                                  queue("online", 12, 35)]))
    tiles = {q.business: q for q in present(lobby, T0).queues}
    assert tiles["commerce"].wait == "暂无窗口办理" and tiles["social"].wait == "即将办理"
    assert tiles["online"].wait == "约 35 分钟" and tiles["online"].busy


def test_notices_and_the_standing_line_when_there_are_none(lobby):
    view = present(lobby, T0)
    assert [n.text for n in view.notices] == [
        "办公时间 09:00-12:00 13:00-17:00（法定工作日） · 咨询电话 0858-6807233", "过号后 30 分钟内可到窗口重新排队",
        "Open 09:00-12:00 13:00-17:00 on working days · Enquiries 0858-6807233",
        "Missed your number? Re-queue at a window within 30 min"]
    send(lobby, contract.NOTICES, notices(("今日下午系统维护，暂停办理不动产业务", "urgent"), ("请保管好随身物品", "info")))
    assert [(n.text, n.level) for n in present(lobby, T0).notices] == [
        ("今日下午系统维护，暂停办理不动产业务", "urgent"), ("请保管好随身物品", "info")]
    long = "很长的公告" * 100
    send(lobby, contract.NOTICES, notices((long, "info")))
    assert len(present(lobby, T0).notices[0].text) <= 200


GARBAGE = [
    b"", b"\x00\xff\xfe garbage", b"{", b'{"version": 1, "seq": ', b"[]", b"null", b"42",
    b'{"version": 99, "seq": 1}', b'{"version": 1, "seq": "one", "kind": "call"}',
    b'{"version": 1, "seq": -5, "kind": "call", "ticket": "A001", "business": "commerce", "window": 1, "at": "x"}',
    json.dumps({"version": 1, "seq": 1, "kind": "shout", "ticket": "A001", "business": "commerce", "window": 1,
                "at": T0.isoformat()}).encode(),
    b"[" * 100000, b'{"a":' * 5000, b'{"version": 1, "notices": "' + b"x" * 300_000 + b'"}',
    "{\"version\": 1, \"ticket\": \"\ud800\"}".encode("utf-8", "surrogatepass"),
]


@pytest.mark.parametrize("topic", ["hallq/liupanshui/calls", "hallq/liupanshui/board", "hallq/liupanshui/notices",
                                   "hallq/liupanshui/queues/commerce", "hallq/liupanshui/windows/3",
                                   "hallq/liupanshui/status/server/queue"])
def test_garbage_on_any_topic_is_logged_and_ignored(lobby, topic, caplog):
    feed = feed_into(lobby)
    feed.handle("hallq/liupanshui/board", json.dumps(board([call(1, "A001", 1)])).encode())
    before = (lobby.version, list(lobby.recent), dict(lobby.queues), list(lobby.notices), lobby.server_state)
    for payload in GARBAGE:
        feed.handle(topic, payload)
    assert (lobby.version, list(lobby.recent), dict(lobby.queues), list(lobby.notices), lobby.server_state) == before
    assert feed.bad.rejected == len(GARBAGE)
    warnings = [r for r in caplog.records if "ignored a message" in r.getMessage()]
    assert 1 <= len(warnings) <= 2  # rate-limited: not one line per bad message


def test_foreign_and_malformed_topics_are_ignored(lobby):
    feed = feed_into(lobby)
    good = json.dumps(call(1, "A001", 1)).encode()
    for topic in ("hallq/other-site/calls", "hallq/liupanshui/calls/extra", "other/liupanshui/calls",
                  "hallq/liupanshui/queues/" + "x" * 500, "hallq/liupanshui/windows/../../calls"):
        feed.handle(topic, good)
    assert lobby.recent == [] and feed.bad.rejected == 0


def test_100000_events_keep_the_model_bounded(lobby, caplog):
    """Months on the wall: calls, queue updates and repeats in the hundred thousands hold no more memory."""
    # the board's INFO lines ("missed 1 call(s)", one per skipped seq here) are not the model's memory, but
    # pytest keeps each record it captures: were the root logger left at INFO by an earlier test (a command
    # run in-process sets up hallq's logging), they would count as objects that accumulate per event
    caplog.set_level(logging.WARNING)
    feed = feed_into(lobby)
    template = call(1, "A001", 1)  # contract-checked once; the loop only changes its numbers
    q = {"version": 1, **queue("commerce", 0, 0), "updated_at": T0.isoformat()}
    objects = []
    for i in range(1, 100_001):
        if i % 10 == 0:
            q["waiting"], q["est_wait_minutes"] = i % 50, i % 90
            feed.handle("hallq/liupanshui/queues/commerce", json.dumps(q).encode())
        else:
            seq = i - 1 if i % 997 == 0 else i  # now and then a QoS 1 repeat
            c = {**template, "seq": seq, "ticket": f"{'ABCDE'[seq % 5]}{seq % 1000:03d}", "window": 1 + seq % 20,
                 "at": (T0 + timedelta(seconds=seq % 30000)).isoformat()}
            feed.handle("hallq/liupanshui/calls", json.dumps(c).encode())
        if i % 20_000 == 0:
            gc.collect()
            objects.append(len(gc.get_objects()))
    assert len(lobby.recent) == lobby.settings.recent_calls
    assert len(lobby.queues) <= 26 and len(lobby.tracker._seen) <= lobby.tracker.memory
    assert len(lobby.tracker._missing) <= lobby.tracker.memory
    assert lobby.stats.calls == 90_000 and lobby.stats.duplicates >= 80 and feed.bad.rejected == 0
    # as many live objects after 100k events as after 20k: nothing accumulates per event
    assert objects[-1] - objects[0] < 500, objects


def test_a_long_notice_is_cut_into_pages_at_punctuation():
    from display_board.presenter import split_to_fit

    text = "今日下午 14:00-15:00 系统升级，不动产登记、公积金提取业务暂停受理，其他业务照常办理。"
    pages = split_to_fit(text, lambda t: len(t) <= 20)
    assert pages == ["今日下午 14:00-15:00", "系统升级，不动产登记、", "公积金提取业务暂停受理，", "其他业务照常办理。"]
    assert "".join(pages).replace(" ", "") == text.replace(" ", "")  # nothing lost
    assert split_to_fit("短", lambda t: True) == ["短"]
    assert split_to_fit("x" * 50, lambda t: len(t) <= 7) == ["x" * 7] * 7 + ["x"]


def test_long_names_are_cut_to_fit_their_boxes():
    from display_board.presenter import clip

    assert clip("商事登记", 16) == "商事登记"
    assert clip("城乡居民基本养老保险参保登记", 16) == "城乡居民基本养…"
    assert clip("Business registration and licensing", 20) == "Business registrati…"


def test_the_date_beside_the_clock_is_the_catalogue_s_pattern_in_each_language():
    from display_board.presenter import _clock

    sunday = T0.replace(month=12, day=6, hour=9, minute=5)  # the hall's time
    assert _clock(sunday, "zh-Hans") == ("2026年12月6日 星期日", "09:05")
    assert _clock(sunday, "zh-Hant") == ("2026年12月6日 星期日", "09:05")
    assert _clock(sunday, "en") == ("2026-12-06 Sun", "09:05")


def test_a_windows_panel_lists_each_window_state_and_refuses_a_hall_too_big_for_it(tmp_path):
    """panel = "windows" (a station): one line per window, its current number or what it is doing."""
    from hallq.hallconfig import ConfigError
    from tests.conftest import CITY

    station = load_boards(CITY.parents[1] / "village-station" / "board.toml")["station"]
    model = BoardModel(station)
    model.windows = {1: {"number": 1, "state": "open", "current": "A004"}, 2: {"number": 2, "state": "paused"}}
    view = present(model, T0)
    assert view.by_window and view.recent_title == "各窗口当前号"
    assert [(r.ticket, r.window, r.business) for r in view.recent] == [("A004", "1号窗口", ""),
                                                                      ("—", "2号窗口", "暂停")]
    model.windows = {}
    assert [r.business for r in present(model, T0).recent] == ["未开放", "未开放"]

    boards = tmp_path / "board.toml"
    boards.write_text(f'hall = "{CITY}"\n\n[[boards]]\nid = "lobby"\npanel = "windows"\n')
    with pytest.raises(ConfigError, match="at most 6"):
        load_boards(boards)
