"""Key presses and ratings become the window's actions on the queue server, over real HTTP.

The gateway's :class:`~device_gateway.actions.WindowActions` of window 1 of the
tiny hall, played by the ``desk`` fixture (conftest.py).
"""

from __future__ import annotations

from device_drivers.keypad import KeyPress
from device_drivers.rating_pad import RatingPress
from hallq.client import ApiError


# -- presses become window actions over real HTTP ------------------------------------------

def test_call_next_recall_and_complete(desk, clock):
    first = desk.kiosk.issue_ticket("alpha")["ticket"]
    second = desk.kiosk.issue_ticket("alpha")["ticket"]
    assert desk.press(KeyPress("call_next")) == f"已叫 {first}"
    desk.follow()
    assert desk.press(KeyPress("recall")) == f"重呼 {first}"
    assert desk.window()["current"]["recalls"] == 1
    # 叫号 while A001 is current completes it first (call_completes_current); the server offers
    # no rating of A001 once A002 is called (the next resident is at the desk)
    assert desk.press(KeyPress("call_next")) == f"已叫 {second}"
    assert desk.offered() == [None]
    desk.follow()
    clock.advance(180)  # the frozen clock would finish both at the same instant
    assert desk.press(KeyPress("complete")) == f"办结 {second}"
    assert desk.offered() == [None, second] and desk.window()["current"] is None
    assert desk.local_prompts == 0  # the server's word was read, no local guess


def test_ask_for_a_rating_from_the_keypad(desk, clock):
    assert desk.press(KeyPress("ask_rating")) == "没有可以评价的服务。"
    desk.kiosk.issue_ticket("alpha")
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    desk.follow()
    desk.press(KeyPress("call_next"))  # A001 completed by the next call: not offered on its own...
    assert desk.offered() == [None]
    desk.follow()
    clock.advance(180)
    desk.press(KeyPress("complete"))
    assert desk.press(KeyPress("ask_rating")) == "已请评价"  # ...but the clerk may ask (for A002, the last)
    assert desk.offered()[-1] == "A002" and desk.offers[-1]["prompted"] is True
    journal = desk.db().execute("SELECT COUNT(*) FROM journal WHERE action = 'rating_prompt'").fetchone()[0]
    assert journal == 1


def test_the_pad_is_prompted_locally_when_the_server_cannot_say(desk, monkeypatch):
    original = desk.actions.client.get
    monkeypatch.setattr(desk.actions.client, "get", lambda path: (_ for _ in ()).throw(
        ApiError(404, "not_found", {"en": "no such endpoint"})) if "rating-prompt" in path else original(path))
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    desk.follow()
    desk.press(KeyPress("complete"))
    assert desk.local_prompts == 1 and desk.offers == []


def test_a_refusal_shows_the_servers_own_message(desk):
    assert desk.press(KeyPress("call_next")) == "当前没有等候的号票。"
    assert desk.press(KeyPress("recall")) == "1 号窗口当前没有号票。"


def test_a_key_acts_only_on_the_ticket_the_window_shows(desk):
    desk.kiosk.issue_ticket("alpha")
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    desk.snapshot = {"current": {"ticket": "A009"}}  # a stale view: the press names A009
    assert "不是 A009" in desk.press(KeyPress("no_show"))
    assert desk.window()["current"]["ticket"] == "A001"


def test_transfer_to_a_window_or_a_business(desk):
    desk.staff.login("102", "hallq-demo")
    desk.staff.window_action(2, "sign-in")
    desk.staff.login("101", "hallq-demo")
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    assert desk.press(KeyPress("transfer")) == "请先输入窗口号再按转移"
    assert desk.press(KeyPress("transfer", "2")) == "已转移 A001"
    conn = desk.db()
    assert conn.execute("SELECT target_window FROM tickets WHERE label = 'A001'").fetchone()[0] == 2
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    assert desk.press(KeyPress("transfer", "*2")) == "已转移 A002"  # the hall's 2nd business
    assert conn.execute("SELECT business FROM tickets WHERE label = 'A002'").fetchone()[0] == "beta"
    assert desk.press(KeyPress("transfer", "*7")) == "业务序号应为1到2"
    # digits that are not ASCII (str.isdigit() takes them, int() does not): told, as any wrong entry, not a crash
    assert desk.press(KeyPress("transfer", "²")) == "请先输入窗口号再按转移"
    assert desk.press(KeyPress("transfer", "*①")) == "请先输入窗口号再按转移"


