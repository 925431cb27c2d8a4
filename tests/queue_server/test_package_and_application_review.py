"""Faults found by the review of applications and 一件事 packages (2026-12), each held by a test here.

* a package gets ONE correction notice (一次性告知) across its parts, as a lone application does, and pressing
  "send notice" again moves no other part;
* a package's supplement gives its corrected answers to every part whose form asks them;
* a clerk's supplement during review is journaled as a supplement, not as the status step again, and does not
  restart the pre-review clock;
* a package's parts waiting for a sibling's correction are not overdue;
* 一次办结率 counts a package the resident came back for as not first-visit;
* a change of the calendar moves the deadlines of the applications not yet decided.
"""

import copy
import json
from dataclasses import replace
from datetime import date

from tests.queue_server.test_applications import CLERK, at, submit, unemployment
from tests.queue_server import test_packages
from tests.queue_server.test_packages import MOTHER, file, guide, move, review

city = test_packages.city  # the package tests' hall (the sample city hall, Monday 2026-12-07)

MANAGER = "2001"


def material(api, name: str) -> int:
    return next(m["index"] for m in guide(api)["materials"] if m["name"] == name)


def without(api, name: str) -> list[int]:
    return [m["index"] for m in guide(api)["materials"] if m["name"] != name]


def statuses(api, no) -> list[str]:
    return [p["status"] for p in api.ok("get", f"/applications/{no}", as_=CLERK)["parts"]]


def journal(st, action: str) -> list[dict]:
    return [json.loads(r[0]) for r in st.db.connection().execute(
        "SELECT data FROM journal WHERE action = ? ORDER BY seq", (action,))]


def rows(st, *columns: str) -> list[tuple]:
    return [tuple(r) for r in st.db.connection().execute(
        f"SELECT {', '.join(columns)} FROM applications ORDER BY id")]


SSC_FORM = "社会保障卡申领登记表"  # asked by the fourth part (社会保障卡申领) alone


# -- 1. one correction notice per package ------------------------------------------------------------

def test_a_package_gets_one_notice_and_a_later_one_may_only_repeat_it(city):
    api, st = city
    no = file(api, materials=without(api, SSC_FORM))["tracking_no"]
    first = review(api, no, "correction", reason="缺登记表")
    assert [p["status"] for p in first["parts"]] == ["pre_review", "pre_review", "pre_review", "correction"]
    api.ok("post", f"/packages/applications/{no}/supplement",
           {"materials": [material(api, SSC_FORM)], "id_number": MOTHER}, as_="kiosk")
    assert statuses(api, no) == ["pre_review"] * 4
    # new demands, for parts the first notice left out: refused as for a lone application, every new one named
    err = review(api, no, "correction", status=409, missing=["结婚证", "新生儿姓名", "请补交父亲户口本"])
    assert err["code"] == "one_time_notice" and "新生儿姓名" in err["messages"]["zh-Hans"]
    assert set(err["detail"]["parts"]) >= {f"{no}-1", f"{no}-2"} and "field:child_name" in err["detail"]["new"]
    assert statuses(api, no) == ["pre_review"] * 4 and len(journal(st, "application_correction")) == 1
    # nor by a notice sent to one part on its own
    r = api.post(f"/applications/{no}-1/transition", {"to": "correction", "missing": ["新生儿姓名"]}, as_=CLERK)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "one_time_notice"
    # repeating what the first asked for is allowed, and goes to the part it concerned
    again = review(api, no, "correction", missing=[SSC_FORM])
    assert [p["status"] for p in again["parts"]] == ["pre_review", "pre_review", "pre_review", "correction"]
    assert api.ok("get", f"/applications/{no}-4", as_=CLERK)["correction_history"]["notices"] == 2


def test_pressing_send_notice_again_moves_no_other_part(city):
    api, _ = city
    no = file(api)["tracking_no"]
    body = {"missing": ["请携带原件核验"]}
    assert [p["status"] for p in review(api, no, "correction", **body)["parts"]] == [
        "correction", "pre_review", "pre_review", "pre_review"]
    for _ in range(2):
        err = review(api, no, "correction", status=409, **body)
        assert err["code"] == "invalid_transition" and "补正通知已经发出" in err["messages"]["zh-Hans"]
    assert statuses(api, no) == ["correction", "pre_review", "pre_review", "pre_review"]
    # after the supplement the same words go back to the part they were said to, not to another
    api.ok("post", f"/packages/applications/{no}/supplement",
           {"fields": {"child_name": "李安然"}, "id_number": MOTHER}, as_="kiosk")
    assert statuses(api, no) == ["pre_review"] * 4
    assert [p["status"] for p in review(api, no, "correction", **body)["parts"]] == [
        "correction", "pre_review", "pre_review", "pre_review"]


# -- 2. the corrected answers reach the parts that decide ---------------------------------------------

