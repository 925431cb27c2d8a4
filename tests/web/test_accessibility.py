"""Accessibility of the web pages to GB/T 37668-2019 (China's web accessibility standard, aligned with WCAG 2.1 AA).

axe-core (vendored in tests/web/axe/, MPL-2.0) runs its WCAG 2.0/2.1 A and AA rules and its best practices in
chromium over every console, phone and tablet page, in the states a person meets them (a ticket being served, a
dialog open, the reasons of a bad review): no serious or critical violation. And every action of the window
console is reachable by keyboard: tabbing through the page reaches each of its buttons, and each works with Enter.

The sample city hall is used: twenty windows, many businesses, applications in the back office.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from hallq.demo import DEMO_PASSWORD
from tests.conftest import CITY, make_id
from tests.queue_server.test_packages import MOTHER, NEWBORN
from tests.web.conftest import start_chromium
from tests.web.test_console_browser import sign_in, text_of, wait

AXE = Path(__file__).resolve().parent / "axe" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
DESKTOP, PHONE, TABLET = (1366, 900), (412, 915), (1280, 800)
CLERK, MANAGER = "1001", "2001"


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    d = start_chromium(tmp_path_factory.mktemp("a11y-profile"), DESKTOP)
    d.set_script_timeout(60)
    yield d
    d.quit()


@pytest.fixture
def browser(driver):
    driver.delete_all_cookies()
    driver.set_window_size(*DESKTOP)
    yield driver
    driver.delete_all_cookies()


@pytest.fixture
def city(server_proc):
    return server_proc(config=CITY)


def violations(driver) -> list[str]:
    """The page's serious and critical WCAG 2.1 A/AA violations, one line each (rule, what, where)."""
    if not driver.execute_script("return !!window.axe"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
          .then((r) => done(r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.impact} ${v.id}: ${v.help} at ` + v.nodes.slice(0, 4).map((n) => n.target.join(" ")
              + " (" + (n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 160) + ")").join("; "))))
          .catch((e) => done(["axe failed: " + e]));""", TAGS)
    return list(found)


class Audit:
    def __init__(self, driver, screenshot) -> None:
        self.driver, self.screenshot, self.found = driver, screenshot, {}

    def check(self, name: str) -> None:
        self.screenshot(self.driver, f"a11y-{name}")
        problems = violations(self.driver)
        if problems:
            self.found[name] = problems

    def verdict(self) -> None:
        assert not self.found, "serious or critical accessibility violations (axe-core, WCAG 2.1 AA):\n" + "\n".join(
            f"{page}:\n  " + "\n  ".join(p) for page, p in self.found.items())


def issue(server, n: int = 1) -> list[dict]:
    """``n`` tickets of window 1's first business, each with its own ID number (the city hall asks for one)."""
    business = server.client().get("/windows/1")["serves"][0]
    kiosk = server.client("demo-kiosk-1")
    return [kiosk.issue_ticket(business, id_number=make_id(seq=next(_SEQ))) for _ in range(n)]


_SEQ = itertools.count(100)


def application(server) -> str:
    body = {"item": "520200-RS-GG-0002", "applicant": {"name": "王小明", "id_number": make_id(), "phone": "13812345678"},
            "fields": {"last_employer": "六盘水某某建材有限公司", "separation_date": "2026-10-31",
                       "separation_reason": "contract_ended"}, "materials": [0], "delivery": "onsite"}
    return server.client("demo-kiosk-1").post("/applications", body)["tracking_no"]


def package(server) -> str:
    """A 新生儿出生一件事 filed at the kiosk (four parts under one number), its 户口簿 not handed in."""
    kiosk = server.client("demo-kiosk-1")
    guide = kiosk.get("/packages/newborn")
    handed = [m["index"] for m in guide["materials"] if m["name"] != "居民户口簿"]
    return kiosk.post("/packages/newborn/applications", {
        "applicant": {"name": "张丽", "id_number": MOTHER, "phone": "13912345678"}, "fields": NEWBORN,
        "materials": handed, "delivery": "onsite"})["tracking_no"]


def test_the_console_pages_have_no_serious_violation(browser, city, screenshot):
    from selenium.webdriver.common.by import By

    audit = Audit(browser, screenshot)
    issue(city, 3)
    tracking = application(city)
    pkg = package(city)
    city.client("demo-kiosk-1").post("/appointments", {  # a booking for tomorrow: the appointments page lists it
        "item": "520201-SCJG-XK-0001", "date": "2026-11-24", "start": "09:00", "name": "王小明",
        "id_number": make_id(seq=777), "phone": "13812345678"})
    browser.get(f"{city.url}/console/login?lang=zh-Hans")
    # the audit is not blind: a button without a name is caught
    browser.execute_script("document.body.append(Object.assign(document.createElement('button'), {id: 'probe'}))")
    assert any("button-name" in v for v in violations(browser))
    browser.refresh()
    audit.check("login")
    sign_in(browser, city, CLERK)
    audit.check("windows")
    browser.get(f"{city.url}/console/windows/1")
    wait(browser, lambda d: d.find_element(By.ID, "btn-signin").is_displayed())
    audit.check("window-free")
    browser.find_element(By.ID, "btn-signin").click()
    wait(browser, lambda d: d.find_element(By.ID, "btn-call").is_enabled())
    browser.find_element(By.ID, "btn-call").click()
    wait(browser, lambda d: text_of(d, "current-number") != "当前无号票")
    audit.check("window-serving")
    for button, dialog in (("btn-transfer", "dlg-transfer"), ("btn-pause", "dlg-pause"), ("btn-issue", "dlg-issue"),
                           ("btn-noshow", "dlg-confirm")):
        browser.find_element(By.ID, button).click()
        wait(browser, lambda d, dialog=dialog: d.find_element(By.ID, dialog).is_displayed())
        audit.check(f"window-{dialog}")
        browser.execute_script("document.getElementById(arguments[0]).close()", dialog)
    # a bad review from the window's tablet: its follow-up has a page
    clerk = city.client()
    clerk.login(CLERK, DEMO_PASSWORD)
    clerk.post("/windows/1/complete")
    rated = city.client("demo-tablet-1").post("/windows/1/rating", {"level": 1, "reasons": ["slow"]})
    assert rated["bad"]
    followup = clerk.get("/followups?which=all")[0]["id"]
    # the 一件事 pages: 代为申请 (the one form), the package with its parts, one part
    for path in ("/console/backoffice", f"/console/backoffice/{tracking}", "/console/backoffice/packages/newborn",
                 f"/console/backoffice/{pkg}", f"/console/backoffice/{pkg}-2", "/console/reviews",
                 f"/console/reviews/{followup}", "/console/password", "/console/windows/999",
                 "/console/appointments?date=2026-11-24"):
        browser.get(f"{city.url}{path}")
        audit.check(path.strip("/").replace("/", "-"))
    browser.delete_all_cookies()
    sign_in(browser, city, MANAGER)
    for path in ("/manager/hall", "/manager/allocation", "/manager/tidal", "/manager/stats", "/manager/services",
                 "/manager/calendar", "/manager/notices", "/manager/accounts", "/manager/journal", "/manager/guides",
                 "/manager/guides/520200-RS-GG-0002", "/console/appointments"):
        browser.get(f"{city.url}{path}")
        audit.check(path.strip("/").replace("/", "-"))
    for lang in ("zh-Hant", "en"):
        browser.get(f"{city.url}/manager/hall?lang={lang}")
        audit.check(f"manager-hall-{lang}")
    audit.verdict()


def test_the_phone_and_tablet_pages_have_no_serious_violation(browser, city, screenshot):
    from selenium.webdriver.common.by import By

    audit = Audit(browser, screenshot)
    mine, second = issue(city, 2)
    browser.set_window_size(*TABLET)
    browser.get(f"{city.url}/rate/1#key=demo-tablet-1")  # nothing finished at window 1 yet: the tablet waits
    wait(browser, lambda d: d.find_element(By.ID, "idle").is_displayed())
    audit.check("tablet-idle")
    browser.set_window_size(*PHONE)
    browser.get(f"{city.url}/t/{mine['id']}")
    wait(browser, lambda d: d.find_element(By.ID, "updated").text)
    audit.check("phone-waiting")
    clerk = city.client()
    clerk.login(CLERK, DEMO_PASSWORD)
    clerk.post("/windows/1/sign-in")
    clerk.post("/windows/1/call-next")
    wait(browser, lambda d: "1" in text_of(d, "head"), timeout=20)
    audit.check("phone-called")
    clerk.post("/windows/1/complete")
    wait(browser, lambda d: d.find_element(By.ID, "rate").is_displayed(), timeout=20)
    browser.find_element(By.CSS_SELECTOR, '#rate-faces button[data-level="2"]').click()
    wait(browser, lambda d: d.find_element(By.ID, "rate-why").is_displayed())
    audit.check("phone-rate")
    browser.get(f"{city.url}/t/no-such-ticket")
    audit.check("phone-gone")
    # the progress page of an application and of a 一件事 package (its parts, partial results)
    tracking, pkg = application(city), package(city)
    for name, no in (("application", tracking), ("package", pkg)):
        browser.get(f"{city.url}/a/{no}")
        audit.check(f"phone-progress-{name}")

    clerk.post("/windows/1/call-next")
    clerk.post("/windows/1/complete")
    clerk.post("/windows/1/rating-prompt")
    browser.set_window_size(*TABLET)
    browser.get(f"{city.url}/rate/1#key=demo-tablet-1")
    wait(browser, lambda d: d.find_element(By.ID, "ask").is_displayed())
    assert second["ticket"] in text_of(browser, "ask-ticket")
    audit.check("tablet-ask")
    browser.find_element(By.CSS_SELECTOR, "#faces button.l1").click()
    wait(browser, lambda d: d.find_element(By.ID, "why").is_displayed())
    browser.find_element(By.CSS_SELECTOR, '#reasons input[value="other"]').click()
    audit.check("tablet-why")
    browser.find_element(By.ID, "why-send").click()
    wait(browser, lambda d: d.find_element(By.ID, "thanks").is_displayed())
    audit.check("tablet-thanks")
    browser.set_window_size(*PHONE)
    browser.get(f"{city.url}/t/{second['id']}?lang=en")
    wait(browser, lambda d: d.find_element(By.ID, "rated").is_displayed())
    audit.check("phone-rated-en")
    audit.verdict()


def test_every_action_of_the_window_console_is_reachable_by_keyboard(browser, city, screenshot):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    issue(city, 2)
    sign_in(browser, city, CLERK)
    browser.get(f"{city.url}/console/windows/1")
    wait(browser, lambda d: d.find_element(By.ID, "btn-signin").is_displayed())

    def tab_through(limit: int = 200) -> list[str]:
        """Tab from the top of the page until the focus comes round again: what it visited, in order."""
        browser.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);")
        seen: list[str] = []
        for _ in range(limit):
            ActionChains(browser).send_keys(Keys.TAB).perform()
            el = browser.switch_to.active_element
            if el.tag_name == "body":
                continue
            key = el.get_attribute("id") or el.get_attribute("class") or el.get_attribute("outerHTML")[:60]
            if key in seen:
                break
            seen.append(key)
            outline = browser.execute_script("return getComputedStyle(arguments[0]).outlineStyle", el)
            assert outline != "none", f"{key}: no visible focus"
        return seen

    def press(button_id: str) -> None:
        """Tab to the button and press Enter on it."""
        assert button_id in tab_through(), f"{button_id} cannot be reached with Tab"
        browser.execute_script("document.getElementById(arguments[0]).focus()", button_id)
        browser.switch_to.active_element.send_keys(Keys.ENTER)

    press("btn-signin")
    wait(browser, lambda d: d.find_element(By.ID, "btn-call").is_enabled())
    press("btn-call")
    wait(browser, lambda d: text_of(d, "current-number") != "当前无号票")
    reached = tab_through()
    screenshot(browser, "a11y-keyboard-called")
    for action in ("btn-recall", "btn-start", "btn-complete", "btn-noshow", "btn-transfer", "btn-hold", "btn-pause",
                   "btn-issue", "skip"):
        assert action in reached or action == "skip" and any("skip" in r for r in reached), (action, reached)
    # a dialog keeps the keyboard inside it and Esc leaves it
    press("btn-transfer")
    wait(browser, lambda d: d.find_element(By.ID, "dlg-transfer").is_displayed())
    inside = []
    for _ in range(6):
        inside.append(browser.switch_to.active_element.get_attribute("id") or "button")
        browser.switch_to.active_element.send_keys(Keys.TAB)
    assert "to-business" in inside and "to-window" in inside
    assert browser.execute_script("return document.getElementById('dlg-transfer').contains(document.activeElement)")
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(browser, lambda d: not d.find_element(By.ID, "dlg-transfer").is_displayed())
    press("btn-start")
    wait(browser, lambda d: "办理中" in text_of(d, "current"))
    press("btn-complete")
    wait(browser, lambda d: d.find_element(By.ID, "btn-rate").is_enabled())
    press("btn-rate")
    wait(browser, lambda d: "已请居民" in text_of(d, "rating"))
    press("btn-pause")
    wait(browser, lambda d: d.find_element(By.ID, "dlg-pause").is_displayed())
    browser.find_element(By.CSS_SELECTOR, "#form-pause button[type=submit]").send_keys(Keys.ENTER)
    wait(browser, lambda d: d.find_element(By.ID, "btn-resume").is_displayed())
    press("btn-resume")
    wait(browser, lambda d: d.find_element(By.ID, "btn-call").is_enabled())
    press("btn-signout")
    wait(browser, lambda d: d.find_element(By.ID, "dlg-confirm").is_displayed())
    browser.switch_to.active_element.send_keys(Keys.TAB)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait(browser, lambda d: d.current_url.endswith("/console/windows"))
