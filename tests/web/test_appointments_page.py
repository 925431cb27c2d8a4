"""The appointments page (预约管理, /console/appointments) in a real browser against a real server (the sample city hall).

* a clerk books for a resident through the page (帮办代办): the code is shown, the name and ID number are cleared,
  the booking is listed with its masked name; on the day the clerk checks it in from its row and by a resident's ID
  number, sees the number given, and cancels another booking after confirming;
* the API's refusals (a bad ID number, a slot that filled meanwhile) are shown beside their field in the page's
  language, and only the full slot's choice is lost;
* a clerk has no suspension form (and the API refuses the clerk anyway); a manager, refused for a suspended resident,
  lifts the suspension on the page and the same booking then goes through.

The server runs on a virtual clock from Monday 2026-11-23 09:30; the city hall books from tomorrow, two places per
slot and item. Screenshots go to ``$HALLQ_SCREENSHOTS`` (default: the test's tmp dir).
"""

from __future__ import annotations

import re

import pytest

from hallq.client import ApiError as HallApiError
from hallq.demo import DEMO_PASSWORD
from tests.conftest import CITY, make_id
from tests.web.test_accessibility import violations
from tests.web.test_console_browser import sign_in, text_of, wait

ITEM = "520201-SCJG-XK-0001"  # 个体工商户设立登记 (commerce): bookable, two places per slot
CLERK, MANAGER = "1001", "2001"
TUESDAY = "2026-11-24"


@pytest.fixture
def city(server_proc):
    return server_proc(config=CITY)


def kiosk_books(server, day: str, start: str, id_number: str, name: str = "李四", item: str = ITEM) -> dict:
    return server.client("demo-kiosk-1").post("/appointments", {"item": item, "date": day, "start": start, "name": name,
                                                                "id_number": id_number, "phone": "13900001111"})


def manager_api(server):
    client = server.client()
    client.login(MANAGER, DEMO_PASSWORD)
    return client


def set_clock(server, when: str) -> None:
    manager_api(server).request("PUT", "/clock", {"now": when, "rate": 0})


def open_page(driver, server) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{server.url}/console/appointments")
    wait(driver, lambda d: d.find_element(By.ID, "counts").text != "")  # the script has rendered the list


def choose(driver, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f'#{element_id} option[value="{value}"]:not([disabled])'))
    Select(driver.find_element(By.ID, element_id)).select_by_value(value)


def fill(driver, **fields: str) -> None:
    from selenium.webdriver.common.by import By

    for element_id, value in fields.items():
        box = driver.find_element(By.ID, element_id.replace("_", "-"))
        box.clear()
        box.send_keys(value)


def value_of(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).get_attribute("value")


def book_through_the_page(driver, start: str, name: str, id_number: str, phone: str = "13812345678") -> None:
    from selenium.webdriver.common.by import By

    choose(driver, "bk-item", ITEM)
    choose(driver, "bk-day", TUESDAY)
    choose(driver, "bk-slot", start)
    fill(driver, bk_name=name, bk_id=id_number, bk_phone=phone)
    driver.find_element(By.CSS_SELECTOR, "#form-book button[type=submit]").click()