def test_a_package_supplement_s_answers_reach_every_part_whose_form_asks_them(city):
    api, st = city
    no = file(api, materials=without(api, SSC_FORM))["tracking_no"]
    review(api, no, "correction")
    api.ok("post", f"/packages/applications/{no}/supplement",
           {"materials": [material(api, SSC_FORM)], "fields": {"child_name": "李安然"}, "id_number": MOTHER},
           as_="kiosk")
    # the first three items' forms ask the child's name; the fourth has no form of its own, so it takes every
    # answer of the package's form, as when it was filed (一表申请)
    assert [json.loads(f).get("child_name") for (f,) in rows(st, "fields")] == ["李安然"] * 4
    # each part given the answer has it journaled as a supplement (from pre-review: it stays in review)
    supplied = [d for d in journal(st, "application_pre_review") if d.get("kind") == "supplemented"]
    assert sorted((d["tracking_no"][-1], d["from"], d["fields"]) for d in supplied) == [
        ("1", "pre_review", ["child_name"]), ("2", "pre_review", ["child_name"]), ("3", "pre_review", ["child_name"]),
        ("4", "correction", ["child_name"])]
    assert statuses(api, no) == ["pre_review"] * 4


# -- 3. a clerk's supplement during review -----------------------------------------------------------

def test_a_clerk_s_supplement_in_review_is_journaled_as_a_supplement_not_as_the_filing(city, clock):
    api, st = city
    no = submit(api, unemployment(materials=[0, 1]))["tracking_no"]
    clock.set(at(2026, 12, 9, 15))
    done = api.ok("post", f"/applications/{no}/supplement", {"materials": [2]}, as_=CLERK)
    assert done["status"] == "submitted" and done["materials_provided"] == [0, 1, 2]
    assert [e["status"] for e in done["timeline"]] == ["submitted"]  # no second step
    filed = journal(st, "application_submitted")
    assert len(filed) == 1 and filed[0]["item"] == "520200-RS-GG-0002" and filed[0]["department"]
    assert journal(st, "application_pre_review") == [
        {"tracking_no": no, "from": "submitted", "kind": "supplemented", "materials": [2], "fields": []}]


def test_a_clerk_s_supplement_does_not_restart_the_pre_review_clock(city, clock):
    api, _ = city
    no = submit(api, unemployment(materials=[0, 1]))["tracking_no"]  # Monday 12-07: pre-review due Monday 12-14
    assert move(api, no, "pre_review")["review_by"] == "2026-12-14"
    clock.set(at(2026, 12, 16))
    api.login(CLERK)
    assert api.ok("get", f"/applications/{no}", as_=CLERK)["overdue_kind"] == "review"
    # recording one material is no way to clear the overdue flag
    v = api.ok("post", f"/applications/{no}/supplement", {"materials": [2]}, as_=CLERK)
    assert (v["status"], v["review_by"], v["overdue_kind"]) == ("pre_review", "2026-12-14", "review")
    assert [e["status"] for e in v["timeline"]] == ["submitted", "pre_review"]


def test_the_pre_review_step_keeps_the_deadline_counted_from_the_submission(city, clock):
    """Found with the above: the pre-review step itself restarted the 5 working days (and told the resident
    "corrections received"); docs/applications.md counts them from the submission or the last supplement."""
    api, _ = city
    no = submit(api, unemployment(materials=[0, 1]))["tracking_no"]
    clock.set(at(2026, 12, 9))
    v = move(api, no, "pre_review")
    assert v["review_by"] == "2026-12-14" and v["timeline"][-1]["note"]["zh-Hans"] == "窗口正在预审申请材料。"


# -- 4. a package waits as one ------------------------------------------------------------------------

def test_parts_waiting_for_a_sibling_s_correction_are_not_overdue(city, clock):
    api, st = city
    no = file(api, materials=without(api, SSC_FORM))["tracking_no"]
    review(api, no, "correction")
    clock.set(at(2026, 12, 16))  # 7 working days on; the resident has not brought the form yet
    api.login(CLERK)
    v = api.ok("get", f"/applications/{no}")
    assert v["status"] == "correction" and not v["overdue"]
    assert [p["overdue_kind"] for p in v["parts"]] == [None] * 4
    assert api.ok("get", "/applications?overdue=true", as_=CLERK) == []
    # the resident brings it: every part gets 5 working days from then, together
    api.ok("post", f"/packages/applications/{no}/supplement",
           {"materials": [material(api, SSC_FORM)], "id_number": MOTHER}, as_="kiosk")
    assert not api.ok("get", f"/applications/{no}")["overdue"]
    assert rows(st, "review_by") == [("2026-12-23",)] * 4
    clock.set(at(2026, 12, 24))
    api.login(CLERK)
    assert {r["tracking_no"] for r in api.ok("get", "/applications?overdue=true", as_=CLERK)} == {
        f"{no}-{n}" for n in range(1, 5)}


# -- 5. 一次办结率 of a package -------------------------------------------------------------------------

