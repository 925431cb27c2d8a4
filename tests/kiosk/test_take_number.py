"""Taking a number through the presenter, against a real server; the printed bytes checked."""

from __future__ import annotations

from device_drivers.sim_id_reader import demo_card
from tests.conftest import make_id
from kiosk.presenters.take_number import NO_ITEM, TakeNumber


def test_business_without_identity_issues_prints_and_speaks(session):
    flow = TakeNumber(session)
    flow.start()
    v = flow.view()
    assert v.step == "business" and [o.key for o in v.options][:2] == ["commerce", "construction"]
    assert all(o.enabled for o in v.options) and "等候 0 人" in v.options[0].detail
    flow.handle("choose", "construction")
    assert flow.view().step == "item"
    flow.handle("choose", NO_ITEM)
    v = flow.view()
    assert v.step == "result" and v.result["number"] == "B001"
    assert "前面还有 0 人" in v.result["lines"]
    assert v.result["qr"].endswith("/t/" + flow.ticket["id"])
    assert v.notice.level == "ok"
    printout = session.devices.printer.last
    assert printout.find("B001").width == 3
    assert printout.find("工程建设项目") and printout.find("六盘水市政务服务中心")
    assert printout.qr_codes == [flow.ticket["track_url"]]
    assert printout.stray_bytes == 0 and printout.size < 1024
    session.devices.voice.wait_idle()
    assert any("B001" in text and "前面还有 0 人" in text for _, text in session.devices.voice.spoken)


def test_id_business_reads_the_card_and_never_prints_the_id(session):
    flow = TakeNumber(session)
    flow.start()
    flow.handle("choose", "social")
    flow.handle("choose", NO_ITEM)
    v = flow.view()
    assert v.step == "identity" and v.kind == "identity" and "card" in v.listens
    card = demo_card()
    flow.handle("card", card)
    v = flow.view()
    assert v.step == "result" and v.result["number"] == "C001"
    assert "绿色通道" in v.result["lines"][0]            # born 1948: the green channel, automatically
    printed = session.devices.printer.last.text
    assert card.id_number not in printed and card.name not in printed
    assert card.id_number[-4:] not in printed


def test_typed_id_number_with_a_bad_check_digit_is_kept_with_a_sentence(session):
    flow = TakeNumber(session)
    flow.start()
    flow.handle("choose", "social")
    flow.handle("choose", NO_ITEM)
    flow.handle("action", "type_id")
    good = make_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    flow.handle("submit", bad)
    v = flow.view()
    assert v.kind == "entry" and v.entry["value"] == bad and "校验位" in v.entry["error"]
    assert not session.devices.printer.jobs
    flow.handle("submit", good)
    assert flow.view().result["number"] == "C001"


def test_english_and_traditional(session):
    session.set_lang("en")
    flow = TakeNumber(session)
    flow.start()
    flow.handle("choose", "online")
    v = flow.view()
    assert v.step == "item" and v.options[-1].label == "Not sure / something else"
    flow.handle("choose", NO_ITEM)
    assert session.devices.printer.last.find("0 ahead of you")
    session.set_lang("zh-Hant")
    flow.start()
    flow.handle("choose", "online")
    flow.handle("choose", NO_ITEM)
    assert session.devices.printer.last.find("前面還有 1 人")


def test_out_of_paper_still_gives_the_number_and_tells_staff(session):
    session.devices.printer.state.paper = "out"
    flow = TakeNumber(session)
    flow.start()
    flow.handle("choose", "construction")
    flow.handle("choose", NO_ITEM)
    v = flow.view()
    assert v.result["number"] == "B001" and v.result["qr"]
    assert v.notice.level == "warn" and "缺纸" in v.notice.text and "B001" in v.notice.text
    assert v.notice.full.startswith("请注意")
    assert not session.devices.printer.jobs
    assert session.devices.health["printer"] == ["paper_out"]
    session.devices.voice.wait_idle()
    assert "请记住您的号码 B001" in session.devices.voice.spoken[-1][1]


def test_one_open_number_per_person(session):
    flow = TakeNumber(session)
    for expected_error in (None, "already"):
        flow.start()
        flow.handle("choose", "commerce")
        flow.handle("choose", NO_ITEM)
        flow.handle("action", "type_id")
        flow.handle("submit", make_id())
        if expected_error is None:
            assert flow.view().step == "result"
    assert flow.view().notice.level == "error" and flow.ticket is None


