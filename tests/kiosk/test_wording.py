"""What the kiosk says of time limits and places, against a real server (issue 17: kiosk wording)."""

from __future__ import annotations

from device_drivers.sim_id_reader import demo_card
from hallq.client import HallClient
from kiosk.presenters.application import SubmitApplication
from kiosk.presenters.progress import Progress
from kiosk.presenters.take_number import NO_ITEM, TakeNumber
from kiosk.texts import promised_words, tr

SAME_DAY = "520201-RS-GG-0001"    # 城乡居民基本养老保险参保登记: promised_days = 0
LATER = "520201-SCJG-XK-0001"


def say(key, **kw):
    return tr(key, "zh-Hans", **kw)


def test_a_promise_on_the_day_of_acceptance_reads_done_on_the_spot_not_a_date():
    today = {"submitted_at": "2026-12-07T10:02:00+08:00", "promised_by": "2026-12-07"}
    assert promised_words(say, today) == "即办（当场办结）"
    assert promised_words(say, {**today, "promised_by": "2026-12-09"}) == "承诺 2026-12-09 前办结"
    accepted = {**today, "accepted_at": "2026-12-08T09:00:00+08:00", "promised_by": "2026-12-08"}
    assert promised_words(say, accepted) == "即办（当场办结）"    # the promise counts from acceptance
    assert promised_words(say, {"submitted_at": "2026-12-07T10:02:00+08:00"}) == ""


def test_a_same_day_application_says_so_on_the_screen_the_receipt_and_its_progress(session):
    flow = SubmitApplication(session)
    flow.start()
    flow.handle("choose", SAME_DAY)
    for key, value in (("contribution_level", "500"), ("bank_account", "6217001234567890"),
                       ("address", "贵州省六盘水市钟山区大河镇周家村三组12号")):
        flow.handle("field", (key, value))
    flow.handle("action", "next")
    flow.handle("toggle", "0")
    flow.handle("action", "next")
    flow.handle("card", demo_card())
    flow.handle("field", ("phone", "13987654321"))
    flow.handle("action", "next")
    flow.handle("action", "submit")
    v = flow.view()
    assert v.step == "result", v.notice
    lines = " ".join(v.result["lines"])
    assert "即办（当场办结）" in lines and "承诺" not in lines
    printed = session.devices.printer.last
    assert printed.find("即办（当场办结）") and not printed.find("承诺")
    progress = Progress(session)
    progress.start()
    progress.handle("scan", v.result["number"])
    head = progress.view().sections[0].lines
    assert "即办（当场办结）" in head and not any("承诺" in x for x in head)


def test_a_ticket_sends_residents_only_where_an_open_window_serves_its_business(session, city):
    seqs = iter((50, 60))

    def where() -> str:
        flow = TakeNumber(session)
        flow.start()
        flow.handle("choose", "commerce")
        flow.handle("choose", NO_ITEM)
        assert flow.view().step == "identity"
        flow.handle("card", demo_card(seq=next(seqs)))
        assert flow.view().step == "result", flow.view().notice
        session.cache.clear()          # the windows are cached for a minute: the next ticket sees them now
        return flow.where

    # nothing open yet: no area is named (the closed tidal windows of 一楼C区 least of all)
    assert where() == "请在大厅等候叫号，留意屏幕和广播"
    clerk = HallClient(city.url)
    clerk.login("1001", "hallq-demo")
    clerk.window_action(1, "sign-in")        # window 1, 一楼A区, serves commerce; 15-17 (一楼C区) stay closed
    assert where() == "请在一楼A区等候叫号"
