"""The consoles in a real browser (Debian's chromium, headless) against a real server and broker.

* a clerk signs in, calls with the keyboard shortcut, and the board's MQTT topic gets the call;
* a manager changes the allocation matrix and the window's next call follows it;
* a resident gives a bad review on the window's tablet and the manager follows it up to the end;
* a manager changes a business's green-channel promise, and one looser than its ordinary target is refused.

Screenshots go to ``$HALLQ_SCREENSHOTS`` (default: the test's tmp dir).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from hallq.client import ApiError as HallApiError
from hallq.demo import DEMO_PASSWORD
from tests.conftest import MqttCollector, make_id
from tests.web.conftest import DESKTOP



@pytest.fixture
def hall(mosquitto, server_proc):
    server = server_proc(mqtt_url=mosquitto.url)
    collector = MqttCollector(mosquitto.url, "hallq/tiny/#")
    collector.url = mosquitto.url
    yield server, collector
    collector.close()


def wait(driver, condition, timeout=10):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # the console re-renders as the hall moves: an element may be replaced between find and read
    return WebDriverWait(driver, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(condition)


def sign_in(driver, server, job_no: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{server.url}/console/login?lang=zh-Hans")
    driver.find_element(By.ID, "job_no").send_keys(job_no)
    driver.find_element(By.ID, "password").send_keys(DEMO_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver, lambda d: "/console/login" not in d.current_url)


def text_of(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def test_a_clerk_signs_in_and_calls_a_number_that_the_board_gets(browser, hall, screenshot):
    from selenium.webdriver.common.by import By

    server, collector = hall
    kiosk = server.client("demo-kiosk-1")
    for _ in range(3):
        kiosk.issue_ticket("alpha")
    sign_in(browser, server, "101")
    assert browser.current_url.endswith("/console/windows")
    browser.find_element(By.CSS_SELECTOR, 'a[href="/console/windows/1"]').click()
    wait(browser, lambda d: d.find_element(By.ID, "btn-signin").is_displayed())
    browser.find_element(By.ID, "btn-signin").click()
    wait(browser, lambda d: d.find_element(By.ID, "btn-call").is_enabled())
    assert "A001" in text_of(browser, "waiting")
    browser.find_element(By.TAG_NAME, "body").send_keys("n")  # the keyboard shortcut for 叫号
    wait(browser, lambda d: text_of(d, "current-number") == "A001")
    _, call = collector.wait_for(lambda t, p: t == "hallq/tiny/calls" and p.get("ticket") == "A001")
    assert call["window"] == 1 and call["kind"] == "call"
    collector.wait_for(lambda t, p: t == "hallq/tiny/board" and any(
        c["ticket"] == "A001" for c in p.get("recent_calls", [])))
    wait(browser, lambda d: d.find_element(By.ID, "btn-start").is_enabled())
    browser.find_element(By.ID, "btn-start").click()
    wait(browser, lambda d: "办理中" in text_of(d, "current"))
    assert not browser.find_element(By.ID, "btn-call").is_enabled()  # one ticket at a time
    screenshot(browser, "console-window-serving")
    browser.find_element(By.TAG_NAME, "body").send_keys("c")  # 办结
    wait(browser, lambda d: d.find_element(By.ID, "btn-call").is_enabled())
    browser.find_element(By.TAG_NAME, "body").send_keys("n")
    wait(browser, lambda d: text_of(d, "current-number") == "A002")
    collector.wait_for(lambda t, p: t == "hallq/tiny/calls" and p.get("ticket") == "A002")


def test_a_manager_changes_the_allocation_and_the_next_call_follows_it(browser, hall, screenshot):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    server, collector = hall
    kiosk = server.client("demo-kiosk-1")
    kiosk.issue_ticket("alpha")
    kiosk.issue_ticket("beta", id_number=make_id())
    clerk = server.client()
    clerk.login("101", DEMO_PASSWORD)
    clerk.post("/windows/1/sign-in")
    sign_in(browser, server, "900")
    browser.get(f"{server.url}/manager/allocation")
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-window="1"]')
    Select(row.find_element(By.CSS_SELECTOR, 'select[data-business="beta"]')).select_by_value("1")
    wait(browser, lambda d: "下一次叫号生效" in text_of(d, "flash"))
    Select(row.find_element(By.CSS_SELECTOR, 'select[data-business="alpha"]')).select_by_value("0")
    wait(browser, lambda d: server.client().get("/windows/1")["serves"] == ["beta"])
    screenshot(browser, "manager-allocation")
    # the whole manager menu on one line on a 1366 px screen (1351 px beside a scroll bar), even with a city
    # hall's long name
    browser.set_window_size(1351, DESKTOP[1])
    try:
        height = browser.execute_script(
            "document.querySelector('.topbar .brand').textContent = '六盘水市政务服务中心';"
            "return document.querySelector('.topbar').offsetHeight;")
    finally:
        browser.set_window_size(*DESKTOP)
    assert height < 50, f"the top bar wraps: {height} px"
    called = clerk.post("/windows/1/call-next")
    assert called["ticket"]["ticket"] == "B001"  # the very next call follows the new allocation
    collector.wait_for(lambda t, p: t == "hallq/tiny/calls" and p.get("ticket") == "B001" and p["window"] == 1)
    browser.get(f"{server.url}/manager/hall")
    wait(browser, lambda d: "B001" in text_of(d, "windows"))
    screenshot(browser, "manager-hall")


def test_the_resident_declines_on_the_tablet_and_it_offers_that_service_no_more(browser, hall, screenshot):
    from selenium.webdriver.common.by import By

    server, _ = hall
    server.client("demo-kiosk-1").issue_ticket("alpha")
    clerk = server.client()
    clerk.login("101", DEMO_PASSWORD)
    clerk.post("/windows/1/sign-in")
    clerk.post("/windows/1/call-next")
    clerk.post("/windows/1/complete")
    browser.get(f"{server.url}/rate/1#key=demo-tablet-1")
    wait(browser, lambda d: d.find_element(By.ID, "ask").is_displayed())
    assert "A001" in text_of(browser, "ask-ticket")
    assert browser.find_element(By.ID, "decline").text == "不评价"
    browser.find_element(By.ID, "decline").click()
    wait(browser, lambda d: d.find_element(By.ID, "idle").is_displayed())
    tablet = server.client("demo-tablet-1")
    assert tablet.get("/windows/1/rating-prompt")["ticket"] is None
    assert not browser.find_element(By.ID, "ask").is_displayed()


def test_a_bad_review_on_the_tablet_is_followed_up(browser, hall, screenshot):
    from selenium.webdriver.common.by import By

    server, _ = hall
    server.client("demo-kiosk-1").issue_ticket("alpha")
    clerk = server.client()
    clerk.login("101", DEMO_PASSWORD)
    clerk.post("/windows/1/sign-in")
    clerk.post("/windows/1/call-next")
    clerk.post("/windows/1/complete")
    clerk.post("/windows/1/rating-prompt")  # the clerk asks; only the resident rates

    browser.get(f"{server.url}/rate/1#key=demo-tablet-1")
    wait(browser, lambda d: d.find_element(By.ID, "ask").is_displayed())
    assert "#key" not in browser.current_url  # the key left the address bar for the tablet's storage
    assert "A001" in text_of(browser, "ask-ticket")
    screenshot(browser, "tablet-ask")
    browser.find_element(By.CSS_SELECTOR, "#faces button.l1").click()
    wait(browser, lambda d: d.find_element(By.ID, "why").is_displayed())
    browser.find_element(By.CSS_SELECTOR, '#reasons input[value="attitude"]').click()
    screenshot(browser, "tablet-reasons")
    browser.find_element(By.ID, "why-send").click()
    wait(browser, lambda d: d.find_element(By.ID, "thanks").is_displayed())

    sign_in(browser, server, "900")
    browser.get(f"{server.url}/console/reviews")
    wait(browser, lambda d: "A001" in d.page_source)
    screenshot(browser, "reviews-list")
    browser.find_element(By.LINK_TEXT, "A001").click()
    for form, text in (("verify", "电话回访：群众反映窗口人员态度生硬，情况属实。"), ("fix", "已对经办人进行服务规范培训。"),
                       ("report", "已电话告知群众整改结果，群众表示认可。")):
        area = wait(browser, lambda d, form=form: d.find_element(By.CSS_SELECTOR, f'form[data-api$="/{form}"] textarea'))
        area.send_keys(text)
        area.find_element(By.XPATH, "./ancestor::form//button[@type='submit']").click()
        wait(browser, lambda d, text=text: text in d.page_source)
    wait(browser, lambda d: "已办结" in d.page_source)
    screenshot(browser, "review-closed")
    followups = server.client()
    followups.login("900", DEMO_PASSWORD)
    assert followups.get("/followups?which=all")[0]["state"] == "closed"


def test_a_clerk_transfers_pauses_and_issues_a_green_channel_ticket_by_hand(browser, hall, screenshot):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    server, collector = hall
    server.client("demo-kiosk-1").issue_ticket("alpha")
    clerk = server.client()
    clerk.login("102", DEMO_PASSWORD)
    clerk.post("/windows/2/sign-in")  # window 2 serves beta first: the transfer's target
    sign_in(browser, server, "101")
    browser.get(f"{server.url}/console/windows/1")
    wait(browser, lambda d: d.find_element(By.ID, "btn-signin").is_displayed())
    browser.find_element(By.ID, "btn-signin").click()
    wait(browser, lambda d: d.find_element(By.ID, "btn-call").is_enabled())
    browser.find_element(By.ID, "btn-call").click()
    wait(browser, lambda d: text_of(d, "current-number") == "A001")
    browser.find_element(By.TAG_NAME, "body").send_keys("t")
    wait(browser, lambda d: d.find_element(By.ID, "dlg-transfer").is_displayed())
    Select(browser.find_element(By.ID, "to-window")).select_by_value("2")
    browser.find_element(By.CSS_SELECTOR, "#form-transfer button[type=submit]").click()
    wait(browser, lambda d: text_of(d, "current-number") == "当前无号票")
    assert clerk.post("/windows/2/call-next")["ticket"]["ticket"] == "A001"  # sent to window 2, called there first

    browser.find_element(By.TAG_NAME, "body").send_keys("i")
    wait(browser, lambda d: d.find_element(By.ID, "dlg-issue").is_displayed())
    Select(browser.find_element(By.ID, "issue-business")).select_by_value("beta")
    browser.find_element(By.ID, "issue-id").send_keys(make_id("19900101"))
    Select(browser.find_element(By.ID, "issue-green")).select_by_value("disabled")
    browser.find_element(By.CSS_SELECTOR, "#form-issue button[type=submit]").click()
    wait(browser, lambda d: text_of(d, "issued-number") == "B001")
    assert "绿色通道" in text_of(browser, "issued-info")
    assert not browser.find_element(By.ID, "form-issue").is_displayed()  # the slip replaces the form
    screenshot(browser, "console-issued-by-hand")
    browser.find_element(By.CSS_SELECTOR, "#issued button[data-close]").click()
    # a hurried double click on 取号 (no ID number asked): one ticket, not a ghost A002 waiting behind an A003
    browser.find_element(By.TAG_NAME, "body").send_keys("i")
    wait(browser, lambda d: d.find_element(By.ID, "dlg-issue").is_displayed())
    Select(browser.find_element(By.ID, "issue-business")).select_by_value("alpha")
    Select(browser.find_element(By.ID, "issue-green")).select_by_value("disabled")
    browser.execute_script("const b = document.querySelector('#form-issue button[type=submit]'); b.click(); b.click();")
    wait(browser, lambda d: text_of(d, "issued-number") == "A002")
    browser.find_element(By.CSS_SELECTOR, "#issued button[data-close]").click()
    # the green-channel reason in words, not its code; a double click on 叫号 calls once, with no red 409
    browser.execute_script("document.getElementById('btn-call').click(); document.getElementById('btn-call').click();")
    wait(browser, lambda d: text_of(d, "current-number") == "A002")
    assert "绿色通道: 残疾人" in browser.find_element(By.ID, "current").text
    assert browser.find_element(By.ID, "flash").get_attribute("class").split()[-1] != "bad"  # no 409 for the 2nd click
    # 过号 cannot be undone: it asks first, in the page, and "cancel" leaves the resident's number as it was
    browser.find_element(By.ID, "btn-noshow").click()
    wait(browser, lambda d: d.find_element(By.ID, "dlg-confirm").is_displayed())
    assert "A002" in text_of(browser, "confirm-text")
    browser.find_element(By.ID, "confirm-no").click()
    wait(browser, lambda d: not d.find_element(By.ID, "dlg-confirm").is_displayed())
    browser.find_element(By.ID, "btn-complete").click()
    wait(browser, lambda d: text_of(d, "current-number") == "当前无号票")
    boss = server.client()  # window 1's console is read by its clerk and managers, not by window 2's clerk
    boss.login("900", DEMO_PASSWORD)
    assert boss.get("/console/windows/1")["today"] == {**boss.get("/console/windows/1")["today"], "no_show": 0,
                                                      "done": 1}
    assert server.client().get("/businesses/alpha")["queue"]["issued"] == 2     # A001 and A002, nothing more

    browser.find_element(By.TAG_NAME, "body").send_keys("p")
    wait(browser, lambda d: d.find_element(By.ID, "dlg-pause").is_displayed())
    browser.find_element(By.CSS_SELECTOR, "#form-pause button[type=submit]").click()
    wait(browser, lambda d: "暂停" in text_of(d, "window-state"))
    assert not browser.find_element(By.ID, "btn-call").is_enabled()
    screenshot(browser, "console-paused")
    assert server.client().get("/windows/1")["pause_reason"] == "午间休息"


def test_a_resident_asks_for_help_and_a_printer_runs_out_and_the_clerk_sees_both(browser, hall, screenshot):
    """找工作人员帮忙 at the kiosk and the printer's paper_out over MQTT reach the window console live."""
    from selenium.webdriver.common.by import By

    from hallq import contract
    from hallq.mqtt import BrokerAddress, Connection

    server, collector = hall
    sign_in(browser, server, "102")
    browser.get(f"{server.url}/console/windows/1")
    wait(browser, lambda d: d.find_element(By.ID, "btn-signin").is_displayed())
    assert "签到后才能查看" in text_of(browser, "not-here")  # a free window: no queue until signed in there
    assert browser.find_elements(By.CSS_SELECTOR, ".help-request") == []

    asked = server.client("demo-kiosk-1").post("/help-requests", {})
    kiosk = Connection(BrokerAddress.parse(collector.url), "tiny", "kiosk", "kiosk-1")
    kiosk.start()
    try:
        assert kiosk.wait_connected(10)
        kiosk.publish(contract.DEVICE_HEALTH.topic("tiny", owner="kiosk-1", device="kiosk-1-printer"), contract.encode(
            contract.DEVICE_HEALTH, {"device": "kiosk-1-printer", "kind": "printer", "ok": False,
                                     "problems": ["paper_out"], "detail": {}, "at": "2026-11-23T09:30:00+08:00"}),
            qos=1, retain=True)
        bar = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".help-request"))
        assert "大厅入口" in bar.text and "kiosk-1" in bar.text
        devices = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".device-problems"))
        assert "kiosk-1-printer" in devices.text and "缺纸" in devices.text
        screenshot(browser, "console-help-and-paper-out")
        bar.find_element(By.CSS_SELECTOR, f'button[data-help="{asked["id"]}"]').click()
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".help-request") == [])
    finally:
        kiosk.stop()
    clerk = server.client()
    clerk.login("101", DEMO_PASSWORD)
    assert clerk.get("/attention")["help_requests"] == []
    with pytest.raises(HallApiError) as taken:  # clerk 102 went: a second clerk is told so
        clerk.post(f"/help-requests/{asked['id']}/take", {})
    assert taken.value.status == 409 and "102" in str(taken.value.messages)


