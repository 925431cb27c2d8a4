"""Re-queueing a missed number and rating a finished service, against a real server."""

from __future__ import annotations

from hallq.client import HallClient
from kiosk.presenters.after_service import Rate, Requeue
from tests.kiosk.conftest import serve_next


def test_missed_number_requeued_by_typing_it(session, take_number, window4):
    ticket = take_number().ticket
    clerk = window4
    clerk.call_next(4)
    clerk.window_action(4, "no-show")
    flow = Requeue(session)
    flow.start()
    flow.handle("action", "type_ticket")
    flow.handle("submit", "B1")
    v = flow.view()
    assert v.entry["value"] == "B1" and "A001" in v.entry["error"]
    flow.handle("submit", ticket["ticket"].lower())
    v = flow.view()
    assert v.step == "result" and v.result["number"] == ticket["ticket"]
    assert session.devices.printer.last.find(ticket["ticket"])


def test_requeue_refuses_a_waiting_number(session, take_number):
    ticket = take_number().ticket
    flow = Requeue(session)
    flow.start()
    flow.handle("scan", ticket["track_url"])
    v = flow.view()
    assert v.step == "lookup" and v.notice.level == "error"


def test_rating_by_scanning_the_ticket(session, take_number, window4):
    ticket = take_number().ticket
    serve_next(window4)
    flow = Rate(session)
    flow.start()
    flow.handle("scan", "HALLQ-APPT:K7Q2M9XP")
    assert "不是本大厅" in flow.view().notice.text
    flow.handle("scan", ticket["track_url"])
    v = flow.view()
    assert v.step == "level" and [o.label for o in v.options] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    assert v.options[0].badge == "★★★★★"
    flow.handle("choose", "2")
    assert flow.view().step == "reasons"
    flow.handle("toggle", "slow")
    flow.handle("toggle", "unclear_guide")
    flow.handle("action", "submit")
    assert flow.view().step == "contact"  # a phone for the call-back: optional
    flow.handle("action", "skip")
    v = flow.view()
    assert v.step == "thanks" and v.notice.level == "ok"
    again = Rate(session)
    again.start()
    again.handle("scan", ticket["track_url"])
    again.handle("choose", "5")
    assert again.view().notice.level == "error"        # one rating per case


def test_a_bad_review_may_leave_a_phone_for_the_call_back_with_consent(session, city, take_number, window4):
    """回访: after the reasons, an optional phone; kept only when the resident agrees to the words shown."""
    manager = HallClient(city.url)
    manager.login("2001", "hallq-demo")
    for level, answer in (("1", "agree"), ("2", "decline")):
        ticket = take_number().ticket
        serve_next(window4)
        flow = Rate(session)
        flow.start()
        flow.handle("scan", ticket["track_url"])
        flow.handle("choose", level)
        flow.handle("toggle", "attitude")
        flow.handle("action", "submit")
        v = flow.view()
        assert v.step == "contact" and v.entry["keypad"] == "digits" and [a.key for a in v.actions] == ["skip"]
        flow.handle("submit", "1391234")
        assert flow.view().entry["error"]  # not a phone number: said on the screen, nothing sent
        flow.handle("submit", "13912345678")
        v = flow.view()
        assert v.step == "consent" and "仅大厅管理人员可见" in v.prompt and "30 天" in v.prompt
        flow.handle("choose", answer)
        assert flow.view().step == "thanks"
    followups = {f["level"]: f for f in manager.get("/followups?which=all")}
    assert followups[1]["contact_left"] is True and followups[2]["contact_left"] is False
    assert manager.get(f"/followups/{followups[1]['id']}/contact")["phone"] == "13912345678"


def test_a_bad_review_may_skip_the_phone(session, take_number, window4):
    ticket = take_number().ticket
    serve_next(window4)
    flow = Rate(session)
    flow.start()
    flow.handle("scan", ticket["track_url"])
    flow.handle("choose", "2")
    flow.handle("action", "submit")
    flow.handle("action", "skip")
    assert flow.view().step == "thanks"
