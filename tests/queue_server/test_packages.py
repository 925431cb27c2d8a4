"""一件事 packages: one guide, one form, one set of materials, one window, one tracking number; each item still its
department's 办件; all in one transaction or none; one progress, done when every part is done."""

import sqlite3

import pytest

from tests.conftest import CITY, Api, make_id
from tests.queue_server.test_applications import CLERK, at

MOTHER = make_id("19930304", seq=246)
NEWBORN = {"child_name": "李安", "child_sex": "female", "child_birth_date": "2026-11-30",
           "birth_hospital": "六盘水市妇幼保健院", "mother_name": "张丽", "mother_id_number": MOTHER,
           "registered_with": "mother", "household_address": "贵州省六盘水市钟山区人民路8号"}


@pytest.fixture
def city(tmp_path, clock):
    from queue_server.app import create_app

    clock.set(at(2026, 12, 7))
    app = create_app(CITY, data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    yield Api(app.test_client()), app.extensions["hallq"]
    app.extensions["hallq"].close()


def guide(api, code="newborn"):
    return api.ok("get", f"/packages/{code}")


def every_material(api, code="newborn"):
    return [m["index"] for m in guide(api, code)["materials"]]


def file(api, status=201, **over):
    body = {"applicant": {"name": "张丽", "id_number": MOTHER, "phone": "13912345678"}, "fields": NEWBORN,
            "materials": every_material(api), "delivery": "onsite", **over}
    r = api.post("/packages/newborn/applications", body, as_="kiosk")
    assert r.status_code == status, r.get_json()
    return r.get_json() if status == 201 else r.get_json()["error"]


def review(api, no, to, status=200, **body):
    r = api.post(f"/packages/applications/{no}/review", {"to": to, **body}, as_=CLERK)
    assert r.status_code == status, r.get_json()
    return r.get_json() if status == 200 else r.get_json()["error"]


def move(api, no, to, **body):
    return api.ok("post", f"/applications/{no}/transition", {"to": to, **body}, as_=CLERK)


def test_the_combined_guide_asks_each_field_and_each_material_once(city):
    api, _ = city
    assert {p["package"] for p in api.ok("get", "/packages")} >= {"newborn", "retirement", "restaurant"}
    g = guide(api)
    assert len(g["items"]) == 4 and len({i["department"] for i in g["items"]}) == 4
    keys = [f["key"] for f in g["fields"]]
    assert len(keys) == len(set(keys)) and "child_name" in keys
    child = next(f for f in g["fields"] if f["key"] == "child_name")
    assert len(child["items"]) == 3  # asked once for three items
    names = [m["name"] for m in g["materials"]]
    assert names.count("居民身份证") == 1
    id_card = next(m for m in g["materials"] if m["name"] == "居民身份证")
    assert len(id_card["items"]) == 4 and id_card["required"]
    assert api.client.get("/api/v1/packages/nope").status_code == 404


def test_filing_makes_one_tracking_number_and_one_办件_per_item_for_each_department(city):
    api, st = city
    filed = file(api)
    no = filed["tracking_no"]
    assert filed["status"] == "submitted" and filed["package_name"]["zh-Hans"] == "新生儿出生一件事"
    assert [p["tracking_no"] for p in filed["parts"]] == [f"{no}-{n}" for n in range(1, 5)]
    assert len({p["department"] for p in filed["parts"]}) == 4
    assert filed["applicant"]["name"] == "张*" and MOTHER not in str(filed)
    conn = st.db.connection()
    rows = conn.execute("SELECT item, fields, materials FROM applications ORDER BY id").fetchall()
    assert len(rows) == 4
    # each 办件 has its own checklist indexes and the answers its own form asks for
    assert '"child_name"' in rows[0][1] and '"birth_hospital"' not in rows[1][1]
    assert conn.execute("SELECT COUNT(*) FROM journal WHERE action = 'application_submitted'").fetchone()[0] == 4
    assert conn.execute("SELECT COUNT(*) FROM journal WHERE action = 'package_submitted'").fetchone()[0] == 1
    # each department's back office finds its part; the part says which package it belongs to
    part = api.ok("get", f"/applications/{no}-2", as_=CLERK)
    assert part["package_no"] == no and part["department"] == "六盘水市公安局钟山分局"
    listed = api.ok("get", "/applications?status=submitted", as_=CLERK)
    assert {r["package_no"] for r in listed} == {no}


def test_a_bad_package_is_never_half_filed(city):
    api, st = city
    err = file(api, 400, fields={**NEWBORN, "child_birth_date": "30/11/2026", "child_sex": "boy"})
    assert {f["field"] for f in err["fields"]} == {"fields.child_birth_date", "fields.child_sex"}
    err = file(api, 400, delivery="mail")
    assert err["fields"][0]["field"] == "address"
    assert st.db.connection().execute("SELECT COUNT(*) FROM applications").fetchone()[0] == 0
    # a failure while the parts are written (here: a trigger refusing the third) leaves nothing behind
    conn = st.db.connection()
    conn.execute("CREATE TRIGGER third_part_fails BEFORE INSERT ON applications WHEN NEW.tracking_no LIKE '%-3' "
                 "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    r = api.post("/packages/newborn/applications", {
        "applicant": {"name": "张丽", "id_number": MOTHER, "phone": "13912345678"}, "fields": NEWBORN,
        "materials": every_material(api), "delivery": "onsite"}, as_="kiosk")
    assert r.status_code == 500
    conn.execute("DROP TRIGGER third_part_fails")
    counts = [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("applications", "package_applications", "application_events")]
    assert counts == [0, 0, 0]


