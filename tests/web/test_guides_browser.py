"""The manager edits a guide in a real browser (issue 17 item 5): a material added is in GET /items at once; a
wrong edit shows each problem beside its field and saves nothing; the catalogue exported as services.toml and
imported back through a dry run; the pages pass axe-core (WCAG 2.1 AA) like every console page."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.web.conftest import start_chromium
from tests.web.test_accessibility import Audit
from tests.web.test_console_browser import DESKTOP, sign_in, wait

ALPHA = "T-ALPHA-1"


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("guides-profile"), DESKTOP)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def item(server, code: str = ALPHA) -> dict:
    with urllib.request.urlopen(f"{server.url}/api/v1/items/{code}", timeout=5) as r:
        return json.loads(r.read())


def test_the_manager_adds_a_material_and_the_kiosks_read_it(desktop, server_proc, screenshot, tmp_path):
    from selenium.webdriver.common.by import By

    server = server_proc()
    sign_in(desktop, server, "900")
    audit = Audit(desktop, screenshot)
    desktop.get(f"{server.url}/manager/services")
    desktop.find_element(By.LINK_TEXT, ALPHA).click()
    wait(desktop, lambda d: d.find_element(By.ID, "guide-form").is_displayed())
    audit.check("manager-guide-edit")

    desktop.find_element(By.CSS_SELECTOR, "[data-add=material]").click()
    row = desktop.find_elements(By.CSS_SELECTOR, "#materials tr")[-1]
    assert desktop.switch_to.active_element == row.find_element(By.NAME, "m-name")  # focus goes to the new row
    row.find_element(By.NAME, "m-name").send_keys("居民身份证")
    copies = row.find_element(By.NAME, "m-copies")
    copies.clear()
    copies.send_keys("2")
    desktop.find_element(By.ID, "g-fee").send_keys("不收费")
    desktop.find_element(By.ID, "guide-save").click()
    wait(desktop, lambda d: "第 2 版" in d.find_element(By.ID, "flash").text)
    guide = item(server)["guide"]
    assert guide["materials"] == [{"name": "居民身份证", "form": "原件", "copies": 2}] and guide["fee"] == "不收费"
    assert guide["promised_days"] == 3  # what the page did not touch stays

    # after the reload: the version kept, who and what changed
    wait(desktop, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#versions tr")) == 2)
    newest = desktop.find_elements(By.CSS_SELECTOR, "#versions tr")[0].text
    assert "staff:900" in newest and "fee, materials" in newest and "网页编辑" in newest

    # a wrong edit: the problem beside its field, nothing saved
    promised = desktop.find_element(By.ID, "g-promised")
    promised.clear()
    promised.send_keys("30")
    desktop.find_element(By.CSS_SELECTOR, "#materials tr [name=m-name]").clear()
    desktop.find_element(By.ID, "guide-save").click()
    wait(desktop, lambda d: d.find_element(By.ID, "guide-problems").is_displayed())
    assert promised.get_attribute("aria-invalid") == "true"
    described = promised.get_attribute("aria-describedby")
    assert "exceeds the statutory 10" in desktop.find_element(By.ID, described).text
    name = desktop.find_element(By.CSS_SELECTOR, "#materials tr [name=m-name]")
    assert name.get_attribute("aria-invalid") == "true"
    screenshot(desktop, "manager-guide-refused")
    audit.check("manager-guide-refused")
    assert item(server)["guide"]["promised_days"] == 3 and item(server)["guide"]["materials"][0]["name"] == "居民身份证"
    audit.verdict()


def test_the_catalogue_goes_out_as_toml_and_comes_back_through_a_dry_run(desktop, server_proc, screenshot, tmp_path):
    from selenium.webdriver.common.by import By

    server = server_proc()
    sign_in(desktop, server, "900")
    audit = Audit(desktop, screenshot)
    desktop.get(f"{server.url}/manager/guides")
    audit.check("manager-guides")
    # the export, as the browser's download link fetches it (with the session cookie)
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in desktop.get_cookies())
    req = urllib.request.Request(f"{server.url}/api/v1/catalogue.toml", headers={"Cookie": cookie})
    with urllib.request.urlopen(req, timeout=5) as r:
        text = r.read().decode()
    assert f'code = "{ALPHA}"' in text
    changed = tmp_path / "services.toml"
    changed.write_text(text.replace(f'code = "{ALPHA}"', f'code = "{ALPHA}"\nfee = "每份 5 元"'), encoding="utf-8")

    desktop.find_element(By.ID, "toml-file").send_keys(str(changed))
    wait(desktop, lambda d: d.find_element(By.ID, "import-result").is_displayed())
    assert "将新增 0 项，修改 1 项" in desktop.find_element(By.ID, "import-title").text
    assert f"修改 {ALPHA} 甲事项：fee" in desktop.find_element(By.ID, "import-changes").text
    audit.check("manager-guides-dry-run")
    assert "fee" not in item(server)["guide"]  # a dry run writes nothing
    desktop.find_element(By.ID, "import-apply").click()
    wait(desktop, lambda d: "已导入" in d.find_element(By.ID, "import-title").text)
    assert item(server)["guide"]["fee"] == "每份 5 元"

    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('business = "beta"', 'business = "gamma"'), encoding="utf-8")
    desktop.find_element(By.ID, "toml-file").send_keys(str(bad))
    wait(desktop, lambda d: d.find_element(By.ID, "guide-problems").is_displayed())
    assert 'unknown business "gamma"' in desktop.find_element(By.ID, "guide-problem-list").text
    screenshot(desktop, "manager-guides-refused")
    audit.verdict()