def test_a_manager_edits_a_business_targets_and_a_loose_promise_is_refused(browser, hall, screenshot):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC

    server, _ = hall
    sign_in(browser, server, "900")
    browser.get(f"{server.url}/manager/services")

    def target(code: str, name: str):
        return browser.find_element(By.CSS_SELECTOR, f'tr[data-business="{code}"] input[data-target][name="{name}"]')

    def type_into(field, value: str) -> None:
        field.clear()
        field.send_keys(value)

    assert [target("alpha", k).get_attribute("value") for k in ("green", "appointment", "ordinary")] == ["8", "8", "40"]
    # the businesses table fits a 1366 px screen (1351 px beside a scroll bar) in the widest language, with the
    # city hall's longest business name: every column visible, no sideways scroll
    browser.set_window_size(1351, DESKTOP[1])
    try:
        for lang, name in (("zh-Hans", "网办与寄递"), ("en", "Online and mailed applications")):
            browser.get(f"{server.url}/manager/services?lang={lang}")
            widths = browser.execute_script(
                "const row = document.querySelector('tr[data-business]'), t = row.closest('table');"
                "row.cells[2].textContent = arguments[0];"
                "return [t.scrollWidth, t.parentElement.clientWidth, document.documentElement.scrollWidth,"
                "        document.documentElement.clientWidth];", name)
            screenshot(browser, f"manager-services-1351-{lang}")
            table, box, page, viewport = widths
            assert table <= box and page <= viewport, \
                f"{lang}: the businesses table is {table} px in {box} px, the page {page} px in {viewport} px"
    finally:
        browser.set_window_size(*DESKTOP)
    browser.get(f"{server.url}/manager/services?lang=zh-Hans")

    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-business="alpha"]')
    type_into(target("alpha", "green"), "7")
    row.find_element(By.CSS_SELECTOR, "button[data-save]").click()
    # the page reloads itself half a second after a change is saved (and only then): its "已保存" may be gone
    # before a poll sees it, the old row's going is certain
    wait(browser, EC.staleness_of(row))
    browser.refresh()
    assert target("alpha", "green").get_attribute("value") == "7"
    assert target("alpha", "ordinary").get_attribute("value") == "40"

    type_into(target("alpha", "green"), "45")  # looser than the ordinary target: no promise at all
    browser.find_element(By.CSS_SELECTOR, 'tr[data-business="alpha"] button[data-save]').click()
    flash = wait(browser, lambda d: d.find_element(By.ID, "flash") if "45" in text_of(d, "flash") else None)
    assert flash.text == "绿色通道承诺（45 分钟）不能长于普通号的目标（40 分钟）。"
    assert flash.get_attribute("class").split()[-1] == "bad"
    screenshot(browser, "manager-services-refused")
    browser.refresh()
    assert target("alpha", "green").get_attribute("value") == "7"  # nothing was written