def test_pre_reviewed_together_one_notice_then_split_and_one_progress_until_every_part_is_done(city, clock):
    api, st = city
    g = guide(api)
    without_register = [m["index"] for m in g["materials"] if m["name"] != "居民户口簿"]
    no = file(api, materials=without_register)["tracking_no"]
    assert review(api, no, "accepted", status=409)["code"] == "materials_missing"
    noticed = review(api, no, "correction", missing=["新生儿姓名", "出生医院的盖章页请一并带来"], reason="姓名与出生证明不一致")
    assert noticed["status"] == "correction"
    wanted = [m["name"]["zh-Hans"] for m in noticed["correction"]["missing"]]
    # the register the police and the medical insurance both need is asked once; the label and the free text kept
    assert wanted.count("居民户口簿") == 1 and "新生儿姓名" in wanted and "出生医院的盖章页请一并带来" in wanted
    public = api.client.get(f"/api/v1/applications/{no}").get_json()
    assert public["status"] == "correction" and "applicant" not in public and "fields" not in public
    register = next(m["index"] for m in g["materials"] if m["name"] == "居民户口簿")
    back = api.ok("post", f"/packages/applications/{no}/supplement",
                  {"materials": [register], "fields": {"child_name": "李安然"}, "id_number": MOTHER}, as_="kiosk")
    assert back["status"] == "submitted"
    accepted = review(api, no, "accepted")
    assert {p["status"] for p in accepted["parts"]} == {"accepted"} and accepted["status"] == "in_progress"
    # then split: each department decides its own part, the resident sees partial results
    move(api, f"{no}-3", "result_ready", decision="approved")
    partial = api.client.get(f"/api/v1/applications/{no}").get_json()
    assert partial["status"] == "in_progress" and partial["results_ready"] == 1 and not partial["done"]
    assert [p["status"] for p in partial["parts"]] == ["accepted", "accepted", "result_ready", "accepted"]
    for n in (1, 2, 4):
        move(api, f"{no}-{n}", "result_ready", decision="approved")
    assert api.client.get(f"/api/v1/applications/{no}").get_json()["status"] == "result_ready"
    for n in range(1, 5):
        move(api, f"{no}-{n}", "delivered", delivery={"method": "onsite", "id_number": MOTHER})
    done = api.client.get(f"/api/v1/applications/{no}").get_json()
    assert done["status"] == "done" and done["done"] and done["status_name"]["zh-Hans"] == "已全部办结"
    # one timeline: a step taken for every part at once is one line naming the items
    first = done["timeline"][0]
    assert first["status"] == "submitted" and len(first["items"]) == 4
    # the resident's own list shows the package once, not its four parts
    mine = api.get("/applications", as_="kiosk", headers={"X-Id-Number": MOTHER}).get_json()
    assert [m["tracking_no"] for m in mine] == [no]


def test_refused_together_with_a_reason(city):
    api, _ = city
    no = file(api)["tracking_no"]
    assert review(api, no, "rejected", status=400)["code"] == "reason_required"
    refused = review(api, no, "rejected", reason="新生儿不在本市出生，请到出生地办理")
    assert refused["status"] == "done" and {p["status"] for p in refused["parts"]} == {"rejected"}
    assert "出生地" in refused["timeline"][-1]["note"]["zh-Hans"]


def test_the_village_station_files_its_package(tmp_path, clock):
    from queue_server.app import create_app
    from tests.conftest import ROOT

    app = create_app(ROOT / "config" / "village-station" / "hall.toml", data_dir=tmp_path / "v", clock=clock,
                     mqtt=False, housekeeping=False)
    try:
        api = Api(app.test_client())
        api.tokens["kiosk"] = "demo-kiosk-station"
        g = api.ok("get", "/packages/newborn")
        r = api.post("/packages/newborn/applications", {
            "applicant": {"name": "张丽", "id_number": MOTHER, "phone": "13912345678"},
            "fields": {"child_name": "李安", "child_birth_date": "2026-11-30", "registered_with": "mother"},
            "materials": [m["index"] for m in g["materials"]], "delivery": "onsite"}, as_="kiosk")
        assert r.status_code == 201, r.get_json()
        assert len(r.get_json()["parts"]) == 3
    finally:
        app.extensions["hallq"].close()


