"""The console pages as a browser gets them: sign-in, headers, languages, settings, CSV, back office."""

from __future__ import annotations

import re
from datetime import date

import pytest

from hallq.demo import DEMO_PASSWORD
from tests.conftest import CITY, Api, make_id
from tests.web.test_roles import Browser


def login(app, job_no: str, password: str = DEMO_PASSWORD, next_: str = ""):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").text).group(1)
    return client, client.post("/console/login", data={"csrf_token": token, "job_no": job_no, "password": password,
                                                       "next": next_})


def test_signing_in_takes_each_role_home(app):
    _, r = login(app, "101")
    assert r.status_code == 303 and r.headers["Location"] == "/console/windows"
    _, r = login(app, "900")
    assert r.headers["Location"] == "/manager/hall"
    _, r = login(app, "900", next_="/manager/stats?group=hour")
    assert r.headers["Location"] == "/manager/stats?group=hour"
    # "//[" is not even a URL (urlsplit raises): it answered 500 after the session had been made
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "//[", "http://[x/"):
        _, r = login(app, "900", next_=evil)
        assert r.status_code == 303 and r.headers["Location"] == "/manager/hall", evil
    assert app.test_client().get("/console/login", query_string={"next": "//["}).status_code == 200


def test_a_wrong_password_says_so_and_a_page_needs_a_session(app):
    _, r = login(app, "101", password="nope")
    assert r.status_code == 401 and "工号或密码错误" in r.text
    r = app.test_client().get("/manager/stats")
    assert r.status_code == 302 and r.headers["Location"].startswith("/console/login?next=/manager/stats")


def test_pages_forbid_inline_scripts_and_foreign_assets(app):
    b = Browser(app, "900")
    for path in ("/console/windows/1", "/manager/hall", "/manager/stats", "/manager/allocation", "/rate/1"):
        r = b.client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "http" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Cache-Control"] == "no-store"
        for tag in re.findall(r"<script[^>]*>", r.text):
            assert 'src="/static/web/' in tag or 'type="application/json"' in tag, (path, tag)
        for url in re.findall(r'(?:src|href)="([^"]*)"', r.text):
            # nothing from the internet: a hall LAN may have none
            assert url.startswith(("/", "?", "#")) or url == "data:,", (path, url)


def test_the_window_console_shows_its_shortcuts_and_labels(app):
    b = Browser(app, "101")
    page = b.client.get("/console/windows/1").text
    assert set(re.findall(r"<kbd>(\w)</kbd>", page)) >= set("NRSCMTHEPIQ")
    assert page.count('aria-keyshortcuts="') >= 11
    for field in ("issue-business", "issue-id", "issue-green", "to-business", "to-window", "pause-other"):
        assert f'for="{field}"' in page  # every input has its label


def test_languages_switch_and_stick(app):
    b = Browser(app, "900")
    r = b.client.get("/manager/hall?lang=en")
    assert "Live hall" in r.text and 'lang="en"' in r.text
    assert "hallq_lang=en" in r.headers.get("Set-Cookie", "")
    assert "Live hall" in b.client.get("/manager/hall").text
    assert "大廳實況" in b.client.get("/manager/hall?lang=zh-Hant").text


def test_a_reset_password_must_be_changed_before_any_page(app):
    manager = Browser(app, "900")
    r = manager.client.post("/api/v1/accounts/101/password", json={"password": "Temp-2026x"},
                            headers={"X-CSRF-Token": manager.csrf})
    assert r.status_code == 200
    client, r = login(app, "101", password="Temp-2026x")
    assert client.get("/console/windows").headers["Location"] == "/console/password"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/password").text).group(1)
    r = client.post("/console/password", data={"csrf_token": csrf, "current": "Temp-2026x", "new": "Mine-2026x",
                                              "again": "Mine-2026x"})
    assert r.status_code == 200 and "密码已修改" in r.text
    assert client.get("/console/windows").status_code == 200


