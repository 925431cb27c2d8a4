"""Every web screen as its user needs it (issue 17), in a real chromium against a real server and broker.

* the rating tablet (1280×800): the faces fill the screen, the reasons are large touch targets, 其他 opens a box;
* the phone ticket page: a finished ticket is rated from the page, once; no sound offer on an ended ticket;
  "更新于" in the hall's clock; the browser's language followed;
* the window console: 过号 asks in the page; the rating prompt line goes; a kiosk's sound problem stays off
  the clerks' consoles; B with a current ticket says why;
* the manager's live hall names each window's businesses; the English menu stays on one line at 1366 px.

Screenshots go to ``$HALLQ_SCREENSHOTS`` (default: the test's tmp dir).
"""

from __future__ import annotations

import pytest

from hallq.demo import DEMO_PASSWORD
from tests.conftest import MqttCollector
from tests.web.conftest import start_chromium
from tests.web.test_console_browser import sign_in, text_of, wait

TABLET = (1280, 800)
DESKTOP = (1366, 900)


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("screens-profile"), DESKTOP)
    yield driver
    driver.quit()


@pytest.fixture
def browser(desktop):
    desktop.delete_all_cookies()
    desktop.set_window_size(*DESKTOP)
    yield desktop
    desktop.delete_all_cookies()
    desktop.set_window_size(*DESKTOP)


@pytest.fixture
def hall(mosquitto, server_proc):
    server = server_proc(mqtt_url=mosquitto.url)
    collector = MqttCollector(mosquitto.url, "hallq/tiny/#")
    collector.url = mosquitto.url
    yield server, collector
    collector.close()


def viewport(driver, size: tuple[int, int]) -> None:
    """Make the page's inner size ``size`` (the window's frame differs from one chromium to another)."""
    driver.set_window_size(*size)
    w, h = driver.execute_script("return [window.innerWidth, window.innerHeight];")
    driver.set_window_size(size[0] * 2 - w, size[1] * 2 - h)


def finished_ticket(server, job_no: str = "101", window: int = 1) -> dict:
    ticket = server.client("demo-kiosk-1").issue_ticket("alpha")
    clerk = server.client()
    clerk.login(job_no, DEMO_PASSWORD)
    clerk.post(f"/windows/{window}/sign-in")
    clerk.post(f"/windows/{window}/call-next")
    clerk.post(f"/windows/{window}/complete")
    return {"ticket": ticket, "clerk": clerk}


def test_the_rating_tablet_fills_its_screen_and_other_opens_a_box(browser, hall, screenshot):
    from selenium.webdriver.common.by import By

    server, _ = hall
    done = finished_ticket(server)
    done["clerk"].post("/windows/1/rating-prompt")
    viewport(browser, TABLET)
    browser.get(f"{server.url}/rate/1?lang=zh-Hans#key=demo-tablet-1")
    wait(browser, lambda d: d.find_element(By.ID, "ask").is_displayed())
    shot = screenshot(browser, "tablet-ask-1280x800")
    faces = browser.execute_script(
        "const r = document.getElementById('faces').getBoundingClientRect(),"
        " d = document.getElementById('decline').getBoundingClientRect();"
        "return [r.top, r.bottom, r.height, window.innerHeight, d.top, d.bottom];")
    top, bottom, height, screen, decline_top, decline_bottom = faces
    # the faces fill the screen down to 不评价, the one other choice, which sits at the bottom
    assert height >= 0.55 * screen and decline_top - bottom <= 0.05 * screen and decline_bottom >= 0.9 * screen, \
        f"the faces use {top:.0f}–{bottom:.0f} of {screen} px, 不评价 {decline_top:.0f}–{decline_bottom:.0f} ({shot})"
    browser.find_element(By.CSS_SELECTOR, "#faces button.l2").click()
    wait(browser, lambda d: d.find_element(By.ID, "why").is_displayed())
    boxes = browser.execute_script(
        "return Array.from(document.querySelectorAll('#reasons input'), (i) => {"
        " const b = i.getBoundingClientRect(), l = i.closest('label').getBoundingClientRect();"
        " return [b.width, b.height, l.height]; });")
    assert boxes and all(w >= 40 and h >= 40 and lh >= 72 for w, h, lh in boxes), boxes
    assert not browser.find_element(By.ID, "comment").is_displayed()
    browser.find_element(By.CSS_SELECTOR, '#reasons input[value="other"]').click()
    comment = wait(browser, lambda d: d.find_element(By.ID, "comment") if d.find_element(By.ID, "comment")
                   .is_displayed() else None)
    comment.send_keys("材料清单和窗口说的不一样")
    screenshot(browser, "tablet-other-comment")
    browser.find_element(By.ID, "why-send").click()
    wait(browser, lambda d: d.find_element(By.ID, "thanks").is_displayed())
    boss = server.client()
    boss.login("900", DEMO_PASSWORD)
    followup = boss.get("/followups?which=all")[0]
    assert followup["reasons"] == ["other"] and followup["comment"] == "材料清单和窗口说的不一样"


