"""Appointments (预约办事): working days with holidays and 调休, capacity, cut-offs, one per day,
no-shows and suspension, check-in by code / QR / ID card to a priority ticket, idempotency, privacy."""

from datetime import datetime, timedelta

import pytest

from hallq.clock import CHINA
from hallq.testing import TINY
from tests.conftest import Api, make_id

RULES = """
[appointments]
min_days_ahead = 1
max_workdays_ahead = 5
slot_minutes = 30
capacity = 2
business_capacity = { alpha = 3 }
one_per_person_per_day = true
cancel_before_minutes = 120
checkin_before_minutes = 30
checkin_after_minutes = 15
no_show_limit = 3
no_show_window_days = 90
suspend_days = 30
"""

SERVICES = """
[[items]]
code = "T-ALPHA-1"
business = "alpha"
name = { zh-Hans = "甲事项", zh-Hant = "甲事項", en = "Alpha item" }
appointment = true

[[items]]
code = "T-ALPHA-2"
business = "alpha"
name = { zh-Hans = "甲二事项", zh-Hant = "甲二事項", en = "Alpha item 2" }
appointment = true

[[items]]
code = "T-BETA-1"
business = "beta"
name = { zh-Hans = "乙事项", zh-Hant = "乙事項", en = "Beta item" }
appointment = true

[[items]]
code = "T-WALKIN"
business = "alpha"
name = { zh-Hans = "即来即办", zh-Hant = "即來即辦", en = "Walk-in only" }
appointment = false
"""

PERSON = make_id("19850615", seq=123)
OTHER = make_id("19900101", seq=456)


