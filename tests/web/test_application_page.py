"""The resident's progress page (/a/<tracking_no>): one page for one number, a 一件事 package's parts with their
departments, partial results, the correction's list; no personal data; in the resident's language."""

import pytest

from tests.conftest import CITY, Api, make_id
from tests.queue_server.test_packages import MOTHER, NEWBORN

CLERK = "1001"


@pytest.fixture
def city(tmp_path, clock):
    from queue_server.app import create_app

    app = create_app(CITY, data_dir=tmp_path / "city", clock=clock, mqtt=False, housekeeping=False)
    yield app
    app.extensions["hallq"].close()


def test_a_package_progress_page_shows_each_part_and_partial_results(city):
    api = Api(city.test_client())
    guide = api.ok("get", "/packages/newborn")
    handed = [m["index"] for m in guide["materials"] if m["name"] != "居民户口簿"]
    no = api.ok("post", "/packages/newborn/applications", {
        "applicant": {"name": "张丽", "id_number": MOTHER, "phone": "13912345678"}, "fields": NEWBORN,
        "materials": handed, "delivery": "onsite"}, as_="kiosk", status=201)["tracking_no"]
    page = city.test_client().get(f"/a/{no}?lang=zh-Hans")
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    html = page.text
    assert "新生儿出生一件事" in html and "待预审" in html and html.count("<li>出") >= 2
    assert "六盘水市医疗保障局" in html and "张丽" not in html and "张*" not in html and MOTHER not in html
    # no timed refresh (WCAG 2.2.1, axe's meta-refresh): the resident reloads it with 刷新进度
    assert 'http-equiv="refresh"' not in html and 'id="refresh" href="?lang=zh-Hans">刷新进度</a>' in html
    api.ok("post", f"/packages/applications/{no}/review", {"to": "correction", "missing": ["请带出生医院盖章页"]},
           as_=CLERK)
    html = city.test_client().get(f"/a/{no}?lang=zh-Hans").text
    assert "需要补正：" in html and "居民户口簿" in html and "请带出生医院盖章页" in html
    register = next(m["index"] for m in guide["materials"] if m["name"] == "居民户口簿")
    api.ok("post", f"/packages/applications/{no}/supplement", {"materials": [register], "id_number": MOTHER},
           as_="kiosk")
    api.ok("post", f"/packages/applications/{no}/review", {"to": "accepted"}, as_=CLERK)
    api.ok("post", f"/applications/{no}-3/transition", {"to": "result_ready", "decision": "approved"}, as_=CLERK)
    html = city.test_client().get(f"/a/{no}?lang=en").text
    assert "Results ready for 1 of the items" in html and "In progress" in html


def test_an_application_alone_and_an_unknown_number(city):
    api = Api(city.test_client())
    no = api.ok("post", "/applications", {
        "item": "520200-RS-GG-0002", "applicant": {"name": "王小明", "id_number": make_id(), "phone": "13812345678"},
        "fields": {"last_employer": "六盘水某某建材有限公司", "separation_date": "2026-10-31",
                   "separation_reason": "contract_ended"}, "materials": [0, 1, 2], "delivery": "onsite"},
        as_="kiosk", status=201)["tracking_no"]
    html = city.test_client().get(f"/a/{no}?lang=zh-Hans").text
    assert "失业保险金申领" in html and "已提交" in html and "王小明" not in html
    r = city.test_client().get("/a/SQ20000101-ABCDEFGH?lang=zh-Hans")
    assert r.status_code == 404 and "没有这个受理编号" in r.text
