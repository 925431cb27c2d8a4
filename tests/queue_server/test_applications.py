"""Applications (前台综合受理) and progress (进度查询): forms and validation, the state machine,
the one correction notice (一次性告知), deadlines in working days, overdue flags, privacy."""

import json
import re
from datetime import datetime

import pytest

from hallq.clock import CHINA
from hallq.hallconfig import ConfigError, load_hall
from tests.conftest import CITY, Api, make_id

BUSINESS_REG = "520201-SCJG-XK-0001"  # 个体工商户设立登记: promised 0, statutory 3 working days
UNEMPLOYMENT = "520200-RS-GG-0002"  # 失业保险金申领: promised 3, statutory 10 working days
PERSON = make_id("19850615", seq=123)
CLERK = "1001"


def at(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


@pytest.fixture
def city(tmp_path, clock):
    from queue_server.app import create_app

    app = create_app(CITY, data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    yield Api(app.test_client()), app.extensions["hallq"]
    app.extensions["hallq"].close()


def unemployment(**over):
    body = {"item": UNEMPLOYMENT,
            "applicant": {"name": "王小明", "id_number": PERSON, "phone": "13812345678"},
            "fields": {"last_employer": "六盘水某某建材有限公司", "separation_date": "2026-10-31",
                       "separation_reason": "contract_ended"},
            "materials": [0, 1, 2], "delivery": "onsite"}
    return {**body, **over}


def submit(api, body=None, **kw) -> dict:
    r = api.post("/applications", body or unemployment(), as_="kiosk", **kw)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def move(api, no, to, status=200, **body):
    r = api.post(f"/applications/{no}/transition", {"to": to, **body}, as_=CLERK)
    if r.status_code == 401:  # the clerk's session ended while the test moved the clock on by days
        api.login(CLERK)
        r = api.post(f"/applications/{no}/transition", {"to": to, **body}, as_=CLERK)
    assert r.status_code == status, r.get_json()
    return r.get_json() if status == 200 else r.get_json()["error"]


# -- the form ------------------------------------------------------------------------------------

def test_an_items_form_and_materials_checklist(city):
    api, _ = city
    form = api.ok("get", f"/items/{BUSINESS_REG}/form")
    fields = {f["key"]: f for f in form["fields"]}
    assert list(fields) == ["trade_name", "organization", "business_scope", "premises", "capital", "employees"]
    assert [o["value"] for o in fields["organization"]["options"]] == ["personal", "family"]
    assert fields["capital"]["type"] == "number" and fields["employees"]["min"] == 1
    assert fields["business_scope"]["label"]["zh-Hant"] == "經營範圍" and fields["business_scope"]["required"]
    assert [(m["index"], m["required"]) for m in form["materials"]] == [(0, True), (1, True), (2, True), (3, False)]
    assert form["mail_free"] is True and form["delivery"] == ["onsite", "mail"]
    r = api.get("/items/520200-ZWFW-GG-0004/form")  # 办理结果现场领取: nothing to apply for
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "no_form"
    assert api.get("/items/NOPE/form").status_code == 404


def test_every_bad_field_is_reported_at_once_in_three_languages_and_nothing_is_stored(city):
    api, st = city
    body = {"item": BUSINESS_REG, "applicant": {"name": "", "id_number": "110105194912310021", "phone": "12"},
            "fields": {"organization": "company", "capital": "five", "employees": 0, "premises": "x" * 121,
                       "nickname": "?"},
            "materials": [0, 9], "delivery": "mail", "address": "贵州"}
    r = api.post("/applications", body, as_="kiosk")
    err = r.get_json()["error"]
    assert r.status_code == 400 and err["code"] == "invalid_fields"
    problems = {f["field"]: f["problem"] for f in err["fields"]}
    assert problems == {
        "applicant.name": "invalid_name", "applicant.id_number": "invalid_id_number",
        "applicant.phone": "invalid_phone",
        "fields.nickname": "unknown_field", "fields.organization": "not_an_option", "fields.business_scope": "required",
        "fields.premises": "too_long", "fields.capital": "not_a_number", "fields.employees": "out_of_range",
        "materials[1]": "unknown_material", "address": "address_required"}
    texts = err["detail"]["fields"]
    assert texts["fields.business_scope"] == {"zh-Hans": "请填写经营范围。", "zh-Hant": "請填寫經營範圍。",
                                              "en": "Business scope: please fill this in."}
    assert "1 到 999" in texts["fields.employees"]["zh-Hans"] and "120" in texts["fields.premises"]["zh-Hant"]
    assert "另有10处" in err["messages"]["zh-Hans"]
    assert st.db.connection().execute("SELECT COUNT(*) FROM applications").fetchone()[0] == 0


def test_patterns_dates_phones_and_id_numbers_in_forms(city):
    api, _ = city
    body = unemployment(fields={"last_employer": "某公司", "separation_date": "2026-02-30",
                                "separation_reason": "contract_ended", "bank_account": "62220212"})
    err = api.post("/applications", body, as_="kiosk").get_json()["error"]
    texts = err["detail"]["fields"]
    assert set(texts) == {"fields.separation_date", "fields.bank_account"}
    assert "12到19位数字" in texts["fields.bank_account"]["zh-Hans"]  # the field's hint explains the pattern
    disability = {"item": "520201-CL-GG-0001", "applicant": unemployment()["applicant"], "delivery": "onsite",
                  "fields": {"disability_type": "physical", "address": "钟山区荷城街道", "guardian_name": "王大明",
                             "guardian_id_number": make_id("19600101", seq=77)}}
    no = submit(api, disability)["tracking_no"]
    stored = api.ok("get", f"/applications/{no}", as_=CLERK)["fields"]
    assert stored["guardian_id_number"] == "520201********077" + make_id("19600101", seq=77)[-1]  # masked only


# -- submitting -------------------------------------------------------------------------------------

def test_submission_answers_a_tracking_number_deadlines_and_masks(city):
    api, st = city
    app = submit(api, unemployment(materials=[0, 1]))
    assert re.fullmatch(r"SQ20261123-[2-9A-HJKMNP-TV-Z]{8}", app["tracking_no"])
    assert app["status"] == "submitted" and app["applicant"] == {"name": "王*明", "id": PERSON[:6] + "********" +
                                                                  PERSON[-4:], "phone": "138****5678"}
    # estimates from today until accepted: Mon 11-23 + 3 / 10 working days; pre-review within 5
    assert (app["promised_by"], app["statutory_by"], app["review_by"]) == ("2026-11-26", "2026-12-07", "2026-11-30")
    assert app["deadline_basis"] == "submitted"
    assert app["missing_required"] == ["解除或者终止劳动关系的证明"]
    conn = st.db.connection()
    dump = "\n".join(str(tuple(r)) for t in ("applications", "application_events", "journal")
                     for r in conn.execute(f"SELECT * FROM {t}"))
    assert PERSON not in dump and "13812345678" not in dump


def test_submission_is_idempotent(city):
    api, st = city
    key = {"Idempotency-Key": "kiosk-submit-7"}
    first = submit(api, headers=key)
    again = submit(api, headers=key)
    assert again["tracking_no"] == first["tracking_no"] and again["replayed"] is True
    assert st.db.connection().execute("SELECT COUNT(*) FROM applications").fetchone()[0] == 1


def test_open_progress_has_no_personal_data_and_the_back_office_sees_it_all(city):
    api, _ = city
    no = submit(api, unemployment(delivery="mail", address="贵州省六盘水市钟山区明湖路428号"))["tracking_no"]
    public = api.client.get(f"/api/v1/applications/{no.lower()}")  # no token; case does not matter
    text = public.get_data(as_text=True)
    assert public.status_code == 200 and public.get_json()["tracking_no"] == no
    for secret in ("王小明", "王*明", PERSON, "13812345678", "明湖路", "六盘水某某建材"):
        assert secret not in text
    staff = api.ok("get", f"/applications/{no}", as_=CLERK)
    # the back office sees the case, the name masked: the full one only on request (test below)
    assert staff["applicant"]["name"] == "王*明" and staff["fields"]["last_employer"] == "六盘水某某建材有限公司"
    assert staff["mail_to"] == {"recipient": "王*明", "phone": "138****5678", "address": "贵州省六盘水市钟山区明湖路428号"}
    listed = api.ok("get", "/applications?status=submitted", as_=CLERK)
    assert "王小明" not in str(staff) and "王小明" not in str(listed) and listed[0]["name"] == "王*明"
    assert api.get("/applications/SQ20261123-AAAAAAAA").status_code == 404


def test_the_mailing_phone_is_sealed_at_rest_and_opens_only_for_its_own_case(city):
    from cryptography.exceptions import InvalidTag

    from queue_server.domain import contacts

    api, st = city
    no = submit(api, unemployment(delivery="mail", address="贵州省六盘水市钟山区明湖路428号"))["tracking_no"]
    other = submit(api, unemployment(delivery="mail", address="贵州省六盘水市钟山区明湖路430号"))["tracking_no"]
    raw = st.db.connection().execute("SELECT mail_to FROM applications WHERE tracking_no = ?", (no,)).fetchone()[0]
    assert "13812345678" not in raw and "5678" in raw  # masked, and sealed beside it
    dump = "\n".join(st.db.connection().iterdump())
    assert "13812345678" not in dump  # nowhere in the database in clear
    sealed = json.loads(raw)["phone_sealed"]
    assert contacts.unseal_mail_to(st.hall.secret, no, raw)["phone"] == "13812345678"
    moved = json.dumps({**json.loads(raw), "phone_sealed": sealed})
    with pytest.raises(InvalidTag):  # a seal copied to another case does not open there
        contacts.unseal_mail_to(st.hall.secret, other, moved)
    with pytest.raises(InvalidTag):  # nor under another installation's key
        contacts.unseal_mail_to(b"x" * 32, no, raw)


# -- the full name: on request, for a clerk of the case, journaled (docs/privacy.md) -------------------

def name_views(st) -> list[tuple]:
    return [(r["actor"], r["action"], r["data"], r["business"]) for r in st.db.connection().execute(
        "SELECT actor, action, data, business FROM journal WHERE action = 'resident_name_viewed' ORDER BY seq")]


def test_the_full_name_is_answered_to_a_clerk_of_the_case_not_cached_and_journaled_without_it(city):
    api, st = city
    no = submit(api, unemployment(delivery="mail", address="贵州省六盘水市钟山区明湖路428号"))["tracking_no"]
    api.ok("post", "/windows/7/sign-in", as_=CLERK)  # window 7 serves social, the item's business
    r = api.get(f"/applications/{no}/applicant-name", as_=CLERK)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.get_json() == {"tracking_no": no, "name": "王小明", "name_masked": "王*明",
                            "mail_to": {"recipient": "王小明", "phone": "13812345678"}}
    assert name_views(st) == [(f"staff:{CLERK}", "resident_name_viewed", f'{{"tracking_no":"{no}"}}', "social")]
    journal = str([tuple(r) for r in st.db.connection().execute("SELECT * FROM journal")])
    assert "王小明" not in journal
    assert api.get(f"/applications/{no.lower()}/applicant-name", as_="2001").status_code == 200  # a manager


def test_the_full_name_is_refused_to_a_clerk_of_another_business_and_to_a_kiosk(city):
    api, st = city
    no = submit(api)["tracking_no"]
    api.ok("post", "/windows/1/sign-in", as_="1002")  # window 1 serves commerce only
    r = api.get(f"/applications/{no}/applicant-name", as_="1002")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_your_business"
    assert "王小明" not in r.get_data(as_text=True)
    assert api.get(f"/applications/{no}/applicant-name").status_code == 401
    assert api.get(f"/applications/{no}/applicant-name", as_="kiosk").status_code == 403
    assert api.get(f"/applications/{no}/applicant-name", as_="1003").status_code == 403  # at no window
    assert name_views(st) == []  # a refusal saw nothing, so nothing is journaled
    assert api.get("/applications/SQ20261123-AAAAAAAA/applicant-name", as_="2001").status_code == 404


def test_a_delivery_window_sees_the_name_once_the_result_is_ready_and_the_clerk_of_the_case_always(city):
    api, st = city
    no = submit(api)["tracking_no"]
    api.ok("post", "/windows/19/sign-in", as_="1003")  # 统一出件窗口
    assert api.get(f"/applications/{no}/applicant-name", as_="1003").status_code == 403
    move(api, no, "accepted")  # CLERK takes the case at no window: their own case from now on
    assert api.get(f"/applications/{no}/applicant-name", as_=CLERK).status_code == 200
    move(api, no, "result_ready", decision="approved")
    assert api.get(f"/applications/{no}/applicant-name", as_="1003").get_json()["name"] == "王小明"
    assert [v[0] for v in name_views(st)] == [f"staff:{CLERK}", "staff:1003"]


# -- the state machine -------------------------------------------------------------------------------

def test_from_submission_to_delivery_by_free_mail_with_deadlines_in_working_days(city, clock):
    api, st = city
    clock.set(at(2026, 9, 29))
    no = submit(api, unemployment(delivery="mail", address="贵州省六盘水市钟山区明湖路428号"))["tracking_no"]
    clock.set(at(2026, 9, 30))
    move(api, no, "pre_review")
    accepted = move(api, no, "accepted")
    # accepted Wed 09-30; National Day 10-01..07 off; Sat 10-10 is a make-up workday (调休)
    assert accepted["deadline_basis"] == "accepted"
    assert (accepted["promised_by"], accepted["statutory_by"]) == ("2026-10-10", "2026-10-20")
    assert "2026-10-10" in accepted["timeline"][-1]["note"]["zh-Hans"]
    clock.set(at(2026, 10, 9))
    ready = move(api, no, "result_ready", decision="approved")
    assert "免费邮寄" in ready["timeline"][-1]["note"]["zh-Hans"]
    err = move(api, no, "delivered", status=409)
    assert err["code"] == "waybill_required"
    done = move(api, no, "delivered", delivery={"method": "mail", "waybill": "1187654321098"})
    assert [e["status"] for e in done["timeline"]] == ["submitted", "pre_review", "accepted", "result_ready",
                                                       "delivered"]
    assert "1187654321098" in done["timeline"][-1]["note"]["zh-Hans"] and done["overdue"] is False
    who = [r[0] for r in st.db.connection().execute(
        "SELECT actor FROM journal WHERE action LIKE 'application_%' ORDER BY seq")]
    assert who == ["kiosk:kiosk-1"] + ["staff:1001"] * 4


def test_transitions_outside_the_state_machine_are_refused(city):
    api, _ = city
    no = submit(api, unemployment(materials=[0, 1]))["tracking_no"]
    err = move(api, no, "result_ready", status=409)
    assert err["code"] == "invalid_transition" and err["detail"]["allowed"] == ["pre_review"]
    r = api.post(f"/applications/{no}/transition", {"to": "pre_review"}, as_="kiosk")
    assert r.status_code == 403
    err = move(api, no, "accepted", status=409)  # a required material is missing: not "complete"
    assert err["code"] == "materials_missing" and err["detail"]["missing"] == [2]
    err = move(api, no, "rejected", status=400)
    assert err["code"] == "reason_required"
    rejected = move(api, no, "rejected", reason="申请人已参加职工基本养老保险")
    assert rejected["status"] == "rejected" and "职工基本养老保险" in rejected["timeline"][-1]["note"]["zh-Hans"]
    assert move(api, no, "accepted", status=409)["code"] == "invalid_transition"


def test_a_clerk_s_words_are_stored_with_any_id_or_phone_number_masked(city):
    """A reason and a notice's own lines go to the resident's timeline and to the journal (the county's too): an ID
    or phone number typed into them is masked before they are stored, as a rating's comment is."""
    api, st = city
    no = submit(api, unemployment(materials=[0, 1]))["tracking_no"]
    noticed = move(api, no, "correction", missing=[f"请携带 {PERSON} 的户口本复印件"], reason="已电话联系 +86 13812345678")
    stored = json.dumps([noticed, [tuple(r) for r in st.db.connection().execute("SELECT data FROM journal")]],
                        ensure_ascii=False)
    assert PERSON not in stored and "13812345678" not in stored
    assert "138****5678" in noticed["timeline"][-1]["note"]["zh-Hans"]
    assert [m["name"]["zh-Hans"] for m in noticed["correction"]["missing"] if m["kind"] == "other"] == [
        f"请携带 {PERSON[:6]}********{PERSON[-4:]} 的户口本复印件"]


def test_the_correction_notice_lists_everything_once_and_only_once(city):
    api, _ = city
    no = submit(api, unemployment(materials=[0, 1]))["tracking_no"]
    noticed = move(api, no, "correction", missing=["separation_date"], reason="离职日期与证明不一致")
    missing = noticed["correction"]["missing"]
    # the required material not provided is always on the notice, with what the clerk listed
    assert [(m["kind"], m.get("index", m.get("key"))) for m in missing] == [("material", 2),
                                                                            ("field", "separation_date")]
    public = api.client.get(f"/api/v1/applications/{no}").get_json()
    assert public["status"] == "correction" and len(public["correction"]["missing"]) == 2
    assert "解除或者终止劳动关系的证明" in public["timeline"][-1]["note"]["zh-Hans"]
    assert "解除或终止劳动关系日期" in public["timeline"][-1]["note"]["zh-Hans"]
    assert "离职日期与证明不一致" in public["timeline"][-1]["note"]["zh-Hans"]  # the clerk's reason
    r = api.post(f"/applications/{no}/supplement", {"materials": [2], "id_number": make_id(seq=9)}, as_="kiosk")
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_yours"
    back = api.ok("post", f"/applications/{no}/supplement",
                  {"materials": [2], "fields": {"separation_date": "2026-10-30"}, "id_number": PERSON}, as_="kiosk")
    assert back["status"] == "pre_review" and back["missing_required"] == []
    # a second notice cannot ask for anything new (一次性告知)...
    err = move(api, no, "correction", missing=["last_employer"], status=409)
    assert err["code"] == "one_time_notice" and "原工作单位" in err["messages"]["zh-Hans"]
    # ...but may repeat what the first asked for, when the supplement is still not right
    assert move(api, no, "correction", missing=["请补充说明"], status=409)["code"] == "one_time_notice"
    again = move(api, no, "correction", missing=["separation_date"])
    assert [m.get("key") for m in again["correction"]["missing"]] == ["separation_date"]
    r = api.post(f"/applications/{no}/supplement", {"fields": {"separation_date": "2026-10-31"}, "id_number": PERSON},
                 as_="kiosk")
    assert r.status_code == 200
    assert move(api, no, "accepted")["status"] == "accepted"
    r = api.post(f"/applications/{no}/supplement", {"materials": [3], "id_number": PERSON}, as_="kiosk")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_in_correction"


def test_the_notice_takes_the_labels_the_clerk_sees_and_free_text(city):
    """The bug: "其他需补正的内容（每行一项）" refused the field's own label and free text, taking internal keys only."""
    api, _ = city
    no = submit(api, unemployment(materials=[0, 1, 2]))["tracking_no"]
    assert move(api, no, "correction", missing=["  "], status=400)["code"] == "invalid_fields"  # nothing to correct
    noticed = move(api, no, "correction", missing=["离职原因", " 解除或者终止劳动关系的证明 ", "Last employer",
                                                   "劳动合同复印件请加盖单位公章"])
    missing = noticed["correction"]["missing"]
    assert [(m["kind"], m.get("key") or m.get("index") or m["name"]["zh-Hans"]) for m in missing] == [
        ("field", "separation_reason"), ("material", 2), ("field", "last_employer"),
        ("other", "劳动合同复印件请加盖单位公章")]
    note = noticed["timeline"][-1]["note"]["zh-Hans"]
    assert "离职原因" in note and "劳动合同复印件请加盖单位公章" in note


def test_mailing_needs_an_address_and_the_summary_says_how_it_went(city):
    """The bugs: mailing with no postal address on file was allowed; after mailing the summary still read 现场领取."""
    api, _ = city
    no = submit(api)["tracking_no"]  # chose to collect on site: no address on file
    move(api, no, "accepted")
    move(api, no, "result_ready", decision="approved")
    err = move(api, no, "delivered", status=409, delivery={"method": "mail", "waybill": "SF1234567890"})
    assert err["code"] == "address_required"
    done = move(api, no, "delivered", delivery={"method": "mail", "waybill": "SF1234567890",
                                                "address": "贵州省六盘水市钟山区荷城街道凉都大道1号"})
    assert done["delivery"] == "mail" and done["delivery_chosen"] == "onsite" and done["waybill"] == "SF1234567890"
    assert done["mail_to"]["address"].startswith("贵州省六盘水市")
    public = api.client.get(f"/api/v1/applications/{no}").get_json()
    assert public["delivery"] == "mail" and "mail_to" not in public


def test_collection_on_site_records_the_identity_check(city):
    api, st = city
    no = submit(api)["tracking_no"]
    move(api, no, "accepted")
    move(api, no, "result_ready", decision="approved")
    assert move(api, no, "delivered", status=409, delivery={"method": "onsite"})["code"] == "id_check_required"
    err = move(api, no, "delivered", status=403, delivery={"method": "onsite", "id_number": make_id(seq=77)})
    assert err["code"] == "not_the_applicant"
    proxy = make_id("19600101", seq=77)
    err = move(api, no, "delivered", status=422, delivery={"method": "onsite", "collector": "proxy", "id_number": proxy})
    assert err["code"] == "invalid_name"
    done = move(api, no, "delivered", delivery={"method": "onsite", "collector": "proxy", "id_number": proxy,
                                                "name": "王大山"})
    assert done["handed_to"] == {"collector": "proxy", "id_masked": done["handed_to"]["id_masked"], "name_masked": "王*山"}
    assert proxy not in str(done) and proxy not in str(st.db.connection().execute("SELECT * FROM journal").fetchall())


def test_a_supplement_is_validated_like_the_form(city):
    api, _ = city
    no = submit(api, unemployment(materials=[0, 1]))["tracking_no"]
    move(api, no, "correction", missing=[])
    r = api.post(f"/applications/{no}/supplement", {"fields": {"separation_date": "yesterday"}, "materials": [7],
                                                    "id_number": PERSON}, as_="kiosk")
    err = r.get_json()["error"]
    assert r.status_code == 400 and {f["field"] for f in err["fields"]} == {"fields.separation_date", "materials[0]"}


def test_only_the_applicant_changes_an_application_from_a_kiosk(city):
    """The tracking number is printed on the receipt: it proves nothing. Another kiosk that has it cannot
    rewrite the application, with no ID number or with someone else's; nothing changes."""
    api, state = city
    no = submit(api, unemployment(materials=[0, 1]))["tracking_no"]
    move(api, no, "correction", missing=["separation_date"])

    def snapshot():
        conn = state.db.connection()
        row = conn.execute("SELECT status, fields, materials, review_by FROM applications WHERE tracking_no = ?",
                           (no,)).fetchone()
        return tuple(row), conn.execute("SELECT MAX(seq) FROM journal").fetchone()[0]

    before = snapshot()
    change = {"materials": [2], "fields": {"separation_date": "2026-01-01"}}
    for proof in ({}, {"id_number": make_id(seq=9)}):
        r = api.post(f"/applications/{no}/supplement", {**change, **proof}, as_="kiosk")
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_yours", r.get_json()
    assert "身份证" in api.post(f"/applications/{no}/supplement", change, as_="kiosk").get_json()["error"]["message"]
    assert snapshot() == before
    # the applicant's own card: accepted
    assert api.ok("post", f"/applications/{no}/supplement", {**change, "id_number": PERSON}, as_="kiosk")["status"] \
        == "pre_review"
    # staff record at the window what the applicant hands in, the applicant in front of them
    move(api, no, "correction", missing=["separation_date"])
    fixed = {"fields": {"separation_date": "2026-01-02"}}
    assert api.ok("post", f"/applications/{no}/supplement", fixed, as_=CLERK)["status"] == "pre_review"


# -- deadlines and overdue -------------------------------------------------------------------------

def test_overdue_pre_review_promised_and_statutory_limits(city, clock):
    api, _ = city
    clock.set(at(2026, 11, 23))
    waiting = submit(api)["tracking_no"]
    late = submit(api, unemployment(applicant={"name": "李四", "id_number": make_id(seq=5), "phone": "13900000000"}))
    move(api, late["tracking_no"], "accepted")  # promised by Thu 11-26, statutory by Mon 12-07
    fixing = submit(api, unemployment(materials=[0]))["tracking_no"]
    move(api, fixing, "correction", missing=[])

    def state(no):
        v = api.client.get(f"/api/v1/applications/{no}").get_json()
        return v["overdue"], v["overdue_kind"]

    clock.set(at(2026, 11, 27))
    assert state(waiting) == (False, None) and state(late["tracking_no"]) == (True, "promised")
    clock.set(at(2026, 12, 1))  # pre-review was due by Mon 11-30 (5 working days)
    assert state(waiting) == (True, "review")
    clock.set(at(2026, 12, 8))
    assert state(late["tracking_no"]) == (True, "statutory")
    assert state(fixing) == (False, None)  # waiting for the applicant: not the hall's delay
    api.login(CLERK)  # a new day, a new session
    overdue = api.ok("get", "/applications?overdue=true", as_=CLERK)
    assert {a["tracking_no"] for a in overdue} == {waiting, late["tracking_no"]}
    assert {a["name"] for a in overdue} == {"王*明", "李*"}  # the list shows masks only


# -- progress lookup ----------------------------------------------------------------------------------

def test_a_resident_finds_their_own_applications_by_id_card(city):
    api, _ = city
    mine = submit(api)["tracking_no"]
    submit(api, unemployment(applicant={"name": "李四", "id_number": make_id(seq=5), "phone": "13900000000"}))
    found = api.get("/applications", as_="kiosk", headers={"X-Id-Number": PERSON}).get_json()
    assert [a["tracking_no"] for a in found] == [mine]
    assert found[0]["item_name"]["zh-Hans"] == "失业保险金申领" and "name" not in found[0]
    r = api.get(f"/applications?id_number={PERSON}", as_="kiosk")  # a URL gets logged: refused, not looked up
    assert r.status_code == 400 and r.get_json()["error"]["fields"][0]["field"] == "id_number"
    assert "X-Id-Number" in r.get_json()["error"]["messages"]["en"] and PERSON not in r.get_data(as_text=True)
    r = api.get("/applications", as_="kiosk")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_fields"
    r = api.get("/applications", as_="kiosk", headers={"X-Id-Number": "123"})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_id_number"
    staff = api.ok("get", "/applications?status=submitted", as_=CLERK)
    assert len(staff) == 2 and api.ok("get", "/applications?status=accepted", as_=CLERK) == []


def test_operation_ids_are_named_for_the_domain(api):
    ids = {op["operationId"] for ops in api.ok("get", "/openapi.json")["paths"].values() for op in ops.values()}
    assert {"get_form", "submit_application", "get_application", "find_applications", "transition_application",
            "supplement_application"} <= ids


# -- forms in the configuration ------------------------------------------------------------------------

def test_the_sample_halls_define_forms(city):
    for hall, at_least in ((CITY, 5), (CITY.parent.parent / "village-station" / "hall.toml", 2)):
        cfg = load_hall(hall)
        assert sum("form" in i.guide for i in cfg.items.values()) >= at_least


def test_mistakes_in_a_form_are_reported_with_file_and_key(tmp_path):
    (tmp_path / "hall.toml").write_text((CITY.parent.parent.parent / "tests" / "fixtures" / "tiny-hall" /
                                         "hall.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "services.toml").write_text("""
[[items]]
code = "X-1"
business = "alpha"
name = { zh-Hans = "甲" }
form = [
  { key = "kind", type = "select", label = { zh-Hans = "类别" } },
  { key = "kind", type = "text", label = { zh-Hans = "重复" }, pattern = "([0-9" },
  { key = "guardian", type = "text", label = { zh-Hans = "监护人姓名" } },
  { key = "baby", type = "person_name", label = { zh-Hans = "新生儿姓名" } },
]
""", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_hall(tmp_path / "hall.toml")
    text = str(e.value)
    assert "items[code=X-1].form[0].options: a select field needs options" in text
    assert "items[code=X-1].form[1].key: duplicate field key \"kind\"" in text
    assert "items[code=X-1].form[1].pattern: not a valid regular expression" in text
    # a person's name kept as plain text would be shown in full: the checker asks for the type that masks it
    assert "items[code=X-1].form[2].type: \"监护人姓名\" asks for a person's name: give it type = \"person_name\"" in text
    assert "form[3]" not in text
