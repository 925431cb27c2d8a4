"""What makes a case a clerk's own, and so opens the resident's full name (docs/privacy.md, 显示全名).

A clerk who neither serves the case's business nor took a step of it must not get the name by taking a step that
does nothing: a supplement that adds nothing is refused and writes nothing; a supplement that does add something
is recorded but is not a step of the case; a case in correction is sent back to pre-review by itself only by a
clerk of the case. The filing, the pre-review and each decision do make the case the clerk's own. Form fields of
type ``phone`` (the mailing recipient's) are masked in every staff view and answered in full with the names.
"""

import json

import pytest

from tests.conftest import CITY, Api, make_id
from tests.queue_server.test_applications import CLERK, PERSON, at, submit, unemployment
from tests.queue_server.test_packages import MOTHER, every_material, file
from tests.web.test_roles import Browser

STRANGER = "1002"  # signed in at window 1, which serves commerce only: no business of these cases
PRE_REVIEWER = "1004"  # at no window: takes the pre-review step


@pytest.fixture
def city(tmp_path, clock):
    from queue_server.app import create_app

    clock.set(at(2026, 12, 7))
    app = create_app(CITY, data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    api = Api(app.test_client())
    api.ok("post", "/windows/1/sign-in", as_=STRANGER)
    yield api, app.extensions["hallq"], app
    app.extensions["hallq"].close()


def written(st) -> tuple:
    """Everything a refused request must leave as it was: the cases, their timelines, the journal."""
    conn = st.db.connection()
    return tuple(tuple(tuple(r) for r in conn.execute(sql)) for sql in (
        "SELECT status, fields, materials, review_by, updated_at FROM applications ORDER BY id",
        "SELECT id FROM application_events ORDER BY id", "SELECT MAX(seq) FROM journal",
        "SELECT fields, materials FROM package_applications ORDER BY id"))


def name_status(api, no, who=STRANGER) -> int:
    return api.get(f"/applications/{no}/applicant-name", as_=who).status_code


def test_an_empty_supplement_is_refused_and_opens_no_name(city):
    api, st, _ = city
    no = submit(api)["tracking_no"]
    r = api.get(f"/applications/{no}/applicant-name", as_=STRANGER)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_your_business"
    before = written(st)
    for body in ({}, {"materials": [0, 1]}, {"fields": {"separation_reason": "contract_ended"}}):  # all on file
        r = api.post(f"/applications/{no}/supplement", body, as_=STRANGER)
        err = r.get_json()["error"]
        assert r.status_code == 400 and err["code"] == "nothing_supplied", r.get_json()
        assert {f["field"] for f in err["fields"]} == {"fields", "materials"}
        assert "补正没有新的内容" in err["messages"]["zh-Hans"] and "adds nothing" in err["messages"]["en"]
        assert "補正沒有新的內容" in err["messages"]["zh-Hant"]
    assert written(st) == before  # nothing changed, no event, no journal entry
    assert name_status(api, no) == 403
    # in correction too, and from the applicant at a kiosk (after the proof that it is theirs)
    api.ok("post", f"/applications/{no}/transition", {"to": "correction", "missing": ["separation_date"]}, as_=CLERK)
    before = written(st)
    for who, body in ((STRANGER, {}), ("kiosk", {"id_number": PERSON, "materials": [0]})):
        r = api.post(f"/applications/{no}/supplement", body, as_=who)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "nothing_supplied", r.get_json()
    r = api.post(f"/applications/{no}/supplement", {"id_number": make_id(seq=9)}, as_="kiosk")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_yours"  # another's card: told that first
    assert written(st) == before and name_status(api, no) == 403


def test_a_supplement_that_adds_something_is_recorded_but_does_not_make_the_case_the_clerks(city):
    api, st, _ = city
    no = submit(api, unemployment(materials=[0, 1]))["tracking_no"]
    done = api.ok("post", f"/applications/{no}/supplement", {"materials": [2]}, as_=STRANGER)
    # recorded in review, it is no step of the timeline (the status did not change): the journal says who recorded it
    assert done["materials_provided"] == [0, 1, 2] and [e["status"] for e in done["timeline"]] == ["submitted"]
    entry = st.db.connection().execute("SELECT actor, data FROM journal WHERE action = 'application_pre_review'"
                                       ).fetchone()
    assert entry[0] == f"staff:{STRANGER}" and json.loads(entry[1])["kind"] == "supplemented"
    assert name_status(api, no) == 403
    # a supplement that moves a case in correction back to pre-review is not a step of the case either
    api.ok("post", f"/applications/{no}/transition", {"to": "correction", "missing": ["separation_date"]}, as_=CLERK)
    back = api.ok("post", f"/applications/{no}/supplement", {"fields": {"separation_date": "2026-10-30"}},
                  as_=STRANGER)
    assert back["status"] == "pre_review"
    assert name_status(api, no) == 403


def test_a_supplement_event_of_an_earlier_release_does_not_open_the_name(city):
    """Before 2026-12 an empty supplement was written like any other: status unchanged, data with its keys."""
    api, st, _ = city
    no = submit(api)["tracking_no"]
    conn = st.db.connection()
    app_id = conn.execute("SELECT id FROM applications WHERE tracking_no = ?", (no,)).fetchone()[0]
    with st.db.write() as w:
        w.execute("INSERT INTO application_events (application_id, status, at, actor, note, data) VALUES "
                  "(?, 'submitted', '2026-12-07T10:05:00+08:00', ?, '{}', ?)",
                  (app_id, f"staff:{STRANGER}", json.dumps({"materials": [], "fields": []})))
    assert name_status(api, no) == 403


def test_a_case_in_correction_goes_back_to_pre_review_by_itself_only_by_a_clerk_of_the_case(city):
    api, st, _ = city
    no = submit(api)["tracking_no"]
    api.ok("post", f"/applications/{no}/transition", {"to": "correction", "missing": ["separation_date"]}, as_=CLERK)
    before = written(st)
    r = api.post(f"/applications/{no}/transition", {"to": "pre_review"}, as_=STRANGER)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_your_case", r.get_json()
    assert "登记补正" in r.get_json()["error"]["messages"]["zh-Hans"]
    assert written(st) == before and name_status(api, no) == 403
    # the clerk who sent the notice may; so may a manager
    assert api.ok("post", f"/applications/{no}/transition", {"to": "pre_review"}, as_=CLERK)["status"] == "pre_review"
    api.ok("post", f"/applications/{no}/transition", {"to": "correction", "missing": ["separation_date"]}, as_=CLERK)
    assert api.ok("post", f"/applications/{no}/transition", {"to": "pre_review"}, as_="2001")["status"] == "pre_review"


def test_a_return_to_pre_review_by_itself_is_not_a_step_that_opens_the_name(city):
    """A clerk serving the business sends a case back from correction; signed out, that step does not keep the
    name open to them (nor would one stored by an earlier release for a clerk of no business)."""
    api, st, _ = city
    no = submit(api)["tracking_no"]
    api.ok("post", f"/applications/{no}/transition", {"to": "correction", "missing": ["separation_date"]}, as_=CLERK)
    api.ok("post", "/windows/8/sign-in", as_="1005")  # window 8 serves social
    assert api.ok("post", f"/applications/{no}/transition", {"to": "pre_review"}, as_="1005")["status"] == "pre_review"
    assert name_status(api, no, "1005") == 200
    api.ok("post", "/windows/8/sign-out", as_="1005")
    assert name_status(api, no, "1005") == 403


def _a_step_opens_the_name(api, no: str, path: str, body: dict, name: str) -> None:
    """PRE_REVIEWER may not see the name of ``no``, takes the step (POST ``path``), and then may."""
    assert name_status(api, no, PRE_REVIEWER) == 403
    api.ok("post", path, body, as_=PRE_REVIEWER)
    r = api.get(f"/applications/{no}/applicant-name", as_=PRE_REVIEWER)
    assert r.status_code == 200 and r.get_json()["name"] == name


def test_the_clerk_who_pre_reviewed_or_decided_still_gets_the_name(city):
    api, st, _ = city
    no = submit(api)["tracking_no"]
    _a_step_opens_the_name(api, no, f"/applications/{no}/transition", {"to": "pre_review"}, "王小明")
    api.ok("post", f"/applications/{no}/transition", {"to": "accepted"}, as_="1006")  # at no window: decides
    assert name_status(api, no, "1006") == 200
    # a clerk who filed it for the resident (帮办)
    filed = api.ok("post", "/applications", unemployment(applicant={"name": "李四", "id_number": make_id(seq=8),
                                                                     "phone": "13900000000"}), as_="1007", status=201)
    assert name_status(api, filed["tracking_no"], "1007") == 200


def test_a_package_an_empty_supplement_is_refused_and_opens_no_name_in_the_api_or_the_console(city):
    api, st, app = city
    no = file(api)["tracking_no"]
    assert name_status(api, no) == 403
    before = written(st)
    for body in ({}, {"materials": every_material(api)}, {"fields": {"child_name": "李安"}}):  # all on file already
        r = api.post(f"/packages/applications/{no}/supplement", body, as_=STRANGER)
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "nothing_supplied", r.get_json()
    assert written(st) == before
    assert name_status(api, no) == 403 and name_status(api, f"{no}-1") == 403
    # the back office's page: the same rule for 显示全名
    browser = Browser(app, STRANGER)
    url = f"/console/backoffice/{no}/applicant-name"
    r = browser.client.post(url, headers={"X-CSRF-Token": browser.csrf})
    assert r.status_code == 403 and "张丽" not in r.text
    # a supplement that adds something goes to the parts that take it, and is no step of the case either
    changed = api.ok("post", f"/packages/applications/{no}/supplement", {"fields": {"child_name": "李安然"}},
                     as_=STRANGER)
    assert changed["fields"]["child_name"] == "李*然"
    assert browser.client.post(url, headers={"X-CSRF-Token": browser.csrf}).status_code == 403
    assert name_status(api, no) == 403
    # a kiosk's wrong card is told so first, whatever the supplement holds
    r = api.post(f"/packages/applications/{no}/supplement", {"id_number": make_id(seq=9)}, as_="kiosk")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_yours"
    assert api.post(f"/packages/applications/{no}/supplement", {"id_number": MOTHER}, as_="kiosk").status_code == 409


def test_a_package_pre_reviewed_by_a_clerk_opens_the_name_to_them(city):
    api, st, _ = city
    no = file(api)["tracking_no"]
    _a_step_opens_the_name(api, no, f"/packages/applications/{no}/review", {"to": "accepted"}, "张丽")


# -- a phone a form holds (the mailing recipient's): masked in every staff view, full with 显示全名 ------------

FREE_MAIL = "520200-ZWFW-GG-0006"  # 办理结果免费邮寄送达: business delivery, field recipient_phone


def mail_request(**fields):
    return {"item": FREE_MAIL, "applicant": {"name": "王小明", "id_number": PERSON, "phone": "13812345678"},
            "fields": {"original_tracking_no": "SQ20261123-K7Q2M9XP", "recipient": "李四",
                       "recipient_phone": "139 0000 1111", "postal_address": "贵州省六盘水市钟山区明湖路428号",
                       **fields}, "materials": [0, 1], "delivery": "onsite"}


def test_a_forms_phone_is_masked_for_staff_and_answered_in_full_on_request_journaled(city):
    api, st, app = city
    no = api.ok("post", "/applications", mail_request(), as_="kiosk", status=201)["tracking_no"]
    full, masked = "13900001111", "139****1111"
    views = [api.ok("get", f"/applications/{no}", as_=CLERK),
             api.ok("post", f"/applications/{no}/transition", {"to": "pre_review"}, as_=CLERK),
             api.ok("post", f"/applications/{no}/supplement", {"fields": {"postcode": "553000"}}, as_=CLERK)]
    for view in views:
        assert view["fields"]["recipient_phone"] == masked and full not in json.dumps(view)
        assert view["fields"]["recipient"] == "李*" and "李四" not in json.dumps(view, ensure_ascii=False)
    manager = Browser(app, "2001")
    page = manager.client.get(f"/console/backoffice/{no}").text
    assert f'data-person-field="recipient_phone">{masked}</dd>' in page and full not in page
    assert st.db.connection().execute("SELECT COUNT(*) FROM journal WHERE action = 'resident_name_viewed'"
                                      ).fetchone()[0] == 0
    # the full number comes with the names, to whom may see them, journaled (never the number)
    assert name_status(api, no) == 403
    r = api.get(f"/applications/{no}/applicant-name", as_=CLERK)  # CLERK pre-reviewed it
    assert r.status_code == 200 and r.get_json()["fields"] == {"recipient": "李四", "recipient_phone": full}
    r = manager.client.post(f"/console/backoffice/{no}/applicant-name", headers={"X-CSRF-Token": manager.csrf})
    assert r.status_code == 200 and r.get_json()["fields"] == {"recipient": "李四", "recipient_phone": full}
    journal = " ".join(d for (d,) in st.db.connection().execute("SELECT data FROM journal"))
    assert journal.count(no) >= 2 and full not in journal
