"""The supervision console end to end: a real hall driven through its API, its journal bridged to the county's
NATS and ingested by ``hallq platform serve`` into PostgreSQL, then the console's page read over HTTP and in a
real browser (chromium), checked by axe-core (WCAG 2.1 AA) like the hall's own consoles.

Each step waits on what the page shows (the platform folds what it has ingested when a page is asked for, and
every 5 s on its own), never on a fixed sleep.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from county import db as cdb
from hallq.client import HallClient
from hallq.demo import DEMO_PASSWORD
from tests.county.conftest import County, wait_for
from tests.web.conftest import start_chromium
from tests.web.test_accessibility import violations

pytestmark = pytest.mark.mosquitto


@pytest.fixture
def county(tmp_path, county_db):
    c = County(tmp_path, county_db, ["town-a"], paper=["village-c"])
    cdb.migrate(county_db)
    c.start()
    yield c
    c.stop()


class LoopbackIsSecure(http.cookiejar.DefaultCookiePolicy):
    """Send Secure cookies to 127.0.0.1 over HTTP, as browsers do (a secure context) and the platform expects."""

    def return_ok_secure(self, cookie, request) -> bool:
        return True


class Reader:
    """A console session over plain HTTP (a cookie jar), as a browser without scripts would: the sign-in form first,
    for its double-submit token."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar(policy=LoopbackIsSecure())
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with self.opener.open(f"{base}/console/login", timeout=10) as r:
            token = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode()).group(1)
        form = urllib.parse.urlencode({"username": username, "password": DEMO_PASSWORD, "csrf_token": token}).encode()
        with self.opener.open(f"{base}/console/login", form, timeout=10) as r:
            assert r.status == 200 and "/console/" in r.url

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def cell(page: str, site: str, col: str) -> str | None:
    row = re.search(rf'<tr data-site="{site}".*?</tr>', page, re.S)
    m = row and re.search(rf'data-col="{col}">([^<]*)<', row.group(0))
    return m.group(1) if m else None


def test_a_halls_tickets_show_on_the_county_console_and_the_page_passes_axe(county, tmp_path):
    hall = county.halls["town-a"]
    wait_for(lambda: county.caught_up("town-a"), 60, "town-a caught up at the start")
    sup = Reader(county.platform.url, "sup")
    kiosk = HallClient(hall.url, token="demo-kiosk-1", retries=2)
    staff = HallClient(hall.url, retries=2)
    staff.login("101", DEMO_PASSWORD)
    staff.window_action(1, "sign-in")
    for _ in range(3):
        kiosk.issue_ticket("alpha")
    staff.call_next(1)

    def shown() -> bool:
        page = sup.get("/console/")[1]
        return cell(page, "town-a", "waiting") == "2" and cell(page, "town-a", "open_windows") == "1"

    wait_for(shown, 30, "the console shows town-a: 2 waiting, 1 window open")
    page = sup.get("/console/")[1]
    assert 'data-site="village-c"' in page  # a registered hall with no server is on the page too
    staff.call_next(1, complete_current=True)
    wait_for(lambda: cell(sup.get("/console/")[1], "town-a", "waiting") == "1", 30, "one fewer waiting")
    # the tiny hall runs on its own fixed business day (weeks ago): a 60-day period holds it
    stats = sup.get("/console/stats?days=60&format=csv&lang=en")[1].splitlines()
    assert [row.split(",")[1:4] for row in stats[1:]] == [["3", "2", "1"]]  # issued, called, served
    status, journal = sup.get("/console/halls/town-a/journal")
    assert status == 200 and "call" in journal and "issue" in journal

    mgr = Reader(county.platform.url, "mgr")  # the hall manager of town-a
    assert 'data-site="village-c"' not in mgr.get("/console/")[1]
    assert mgr.get("/console/halls/village-c/journal")[0] == 403

    # an open alert (its acknowledge and resolve form on the alerts page) and a resolved one, for axe to read
    with cdb.connect(county.database, autocommit=True) as conn:
        conn.execute("INSERT INTO alerts (site, kind, detail) VALUES ('town-a', 'quarantine_malformed', 'e2e')")
        conn.execute("INSERT INTO alerts (site, kind, detail, cleared_at, resolved_by, resolution) VALUES "
                     "('town-a', 'quarantine_oversized', 'e2e', now(), 'sup', '已处理')")
    assert "csrf_token" in sup.get("/console/alerts")[1] and "已处理" in sup.get("/console/alerts?state=closed")[1]
    driver = start_chromium(tmp_path / "profile", (1366, 900))
    try:
        driver.set_script_timeout(60)
        driver.get(f"{county.platform.url}/console/login")
        driver.find_element("id", "username").send_keys("sup")
        driver.find_element("id", "password").send_keys(DEMO_PASSWORD)
        driver.find_element("css selector", "form.login button").click()
        wait_for(lambda: driver.current_url.endswith("/console/"), 20, "signed in to the console")
        assert "全县大厅实时情况" in driver.page_source
        assert driver.find_element("css selector", 'tr[data-site="town-a"] td[data-col="waiting"]').text == "1"
        shots = Path(os.environ.get("HALLQ_SCREENSHOTS") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(shots / "county-console.png"))  # for a person to look at
        found = {}
        # someone guessing an account's password here: a throttle for the sign-ins page to list (a name that is no
        # account's is not listed: it may be a password typed in the wrong box)
        for _ in range(6):  # through the API's sign-in, which shares the console's throttle
            try:
                urllib.request.urlopen(urllib.request.Request(
                    f"{county.platform.url}/api/v1/auth/login", json.dumps({"username": "sup", "password": "x"}).encode(),
                    headers={"Content-Type": "application/json"}), timeout=10)
            except urllib.error.HTTPError as e:
                assert e.code in (401, 429)
        for path in ("/console/", "/console/rankings?by=item", "/console/rankings?by=department",
                     "/console/stats?days=7", "/console/halls/town-a/journal", "/console/alerts",
                     "/console/alerts?state=closed", "/console/sign-ins"):
            driver.get(county.platform.url + path)
            if path == "/console/sign-ins":
                assert driver.find_element("css selector", 'tr[data-account="sup"] button').text == "解除"
                assert driver.save_screenshot(str(shots / "county-sign-ins.png"))
            problems = violations(driver)
            if problems:
                found[path] = problems
        driver.get(f"{county.platform.url}/console/login")
        found_login = violations(driver)
        if found_login:
            found["/console/login"] = found_login
        assert not found, found
    finally:
        driver.quit()
        kiosk.close()
        staff.close()