def test_a_clerk_books_for_a_resident_checks_in_and_cancels(browser, city, screenshot):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    resident, by_id, other = make_id(seq=301), make_id(seq=302), make_id(seq=303)
    walk_in = kiosk_books(city, TUESDAY, "09:30", by_id, name="赵六")  # no code on the phone: checked in by ID
    to_cancel = kiosk_books(city, TUESDAY, "10:00", other)
    sign_in(browser, city, CLERK)
    link = browser.find_element(By.CSS_SELECTOR, 'nav a[href="/console/appointments"]')
    assert link.text == "预约管理"
    link.click()
    wait(browser, lambda d: d.find_element(By.ID, "counts").text.startswith("共 0 个"))
    assert not browser.find_elements(By.ID, "form-lift")  # the suspension form is a manager's

    # the item search offers bookable items only: 异地就医备案 cannot be booked
    search = browser.find_element(By.CSS_SELECTOR, "#form-book input.item-search")
    search.send_keys("异地就医备案")
    wait(browser, lambda d: text_of(d, "bk-item") == "没有找到可预约的事项")
    search.clear()
    search.send_keys("个体工商户设立")
    wait(browser, lambda d: value_of(d, "bk-item") == ITEM and value_of(d, "bk-day") == TUESDAY)

    book_through_the_page(browser, "09:00", "王小明", resident)
    wait(browser, lambda d: d.find_element(By.ID, "bk-done").is_displayed())
    code = text_of(browser, "bk-code")
    assert re.fullmatch(r"[2-9A-HJKMNP-TV-Z]{8}", code), code
    assert "王*明" in text_of(browser, "bk-info") and "09:00–09:30" in text_of(browser, "bk-info")
    # the next resident starts with empty personal fields; the item and the day stay
    assert [value_of(browser, i) for i in ("bk-name", "bk-id", "bk-phone")] == ["", "", ""]
    assert value_of(browser, "bk-item") == ITEM and value_of(browser, "bk-day") == TUESDAY
    booked = city.client("demo-kiosk-1").get(f"/appointments/{code}")
    assert booked["status"] == "booked" and booked["start"] == "09:00" and booked["name_masked"] == "王*明"
    # the slot's places left follow the booking
    wait(browser, lambda d: "余 1 个" in d.find_element(By.CSS_SELECTOR, '#bk-slot option[value="09:00"]').text)

    browser.find_element(By.ID, "btn-show-day").click()  # the list goes to the booked day
    row = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, f'#rows tr[data-code="{code}"]'))
    assert "王*明" in row.text and "已预约" in row.text and "个体工商户设立登记" in row.text
    assert value_of(browser, "f-date") == TUESDAY and "date=2026-11-24" in browser.current_url
    assert "共 3 个" in text_of(browser, "counts") and "已预约 3" in text_of(browser, "counts")
    assert not row.find_elements(By.CSS_SELECTOR, "[data-check-in]")  # checking in is for the day itself
    assert browser.find_element(By.ID, "only-today").is_displayed()
    assert "王小明" not in browser.page_source and resident not in browser.page_source
    screenshot(browser, "appointments-booked")

    # on the day: check in from the row, the number shown large
    set_clock(city, "2026-11-24T09:05:00+08:00")
    sign_in(browser, city, CLERK)  # a night later the session has ended
    open_page(browser, city)
    assert value_of(browser, "f-date") == TUESDAY
    browser.find_element(By.CSS_SELECTOR, f'[data-check-in="{code}"]').click()
    wait(browser, lambda d: d.find_element(By.ID, "dlg-ticket").is_displayed())
    number = text_of(browser, "ticket-number")
    assert number == city.client("demo-kiosk-1").get(f"/appointments/{code}")["checked_in_ticket"]["ticket"]
    assert re.fullmatch(r"[A-Z]{1,2}[0-9]{3,4}", number)
    font = browser.execute_script("return parseFloat(getComputedStyle(document.getElementById('ticket-number')).fontSize)")
    assert font >= 40, font  # large, to be read out to the resident
    screenshot(browser, "appointments-checked-in")
    assert not violations(browser)  # axe-core, WCAG 2.1 AA: the dialog as it is open
    browser.find_element(By.CSS_SELECTOR, "#dlg-ticket [data-close]").click()
    wait(browser, lambda d: "已签到" in d.find_element(By.CSS_SELECTOR, f'#rows tr[data-code="{code}"]').text
         and number in d.find_element(By.CSS_SELECTOR, f'#rows tr[data-code="{code}"]').text)

    # a resident whose phone has no code: checked in by the ID number typed at the desk
    fill(browser, ci_code=by_id)
    browser.find_element(By.CSS_SELECTOR, "#form-checkin button[type=submit]").click()
    wait(browser, lambda d: d.find_element(By.ID, "dlg-ticket").is_displayed())
    second = text_of(browser, "ticket-number")
    assert second != number
    assert city.client("demo-kiosk-1").get(f"/appointments/{walk_in['code']}")["checked_in_ticket"]["ticket"] == second
    assert value_of(browser, "ci-code") == ""  # the ID number does not stay on the screen
    browser.find_element(By.CSS_SELECTOR, "#dlg-ticket [data-close]").click()

    # cancelling asks first: 取消 keeps the booking, 确定 cancels it
    cancel = f'[data-cancel="{to_cancel["code"]}"]'
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, cancel)).click()
    wait(browser, lambda d: d.find_element(By.ID, "dlg-confirm").is_displayed())
    assert to_cancel["code"] in text_of(browser, "confirm-text") and "李*" in text_of(browser, "confirm-text")
    browser.find_element(By.ID, "confirm-no").click()
    assert city.client("demo-kiosk-1").get(f"/appointments/{to_cancel['code']}")["status"] == "booked"
    browser.find_element(By.CSS_SELECTOR, cancel).click()
    wait(browser, lambda d: d.find_element(By.ID, "dlg-confirm").is_displayed())
    browser.find_element(By.ID, "confirm-yes").click()
    wait(browser, lambda d: "已取消" in d.find_element(By.CSS_SELECTOR, f'#rows tr[data-code="{to_cancel["code"]}"]').text)
    assert city.client("demo-kiosk-1").get(f"/appointments/{to_cancel['code']}")["status"] == "cancelled"
    assert "已签到 2" in text_of(browser, "counts") and "已取消 1" in text_of(browser, "counts")
    screenshot(browser, "appointments-day")
    # the status filter
    Select(browser.find_element(By.ID, "f-status")).select_by_value("cancelled")
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#rows tr[data-code]")) == 1)
    assert "status=cancelled" in browser.current_url


