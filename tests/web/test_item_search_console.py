"""Finding an item in the window console's 帮办 picker (issue a ticket by hand), in a real browser.

The clerk types the pinyin initials of 乙事项 (yi shi xiang → ysx) into the search box before the item
picker: the picker offers it, chosen, and the business picker follows it to 乙业务 (beta).
"""

from __future__ import annotations


from tests.web.test_console_browser import sign_in, wait


def test_the_clerk_finds_an_item_by_its_pinyin_initials(desktop, server_proc, screenshot):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    server = server_proc()
    sign_in(desktop, server, "101")
    desktop.get(f"{server.url}/console/windows/1")
    wait(desktop, lambda d: d.find_element(By.ID, "btn-issue").is_enabled())
    desktop.find_element(By.ID, "btn-issue").click()
    business, item = Select(desktop.find_element(By.ID, "issue-business")), desktop.find_element(By.ID, "issue-item")
    assert business.first_selected_option.get_attribute("value") == "alpha"
    box = desktop.find_element(By.CSS_SELECTOR, "#dlg-issue input.item-search")
    assert "拼音" in box.get_attribute("placeholder")
    box.send_keys("ysx")
    wait(desktop, lambda d: Select(item).first_selected_option.get_attribute("value") == "T-BETA-1")
    assert [o.text for o in Select(item).options] == ["—", "乙事项"]
    assert business.first_selected_option.get_attribute("value") == "beta"
    screenshot(desktop, "item-search-console")
    box.clear()
    box.send_keys("没有这个")
    wait(desktop, lambda d: Select(item).options[0].text == "没有相符的事项，换个词试试")