def test_a_manager_finishes_a_number_an_absent_clerk_left_and_signs_the_window_out(browser, hall, screenshot):
    """The clerk of window 1 has gone with A001 at the counter: the manager's window console lets them complete it
    and sign the window out (before, every button was off: "您只能查看")."""
    from selenium.webdriver.common.by import By

    server, _ = hall
    server.client("demo-kiosk-1").issue_ticket("alpha")
    clerk = server.client()
    clerk.login("101", DEMO_PASSWORD)
    clerk.window_action(1, "sign-in")
    clerk.call_next(1)
    sign_in(browser, server, "900")
    browser.get(f"{server.url}/console/windows/1?lang=zh-Hans")
    wait(browser, lambda d: text_of(d, "current-number") == "A001")
    wait(browser, lambda d: "管理人员" in text_of(d, "not-here") and d.find_element(By.ID, "btn-complete").is_enabled())
    assert not browser.find_element(By.ID, "btn-call").is_enabled()  # calling stays the clerk's
    screenshot(browser, "console-window-manager-finishes")
    browser.find_element(By.ID, "btn-complete").click()
    wait(browser, lambda d: "A001" not in text_of(d, "current") and d.find_element(By.ID, "btn-signout").is_enabled())
    browser.find_element(By.ID, "btn-signout").click()
    wait(browser, lambda d: d.find_element(By.ID, "dlg-confirm").is_displayed())  # "sure?"
    browser.find_element(By.ID, "confirm-yes").click()
    # it left the signed-out window (the page was opened with ?lang=: the path is what changes)
    wait(browser, lambda d: urlsplit(d.current_url).path == "/console/windows")
    assert clerk.get("/windows/1")["staff"] is None