def at(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


def booking_hall(tmp_path, clock):
    """The tiny test hall with appointment rules and bookable items: yields its API and state (for a fixture)."""
    from queue_server.app import create_app

    cfg = tmp_path / "hall"
    cfg.mkdir()
    (cfg / "hall.toml").write_text(TINY.read_text(encoding="utf-8") + RULES, encoding="utf-8")
    (cfg / "services.toml").write_text(SERVICES, encoding="utf-8")
    app = create_app(cfg / "hall.toml", data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    yield Api(app.test_client()), app.extensions["hallq"]
    app.extensions["hallq"].close()


@pytest.fixture
def hall(tmp_path, clock):
    yield from booking_hall(tmp_path, clock)


def book(api, day, start="09:00", item="T-ALPHA-1", id_number=PERSON, name="张小三", phone="13812345678", **kw):
    return api.post("/appointments", {"item": item, "date": day, "start": start, "name": name,
                                      "id_number": id_number, "phone": phone}, as_="kiosk", **kw)


def booked(api, *args, **kw) -> dict:
    r = book(api, *args, **kw)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def error(r, status):
    assert r.status_code == status, (r.status_code, r.get_json())
    return r.get_json()["error"]


def slots(api, item="T-ALPHA-1", **query):
    q = "&".join(f"{k}={v}" for k, v in {"item": item, **query}.items())
    return api.ok("get", f"/appointments/slots?{q}")


# -- working days, holidays, make-up days ---------------------------------------------------------

def test_slots_skip_the_national_day_holiday_and_include_the_makeup_saturday(hall, clock):
    api, _ = hall
    clock.set(at(2026, 9, 28))  # Monday; National Day holiday 10-01..10-07, 10-10 (Sat) is a make-up workday
    days = {d["date"]: d for d in slots(api)["days"]}
    assert list(days) == [f"2026-{d}" for d in ("09-29", "09-30", "10-01", "10-02", "10-03", "10-04", "10-05",
                                                  "10-06", "10-07", "10-08", "10-09", "10-10")]
    assert [d for d, v in days.items() if v["bookable"]] == ["2026-09-29", "2026-09-30", "2026-10-08",
                                                             "2026-10-09", "2026-10-10"]
    holiday = days["2026-10-03"]
    assert holiday["reason"] == "not_a_working_day" and holiday["slots"] == []
    assert holiday["holiday"]["zh-Hans"] == "国庆节" and holiday["holiday"]["en"] == "National Day"
    saturday = days["2026-10-10"]
    assert saturday["workday"] and saturday["holiday"] is None
    starts = [s["start"] for s in saturday["slots"]]  # 09:00-12:00 and 13:00-17:00 in 30-minute slots
    assert starts[:2] == ["09:00", "09:30"] and "11:30" in starts and "12:00" not in starts and starts[-1] == "16:30"
    assert len(starts) == 14 and all(s["remaining"] == 2 and s["available"] for s in saturday["slots"])
    assert booked(api, "2026-10-10")["date"] == "2026-10-10"
    assert error(book(api, "2026-10-05", id_number=OTHER), 409)["code"] == "not_a_working_day"
    assert error(book(api, "2026-10-12", id_number=OTHER), 409)["code"] == "too_far_ahead"


def test_slots_are_asked_for_within_a_month_of_what_may_be_booked(hall, clock):
    """Anyone may ask for slots: a first day centuries away once walked every day to it (or past year 9999: a 500)."""
    api, _ = hall
    clock.set(at(2026, 9, 28))
    for far in ("0001-01-01", "1990-01-01", "2026-08-27", "2027-01-01", "9999-12-31"):
        r = api.client.get(f"/api/v1/appointments/slots?item=T-ALPHA-1&from={far}", headers=api._headers("kiosk", None))
        e = error(r, 400)
        assert e["code"] == "invalid_fields" and e["detail"] == {"from": "2026-08-28", "to": "2026-11-10"}, e
        assert "2026-08-28" in e["messages"]["zh-Hans"] and "2026-11-10" in e["messages"]["en"]
    # within: answered, up to the last bookable day, or a month with ``days``
    listed = slots(api, **{"from": "2026-08-28"})["days"]
    assert (listed[0]["date"], listed[-1]["date"]) == ("2026-08-28", "2026-10-10")
    assert len(slots(api, **{"from": "2026-11-10", "days": "31"})["days"]) == 31


def test_a_makeup_sunday_is_bookable_and_an_ordinary_saturday_is_not(hall, clock):
    api, _ = hall
    clock.set(at(2026, 9, 18))  # Friday; 09-19 is an ordinary Saturday, 09-20 a make-up Sunday (调休)
    assert error(book(api, "2026-09-19"), 409)["code"] == "not_a_working_day"
    assert booked(api, "2026-09-20")["start"] == "09:00"


def test_too_soon_today_and_in_the_past_with_the_dates_in_the_message(hall, clock):
    api, _ = hall
    err = error(book(api, "2026-11-23"), 409)  # the frozen clock's today: min_days_ahead = 1
    assert err["code"] == "too_soon" and "2026-11-24" in err["messages"]["zh-Hans"]
    err = error(book(api, "2026-12-01"), 409)  # 5 working days after Mon 11-23 is Mon 11-30
    assert err["code"] == "too_far_ahead" and err["detail"]["last"] == "2026-11-30"
    assert error(book(api, "2026-11-24", start="12:00"), 422)["code"] == "no_such_slot"  # lunch break
    assert error(book(api, "2026-02-30"), 400)["code"] == "invalid_fields"


# -- capacity ---------------------------------------------------------------------------------------

def test_capacity_per_item_and_per_business_with_remaining_places(hall):
    api, _ = hall
    booked(api, "2026-11-24", id_number=make_id(seq=1))
    booked(api, "2026-11-24", id_number=make_id(seq=2))
    assert error(book(api, "2026-11-24", id_number=make_id(seq=3)), 409)["code"] == "slot_full"  # item: 2
    booked(api, "2026-11-24", item="T-ALPHA-2", id_number=make_id(seq=4))
    err = error(book(api, "2026-11-24", item="T-ALPHA-2", id_number=make_id(seq=5)), 409)  # business: 3
    assert err["code"] == "slot_full" and "其他时段" in err["messages"]["zh-Hans"]
    day = slots(api, item="T-ALPHA-2", **{"from": "2026-11-24", "days": 1})["days"][0]
    nine, half_past = day["slots"][0], day["slots"][1]
    assert (nine["capacity"], nine["remaining"], nine["available"]) == (2, 0, False)
    assert (half_past["remaining"], half_past["available"]) == (2, True)
    assert booked(api, "2026-11-24", start="09:30", id_number=make_id(seq=5))["start"] == "09:30"


def test_only_bookable_items_can_be_booked(hall):
    api, _ = hall
    assert error(book(api, "2026-11-24", item="T-WALKIN"), 409)["code"] == "not_bookable"
    assert error(book(api, "2026-11-24", item="NOPE"), 404)["code"] == "unknown_item"
    assert error(api.get("/appointments/slots?item=T-WALKIN"), 409)["code"] == "not_bookable"
    assert error(api.get("/appointments/slots"), 400)["code"] == "invalid_fields"


# -- the person: one per day, real name, privacy ------------------------------------------------------

def test_one_booking_per_person_per_day_until_it_is_cancelled(hall):
    api, _ = hall
    first = booked(api, "2026-11-24")
    err = error(book(api, "2026-11-24", start="14:00", item="T-ALPHA-2"), 409)
    assert err["code"] == "one_per_day" and "09:00" in err["messages"]["zh-Hans"]
    assert booked(api, "2026-11-25")["date"] == "2026-11-25"  # another day is fine
    api.ok("post", f"/appointments/{first['code']}/cancel", {"id_number": PERSON}, as_="kiosk")
    assert booked(api, "2026-11-24", start="14:00")["start"] == "14:00"


def test_every_bad_personal_field_is_listed_and_nothing_is_stored(hall):
    api, st = hall
    err = error(book(api, "2026-11-24", name="1", id_number="110105194912310021", phone="12345"), 422)
    assert err["code"] == "invalid_name"
    assert [f["field"] for f in err["fields"]] == ["name", "id_number", "phone"]
    assert "校验位" in err["detail"]["fields"]["id_number"]["zh-Hans"]
    assert "11-digit" in err["detail"]["fields"]["phone"]["en"]
    assert st.db.connection().execute("SELECT COUNT(*) FROM appointments").fetchone()[0] == 0


def test_responses_logs_and_database_carry_masks_only(hall):
    api, st = hall
    a = booked(api, "2026-11-24", name="欧阳娜娜", phone="13812345678")
    assert a["name_masked"] == "欧**娜" and a["phone_masked"] == "138****5678"
    assert a["id_masked"] == PERSON[:6] + "********" + PERSON[-4:]
    assert a["qr"] == "HALLQ-APPT:" + a["code"] and a["status"] == "booked"
    assert a["cancel_until"].startswith("2026-11-24T07:00")
    conn = st.db.connection()
    dump = "\n".join(str(tuple(r)) for t in ("appointments", "journal") for r in conn.execute(f"SELECT * FROM {t}"))
    assert PERSON not in dump and "13812345678" not in dump
    assert "欧阳娜娜" not in api.client.get(f"/api/v1/appointments/{a['code']}",
                                        headers={"Authorization": "Bearer demo-kiosk-1"}).get_data(as_text=True)
    staff = api.ok("get", f"/appointments/{a['code']}", as_="101")  # the back office: masks too
    assert staff["name"] == "欧**娜" and "欧阳娜娜" not in str(staff)


def test_the_full_name_of_a_booking_for_a_clerk_of_its_business_journaled_without_it(hall):
    api, st = hall
    a = booked(api, "2026-11-24", name="欧阳娜娜")  # T-ALPHA-1: business alpha
    url = f"/appointments/{a['code']}/applicant-name"
    api.ok("post", "/windows/3/sign-in", as_="102")  # window 3 serves beta only
    r = api.get(url, as_="102")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_your_business"
    assert api.get(url, as_="kiosk").status_code == 403 and api.get(url).status_code == 401
    api.ok("post", "/windows/1/sign-in", as_="101")  # window 1 serves alpha
    r = api.get(url, as_="101")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.get_json() == {"code": a["code"], "name": "欧阳娜娜", "name_masked": "欧**娜"}
    assert api.get(url, as_="900").status_code == 200  # a manager
    views = st.db.connection().execute("SELECT actor, data FROM journal WHERE action = 'resident_name_viewed' "
                                       "ORDER BY seq").fetchall()
    assert [tuple(v) for v in views] == [("staff:101", f'{{"code":"{a["code"]}"}}'),
                                         ("staff:900", f'{{"code":"{a["code"]}"}}')]
    assert "欧阳娜娜" not in str([tuple(r) for r in st.db.connection().execute("SELECT * FROM journal")])


def test_booking_codes_are_unambiguous_random_and_unique(hall):
    api, _ = hall
    codes = {booked(api, f"2026-11-{24 + i}", start=s, id_number=make_id(seq=i * 10 + j))["code"]
             for i in range(3) for j, s in enumerate(("09:00", "09:30", "10:00", "10:30"))}
    assert len(codes) == 12
    assert all(len(c) == 8 and not set(c) & set("01OILU") for c in codes)


def test_booking_is_idempotent(hall):
    api, st = hall
    key = {"Idempotency-Key": "kiosk-press-1"}
    first = booked(api, "2026-11-24", headers=key)
    again = booked(api, "2026-11-24", headers=key)
    assert again["code"] == first["code"] and again["replayed"] is True
    assert st.db.connection().execute("SELECT COUNT(*) FROM appointments").fetchone()[0] == 1


# -- cancelling ------------------------------------------------------------------------------------

def test_cancel_needs_the_same_person_and_closes_two_hours_before(hall, clock):
    api, _ = hall
    a = booked(api, "2026-11-24", start="10:00")
    url = f"/appointments/{a['code']}/cancel"
    assert error(api.post(url, {"id_number": OTHER}, as_="kiosk"), 403)["code"] == "not_yours"
    assert error(api.post(url, {}, as_="kiosk"), 400)["code"] == "invalid_fields"
    clock.set(at(2026, 11, 24, 8, 1))  # 119 minutes before 10:00
    err = error(api.post(url, {"id_number": PERSON}, as_="kiosk"), 409)
    assert err["code"] == "cancel_cutoff" and "120" in err["messages"]["zh-Hans"]
    assert api.ok("post", url, {}, as_="101") == {"code": a["code"], "status": "cancelled"}  # staff, phoned in
    assert error(api.post(url, {"id_number": PERSON}, as_="kiosk"), 409)["code"] == "already_cancelled"


def test_cancel_before_the_cutoff_frees_the_place(hall, clock):
    api, _ = hall
    a = booked(api, "2026-11-24", id_number=make_id(seq=1))
    booked(api, "2026-11-24", id_number=make_id(seq=2))
    clock.set(at(2026, 11, 24, 6, 59))
    api.ok("post", f"/appointments/{a['code']}/cancel", {"id_number": make_id(seq=1)}, as_="kiosk")
    assert slots(api, **{"from": "2026-11-25", "days": 1})["days"][0]["slots"][0]["remaining"] == 2
    clock.set(at(2026, 11, 23, 12, 0))
    assert api.ok("get", "/appointments/slots?item=T-ALPHA-1&from=2026-11-24&days=1")["days"][0]["slots"][0][
        "remaining"] == 1


# -- checking in -----------------------------------------------------------------------------------

def test_check_in_by_code_gives_a_priority_ticket_called_before_ordinary_ones(hall, clock):
    api, st = hall
    a = booked(api, "2026-11-24", start="09:00")
    clock.set(at(2026, 11, 24, 8, 29))
    err = error(api.post("/appointments/check-in", {"code": a["code"]}, as_="kiosk"), 409)
    assert err["code"] == "too_early" and "08:30" in err["messages"]["zh-Hans"]
    clock.set(at(2026, 11, 24, 8, 40))
    walk_ins = [api.issue("alpha") for _ in range(2)]
    key = {"Idempotency-Key": "checkin-1"}
    qr = "hallq-appt:" + a["code"].lower()  # the QR text, as a scanner might type it
    r = api.post("/appointments/check-in", {"code": qr}, as_="kiosk", headers=key)
    ticket = r.get_json()
    assert r.status_code == 201 and ticket["class"] == "appointment" and ticket["people_ahead"] == 0
    assert ticket["item"] == "T-ALPHA-1" and ticket["ticket"] == "A003"
    again = api.post("/appointments/check-in", {"code": a["code"]}, as_="kiosk", headers=key).get_json()
    assert again["id"] == ticket["id"] and again["replayed"] is True
    err = error(api.post("/appointments/check-in", {"code": a["code"]}, as_="kiosk"), 409)
    assert err["code"] == "already_checked_in" and err["detail"]["ticket"] == "A003"
    view = api.ok("get", f"/appointments/{a['code']}", as_="kiosk")
    assert view["status"] == "checked_in" and view["checked_in_ticket"]["ticket"] == "A003"
    clock.set(at(2026, 11, 24, 9, 0))
    api.open_window(1, "101")
    called = [api.act(1, "call-next", "101", {"complete_current": True})["ticket"]["ticket"] for _ in range(3)]
    assert called == ["A003", walk_ins[0]["ticket"], walk_ins[1]["ticket"]]
    assert st.db.connection().execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 3


def test_check_in_for_an_afternoon_slot_during_a_lunch_break_without_walk_in_numbers(tmp_path, clock):
    """A village station pauses walk-in numbers over lunch; a 13:00 booking still checks in at 12:40.

    Found by the simulator (docs/faults.md): the appointment's own check-in window governs.
    """
    from queue_server.app import create_app

    cfg = tmp_path / "hall"
    cfg.mkdir()
    text = TINY.read_text(encoding="utf-8").replace("stop_issuing_before_close_minutes = 0",
                                                    "stop_issuing_before_close_minutes = 0\nissue_during_breaks = false")
    (cfg / "hall.toml").write_text(text + RULES, encoding="utf-8")
    (cfg / "services.toml").write_text(SERVICES, encoding="utf-8")
    app = create_app(cfg / "hall.toml", data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    try:
        api = Api(app.test_client())
        a = booked(api, "2026-11-24", start="13:00")
        clock.set(at(2026, 11, 24, 12, 40))
        assert error(api.post("/tickets", {"business": "alpha"}, as_="kiosk"), 409)["detail"]["reason"] == "break"
        r = api.post("/appointments/check-in", {"code": a["code"]}, as_="kiosk")
        assert r.status_code == 201 and r.get_json()["class"] == "appointment"
    finally:
        app.extensions["hallq"].close()


def test_check_in_with_the_id_card_where_the_business_asks_for_an_id(hall, clock):
    api, _ = hall
    booked(api, "2026-11-24", start="14:00", item="T-BETA-1")
    clock.set(at(2026, 11, 24, 9, 0))
    assert error(api.post("/appointments/check-in", {"id_number": OTHER}, as_="kiosk"), 404)["code"] == \
        "no_appointment_today"
    assert error(api.post("/appointments/check-in", {"id_number": PERSON}, as_="kiosk"), 409)["code"] == "too_early"
    clock.set(at(2026, 11, 24, 13, 50))
    t = api.ok("post", "/appointments/check-in", {"id_number": PERSON}, as_="kiosk", status=201)
    assert t["ticket"] == "B001" and t["class"] == "appointment"
    # the person now holds a number for beta: one open number per person still applies
    assert error(api.post("/tickets", {"business": "beta", "id_number": PERSON}, as_="kiosk"), 409)["code"] == \
        "already_has_ticket"


def test_check_in_closes_fifteen_minutes_after_the_slot_starts(hall, clock):
    api, _ = hall
    a = booked(api, "2026-11-24", start="10:00")
    clock.set(at(2026, 11, 24, 10, 16))
    err = error(api.post("/appointments/check-in", {"code": a["code"]}, as_="kiosk"), 409)
    assert err["code"] == "too_late" and "10:15" in err["messages"]["zh-Hans"]
    assert error(api.post("/appointments/check-in", {"code": "ABCDEFGH"}, as_="kiosk"), 404)["code"] == \
        "unknown_appointment"
    assert error(api.post("/appointments/check-in", {}, as_="kiosk"), 400)["code"] == "invalid_fields"


def test_an_appointment_is_honoured_after_the_walk_in_daily_limit(hall, clock):
    api, _ = hall
    a = booked(api, "2026-11-24")
    clock.set(at(2026, 11, 24, 8, 45))
    for _ in range(5):  # alpha's daily limit is 5
        api.issue("alpha")
    assert error(api.post("/tickets", {"business": "alpha"}, as_="kiosk"), 409)["code"] == "daily_limit_reached"
    t = api.ok("post", "/appointments/check-in", {"code": a["code"]}, as_="kiosk", status=201)
    assert t["ticket"] == "A006" and t["people_ahead"] == 0


# -- no-shows and suspension -------------------------------------------------------------------------

def test_the_day_rollover_marks_no_shows(hall, clock):
    api, st = hall
    a = booked(api, "2026-11-24")
    clock.set(at(2026, 11, 25, 9, 0))
    api.issue("alpha")  # the first action of a new day rolls the old one over
    assert api.ok("get", f"/appointments/{a['code']}", as_="kiosk")["status"] == "no_show"
    actions = [r[0] for r in st.db.connection().execute("SELECT action FROM journal ORDER BY seq")]
    assert actions.index("appointment_no_show") < actions.index("issue")


def test_closing_the_day_marks_no_shows_and_reopening_undoes_them(hall, clock):
    api, _ = hall
    a = booked(api, "2026-11-24", start="16:30")
    clock.set(at(2026, 11, 24, 15, 0))
    assert api.ok("post", "/day/close", as_="900")["appointment_no_shows"] == 1
    assert api.ok("get", f"/appointments/{a['code']}", as_="kiosk")["status"] == "no_show"
    api.ok("post", "/day/reopen", as_="900")  # closed by mistake
    assert api.ok("get", f"/appointments/{a['code']}", as_="kiosk")["status"] == "booked"
    clock.set(at(2026, 11, 24, 16, 10))
    assert api.ok("post", "/appointments/check-in", {"code": a["code"]}, as_="kiosk", status=201)["class"] == \
        "appointment"


def test_three_no_shows_suspend_booking_for_thirty_days_then_the_count_starts_again(hall, clock):
    api, st = hall
    for day in ("2026-11-24", "2026-11-25", "2026-11-26"):
        booked(api, day)
    clock.set(at(2026, 11, 27, 9, 0))
    api.issue("alpha")  # rollover: three no-shows at once
    err = error(book(api, "2026-11-30"), 409)
    assert err["code"] == "booking_suspended" and err["detail"]["until"] == "2026-12-26"
    assert "2026-12-26" in err["messages"]["zh-Hans"] and "现场取号" in err["messages"]["zh-Hans"]
    assert booked(api, "2026-11-30", id_number=OTHER)["status"] == "booked"  # others are not affected
    clock.set(at(2026, 12, 28, 9, 0))  # Monday after the suspension
    a = booked(api, "2026-12-29")
    clock.set(at(2026, 12, 30, 9, 0))
    api.issue("alpha")  # a fourth no-show: the three before were already paid for
    assert api.ok("get", f"/appointments/{a['code']}", as_="kiosk")["status"] == "no_show"
    assert booked(api, "2026-12-31")["status"] == "booked"
    suspensions = st.db.connection().execute("SELECT COUNT(*) FROM appointment_suspensions").fetchone()[0]
    assert suspensions == 1


def test_a_manager_can_lift_a_suspension(hall, clock):
    api, _ = hall
    for day in ("2026-11-24", "2026-11-25", "2026-11-26"):
        booked(api, day)
    clock.set(at(2026, 11, 27, 9, 0))
    api.issue("alpha")
    assert error(book(api, "2026-11-30"), 409)["code"] == "booking_suspended"
    assert error(api.post("/appointments/suspensions/lift", {"id_number": PERSON}, as_="101"), 403)["code"] == \
        "forbidden"
    assert api.ok("post", "/appointments/suspensions/lift", {"id_number": PERSON}, as_="900") == {"lifted": 1}
    assert booked(api, "2026-11-30")["status"] == "booked"


def test_the_back_office_lists_a_day_with_masked_names(hall):
    api, _ = hall
    booked(api, "2026-11-24", start="10:00", name="张小三")
    booked(api, "2026-11-24", start="09:00", name="李四", id_number=OTHER)
    rows = api.ok("get", "/appointments?date=2026-11-24", as_="101")
    assert [(r["start"], r["name"]) for r in rows] == [("09:00", "李*"), ("10:00", "张*三")]
    assert "张小三" not in str(rows) and "李四" not in str(rows)
    assert error(api.get("/appointments?date=2026-11-24", as_="kiosk"), 403)["code"] == "forbidden"


def test_routes_are_declared_with_domain_operation_ids(api):
    ids = {op["operationId"] for ops in api.ok("get", "/openapi.json")["paths"].values() for op in ops.values()}
    assert {"book_appointment", "cancel_appointment", "check_in", "list_slots", "get_appointment"} <= ids


def test_the_bookable_window_moves_with_the_clock(hall, clock):
    api, _ = hall
    clock.set(at(2026, 11, 27, 18, 0))  # Friday evening: Monday to the next Friday
    days = [d["date"] for d in slots(api)["days"] if d["bookable"]]
    assert days == ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]
    assert (datetime.fromisoformat(days[-1]) - datetime.fromisoformat(days[0])) == timedelta(days=4)


def test_concurrent_bookings_never_overfill_a_slot(hall):
    from concurrent.futures import ThreadPoolExecutor

    from queue_server.domain.context import Actor
    from queue_server.domain.errors import DomainError

    _, st = hall
    kiosk = Actor("kiosk", "kiosk-1")

    def attempt(i):
        try:
            st.service.appointments.book(kiosk, "T-ALPHA-1", "2026-11-24", "09:00", "张小三", make_id(seq=i),
                                         "13812345678")
            return "booked"
        except DomainError as e:
            return e.code

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert sorted(results) == ["booked"] * 2 + ["slot_full"] * 14
    assert st.db.connection().execute("SELECT COUNT(*) FROM appointments").fetchone()[0] == 2


def test_mistakes_in_the_appointments_section_are_reported_with_file_and_key(tmp_path):
    from hallq.hallconfig import ConfigError, load_hall

    (tmp_path / "hall.toml").write_text(TINY.read_text(encoding="utf-8") + RULES.replace(
        "business_capacity = { alpha = 3 }", "business_capacity = { alpah = 3 }\nitem_capacity = { NOPE = 1 }")
        .replace("slot_minutes = 30", "slot_minutes = 2"), encoding="utf-8")
    (tmp_path / "services.toml").write_text(SERVICES, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_hall(tmp_path / "hall.toml")
    assert "hall.toml: appointments.slot_minutes: must be at least 5" in str(e.value)
    (tmp_path / "hall.toml").write_text(TINY.read_text(encoding="utf-8") + RULES.replace(
        "business_capacity = { alpha = 3 }", "business_capacity = { alpah = 3 }\nitem_capacity = { NOPE = 1 }"),
        encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_hall(tmp_path / "hall.toml")
    text = str(e.value)
    assert 'appointments.business_capacity.alpah: unknown business "alpah" (did you mean "alpha"?)' in text
    assert 'appointments.item_capacity.NOPE: unknown service item "NOPE"' in text