def test_refusals_are_shown_beside_their_field_and_keep_what_was_typed(browser, city, screenshot):
    from selenium.webdriver.common.by import By

    sign_in(browser, city, CLERK)
    open_page(browser, city)
    good_id = make_id(seq=401)
    bad_id = good_id[:-1] + ("0" if good_id[-1] != "0" else "1")  # a wrong check digit
    book_through_the_page(browser, "10:00", "钱七", bad_id)
    wait(browser, lambda d: "身份证号码有误" in text_of(d, "err-id_number"))
    assert browser.find_element(By.ID, "bk-id").get_attribute("aria-invalid") == "true"
    assert not browser.find_element(By.ID, "bk-done").is_displayed()
    # nothing typed is lost: the clerk corrects the one wrong character
    assert [value_of(browser, i) for i in ("bk-name", "bk-id", "bk-phone", "bk-slot")] == \
        ["钱七", bad_id, "13812345678", "10:00"]

    # meanwhile the kiosk takes the slot's two places
    kiosk_books(city, TUESDAY, "10:00", make_id(seq=402))
    kiosk_books(city, TUESDAY, "10:00", make_id(seq=403))
    fill(browser, bk_id=good_id)
    browser.find_element(By.CSS_SELECTOR, "#form-book button[type=submit]").click()
    wait(browser, lambda d: text_of(d, "err-start") == "这个时段已约满，请选择其他时段。")
    assert text_of(browser, "err-id_number") == ""
    # the full slot can no longer be chosen; the resident's data stays for another slot
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, '#bk-slot option[value="10:00"]').get_attribute("disabled"))
    assert "已约满" in browser.find_element(By.CSS_SELECTOR, '#bk-slot option[value="10:00"]').text
    assert value_of(browser, "bk-slot") == ""
    assert [value_of(browser, i) for i in ("bk-name", "bk-id", "bk-phone")] == ["钱七", good_id, "13812345678"]
    screenshot(browser, "appointments-slot-full")
    assert not violations(browser)  # the refusal beside its field, the field marked invalid
    choose(browser, "bk-slot", "10:30")
    browser.find_element(By.CSS_SELECTOR, "#form-book button[type=submit]").click()
    wait(browser, lambda d: d.find_element(By.ID, "bk-done").is_displayed())
    assert text_of(browser, "err-start") == "" and value_of(browser, "bk-name") == ""

    # the page's language: the same refusal in English
    browser.get(f"{city.url}/console/appointments?lang=en")
    book_through_the_page(browser, "11:00", "钱七", bad_id)
    wait(browser, lambda d: "The ID number is not valid" in text_of(d, "err-id_number"))
    screenshot(browser, "appointments-refused-en")
    # long English item names stay inside their card: nothing runs off the side of a 1366 px screen
    assert browser.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_a_manager_lifts_a_suspension_and_a_clerk_cannot(browser, city, screenshot):
    from selenium.webdriver.common.by import By

    person = make_id(seq=501)
    for day in (TUESDAY, "2026-11-25", "2026-11-26"):  # three bookings, none kept
        kiosk_books(city, day, "09:00", person, name="孙八")
    set_clock(city, "2026-11-27T09:05:00+08:00")  # the days roll over: three no-shows suspend booking

    sign_in(browser, city, CLERK)
    open_page(browser, city)
    assert not browser.find_elements(By.ID, "form-lift") and "解除预约限制" not in browser.page_source
    clerk = city.client()
    clerk.login(CLERK, DEMO_PASSWORD)
    with pytest.raises(HallApiError) as refused:
        clerk.post("/appointments/suspensions/lift", {"id_number": person})
    assert refused.value.status == 403
    browser.delete_all_cookies()

    sign_in(browser, city, MANAGER)
    open_page(browser, city)
    choose(browser, "bk-item", ITEM)
    monday = "2026-11-30"  # the first day to book from Friday 11-27 (the weekend has no slots)
    choose(browser, "bk-day", monday)
    choose(browser, "bk-slot", "09:00")
    fill(browser, bk_name="孙八", bk_id=person, bk_phone="13812345678")
    browser.find_element(By.CSS_SELECTOR, "#form-book button[type=submit]").click()
    wait(browser, lambda d: "预约功能暂停至" in text_of(d, "err-id_number"))
    assert value_of(browser, "bk-id") == person and value_of(browser, "bk-name") == "孙八"

    fill(browser, lift_id="12345")
    browser.find_element(By.CSS_SELECTOR, "#form-lift button[type=submit]").click()
    wait(browser, lambda d: "身份证号码有误" in text_of(d, "lift-result"))
    fill(browser, lift_id=person)
    browser.find_element(By.CSS_SELECTOR, "#form-lift button[type=submit]").click()
    wait(browser, lambda d: text_of(d, "lift-result") == "已解除 1 项预约限制，该群众可以重新预约。")
    assert value_of(browser, "lift-id") == ""
    screenshot(browser, "appointments-lifted")
    # the same booking, sent again as it stands, now goes through (a new request, not the refusal replayed)
    browser.find_element(By.CSS_SELECTOR, "#form-book button[type=submit]").click()
    wait(browser, lambda d: d.find_element(By.ID, "bk-done").is_displayed())
    assert text_of(browser, "err-id_number") == ""
    fill(browser, lift_id=person)
    browser.find_element(By.CSS_SELECTOR, "#form-lift button[type=submit]").click()
    wait(browser, lambda d: text_of(d, "lift-result") == "该身份证号目前没有被暂停预约。")