def test_hold_and_call_back_by_number(desk):
    for _ in range(3):
        desk.kiosk.issue_ticket("alpha")
    for _ in range(2):
        desk.press(KeyPress("call_next"))
        desk.follow()
        desk.press(KeyPress("hold"))
    assert desk.window()["held"] == 2
    assert desk.press(KeyPress("call_back", "2")) == "回呼 A002"
    desk.follow()
    desk.press(KeyPress("hold"))
    assert desk.press(KeyPress("call_back")) == "回呼 A001"  # no digits: the longest held
    desk.follow()
    assert desk.press(KeyPress("call_back", "9")) == "挂起的号中没有9"
    assert desk.press(KeyPress("call_back", "2")) == "请先处理当前号票 A001。"  # the server's refusal


def test_pause_with_a_reason_and_resume(desk):
    assert desk.press(KeyPress("pause", "2")) == "暂停：午休"
    w = desk.window()
    assert (w["state"], w["pause_reason"]) == ("paused", "午休")
    assert desk.press(KeyPress("call_next")) == "1 号窗口已暂停服务，请先恢复。"
    assert desk.press(KeyPress("pause", "5")) == "暂停原因应为1到2"
    assert desk.press(KeyPress("resume")) == "已恢复服务"
    assert desk.window()["state"] == "open"


def test_call_next_is_sent_with_an_idempotency_key(desk):
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    rows = desk.db().execute("SELECT client FROM requests WHERE client LIKE '%gateway%'").fetchall()
    assert len(rows) == 1


def test_a_press_that_waited_too_long_is_dropped(desk, monkeypatch):
    import device_gateway.actions as actions

    desk.kiosk.issue_ticket("alpha")
    monkeypatch.setattr(actions, "STALE_SECONDS", -1)
    assert desk.press(KeyPress("call_next")) == "按键超时未执行，请重按"
    assert desk.window()["current"] is None


def test_nobody_signed_in_means_the_keypad_is_refused(desk):
    desk.staff.window_action(1, "sign-out")
    desk.kiosk.issue_ticket("alpha")
    assert desk.press(KeyPress("call_next")) in ("1 号窗口未开放。", "1 号窗口没有工作人员签到。")


# -- a press becomes a rating over real HTTP ---------------------------------------------

def test_a_press_rates_the_service_just_finished(desk):
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    desk.follow()
    desk.press(KeyPress("complete"))
    assert desk.offered() == ["A001"]  # the server offers A001 for rating: the pad prompts
    assert desk.press(RatingPress(2)) == "谢谢您的评价"
    conn = desk.db()
    row = conn.execute("SELECT t.label, r.level, r.bad, r.window, r.source FROM ratings r "
                       "JOIN tickets t ON t.id = r.ticket_id").fetchone()
    assert tuple(row) == ("A001", 2, 1, 1, row["source"]) and "gateway" in row["source"]
    # sent with an Idempotency-Key: a network retry of the same press would not rate twice
    assert conn.execute("SELECT COUNT(*) FROM requests WHERE REPLACE(response, ' ', '') LIKE '%\"level\":2%'").fetchone()[0] == 1
    # one rating per service: a second press is refused with the server's reason
    assert desk.press(RatingPress(5)) == "没有可以评价的服务。"
    assert conn.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 1


def test_nothing_to_rate_is_said_on_the_pad(desk):
    assert desk.press(RatingPress(5)) == "没有可以评价的服务。"