def test_a_finished_ticket_is_rated_from_the_phone_once(chromium, hall, screenshot):
    from selenium.webdriver.common.by import By

    server, _ = hall
    waiting = server.client("demo-kiosk-1").issue_ticket("alpha")
    chromium.delete_all_cookies()
    chromium.get(f"{server.url}/t/{waiting['id']}")
    wait(chromium, lambda d: d.find_element(By.ID, "updated").text)
    # the hall's clock (the server's virtual 09:30), not the machine's
    assert chromium.find_element(By.ID, "updated").text.split()[-1].startswith("09:3"), text_of(chromium, "updated")
    assert chromium.find_element(By.ID, "enable-alerts").is_displayed()  # a live ticket offers the alerts
    assert not chromium.find_element(By.ID, "rate").is_displayed()
    clerk = server.client()
    clerk.login("101", DEMO_PASSWORD)
    clerk.post("/windows/1/sign-in")
    clerk.post("/windows/1/call-next")
    clerk.post("/windows/1/complete")
    wait(chromium, lambda d: d.find_element(By.ID, "rate").is_displayed(), timeout=20)  # the page follows by itself
    assert not chromium.find_element(By.ID, "enable-alerts").is_displayed()  # nothing left to be alerted to
    screenshot(chromium, "phone-rate")
    chromium.find_element(By.CSS_SELECTOR, '#rate-faces button[data-level="1"]').click()
    wait(chromium, lambda d: d.find_element(By.ID, "rate-why").is_displayed())
    chromium.find_element(By.CSS_SELECTOR, '#rate-why input[value="slow"]').click()
    chromium.find_element(By.ID, "rate-send").click()
    wait(chromium, lambda d: d.find_element(By.ID, "rated").is_displayed())
    assert not chromium.find_element(By.ID, "rate").is_displayed()
    screenshot(chromium, "phone-rated")
    boss = server.client()
    boss.login("900", DEMO_PASSWORD)
    followup = boss.get("/followups?which=all")[0]
    assert followup["ticket"] == waiting["ticket"] and followup["reasons"] == ["slow"]
    chromium.refresh()  # once: a second visit is told it is done, and offers neither rating nor alerts
    wait(chromium, lambda d: d.find_element(By.ID, "rated").is_displayed())
    assert not chromium.find_element(By.ID, "rate").is_displayed()
    assert not chromium.find_element(By.ID, "enable-alerts").is_displayed()