def test_the_one_visit_rate_counts_a_package_the_resident_came_back_for(city, clock):
    api, st = city
    no = file(api, materials=without(api, SSC_FORM))["tracking_no"]
    review(api, no, "correction")
    clock.set(at(2026, 12, 8))
    api.ok("post", f"/packages/applications/{no}/supplement",
           {"materials": [material(api, SSC_FORM)], "id_number": MOTHER}, as_="kiosk")
    api.login(CLERK)
    review(api, no, "accepted")
    for n in range(1, 5):
        move(api, f"{no}-{n}", "result_ready", decision="approved")
    for day in (8, 9):  # the day of submission read live, then from the rollup
        clock.set(at(2026, 12, day))
        api.login(MANAGER)
        total = api.ok("get", "/stats/applications?from=2026-12-01&to=2026-12-31", as_=MANAGER)["total"]
        assert (total["completed"], total["corrected"], total["one_visit_rate"]) == (4, 1, 0.0)
    # a day rolled up by an earlier release (three parts "first-visit") is rolled up again once, by these rules
    with st.db.write() as conn:
        conn.execute("UPDATE stats_applications SET first_time = 3 WHERE day = '2026-12-07'")
        conn.execute("DELETE FROM meta WHERE key = 'stats_applications_rules'")
    total = api.ok("get", "/stats/applications?from=2026-12-01&to=2026-12-31", as_=MANAGER)["total"]
    assert total["one_visit_rate"] == 0.0


# -- 6. the calendar changes ---------------------------------------------------------------------------

def test_a_calendar_change_moves_the_deadlines_of_applications_not_yet_decided(city, clock):
    api, st = city
    clock.set(at(2026, 12, 10))  # Thursday
    api.login(CLERK)
    accepted = submit(api)["tracking_no"]
    v = move(api, accepted, "accepted")
    assert (v["promised_by"], v["statutory_by"]) == ("2026-12-15", "2026-12-24")
    waiting = submit(api)["tracking_no"]
    assert api.ok("get", f"/applications/{waiting}", as_=CLERK)["review_by"] == "2026-12-17"
    fixed = submit(api, unemployment(materials=[0, 1]))["tracking_no"]
    move(api, fixed, "correction")
    clock.set(at(2026, 12, 11))  # Friday: the corrections come, 5 working days from then
    api.login(CLERK)
    api.ok("post", f"/applications/{fixed}/supplement", {"materials": [2]}, as_=CLERK)
    decided = submit(api)["tracking_no"]
    move(api, decided, "accepted")
    move(api, decided, "result_ready", decision="approved")
    before = {r[0]: r[1:] for r in rows(st, "tracking_no", "promised_by", "statutory_by", "review_by")}
    api.login(MANAGER)
    api.ok("put", "/settings/calendar/2026-12-14", {"kind": "holiday", "note": "停电闭馆"}, as_=MANAGER)
    after = {r[0]: r[1:] for r in rows(st, "tracking_no", "promised_by", "statutory_by", "review_by")}
    assert after[accepted][:2] == ("2026-12-16", "2026-12-25")  # from the acceptance, on the new calendar
    assert after[waiting][2] == "2026-12-18"  # from the submission
    assert after[fixed][2] == "2026-12-21"  # from the supplement (Fri 11th: Tue 15th .. Mon 21st)
    assert after[decided] == before[decided]  # decided: its dates stay
    changed = journal(st, "calendar_changed")
    assert len(changed) == 1 and changed[0]["deadlines_moved"] == 3
    # back to the official calendar: the dates come back
    api.ok("put", "/settings/calendar/2026-12-14", {"kind": None}, as_=MANAGER)
    assert {r[0]: r[1:] for r in rows(st, "tracking_no", "promised_by", "statutory_by", "review_by")} == before


def test_a_deadline_moves_once_when_the_change_lands_on_a_process_that_has_not_seen_the_last_one(city, clock):
    """With several server processes, one may still hold the calendar from before another's change (it catches up
    within seconds): the deadlines are recounted from the calendar as the database has it, not as that process does."""
    from queue_server.domain import hall_settings
    from queue_server.domain.context import Actor, Hall, Tx

    api, st = city
    clock.set(at(2026, 12, 10))  # Thursday
    api.login(CLERK)
    accepted = submit(api)["tracking_no"]
    assert move(api, accepted, "accepted")["promised_by"] == "2026-12-15"
    # another process: its own copy of the calendar, from before the change
    other = Hall(replace(st.hall.config, calendar=copy.deepcopy(st.hall.config.calendar)), st.hall.clock, st.hall.secret)
    api.login(MANAGER)
    api.ok("put", "/settings/calendar/2026-12-14", {"kind": "holiday"}, as_=MANAGER)
    assert other.config.calendar.is_workday(date(2026, 12, 14))  # it has not caught up yet
    with st.db.write() as conn:  # the next change lands on it
        hall_settings.set_day(Tx(conn, other, Actor("staff", MANAGER, role="manager"), other.now()), "2026-12-15",
                              "holiday")
    (promised,) = [r[1] for r in rows(st, "tracking_no", "promised_by") if r[0] == accepted]
    assert promised == "2026-12-17"  # three working days after the 10th, the 14th and 15th off: moved once each