def test_pages_render_their_data(app, api):
    api.open_window(1, "101")
    api.issue()
    api.act(1, "call-next", "101")
    b = Browser(app, "900")
    assert "<svg" in b.client.get("/manager/stats?group=hour").text
    assert "A001" in b.client.get("/manager/journal?ticket=A001").text
    r = b.client.post("/api/v1/notices", json={"text": {"zh-Hans": "今日下午系统维护"}}, headers={"X-CSRF-Token": b.csrf})
    assert r.status_code == 201
    assert "今日下午系统维护" in b.client.get("/manager/notices").text
    assert "张小三" in b.client.get("/manager/accounts").text  # the account directory shows real names
    assert "甲业务" in b.client.get("/manager/allocation").text


def test_a_daily_limit_changed_in_the_console_applies_to_the_next_ticket(app, api):
    b = Browser(app, "900")
    r = b.client.put("/api/v1/settings/businesses/alpha", json={"daily_limit": 1}, headers={"X-CSRF-Token": b.csrf})
    assert r.status_code == 200 and r.get_json()["daily_limit"] == 1
    api.issue()
    r = api.post("/tickets", {"business": "alpha"}, as_="kiosk")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "daily_limit_reached"


def test_the_services_page_shows_each_business_targets_as_inputs(app):
    b = Browser(app, "900")

    def targets(page: str) -> dict[str, dict[str, str]]:
        rows = re.findall(r'<tr data-business="(\w+)">(.*?)</tr>', page, flags=re.S)
        return {code: dict(re.findall(r'<input type="number" name="(\w+)" data-target min="1" max="480" '
                                      r'value="(\d+)"', cells)) for code, cells in rows}

    page = b.client.get("/manager/services").text
    assert targets(page) == {"alpha": {"green": "8", "appointment": "8", "ordinary": "40"},
                             "beta": {"green": "10", "appointment": "10", "ordinary": "50"}}
    for header in ("绿色通道承诺", "预约承诺", "普通号超时"):
        assert header in page
    assert 'aria-label="甲业务 绿色通道承诺分钟"' in page  # each input says which business and which target
    r = b.client.put("/api/v1/settings/businesses/beta", json={"targets": {"appointment": 12}},
                     headers={"X-CSRF-Token": b.csrf})
    assert r.status_code == 200
    assert targets(b.client.get("/manager/services").text)["beta"] == {"green": "10", "appointment": "12",
                                                                         "ordinary": "50"}
    english = b.client.get("/manager/services?lang=en").text
    assert "Green channel" in english and "Ordinary" in english


def test_businesses_csv_round_trip_and_line_by_line_refusal(app, state):
    b = Browser(app, "900")
    text = b.client.get("/api/v1/settings/businesses.csv").data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("code,prefix,name_zh_hans")
    edited = text.replace(",5,none,", ",7,none,")  # alpha's daily limit 5 → 7
    r = b.client.post("/api/v1/settings/businesses.csv", data=edited.encode("gb18030"),
                      headers={"X-CSRF-Token": b.csrf, "Content-Type": "text/csv"})
    assert r.status_code == 200 and r.get_json() == {"added": 0, "updated": 2}
    limit = state.db.connection().execute("SELECT daily_limit FROM businesses WHERE code = 'alpha'").fetchone()[0]
    assert limit == 7
    bad = edited.replace(",7,none,", ",lots,none,").replace("B,", "A,", 1)
    r = b.client.post("/api/v1/settings/businesses.csv", data=bad.encode(),
                      headers={"X-CSRF-Token": b.csrf, "Content-Type": "text/csv"})
    problems = r.get_json()["error"]["detail"]["problems"]
    assert r.status_code == 422 and {(p["line"], p["column"]) for p in problems} >= {(2, "daily_limit"), (3, "prefix")}
    assert state.db.connection().execute("SELECT daily_limit FROM businesses WHERE code = 'alpha'").fetchone()[0] == 7