def test_the_ticket_page_follows_the_browser_language(api):
    mine = api.issue("alpha")
    page = api.client.get(f"/t/{mine['id']}", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in page
    page = api.client.get(f"/t/{mine['id']}", headers={"Accept-Language": "zh-TW"}).get_data(as_text=True)
    assert '<html lang="zh-Hant">' in page
    chosen = api.client.get(f"/t/{mine['id']}?lang=zh-Hans", headers={"Accept-Language": "en"})
    assert '<html lang="zh-Hans">' in chosen.get_data(as_text=True)  # the switch wins, and is remembered
    again = api.client.get(f"/t/{mine['id']}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in again


def test_the_window_console_asks_in_the_page_says_why_and_keeps_to_its_own(browser, hall, screenshot):
    from datetime import datetime, timedelta

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from hallq import contract
    from hallq.mqtt import BrokerAddress, Connection

    server, collector = hall
    kiosk = server.client("demo-kiosk-1")
    for _ in range(5):
        kiosk.issue_ticket("alpha")
    sign_in(browser, server, "101")
    browser.get(f"{server.url}/console/windows/1")
    wait(browser, lambda d: d.find_element(By.ID, "btn-signin").is_displayed())
    browser.find_element(By.ID, "btn-signin").click()
    wait(browser, lambda d: d.find_element(By.ID, "btn-call").is_enabled())
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys("n")
    wait(browser, lambda d: text_of(d, "current-number") == "A001")

    # 过号 asks in the page, by keyboard: the focus starts on 取消, Esc cancels, Tab + Enter confirms
    body.send_keys("m")
    wait(browser, lambda d: d.find_element(By.ID, "dlg-confirm").is_displayed())
    assert "A001" in text_of(browser, "confirm-text")
    assert browser.switch_to.active_element.get_attribute("id") == "confirm-no"
    screenshot(browser, "console-confirm-no-show")
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(browser, lambda d: not d.find_element(By.ID, "dlg-confirm").is_displayed())
    assert text_of(browser, "current-number") == "A001"
    body.send_keys("m")
    wait(browser, lambda d: d.find_element(By.ID, "dlg-confirm").is_displayed())
    browser.switch_to.active_element.send_keys(Keys.TAB)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait(browser, lambda d: text_of(d, "current-number") == "当前无号票")

    # B while a ticket is current: refused, and the page says why
    body.send_keys("n")
    wait(browser, lambda d: text_of(d, "current-number") == "A002")
    body.send_keys("h")
    wait(browser, lambda d: "A002" in text_of(d, "held"))
    body.send_keys("n")
    wait(browser, lambda d: text_of(d, "current-number") == "A003")
    body.send_keys("b")
    flash = wait(browser, lambda d: d.find_element(By.ID, "flash") if "A003" in text_of(d, "flash") else None)
    assert "A002" in flash.text and flash.get_attribute("class").split()[-1] == "bad"
    screenshot(browser, "console-call-back-refused")

    # "已请居民为 … 评价": gone after a short while, and when the next ticket is called
    clerk_said = "已请居民为 A003 评价"
    body.send_keys("c")
    wait(browser, lambda d: not d.find_element(By.ID, "btn-rate").get_attribute("disabled"))
    body.send_keys("e")
    wait(browser, lambda d: clerk_said in text_of(d, "rating"))
    boss = server.client()
    boss.login("900", DEMO_PASSWORD)
    now = datetime.fromisoformat(boss.get("/clock")["now"])
    boss.request("PUT", "/clock", {"now": (now + timedelta(minutes=3)).isoformat()})
    wait(browser, lambda d: clerk_said not in text_of(d, "rating"), timeout=30)
    body.send_keys("b")  # nothing current now: A002 comes back
    wait(browser, lambda d: text_of(d, "current-number") == "A002")
    body.send_keys("c")
    wait(browser, lambda d: not d.find_element(By.ID, "btn-rate").get_attribute("disabled"))
    body.send_keys("e")
    wait(browser, lambda d: "已请居民为 A002 评价" in text_of(d, "rating"))
    body.send_keys("n")
    wait(browser, lambda d: text_of(d, "current-number") == "A004")
    wait(browser, lambda d: "A002" not in text_of(d, "rating"))

    # a kiosk's sound problem is the managers' business; its printer out of paper is every clerk's
    publisher = Connection(BrokerAddress.parse(collector.url), "tiny", "kiosk", "kiosk-1")
    publisher.start()
    try:
        assert publisher.wait_connected(10)
        for device, kind, problem in (("kiosk-1-audio", "audio", "no_sound_device"),
                                      ("kiosk-1-printer", "printer", "paper_out"),
                                      ("strip-2", "led_strip", "offline"), ("strip-1", "led_strip", "offline")):
            publisher.publish(contract.DEVICE_HEALTH.topic("tiny", owner="kiosk-1", device=device), contract.encode(
                contract.DEVICE_HEALTH, {"device": device, "kind": kind, "ok": False, "problems": [problem],
                                         "detail": {}, "at": "2026-11-23T09:30:00+08:00"}), qos=1, retain=True)
        bar = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".device-problems")
                   if "strip-1" in d.find_element(By.CSS_SELECTOR, ".device-problems").text else None)
        assert "kiosk-1-printer" in bar.text and "kiosk-1-audio" not in bar.text and "strip-2" not in bar.text
        assert "strip-1 (kiosk-1)" in bar.text  # not kiosk-1's own part: the bar says who reported it (026)
        wait(browser, lambda d: {p["device"] for p in boss.get("/attention")["device_problems"]}
             >= {"kiosk-1-audio", "strip-2"})  # the server has them all: the managers' live hall shows them
        screenshot(browser, "console-own-devices")
    finally:
        publisher.stop()


def test_the_live_hall_names_each_window_s_businesses_and_the_english_menu_fits(browser, hall, screenshot):
    from selenium.webdriver.common.by import By

    server, _ = hall
    sign_in(browser, server, "900")
    browser.get(f"{server.url}/manager/hall")
    windows = wait(browser, lambda d: d.find_element(By.ID, "windows") if "甲业务" in text_of(d, "windows") else None)
    assert "B 乙业务 › A 甲业务" in windows.text, windows.text  # window 2 serves beta first, then alpha
    screenshot(browser, "manager-hall-windows")
    # closing a window asks in the page too, and 取消 leaves it open
    boss = server.client()
    boss.login("900", DEMO_PASSWORD)
    boss.post("/windows/1/open")
    close = wait(browser, lambda d: d.find_element(By.XPATH, '//div[@id="windows"]/div[1]//button[text()="关闭"]'))
    close.click()
    wait(browser, lambda d: d.find_element(By.ID, "dlg-confirm").is_displayed())
    assert "1" in text_of(browser, "confirm-text")
    browser.find_element(By.ID, "confirm-no").click()
    assert server.client().get("/windows/1")["state"] == "open"
    wait(browser, lambda d: d.find_element(By.XPATH, '//div[@id="windows"]/div[1]//button[text()="关闭"]')).click()
    wait(browser, lambda d: d.find_element(By.ID, "dlg-confirm").is_displayed())
    browser.find_element(By.ID, "confirm-yes").click()
    wait(browser, lambda d: server.client().get("/windows/1")["state"] == "closed")
    browser.set_window_size(1351, DESKTOP[1])  # a 1366 px screen beside a scroll bar
    for path in ("/manager/hall", "/console/windows/1", "/manager/stats", "/console/appointments"):
        browser.get(f"{server.url}{path}?lang=en")
        height = browser.execute_script(
            "document.querySelector('.topbar .brand').textContent = 'Liupanshui Government Service Centre';"
            "return document.querySelector('.topbar').offsetHeight;")
        screenshot(browser, "menu-en-1351" + path.replace("/", "-"))
        assert height < 50, f"{path}: the English top bar wraps ({height} px)"
