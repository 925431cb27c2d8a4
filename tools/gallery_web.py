"""The web pages of the screenshot gallery (tools/gallery.py, which calls :func:`web_pages`): the window console,
the manager's pages, the resident's phone page and the rating tablet, drawn in headless chromium against the
city hall that tools/gallery.py started and filled."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gallery import DESKTOP, PHONE, TABLET, application, clerk

if TYPE_CHECKING:
    from gallery import Gallery

    from launcher.processes import ServerProcess


def web_pages(g: Gallery, city: ServerProcess, hall: dict) -> None:
    """The window console, the manager's pages, the resident's phone page and the rating tablet, in chromium."""
    from selenium.webdriver.common.by import By

    from tests.web.conftest import start_chromium
    from tests.web.test_console_browser import sign_in, text_of, wait

    driver = start_chromium(g.work / "chromium-profile", DESKTOP)
    driver.set_script_timeout(30)

    def size(wanted: tuple[int, int]) -> None:
        """The page's inner size ``wanted`` (the window's frame differs from one chromium to another)."""
        driver.set_window_size(*wanted)
        w, h = driver.execute_script("return [window.innerWidth, window.innerHeight];")
        driver.set_window_size(wanted[0] * 2 - w, wanted[1] * 2 - h)

    def shot(section: str, name: str, caption: str, width: int | None = None) -> None:
        # the web fonts loaded and two frames drawn, so the picture shows the page as it settled
        driver.execute_async_script("const done = arguments[0]; document.fonts.ready.then(() => "
                                    "requestAnimationFrame(() => requestAnimationFrame(() => done())));")
        raw = g.work / f"web-{name}.png"
        driver.save_screenshot(str(raw))
        g.add(section, name, caption, raw, width or driver.execute_script("return window.innerWidth"))

    def go(path: str, ready: Callable | None = None) -> None:
        driver.get(f"{city.url}{path}")
        if ready:
            wait(driver, ready, timeout=20)

    try:
        # the phone: a number in the queue, called, then rated from the page
        print("web: phone", flush=True)
        size(PHONE)
        mine = hall["phone"]
        go(f"/t/{mine['id']}?lang=zh-Hans", lambda d: d.find_element(By.ID, "updated").text)
        shot("phone", "phone-waiting", "A resident's number in the queue: how many are ahead and the estimated "
                                       "wait, kept up to date live.")
        go(f"/t/{hall['english']['id']}?lang=en", lambda d: d.find_element(By.ID, "updated").text)
        shot("phone", "phone-waiting-en", "The same page in English.")
        window2 = clerk(city, "1002")
        for _ in range(20):
            called = window2.window_action(2, "call-next", {"complete_current": True})
            if (called.get("ticket") or {}).get("ticket") == mine["ticket"]:  # window views carry no public id
                break
        go(f"/t/{mine['id']}?lang=zh-Hans", lambda d: "2" in text_of(d, "head"))
        shot("phone", "phone-called", "Called: the window to go to, with sound and vibration if the resident "
                                      "turned them on.")
        window2.window_action(2, "complete")
        wait(driver, lambda d: d.find_element(By.ID, "rate").is_displayed(), timeout=20)
        driver.find_element(By.CSS_SELECTOR, '#rate-faces button[data-level="2"]').click()
        wait(driver, lambda d: d.find_element(By.ID, "rate-why").is_displayed())
        shot("phone", "phone-rate", "Served: the resident rates the service from the phone (扫码评价), "
                                    "with reasons for a bad review.")

        # the window console: window 1, its clerk signs in and calls
        print("web: console", flush=True)
        hall["take"]("commerce", 4)
        size(DESKTOP)
        sign_in(driver, city, "1001")
        go("/console/windows?lang=zh-Hans")
        shot("console", "console-windows", "After signing in: the windows a clerk can take, who is at each.")
        go("/console/windows/1?lang=zh-Hans", lambda d: d.find_element(By.ID, "btn-signin").is_displayed())
        driver.find_element(By.ID, "btn-signin").click()
        wait(driver, lambda d: d.find_element(By.ID, "btn-call").is_enabled())
        driver.find_element(By.ID, "btn-call").click()
        wait(driver, lambda d: text_of(d, "current-number") != "当前无号票")
        driver.find_element(By.ID, "btn-start").click()
        wait(driver, lambda d: "办理中" in text_of(d, "current"))
        shot("console", "console-window-serving", "Window 1 serving a resident: the current number and its item, "
                                                  "the queue, every action with its key.")
        driver.find_element(By.ID, "btn-transfer").click()
        wait(driver, lambda d: d.find_element(By.ID, "dlg-transfer").is_displayed())
        shot("console", "console-transfer", "Transferring the resident to another business or window.")
        driver.execute_script("document.getElementById('dlg-transfer').close()")
        driver.find_element(By.ID, "btn-complete").click()
        wait(driver, lambda d: d.find_element(By.ID, "btn-rate").is_enabled())
        driver.find_element(By.ID, "btn-rate").click()
        wait(driver, lambda d: "已请居民" in text_of(d, "rating"))

        # the rating tablet of window 1, asked by the console
        print("web: tablet", flush=True)
        size(TABLET)
        go("/rate/1?lang=zh-Hans#key=demo-tablet-1", lambda d: d.find_element(By.ID, "ask").is_displayed())
        shot("tablet", "tablet-ask", "The tablet asks the resident just served: five faces, in words too.", 960)
        driver.find_element(By.CSS_SELECTOR, "#faces button.l1").click()
        wait(driver, lambda d: d.find_element(By.ID, "why").is_displayed())
        driver.find_element(By.CSS_SELECTOR, '#reasons input[value="other"]').click()
        shot("tablet", "tablet-why", "A bad review (差评): its reasons, large, and a box for 其他.", 960)
        driver.find_element(By.ID, "why-send").click()
        wait(driver, lambda d: d.find_element(By.ID, "thanks").is_displayed())

        # the window console in Traditional Chinese, after the rating
        size(DESKTOP)
        go("/console/windows/1?lang=zh-Hant", lambda d: d.find_element(By.ID, "btn-call").is_enabled())
        driver.find_element(By.ID, "btn-call").click()
        wait(driver, lambda d: d.find_element(By.ID, "btn-start").is_enabled())
        shot("console", "console-window-zh-hant", "The window console in Traditional Chinese.")

        # the front desk's bookings (预约管理): a few residents booked for the first bookable day
        print("web: appointments", flush=True)
        day = bookings(city)
        go(f"/console/appointments?date={day}&lang=zh-Hans", lambda d: d.find_elements(By.CSS_SELECTOR, "tbody tr"))
        shot("console", "console-appointments", "Bookings (预约管理): a day's list with masked names, check-in by row, "
                                                "code or ID number, cancelling, booking for a resident who phoned "
                                                "(帮办代办).")

        # bad reviews and the back office
        print("web: back office", flush=True)
        tracking = application(city)
        followup = clerk(city, "1001").get("/followups?which=all")[0]["id"]
        for path, name, caption in (
                ("/console/reviews", "console-reviews", "Bad reviews (差评) to follow up, with their deadlines."),
                (f"/console/reviews/{followup}", "console-review",
                 "One bad review: what the resident said, the follow-up and its answer."),
                ("/console/backoffice", "console-backoffice", "The back office: applications received at the kiosk."),
                (f"/console/backoffice/{tracking}", "console-application",
                 "One application: its form, materials and steps; accept, ask for a correction (补正), decide.")):
            go(f"{path}?lang=zh-Hans")
            shot("manager", name, caption)

        # the manager
        print("web: manager", flush=True)
        driver.delete_all_cookies()
        sign_in(driver, city, "2001")
        for path, name, caption in (
                ("/manager/hall", "manager-hall", "The hall live: every window, who is at it, what it serves, "
                                                  "its current number; queues and waits."),
                ("/manager/allocation", "manager-allocation", "Windows moved between businesses at a peak."),
                ("/manager/tidal", "manager-tidal", "Tidal windows (潮汐窗口) opened and closed with the queues."),
                ("/manager/stats", "manager-stats", "Statistics: tickets, waits, service times, satisfaction; "
                                                    "exported to Excel."),
                ("/manager/services", "manager-services", "The service items and their guides, edited in the "
                                                          "browser."),
                ("/manager/notices", "manager-notices", "Notices shown on the boards and the kiosks."),
                ("/manager/journal", "manager-journal", "The journal: every action, by whom, when.")):
            go(f"{path}?lang=zh-Hans")
            shot("manager", name, caption)
        go("/manager/hall?lang=en")
        shot("manager", "manager-hall-en", "The live hall in English.")
    finally:
        driver.quit()


# -- the page -------------------------------------------------------------------------------------


def bookings(city: ServerProcess) -> str:
    """Four residents booked at a kiosk for the first bookable day of a bookable item: that day."""
    from tests.conftest import make_id

    kiosk = city.client("demo-kiosk-1")
    item = "520201-SCJG-XK-0001"  # 个体工商户设立登记: bookable in the city hall's sample
    day = next(d for d in kiosk.get(f"/appointments/slots?item={item}")["days"]
               if d["bookable"] and sum(s["remaining"] for s in d["slots"] if s["available"]) >= 4)
    names = iter(("王小明", "李秀英", "张伟", "刘洋"))
    seq = iter(range(700, 800))
    for slot in (s for s in day["slots"] if s["available"]):
        for _ in range(min(slot["remaining"], 2)):
            name = next(names, None)
            if name is None:
                return day["date"]
            kiosk.post("/appointments", {"item": item, "date": day["date"], "start": slot["start"], "name": name,
                                         "id_number": make_id(seq=next(seq)), "phone": "13900001111"})
    return day["date"]