def test_a_part_alone_is_not_a_package(city):
    api, st = city
    no = file(api)["tracking_no"]
    with pytest.raises(sqlite3.IntegrityError):
        st.db.connection().execute("INSERT INTO package_applications (tracking_no, package, name, applicant_name, "
                                   "name_masked, id_hash, id_masked, phone_hash, phone_masked, delivery, submitted_at, "
                                   "source) VALUES (?, 'x', '{}', '', '', '', '', '', '', 'onsite', '', '')", (no,))


def test_staff_file_a_package_for_a_resident_at_the_window(city):
    """帮办代办: the clerk at the comprehensive window files it; the journal says who."""
    api, st = city
    g = guide(api, "retirement")
    r = api.post("/packages/retirement/applications", {
        "applicant": {"name": "赵建国", "id_number": make_id("19660401", seq=135), "phone": "13700001111"},
        "fields": {"employer": "六盘水某某煤矿", "retirement_date": "2026-12-31", "bank_account": "6217001234567890"},
        "materials": [m["index"] for m in g["materials"]], "delivery": "mail",
        "address": "贵州省六盘水市钟山区荷泉北路2号"}, as_=CLERK)
    assert r.status_code == 201, r.get_json()
    filed = r.get_json()
    assert len(filed["parts"]) == 4 and filed["delivery"] == "mail"
    row = st.db.connection().execute("SELECT source FROM package_applications").fetchone()
    assert row[0] == "staff:1001"
    part = api.ok("get", f"/applications/{filed['tracking_no']}-4", as_=CLERK)
    assert part["department"] == "六盘水市住房公积金管理中心" and part["fields"]["bank_account"] == "6217001234567890"
    assert part["mail_to"]["address"].startswith("贵州省")


def test_a_retried_filing_answers_the_same_number_and_files_nothing_more(city):
    api, st = city
    body = {"applicant": {"name": "张丽", "id_number": MOTHER, "phone": "13912345678"}, "fields": NEWBORN,
            "materials": every_material(api), "delivery": "onsite"}
    first = api.post("/packages/newborn/applications", body, as_="kiosk", headers={"Idempotency-Key": "press-1"})
    again = api.post("/packages/newborn/applications", body, as_="kiosk", headers={"Idempotency-Key": "press-1"})
    assert first.status_code == 201 and again.get_json()["tracking_no"] == first.get_json()["tracking_no"]
    conn = st.db.connection()
    assert [conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("package_applications", "applications")] == [1, 4]


def test_an_item_edited_in_the_browser_shows_in_its_package_at_once(city):
    api, _ = city
    code = "520200-YB-GG-0003"  # 医保参保, one of the newborn package's items
    before = guide(api)
    it = api.ok("get", f"/items/{code}")
    body = {"business": it["business"], "name": it["name"], **it["guide"]}
    body["materials"] = [*body.get("materials", []), {"name": "新生儿照片", "form": "电子件", "copies": 1}]
    body["form"] = [*body.get("form", []), {"key": "insured_city", "label": {"zh-Hans": "参保地", "zh-Hant": "參保地",
                                                                             "en": "Insured in"},
                                            "type": "text", "required": True, "max_len": 20}]
    api.ok("put", f"/items/{code}/guide", body, as_="2001")
    after = guide(api)  # no restart: the package is merged from the items as they are now
    assert sorted(m["name"] for m in after["materials"]) == sorted([m["name"] for m in before["materials"]] + ["新生儿照片"])
    photo = next(m for m in after["materials"] if m["name"] == "新生儿照片")
    assert len(photo["items"]) == 1  # asked for that item alone
    field = next(f for f in after["fields"] if f["key"] == "insured_city")
    assert field["required"] and len(after["fields"]) == len(before["fields"]) + 1
    # filing asks what the package now asks (the new field) and gives the item its own new material
    error = file(api, status=400)
    assert any(f["field"] == "fields.insured_city" for f in error["fields"]), error
    done = file(api, fields={**NEWBORN, "insured_city": "六盘水"})
    part = next(p for p in done["parts"] if p["item"] == code)
    assert api.ok("get", f"/applications/{part['tracking_no']}", as_=CLERK)["fields"]["insured_city"] == "六盘水"



def test_an_edit_that_its_package_could_not_merge_is_refused(city):
    api, _ = city
    code = "520200-YB-GG-0003"
    it = api.ok("get", f"/items/{code}")
    body = {"business": it["business"], "name": it["name"], **it["guide"]}
    body["form"] = [*body.get("form", []), {"key": "birth_hospital", "label": {"zh-Hans": "出生医院"},
                                            "type": "date", "required": True}]  # a text in another item
    r = api.put(f"/items/{code}/guide", body, as_="2001")
    assert r.status_code == 422 and "newborn" in str(r.get_json()["error"]["fields"]), r.get_json()
    assert api.ok("get", f"/items/{code}")["guide"].get("form", []) == it["guide"].get("form", [])