def test_a_double_click_publishes_a_notice_once(browser, hall):
    """The notice form neither disabled its button nor sent a key: a double click put the notice on the boards
    twice."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    server, collector = hall
    sign_in(browser, server, "900")
    browser.get(f"{server.url}/manager/notices?lang=zh-Hans")
    wait(browser, lambda d: d.find_element(By.ID, "n-hans").is_displayed())
    browser.find_element(By.ID, "n-hans").send_keys("今天下午三点系统维护")
    browser.execute_script("window.beforeReload = true")
    ActionChains(browser).double_click(browser.find_element(By.CSS_SELECTOR, "#form-notice button[type=submit]")
                                       ).perform()
    # the page reloads once the notice is published: then the list is what the server holds
    wait(browser, lambda d: d.execute_script("return window.beforeReload") is None
         and d.execute_script("return document.readyState") == "complete")
    assert len(browser.find_elements(By.CSS_SELECTOR, "table tbody tr button[data-delete]")) == 1


def test_a_clerk_re_queues_a_missed_number_at_the_counter(browser, hall, screenshot):
    """A resident who missed their call comes to the counter: the clerk puts the number back in the queue there
    (过号重排), instead of sending them to the kiosk."""
    from selenium.webdriver.common.by import By

    server, _ = hall
    kiosk = server.client("demo-kiosk-1")
    kiosk.issue_ticket("alpha")
    kiosk.issue_ticket("alpha")
    sign_in(browser, server, "101")
    browser.get(f"{server.url}/console/windows/1?lang=zh-Hans")
    wait(browser, lambda d: d.find_element(By.ID, "btn-signin").is_displayed())
    browser.find_element(By.ID, "btn-signin").click()
    wait(browser, lambda d: d.find_element(By.ID, "btn-call").is_enabled())
    browser.find_element(By.ID, "btn-call").click()
    wait(browser, lambda d: text_of(d, "current-number") == "A001" and d.find_element(By.ID, "btn-noshow").is_enabled())
    browser.find_element(By.ID, "btn-noshow").click()
    wait(browser, lambda d: d.find_element(By.ID, "dlg-confirm").is_displayed())  # "sure?"
    browser.find_element(By.ID, "confirm-yes").click()
    wait(browser, lambda d: d.find_element(By.ID, "btn-call").is_enabled())
    browser.find_element(By.ID, "requeue-ticket").send_keys("a001")
    browser.find_element(By.CSS_SELECTOR, "#form-requeue button[type=submit]").click()
    wait(browser, lambda d: "A001 已重新排队" in d.find_element(By.TAG_NAME, "body").text)
    wait(browser, lambda d: "A001" in text_of(d, "waiting"))  # back in the window's queue, behind A002
    screenshot(browser, "console-window-requeue")


def test_a_clerk_cancels_a_number_a_resident_gives_up_at_the_counter(browser, hall, screenshot):
    """A resident at the counter took a second number by mistake: the clerk cancels it there (代为弃号), after a
    "sure?", and it leaves the window's queue; the manager's journal says why, in words."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    server, _ = hall
    kiosk = server.client("demo-kiosk-1")
    kiosk.issue_ticket("alpha")
    kiosk.issue_ticket("alpha")
    sign_in(browser, server, "101")
    browser.get(f"{server.url}/console/windows/1?lang=zh-Hans")
    wait(browser, lambda d: d.find_element(By.ID, "btn-signin").is_displayed())
    browser.find_element(By.ID, "btn-signin").click()
    wait(browser, lambda d: "A002" in text_of(d, "waiting"))
    browser.find_element(By.ID, "cancel-ticket").send_keys("a002")
    Select(browser.find_element(By.ID, "cancel-reason")).select_by_value("duplicate")
    browser.find_element(By.CSS_SELECTOR, "#form-cancel button[type=submit]").click()
    wait(browser, lambda d: d.find_element(By.ID, "dlg-confirm").is_displayed())  # "sure?"
    browser.find_element(By.ID, "confirm-yes").click()
    wait(browser, lambda d: "号码 A002 已取消" in d.find_element(By.TAG_NAME, "body").text)
    wait(browser, lambda d: "A002" not in text_of(d, "waiting") and "A001" in text_of(d, "waiting"))
    screenshot(browser, "console-window-cancel")
    # a number already called cannot be cancelled: the server's sentence is shown
    browser.find_element(By.ID, "btn-call").click()
    wait(browser, lambda d: text_of(d, "current-number") == "A001")
    browser.find_element(By.ID, "cancel-ticket").send_keys("A001")
    browser.find_element(By.CSS_SELECTOR, "#form-cancel button[type=submit]").click()
    wait(browser, lambda d: d.find_element(By.ID, "dlg-confirm").is_displayed())
    browser.find_element(By.ID, "confirm-yes").click()
    wait(browser, lambda d: "flash bad" in (d.find_element(By.ID, "flash").get_attribute("class") or ""))
    # still at the window (the page re-renders as the hall moves: read through wait, which retries a stale element)
    wait(browser, lambda d: text_of(d, "current-number") == "A001")
    assert server.client("demo-kiosk-1").get("/windows/1")["current"]["ticket"] == "A001"
    sign_in(browser, server, "900")
    browser.get(f"{server.url}/manager/journal?lang=zh-Hans&action=cancel")
    wait(browser, lambda d: "重复取号" in d.find_element(By.TAG_NAME, "body").text)
