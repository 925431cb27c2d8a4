"""The ticket's phone page (/t/<id>): a real server, a real headless chromium.

The page must show the position, update by itself (no reload) when the ticket is called
over the API, alert (banner, vibration, tone), switch languages, survive the server going
away, carry no personal data, and work without JavaScript.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from hallq.demo import DEMO_PASSWORD
from hallq.i18n import text
from tests.conftest import make_id

KIOSK = "demo-kiosk-1"


def text_of(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def wait_text(driver, element_id: str, expected: str, timeout: float = 20) -> str:
    """Wait until the element shows ``expected`` (the page polls every few seconds)."""
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(
        lambda d: expected in d.find_element(By.ID, element_id).text,
        message=f"#{element_id} never showed {expected!r}")
    return text_of(driver, element_id)


@pytest.fixture
def hall(server_proc):
    server = server_proc()
    kiosk = server.client(token=KIOSK)
    staff = server.client()
    staff.login("101", DEMO_PASSWORD)
    yield server, kiosk, staff
    kiosk.close()
    staff.close()


def test_the_page_follows_the_queue_and_shows_the_call_without_a_reload(hall, chromium, screenshot):
    server, kiosk, staff = hall
    first = kiosk.issue_ticket("alpha")
    mine = kiosk.issue_ticket("alpha")
    chromium.get(f"{server.url}/t/{mine['id']}")
    assert text_of(chromium, "number") == mine["ticket"]
    assert text_of(chromium, "head") == "前面还有 1 人"
    assert chromium.find_element(By.ID, "banner").is_displayed()  # 1 ahead: near (≤ 2)
    chromium.find_element(By.ID, "enable-alerts").click()  # the touch that allows sound and vibration
    assert chromium.find_element(By.ID, "alerts-on").is_displayed()
    chromium.execute_script("window.__samePage = true; window.__buzz = [];"
                            "navigator.vibrate = function (p) { window.__buzz.push(p); return true; };")
    screenshot(chromium, "ticket-page-waiting")

    staff.window_action(1, "sign-in")
    assert staff.call_next(1)["ticket"]["ticket"] == first["ticket"]
    wait_text(chromium, "head", "前面没有人了")
    staff.call_next(1, complete_current=True)
    assert wait_text(chromium, "head", "请到 1 号窗口") == "请到 1 号窗口"
    banner = chromium.find_element(By.ID, "banner")
    assert banner.is_displayed() and banner.text == "请到 1 号窗口"
    assert mine["ticket"] in text_of(chromium, "detail")
    assert chromium.execute_script("return window.__samePage === true")  # updated in place, never reloaded
    assert chromium.execute_script("return window.hallqTicket.alerts").count("called") == 1
    assert chromium.execute_script("return window.__buzz") == [[400, 150, 400, 150, 400]]
    assert chromium.title.startswith(mine["ticket"])
    shot = screenshot(chromium, "ticket-page-called")
    assert shot.stat().st_size > 5000

    staff.window_action(1, "recall")  # a recall alerts again
    WebDriverWait(chromium, 20, 0.1).until(
        lambda d: d.execute_script("return window.hallqTicket.alerts").count("called") == 2)
    staff.window_action(1, "complete")
    wait_text(chromium, "head", "已办结")
    polls = chromium.execute_script("return window.hallqTicket.polls")
    chromium.execute_script("document.dispatchEvent(new Event('visibilitychange'))")
    assert chromium.execute_script("return window.hallqTicket.polls") == polls  # ended: no more polling


def test_language_switch_keeps_the_live_view(hall, chromium, screenshot):
    server, kiosk, staff = hall
    mine = kiosk.issue_ticket("alpha")
    chromium.get(f"{server.url}/t/{mine['id']}")
    chromium.find_element(By.LINK_TEXT, "繁").click()
    assert wait_text(chromium, "head", "前面沒有人了")
    chromium.find_element(By.LINK_TEXT, "EN").click()
    assert wait_text(chromium, "head", "Nobody is ahead of you")
    chromium.get(f"{server.url}/t/{mine['id']}")  # the choice is remembered (a cookie, no account)
    assert text_of(chromium, "head") == "Nobody is ahead of you"
    staff.window_action(1, "sign-in")
    staff.call_next(1)
    assert wait_text(chromium, "head", "Please go to window 1")
    assert text_of(chromium, "head") == text("web.ticket.called", "en").format(w=1)  # ticket.js, from web.po
    screenshot(chromium, "ticket-page-called-en")
    chromium.find_element(By.LINK_TEXT, "简").click()
    assert wait_text(chromium, "head", "请到 1 号窗口")


def test_the_page_says_when_the_server_is_away_and_recovers(hall, chromium, screenshot):
    server, kiosk, staff = hall
    mine = kiosk.issue_ticket("alpha")
    chromium.get(f"{server.url}/t/{mine['id']}")
    server.stop()
    WebDriverWait(chromium, 20, 0.1).until(lambda d: d.find_element(By.ID, "offline").is_displayed())
    assert "正在重试" in text_of(chromium, "offline")
    assert text_of(chromium, "number") == mine["ticket"]  # what it knew stays on screen
    screenshot(chromium, "ticket-page-offline")
    server.start()
    staff.close()  # its kept-alive connection went with the old process
    staff.login("101", DEMO_PASSWORD)
    staff.window_action(1, "sign-in")
    staff.call_next(1)
    wait_text(chromium, "head", "请到 1 号窗口", timeout=40)
    assert not chromium.find_element(By.ID, "offline").is_displayed()


# -- without a browser: the first view, headers, privacy -----------------------------------------------

def test_the_first_view_works_without_javascript_and_carries_no_personal_data(api):
    person = make_id()
    api.issue("alpha")
    mine = api.issue("beta", id_number=person, phone="13812345678")
    r = api.client.get(f"/t/{mine['id']}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "前面没有人了" in html and mine["ticket"] in html
    assert '<meta http-equiv="refresh" content="20">' in html  # inside <noscript>: reloads itself
    for secret in (person, person[:6], person[-4:], "13812345678", "****"):
        assert secret not in html
    assert "https://" not in html and "http://" not in html  # nothing from outside the hall
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["Referrer-Policy"] == "no-referrer"
    en = api.client.get(f"/t/{mine['id']}?lang=en")
    assert "Nobody is ahead of you" in en.get_data(as_text=True) and "hallq_lang=en" in en.headers["Set-Cookie"]
    gone = api.client.get("/t/not-a-ticket?lang=zh-Hant")
    assert gone.status_code == 404 and "沒有找到這張號票" in gone.get_data(as_text=True)
    # no browser asks for /favicon.ico (a 404 in every log): the pages carry an empty icon, as the consoles do
    for page in (html, gone.get_data(as_text=True), api.client.get("/rate/1").get_data(as_text=True)):
        assert '<link rel="icon" href="data:,">' in page


def test_a_business_name_cannot_break_the_pages_data(api):
    """The page's data block escaped only "</": a business named with "<!--<script" put the browser's HTML parser in
    a state that swallowed the page's script, and its residents' pages stopped following the queue."""
    import json
    import re

    name = {"zh-Hans": "甲<!--<script>业务", "en": "A<!--<script>"}
    assert api.put("/settings/businesses/alpha", {"name": name}, as_="900").status_code == 200
    mine = api.issue("alpha")
    html = api.client.get(f"/t/{mine['id']}").get_data(as_text=True)
    block = re.search(r'<script type="application/json" id="ticket-data">(.*?)</script>', html, re.S).group(1)
    assert "<" not in block and ">" not in block
    assert json.loads(block)["ticket"]["business_name"]["zh-Hans"] == "甲<!--<script>业务"


def test_polling_the_ticket_costs_a_304_while_nothing_changes(api):
    mine = api.issue("alpha")
    first = api.client.get(f"/api/v1/tickets/{mine['id']}")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"
    same = api.client.get(f"/api/v1/tickets/{mine['id']}", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.get_data() == b""
    api.open_window(1, "101")
    api.act(1, "call-next", "101")
    changed = api.client.get(f"/api/v1/tickets/{mine['id']}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["state"] == "called"


def test_static_assets_are_served_by_the_hall(api):
    for name in ("ticket.js", "ticket.css"):
        r = api.client.get(f"/t/static/{name}")
        assert r.status_code == 200 and len(r.get_data()) > 1000
        assert b"http://" not in r.get_data() and b"https://" not in r.get_data()


def test_a_wide_estimate_shows_as_a_range_and_moves_when_the_window_pauses(hall, chromium):
    """The script mirrors hallq.waits.shown; the estimate follows the hall, not only the arrivals."""
    server, kiosk, staff = hall
    for _ in range(4):
        kiosk.issue_ticket("alpha")
    staff.window_action(1, "sign-in")
    staff.call_next(1)
    mine = kiosk.issue_ticket("alpha")
    low, high = mine["est_wait_range"]
    assert high - low > 10  # three ahead of one busy window: a wide range
    chromium.get(f"{server.url}/t/{mine['id']}")
    assert text_of(chromium, "detail") == f"预计等候约 {low}–{high} 分钟"
    chromium.execute_script("window.__samePage = true;")
    staff.window_action(1, "pause", {"reason": "break"})  # half the capacity: the wait grows
    paused = server.client(token=KIOSK).ticket(mine["id"])
    assert paused["est_wait_range"][1] > high
    wait_text(chromium, "detail", f"{paused['est_wait_range'][0]}–{paused['est_wait_range'][1]}", timeout=30)
    assert chromium.execute_script("return window.__samePage === true")


def test_a_resident_who_leaves_gives_the_number_up_from_the_phone(hall, chromium, screenshot):
    """弃号 from the phone: two taps ("不办了" then "确定放弃"), the number is void, and the clerk's next call goes to
    the resident behind (no two recalls and a 过号 for someone who has gone home)."""
    server, kiosk, staff = hall
    mine = kiosk.issue_ticket("alpha")
    behind = kiosk.issue_ticket("alpha")
    chromium.get(f"{server.url}/t/{mine['id']}")
    assert text_of(chromium, "head") == "前面没有人了"
    chromium.find_element(By.ID, "leave-ask").click()
    assert chromium.find_element(By.ID, "leave-confirm").is_displayed()
    screenshot(chromium, "ticket-page-leave")
    chromium.find_element(By.ID, "leave-no").click()  # changed their mind: nothing happened
    assert chromium.find_element(By.ID, "leave-ask").is_displayed()
    assert kiosk.ticket(mine["id"])["state"] == "waiting"
    chromium.find_element(By.ID, "leave-ask").click()
    chromium.find_element(By.ID, "leave-yes").click()
    wait_text(chromium, "head", "已放弃此号")
    assert not chromium.find_element(By.ID, "leave").is_displayed()
    assert kiosk.ticket(mine["id"])["state"] == "cancelled"
    staff.window_action(1, "sign-in")
    assert staff.call_next(1)["ticket"]["ticket"] == behind["ticket"]
