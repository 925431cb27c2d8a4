"""Re-queueing a missed number and rating a finished service, against a real server."""

from __future__ import annotations

from hallq.client import HallClient
from kiosk.presenters.after_service import Rate, Requeue
from kiosk.presenters.take_number import NO_ITEM, TakeNumber


def take(session, business="construction"):
    flow = TakeNumber(session)
    flow.start()
    flow.handle("choose", business)
    flow.handle("choose", NO_ITEM)
    return flow.ticket


def window4(city) -> HallClient:
    clerk = HallClient(city.url)
    clerk.login("1004", "hallq-demo")
    clerk.window_action(4, "sign-in")
    return clerk


def test_missed_number_requeued_by_typing_it(session, city):
    ticket = take(session)
    clerk = window4(city)
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


def test_requeue_refuses_a_waiting_number(session):
    ticket = take(session)
    flow = Requeue(session)
    flow.start()
    flow.handle("scan", ticket["track_url"])
    v = flow.view()
    assert v.step == "lookup" and v.notice.level == "error"


def test_rating_by_scanning_the_ticket(session, city):
    ticket = take(session)
    clerk = window4(city)
    clerk.call_next(4)
    clerk.window_action(4, "start")
    clerk.window_action(4, "complete")
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
    v = flow.view()
    assert v.step == "thanks" and v.notice.level == "ok"
    again = Rate(session)
    again.start()
    again.handle("scan", ticket["track_url"])
    again.handle("choose", "5")
    assert again.view().notice.level == "error"        # one rating per case