def test_green_channel_declared(session):
    flow = TakeNumber(session)
    flow.start()
    flow.handle("action", "green_disabled")
    assert [a.selected for a in flow.view().actions] == [True, False]
    flow.handle("choose", "online")
    flow.handle("choose", NO_ITEM)
    assert flow.ticket["class"] == "green"
    # what the policy can keep, printed and on screen: the target, not a bare "called first"
    assert session.devices.printer.last.find("绿色通道，优先叫号，目标 10 分钟内")
    assert flow.view().result["lines"][0] == "绿色通道，优先叫号，目标 10 分钟内"


def test_a_wide_estimate_is_shown_as_a_range_everywhere_a_narrow_one_as_a_number():
    """kiosk screen, printed ticket, spoken sentence, board and phone page decide alike (hallq.waits.shown)."""
    from display_board.presenter import _wait_text
    from kiosk.texts import tr, wait_words
    from queue_server.web.ticket_page import describe, texts_for

    say = lambda key, **fmt: tr(key, "zh-Hans", **fmt)  # noqa: E731
    wide = {"state": "waiting", "people_ahead": 30, "est_wait_minutes": 42, "est_wait_range": [28, 57], "waiting": 30}
    narrow = {**wide, "est_wait_minutes": 6, "est_wait_range": [2, 11]}
    assert wait_words(say, "take.est", "take.est_range", wide) == "预计等候约 28–57 分钟"
    assert wait_words(say, "take.say_est", "take.say_est_range", wide) == "，预计等候约 28 到 57 分钟"
    assert wait_words(say, "take.est", "take.est_range", narrow) == "预计等候约 6 分钟"
    assert wait_words(say, "take.est", "take.est_range", {"est_wait_minutes": None}) is None
    assert _wait_text(wide, "zh-Hans") == "约 28–57 分钟" and _wait_text(narrow, "en") == "about 6 min"
    texts = texts_for("zh-Hans")
    assert describe(wide, texts, 30)["detail"] == "预计等候约 28–57 分钟"
    assert describe(narrow, texts, 30)["detail"] == "预计等候约 6 分钟"


def test_lost_answers_then_retry_issue_exactly_one_number(city):
    """The server issues the number but the answer is lost; the automatic retry reuses the key."""
    from tests.kiosk.conftest import make_session
    from tests.kiosk.netfault import LossyProxy

    proxy = LossyProxy(city.port)
    session = make_session(proxy.url)
    try:
        flow = TakeNumber(session)
        flow.start()
        proxy.mode = "drop_answers"
        flow.handle("choose", "construction")
        flow.handle("choose", NO_ITEM)
        v = flow.view()
        assert v.step == "item" and v.retry_in == 1.0 and "自动重试" in v.notice.text
        assert proxy.forwarded_requests >= 1          # the server did receive (and commit) the request
        proxy.mode = "refuse"
        flow.handle("retry")
        assert flow.view().retry_in == 1.0
        proxy.mode = "pass"
        flow.handle("retry")
        v = flow.view()
        assert v.step == "result" and v.result["number"] == "B001" and flow.ticket.get("replayed") is True
        assert len(session.devices.printer.jobs) == 1
        # the next resident's press is a new request: B002, not a replay of B001
        flow.start()
        flow.handle("choose", "construction")
        flow.handle("choose", NO_ITEM)
        assert flow.view().result["number"] == "B002"
    finally:
        session.devices.close()
        proxy.close()


def test_village_station_one_business_goes_straight_to_its_items(village):
    """The village station has one business: the kiosk does not ask which one."""
    from tests.kiosk.conftest import make_session

    s = make_session(village.url, key="demo-kiosk-station")
    try:
        flow = TakeNumber(s)
        flow.start()
        v = flow.view()
        assert v.step == "item" and v.options[-1].key == NO_ITEM
        assert {a.key for a in v.actions} == {"green_disabled", "green_pregnant"}
        flow.handle("choose", NO_ITEM)
        assert flow.view().result["number"] == "A001"
        assert s.devices.printer.last.find("钟山区大河镇周家村便民服务站")
        # the station's own rule (60 min in its hall.toml), not the kiosk config's fallback of 30
        assert s.cfg.missed_number_minutes == 30 and s.devices.printer.last.find("过号后 60 分钟内")
        assert not flow.go_back()                    # back from the ticket: home
    finally:
        s.devices.close()