def test_items_csv_import_updates_time_limits(app, state):
    b = Browser(app, "900")
    text = b.client.get("/api/v1/settings/items.csv").data.decode("utf-8-sig")
    lines = text.splitlines()
    header = lines[0].split(",")
    row = dict(zip(header, lines[1].split(",")))
    row.update(statutory_days="20", promised_days="5", appointment="1")
    body = ",".join(header) + "\n" + ",".join(row[h] for h in header) + "\n"
    r = b.client.post("/api/v1/settings/items.csv", data=body.encode(), headers={"X-CSRF-Token": b.csrf})
    assert r.status_code == 200, r.get_json()
    guide = b.client.get(f"/api/v1/items/{row['code']}").get_json()["guide"]
    assert (guide["statutory_days"], guide["promised_days"], guide["appointment"]) == (20, 5, True)


def test_a_holiday_set_in_the_console_closes_the_hall_that_day(app, state, api, clock):
    b = Browser(app, "900")
    today = clock.now().date().isoformat()
    r = b.client.put(f"/api/v1/settings/calendar/{today}", json={"kind": "holiday", "note": "临时闭馆"},
                     headers={"X-CSRF-Token": b.csrf})
    assert r.status_code == 200
    assert not state.hall.config.calendar.is_workday(clock.now().date())
    r = api.post("/tickets", {"business": "alpha"}, as_="kiosk")
    assert r.status_code == 409 and r.get_json()["error"]["detail"]["reason"] == "closed_today"
    b.client.put(f"/api/v1/settings/calendar/{today}", json={"kind": None}, headers={"X-CSRF-Token": b.csrf})
    assert api.post("/tickets", {"business": "alpha"}, as_="kiosk").status_code == 201
    saturday = date(2026, 11, 28)
    b.client.put("/api/v1/settings/calendar/2026-11-28", json={"kind": "workday"}, headers={"X-CSRF-Token": b.csrf})
    assert state.hall.config.hours.periods_on(saturday)  # a make-up workday (调休) opens


