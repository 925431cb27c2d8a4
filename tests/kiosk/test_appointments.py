"""Booking, checking in and cancelling through the presenters, against a real server."""

from __future__ import annotations

from device_drivers.sim_id_reader import demo_card
from hallq.client import HallClient
from kiosk.presenters.appointments import AppointmentMenu, BookAppointment
from kiosk.presenters.checkin import CancelBooking, CheckIn
from tests.conftest import make_id

ITEM = "520200-SCJG-XK-0001"    # 企业设立登记, appointment = true


def move_clock(server, when: str) -> None:
    manager = HallClient(server.url)
    manager.login("2001", "hallq-demo")
    manager.request("PUT", "/clock", {"now": when})


def book(session, card=None, id_number=None, phone="13812345678") -> BookAppointment:
    flow = BookAppointment(session)
    flow.start()
    v = flow.view()
    assert v.step == "item" and ITEM in [o.key for o in v.options]
    flow.handle("choose", ITEM)
    v = flow.view()
    assert v.step == "day"
    first = next(o for o in v.options if o.enabled)
    assert first.key == "2026-11-24" and first.label == "11月24日 星期二"
    flow.handle("choose", first.key)
    v = flow.view()
    remaining = flow._day_slots()[0]["remaining"]
    assert v.step == "slot" and v.options[0].label == "09:00-09:30" and v.options[0].detail == f"可约 {remaining} 人"
    flow.handle("choose", "09:00")
    assert flow.view().kind == "form" and "card" in flow.view().listens
    if card is not None:
        flow.handle("card", card)
    else:
        flow.handle("field", ("name", "张晓红"))
        flow.handle("field", ("id_number", id_number))
    flow.handle("field", ("phone", phone))
    flow.handle("action", "next")
    return flow


def test_book_with_the_id_card_prints_the_code_and_its_qr(session):
    card = demo_card()
    flow = book(session, card=card)
    before = flow._day_slots()[0]["remaining"]
    v = flow.view()
    assert v.step == "confirm"
    assert "周*芬" in v.sections[2].lines[0] and card.id_number not in v.sections[2].lines[0]
    flow.handle("action", "confirm")
    v = flow.view()
    assert v.step == "result" and len(v.result["number"]) == 8
    code = v.result["number"]
    printed = session.devices.printer.last
    assert printed.qr_codes == [f"HALLQ-APPT:{code}"] and printed.find(code)
    assert printed.find("企业设立登记") and card.id_number not in printed.text and card.name not in printed.text
    # the slot now has one place less
    again = BookAppointment(session)
    again.start()
    again.handle("choose", ITEM)
    again.handle("choose", "2026-11-24")
    assert again.view().options[0].detail == f"可约 {before - 1} 人"


def test_invalid_phone_is_kept_with_a_sentence(session):
    flow = book(session, id_number=make_id(), phone="1381234567")
    v = flow.view()
    assert v.step == "person"
    phone = next(f for f in v.fields if f.key == "phone")
    assert phone.value == "1381234567" and "11 位" in phone.error
    assert next(f for f in v.fields if f.key == "name").value == "张晓红"
    flow.handle("field", ("phone", "13812345678"))
    flow.handle("action", "next")
    assert flow.view().step == "confirm"


def test_one_booking_per_person_per_day(session):
    person = make_id(seq=321)
    first = book(session, id_number=person)
    first.handle("action", "confirm")
    assert first.view().step == "result"
    second = book(session, id_number=person, phone="13900001111")
    second.handle("action", "confirm")
    v = second.view()
    assert v.notice.level == "error" and v.step == "confirm" and second.booking is None


def test_check_in_on_the_day_with_the_card_gives_a_priority_ticket(session, city):
    card = demo_card()
    flow = book(session, card=card)
    flow.handle("action", "confirm")
    move_clock(city, "2026-11-24T08:50:00+08:00")
    menu = AppointmentMenu(session)
    menu.handle("choose", "checkin")
    assert menu.take_navigation() == ("checkin", {})
    checkin = CheckIn(session)
    checkin.start()
    v = checkin.view()
    assert set(v.listens) == {"card", "scan"}
    checkin.handle("card", card)
    v = checkin.view()
    assert v.step == "result" and v.result["number"].startswith("A")
    assert checkin.ticket["class"] == "appointment"
    assert session.devices.printer.last.find("预约签到，优先叫号")


def test_check_in_by_scanned_qr_and_typed_code(session, city):
    codes = []
    for seq in (401, 402):
        flow = book(session, id_number=make_id(seq=seq))
        flow.handle("action", "confirm")
        codes.append(flow.booking["code"])
    move_clock(city, "2026-11-24T08:50:00+08:00")
    checkin = CheckIn(session)
    checkin.start()
    checkin.handle("scan", "https://example.com/not-ours")
    assert "不是本大厅" in checkin.view().notice.text
    checkin.handle("scan", f"HALLQ-APPT:{codes[0]}")
    assert checkin.view().step == "result"
    checkin.start()
    checkin.handle("action", "type_code")
    checkin.handle("submit", "ABC")
    v = checkin.view()
    assert v.entry["value"] == "ABC" and "8 位" in v.entry["error"]
    checkin.handle("submit", codes[1].lower())
    assert checkin.view().step == "result"


def test_check_in_too_early_says_when(session, city):
    flow = book(session, id_number=make_id(seq=501))
    flow.handle("action", "confirm")
    checkin = CheckIn(session)
    checkin.start()
    checkin.handle("action", "type_code")
    checkin.handle("submit", flow.booking["code"])
    v = checkin.view()
    assert v.notice.level == "error" and v.step == "code"


def test_cancel_needs_the_code_and_the_same_person(session):
    person = make_id(seq=601)
    flow = book(session, id_number=person)
    flow.handle("action", "confirm")
    code = flow.booking["code"]
    cancel = CancelBooking(session)
    cancel.start()
    cancel.handle("scan", f"HALLQ-APPT:{code}")
    assert cancel.view().step == "identity"
    cancel.handle("action", "type_id")
    cancel.handle("submit", make_id(seq=602))
    assert cancel.view().notice.level == "error"
    cancel.handle("submit", person)
    v = cancel.view()
    assert v.step == "result" and v.notice.level == "ok"
