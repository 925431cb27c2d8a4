"""一件事 in the back office, in a real browser (Debian's chromium, headless) against a real server:

* the comprehensive window sends ONE correction notice for a package, with free text the clerk types
  (the bug: "其他需补正的内容" refused anything but internal keys), then accepts all and splits it;
* a department's part is mailed to an address typed at the delivery window (mailing with no address on
  file is refused) and the summary reads 免费邮寄 with the waybill (the bug: it read 现场领取 · 运单 SF…);
* the applicant's name is masked, and 显示全名 shows the full one in place once the clerk works on the case.
"""

from __future__ import annotations

import json
import urllib.request


from tests.conftest import CITY, KIOSK_KEY, make_id
from tests.web.test_console_browser import sign_in, wait

MOTHER = make_id("19930304", seq=246)


def call(server, method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(f"{server.url}/api/v1{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {KIOSK_KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_a_package_is_noticed_once_accepted_split_and_a_part_mailed(desktop, server_proc, screenshot):
    from selenium.webdriver.common.by import By

    server = server_proc(config=CITY)
    guide = call(server, "GET", "/packages/newborn")
    handed = [m["index"] for m in guide["materials"] if m["name"] != "居民户口簿"]
    filed = call(server, "POST", "/packages/newborn/applications", {
        "applicant": {"name": "张丽", "id_number": MOTHER, "phone": "13912345678"},
        "fields": {"child_name": "李安", "child_sex": "female", "child_birth_date": "2026-11-30",
                   "birth_hospital": "六盘水市妇幼保健院", "mother_name": "张丽", "mother_id_number": MOTHER,
                   "registered_with": "mother", "household_address": "贵州省六盘水市钟山区人民路8号"},
        "materials": handed, "delivery": "onsite"})
    no = filed["tracking_no"]
    desktop.delete_all_cookies()
    sign_in(desktop, server, "1001")
    desktop.get(f"{server.url}/console/backoffice/{no}?lang=zh-Hans")
    assert "新生儿出生一件事" in desktop.find_element(By.TAG_NAME, "h1").text
    parts = desktop.find_elements(By.CSS_SELECTOR, "#parts tbody tr")
    assert len(parts) == 4 and "六盘水市公安局钟山分局" in desktop.find_element(By.ID, "parts").text
    # the applicant's name is masked; 显示全名 is refused to a clerk at no window who has not worked on the case
    assert desktop.find_element(By.ID, "applicant-name").text == "张*"
    desktop.find_element(By.ID, "show-full-name").click()
    wait(desktop, lambda d: "请先在服务该业务的窗口签到" in d.find_element(By.ID, "flash").text
         if d.find_elements(By.ID, "flash") else False)
    assert desktop.find_element(By.ID, "applicant-name").text == "张*"
    desktop.get(f"{server.url}/console/backoffice/{no}?lang=zh-Hans")  # the refusal's message off the buttons
    notice = desktop.find_element(By.CSS_SELECTOR, "form[data-to=correction]")
    ticked = [i.get_attribute("value") for i in notice.find_elements(By.CSS_SELECTOR, "input[name=missing]:checked")]
    assert ticked == ["居民户口簿"]
    notice.find_element(By.NAME, "more").send_keys("新生儿姓名\n出生医院盖章页请一并带来")
    notice.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(desktop, lambda d: "待补正" in d.find_element(By.TAG_NAME, "h1").text)
    screenshot(desktop, "package-correction")
    # the clerk has now worked on the case: 显示全名 shows it in place (the page's HTML still holds the mask)
    desktop.find_element(By.ID, "show-full-name").click()
    wait(desktop, lambda d: d.find_element(By.ID, "applicant-name").text == "张丽")
    assert not desktop.find_element(By.ID, "show-full-name").is_displayed()
    progress = call(server, "GET", f"/applications/{no}")
    wanted = [m["name"]["zh-Hans"] for m in progress["correction"]["missing"]]
    assert sorted(wanted) == sorted(["新生儿姓名", "出生医院盖章页请一并带来", "居民户口簿"])
    register = next(m["index"] for m in guide["materials"] if m["name"] == "居民户口簿")
    call(server, "POST", f"/packages/applications/{no}/supplement", {"materials": [register], "id_number": MOTHER})
    desktop.get(f"{server.url}/console/backoffice/{no}?lang=zh-Hans")
    desktop.find_element(By.CSS_SELECTOR, "form[data-to=accepted] button").click()
    wait(desktop, lambda d: "办理中" in d.find_element(By.TAG_NAME, "h1").text)
    assert desktop.find_element(By.ID, "parts").text.count("已受理") == 4
    # the police's part: result, then mailed to an address typed at the delivery window
    desktop.get(f"{server.url}/console/backoffice/{no}-2?lang=zh-Hans")
    desktop.find_element(By.CSS_SELECTOR, "form[data-to=result_ready] button").click()
    wait(desktop, lambda d: d.find_elements(By.CSS_SELECTOR, "form[data-to=delivered]"))
    form = desktop.find_element(By.CSS_SELECTOR, "form[data-to=delivered]")
    form.find_element(By.CSS_SELECTOR, "input[name=method][value=mail]").click()
    form.find_element(By.NAME, "waybill").send_keys("SF1234567890")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(desktop, lambda d: "收件地址" in d.find_element(By.ID, "flash").text
         if d.find_elements(By.ID, "flash") else False)
    form.find_element(By.NAME, "address").send_keys("贵州省六盘水市钟山区荷城街道凉都大道1号")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(desktop, lambda d: "SF1234567890" in d.find_element(By.ID, "delivery-summary").text)
    summary = desktop.find_element(By.ID, "delivery-summary").text
    screenshot(desktop, "package-part-mailed")
    assert summary.startswith("免费邮寄") and "凉都大道1号" in summary and "申请时选择：现场领取" in summary
    assert "现场领取 ·" not in summary


def test_a_clerk_files_a_package_for_a_resident_and_a_mistake_is_shown_beside_its_field(desktop, server_proc,
                                                                                       screenshot):
    """帮办代办 at the comprehensive window: one form, one set of materials, one tracking number."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    server = server_proc(config=CITY)
    desktop.delete_all_cookies()
    sign_in(desktop, server, "1001")
    desktop.get(f"{server.url}/console/backoffice?lang=zh-Hans")
    desktop.find_element(By.LINK_TEXT, "开办餐饮店一件事").click()
    wait(desktop, lambda d: "/console/backoffice/packages/restaurant" in d.current_url)
    form = desktop.find_element(By.ID, "form-package")
    assert len(form.find_elements(By.CSS_SELECTOR, "[data-field=premises]")) == 1  # asked once for two items
    Select(form.find_element(By.NAME, "organization")).select_by_value("personal")
    for name, value in (("business_scope", "中式快餐服务"), ("premises", "钟山区人民路18号"), ("capital", "10"),
                        ("employees", "0"), ("sign_text", "凉都小吃"), ("sign_size", "4×1"),
                        ("a_name", "王小明"), ("a_id", make_id()), ("a_phone", "13812345678")):
        form.find_element(By.NAME, name).send_keys(value)
    for box in form.find_elements(By.CSS_SELECTOR, "input[name=materials]"):
        box.click()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    beside = form.find_element(By.CSS_SELECTOR, "[data-error='fields.employees']")
    wait(desktop, lambda d: beside.text != "")
    screenshot(desktop, "package-filed-by-staff-mistake")
    assert "从业人数" in beside.text
    form.find_element(By.NAME, "employees").clear()
    form.find_element(By.NAME, "employees").send_keys("3")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(desktop, lambda d: "/console/backoffice/SQ" in d.current_url)
    assert "开办餐饮店一件事" in desktop.find_element(By.TAG_NAME, "h1").text
    assert len(desktop.find_elements(By.CSS_SELECTOR, "#parts tbody tr")) == 3
    assert "staff:1001" in desktop.page_source and make_id() not in desktop.page_source