def test_opening_periods_and_capacity_change_at_run_time(app, state):
    b = Browser(app, "900")
    h = {"X-CSRF-Token": b.csrf}
    r = b.client.put("/api/v1/settings/hours/workdays", json={"periods": ["08:30-12:00", "13:30-17:30"]}, headers=h)
    assert r.status_code == 200 and r.get_json()["hours"]["workdays"] == ["08:30-12:00", "13:30-17:30"]
    r = b.client.put("/api/v1/settings/hours/workdays", json={"periods": ["12:00-09:00"]}, headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_periods"
    b.client.put("/api/v1/settings/hours/workdays", json={"periods": None}, headers=h)
    assert [str(p) for p in state.hall.config.hours.workdays] == ["09:00-12:00", "13:00-17:00"]
    r = b.client.put("/api/v1/settings/capacity", json={"scope": "item", "key": "T-ALPHA-1", "capacity": 9}, headers=h)
    assert r.status_code == 200 and state.hall.config.appointments.item_capacity["T-ALPHA-1"] == 9
    r = b.client.put("/api/v1/settings/capacity", json={"scope": "item", "key": "NOPE", "capacity": 9}, headers=h)
    assert r.status_code == 404


def test_another_server_process_picks_the_settings_up(app, state, tmp_path, clock):
    """Two apps on one database stand for two worker processes."""
    from queue_server.app import create_app
    from queue_server.domain import hall_settings
    from tests.conftest import TINY

    other = create_app(TINY, data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    try:
        b = Browser(app, "900")
        b.client.put("/api/v1/settings/calendar/2026-11-24", json={"kind": "holiday"}, headers={"X-CSRF-Token": b.csrf})
        st2 = other.extensions["hallq"]
        st2.hall._file_settings.checked_at = 0  # as if SYNC_SECONDS had passed
        other.test_client().get("/api/v1/health")
        assert not st2.hall.config.calendar.is_workday(date(2026, 11, 24))
        assert hall_settings.SYNC_SECONDS <= 5
    finally:
        other.extensions["hallq"].close()


@pytest.fixture
def city(tmp_path, clock):
    from queue_server.app import create_app

    app = create_app(CITY, data_dir=tmp_path / "city", clock=clock, mqtt=False, housekeeping=False)
    yield app
    app.extensions["hallq"].close()


def test_the_back_office_lists_shows_and_moves_an_application(city):
    api = Api(city.test_client())
    body = {"item": "520200-RS-GG-0002", "applicant": {"name": "王小明", "id_number": make_id(), "phone": "13812345678"},
            "fields": {"last_employer": "六盘水某某建材有限公司", "separation_date": "2026-10-31",
                       "separation_reason": "contract_ended"}, "materials": [0], "delivery": "onsite"}
    no = api.ok("post", "/applications", body, as_="kiosk", status=201)["tracking_no"]
    b = Browser(city, "1001")
    page = b.client.get("/console/backoffice").text
    assert no in page and "王*明" in page and "王小明" not in page  # the list shows masks only
    detail = b.client.get(f"/console/backoffice/{no}").text
    assert "补齐补正通知" in detail and "✗" in detail and make_id() not in detail
    assert "王*明" in detail and "王小明" not in detail and "显示全名" in detail  # the full name only on request
    # the form reads as the clerk's words: labels and the chosen option, not keys and codes
    assert "<dt>离职原因</dt><dd>劳动合同期满终止</dd>" in detail and "<dt>原工作单位</dt>" in detail
    assert "separation_reason" not in detail and "contract_ended" not in detail
    # the correction notice ticks the missing required materials, never the optional bank account page
    ticked = re.findall(r'<input type="checkbox" name="missing" value="([^"]+)" checked>', detail)
    offered = re.findall(r'<input type="checkbox" name="missing" value="([^"]+)"', detail)
    assert "本人银行账户信息" in offered and "本人银行账户信息" not in ticked
    assert set(ticked) == {"居民身份证或者社会保障卡", "解除或者终止劳动关系的证明"}
    r = b.client.post(f"/api/v1/applications/{no}/transition", json={"to": "accepted"},
                      headers={"X-CSRF-Token": b.csrf})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "materials_missing"
    r = b.client.post(f"/api/v1/applications/{no}/transition", json={"to": "correction", "missing": []},
                      headers={"X-CSRF-Token": b.csrf})
    assert r.status_code == 200 and r.get_json()["status"] == "correction"
    assert "登记补交材料" in b.client.get(f"/console/backoffice/{no}").text


def test_the_to_do_list_keeps_an_open_case_however_many_newer_ones_closed(city):
    """The list took the newest 300 cases of every status and kept the open ones: once 300 newer cases had closed,
    an older open one (overdue, likely) was no longer listed, and the clerk saw nothing to do."""
    api = Api(city.test_client())
    body = {"item": "520200-RS-GG-0002", "applicant": {"name": "王小明", "id_number": make_id(), "phone": "13812345678"},
            "fields": {"last_employer": "六盘水某某建材有限公司", "separation_date": "2026-10-31",
                       "separation_reason": "contract_ended"}, "materials": [0, 1, 2], "delivery": "onsite"}
    no = api.ok("post", "/applications", body, as_="kiosk", status=201)["tracking_no"]
    st = city.extensions["hallq"]
    with st.db.write() as conn:  # a busy hall's history: 300 newer cases, all delivered
        cols = [c[1] for c in conn.execute("PRAGMA table_info(applications)") if c[1] != "id"]
        row = dict(conn.execute("SELECT * FROM applications WHERE tracking_no = ?", (no,)).fetchone())
        for i in range(300):
            row.update(tracking_no=f"SQ20261123-Z{i:07d}", status="delivered",
                       submitted_at=f"2026-11-23T10:{i // 60:02d}:{i % 60:02d}.000+08:00")
            conn.execute(f"INSERT INTO applications ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
                         [row[c] for c in cols])
    b = Browser(city, "1001")
    page = b.client.get("/console/backoffice").text
    assert no in page and "SQ20261123-Z0000299" not in page  # the open one, none of the closed
    assert "SQ20261123-Z0000299" in b.client.get("/console/backoffice?all=1").text


def test_a_manager_finishes_what_an_absent_clerk_left_at_a_window(app, api):
    """A clerk went home with A001 still at the window: the window could be neither closed nor signed out, and the
    manager's console offered no button to finish it. The manager's view of the window says it may, and may do it."""
    api.issue("alpha")
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    api.act(1, "start", "101")
    manager = Browser(app, "900")
    view = manager.client.get("/api/v1/console/windows/1").get_json()
    assert view["current"]["ticket"] == "A001" and view["signed_in_here"] is False and view["may_finish"] is True
    clerk = api.ok("get", "/console/windows/1", as_="101")
    assert clerk["may_finish"] is False and clerk["signed_in_here"] is True
    h = {"X-CSRF-Token": manager.csrf}
    assert manager.client.post("/api/v1/windows/1/complete", json={}, headers=h).status_code == 200
    assert manager.client.post("/api/v1/windows/1/sign-out", json={}, headers=h).status_code == 200
    page = manager.client.get("/console/windows/1").text
    assert "manager_may_finish" in page  # the window console's texts include the manager's line


def test_a_mailed_results_phone_is_masked_on_the_page_and_opened_with_the_full_name(city):
    api = Api(city.test_client())
    body = {"item": "520200-RS-GG-0002", "applicant": {"name": "王小明", "id_number": make_id(), "phone": "13812345678"},
            "fields": {"last_employer": "六盘水某某建材有限公司", "separation_date": "2026-10-31",
                       "separation_reason": "contract_ended"}, "materials": [0], "delivery": "mail",
            "address": "贵州省六盘水市钟山区明湖路428号"}
    no = api.ok("post", "/applications", body, as_="kiosk", status=201)["tracking_no"]
    manager = Browser(city, "2001")
    page = manager.client.get(f"/console/backoffice/{no}").text
    assert '<span id="mail-recipient">王*明 138****5678</span>' in page and "13812345678" not in page
    r = manager.client.post(f"/console/backoffice/{no}/applicant-name", headers={"X-CSRF-Token": manager.csrf})
    assert r.get_json()["mail_to"] == {"recipient": "王小明", "phone": "13812345678"}


def test_show_full_name_answers_a_clerk_of_the_case_not_cached_journaled_and_refuses_others(city):
    api = Api(city.test_client())
    body = {"item": "520200-RS-GG-0002", "applicant": {"name": "王小明", "id_number": make_id(), "phone": "13812345678"},
            "fields": {"last_employer": "六盘水某某建材有限公司", "separation_date": "2026-10-31",
                       "separation_reason": "contract_ended"}, "materials": [0], "delivery": "onsite"}
    no = api.ok("post", "/applications", body, as_="kiosk", status=201)["tracking_no"]
    url = f"/console/backoffice/{no}/applicant-name"
    clerk, other, manager = Browser(city, "1001"), Browser(city, "1002"), Browser(city, "2001")
    assert clerk.client.post(url).status_code == 403  # no CSRF token: refused before anything is read
    assert city.test_client().post(url).status_code == 401  # nobody signed in
    for b, window in ((clerk, 7), (other, 1)):  # window 7 serves social (the item's), window 1 commerce
        assert b.client.post(f"/api/v1/windows/{window}/sign-in", json={},
                             headers={"X-CSRF-Token": b.csrf}).status_code == 200
    r = other.client.post(url, headers={"X-CSRF-Token": other.csrf})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_your_business"
    assert "王小明" not in r.text and "请先在服务该业务的窗口签到" in r.text
    for b in (clerk, manager):
        r = b.client.post(url, headers={"X-CSRF-Token": b.csrf})
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store", r.text
        assert r.get_json()["name"] == "王小明"
    conn = city.extensions["hallq"].db.connection()
    views = [tuple(v) for v in conn.execute(
        "SELECT actor, data FROM journal WHERE action = 'resident_name_viewed' ORDER BY seq")]
    assert views == [("staff:1001", f'{{"tracking_no":"{no}"}}'), ("staff:2001", f'{{"tracking_no":"{no}"}}')]
    assert "王小明" not in str([tuple(v) for v in conn.execute("SELECT * FROM journal")])
    # the page still holds the mask only: the name was shown in place by the script, never stored in the HTML
    assert "王小明" not in clerk.client.get(f"/console/backoffice/{no}").text
    journal = manager.client.get("/manager/journal").text
    assert "查看办事人全名" in journal and "王小明" not in journal


def test_the_journal_page_names_every_action_in_words(app, api):
    """Every action code the server journals has its name (过号, 不是 no_show); details read as words."""
    from hallq.testing import ROOT
    from queue_server.domain.actions import ACTIONS

    code = "\n".join(p.read_text() for p in (ROOT / "queue_server").rglob("*.py"))
    journaled = set(re.findall(r'journal\(\s*"([a-z_]+)"', code))
    journaled |= set(re.findall(r'_changed\(tx, "([a-z_]+)"', code))
    journaled |= {"call", "recall", "call_back", "account_deactivated", "close_window"}
    journaled |= {f"application_{s}" for s in ("pre_review", "accepted", "correction", "rejected", "result_ready",
                                               "delivered")}
    assert journaled - set(ACTIONS) == set()
    api.open_window(1, "101")
    api.issue("alpha")
    api.act(1, "call-next", "101")
    api.act(1, "no-show", "101")
    page = Browser(app, "900").client.get("/manager/journal").text
    assert "过号 <span class=\"muted\">no_show</span>" in page and "<option value=\"no_show\">过号</option>" in page
    assert "=None" not in page and "=True" not in page


def test_other_peoples_names_on_a_form_are_masked_like_the_applicants_and_shown_on_request(city):
    """新生儿 / 母亲 / 父亲 (fields of type person_name): masked in the back office's page and API, on /a/<no>
    nowhere; the full names only with 显示全名, under the same rule and journal entry as the applicant's."""
    from tests.queue_server.test_packages import MOTHER, NEWBORN

    api = Api(city.test_client())
    fields = {**NEWBORN, "child_name": "欧阳安然", "mother_name": "张丽华", "father_name": "欧阳建"}
    g = api.ok("get", "/packages/newborn")
    assert {f["key"]: f["type"] for f in g["fields"]}["child_name"] == "person_name"
    body = {"applicant": {"name": "张丽华", "id_number": MOTHER, "phone": "13912345678"}, "fields": fields,
            "materials": [m["index"] for m in g["materials"]], "delivery": "onsite"}
    filed = api.ok("post", "/packages/newborn/applications", body, as_="kiosk", status=201)
    no = filed["tracking_no"]
    full = ("欧阳安然", "张丽华", "欧阳建")
    assert not any(n in str(filed) for n in full)  # what the kiosk prints its receipt from
    # the API's back-office views: masked as names are (欧**然, 张*华, 欧*建)
    pkg = api.ok("get", f"/applications/{no}", as_="2001")
    part = api.ok("get", f"/applications/{no}-1", as_="2001")
    for view in (pkg, part):
        assert view["fields"]["child_name"] == "欧**然" and view["fields"]["mother_name"] == "张*华"
        assert not any(n in str(view) for n in full), view
    assert pkg["fields"]["father_name"] == "欧*建" and pkg["fields"]["birth_hospital"] == "六盘水市妇幼保健院"
    # the pages: the package's and a part's, and the resident's /a/<no>
    manager = Browser(city, "2001")
    for path in (f"/console/backoffice/{no}", f"/console/backoffice/{no}-1", f"/a/{no}", f"/a/{no}-1"):
        page = (manager.client if path.startswith("/console") else city.test_client()).get(path)
        assert page.status_code == 200 and not any(n in page.text for n in full), path
    assert 'data-person-field="child_name">欧**然</dd>' in manager.client.get(f"/console/backoffice/{no}").text
    # 显示全名: the full names with the applicant's, journaled once, never the names in the journal
    for tracking in (no, f"{no}-1"):
        r = manager.client.post(f"/console/backoffice/{tracking}/applicant-name", headers={"X-CSRF-Token": manager.csrf})
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store", r.text
        assert r.get_json()["name"] == "张丽华" and r.get_json()["fields"]["child_name"] == "欧阳安然"
    assert r.get_json()["fields"] == {"child_name": "欧阳安然", "mother_name": "张丽华", "father_name": "欧阳建"}
    clerk = Browser(city, "1002")  # signed in nowhere, no step on the case: refused, no name in the answer
    r = clerk.client.post(f"/console/backoffice/{no}/applicant-name", headers={"X-CSRF-Token": clerk.csrf})
    assert r.status_code == 403 and not any(n in r.text for n in full)
    conn = city.extensions["hallq"].db.connection()
    assert conn.execute("SELECT COUNT(*) FROM journal WHERE action = 'resident_name_viewed'").fetchone()[0] == 2
    journal = " ".join(d for (d,) in conn.execute("SELECT data FROM journal"))
    assert not any(n in journal for n in full)
    # a name that is not a name is refused as the applicant's is
    bad = api.post("/packages/newborn/applications", {**body, "fields": {**fields, "child_name": "宝宝1号"}},
                   as_="kiosk")
    assert bad.status_code == 400 and [f["field"] for f in bad.get_json()["error"]["fields"]] == ["fields.child_name"]
    assert "新生儿姓名有误" in bad.get_json()["error"]["message"], bad.get_json()


def test_a_package_waiting_for_papers_records_them_from_its_own_page(city):
    """The package page offered a second correction notice (refused) and no way to record what the resident brought:
    clerks went part by part, and the package's checklist kept its ✗. Now the page records them for the package."""
    from tests.queue_server.test_packages import MOTHER, NEWBORN

    api = Api(city.test_client())
    g = api.ok("get", "/packages/newborn")
    booklet = next(m["index"] for m in g["materials"] if m["name"] == "居民户口簿")
    body = {"applicant": {"name": "张丽", "id_number": MOTHER, "phone": "13912345678"}, "fields": NEWBORN,
            "materials": [m["index"] for m in g["materials"] if m["index"] != booklet], "delivery": "onsite"}
    no = api.ok("post", "/packages/newborn/applications", body, as_="kiosk", status=201)["tracking_no"]
    b = Browser(city, "1001")
    h = {"X-CSRF-Token": b.csrf}
    r = b.client.post(f"/api/v1/packages/applications/{no}/review", json={"to": "correction", "missing": ["居民户口簿"]},
                      headers=h)
    assert r.status_code == 200
    page = b.client.get(f"/console/backoffice/{no}").text
    assert 'id="form-supplement"' in page and 'data-to="correction"' not in page and 'data-to="accepted"' not in page
    assert f'name="materials" value="{booklet}"> 居民户口簿' in page
    r = b.client.post(f"/api/v1/packages/applications/{no}/supplement", json={"materials": [booklet], "fields": {}},
                      headers={**h, "Idempotency-Key": "pkg-supplement-1"})
    assert r.status_code == 200
    page = b.client.get(f"/console/backoffice/{no}").text
    assert 'id="form-supplement"' not in page and 'data-to="accepted"' in page and "✗" not in page
