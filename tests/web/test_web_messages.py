"""The consoles and the resident's pages speak from the catalogues: every text is a ``web.*`` key of web.po.

* statically: every ``t(...)`` in the templates, scripts and page modules names a key (no more
  ``t("简体", "繁體", "English")``) and fills exactly its ``{fields}``, every key they name is in the
  Simplified and English catalogues, and every key of web.po is used somewhere;
* rendered: a console page and the ticket page in Traditional Chinese and English show the catalogue's
  texts, and a page's message block holds exactly the keys its scripts use, in its language;
* in chromium: texts the console's script renders come from that block, in the page's language.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hallq import i18n
from hallq.demo import DEMO_PASSWORD
from hallq.i18n import read_po
from hallq.i18n.build import fields
from queue_server.web import pages
from tests.web.test_roles import Browser

WEB = Path(pages.__file__).resolve().parent
SOURCES = sorted([*WEB.glob("templates/*/*.html"), *WEB.glob("static/*/*.js"), *WEB.glob("*.py")])
KEY = re.compile(r"""["'](web\.[A-Za-z0-9_.]+)["']""")
CALL = re.compile(r"""(?<![\w.$])t\(\s*([^,)]*)""")
# t( whose first argument is not a key literal: the definitions of t, and a helper passing its key on
PASSING_ON = {("pages.py", "key: str"), ("common.js", "key"), ("window.js", "key"), ("window_console.py", "key"),
              ("ratings_pages.py", "key")}


def catalogue(lang: str) -> dict[str, str]:
    return read_po(i18n.LOCALE_DIR / lang / "web.po")


def test_every_t_call_names_a_web_key():
    bad = []
    for path in SOURCES:
        for m in CALL.finditer(path.read_text(encoding="utf-8")):
            first = m.group(1).strip()
            if not re.fullmatch(r"""(["'])web\.[A-Za-z0-9_.]+\1""", first) and (path.name, first) not in PASSING_ON:
                line = path.read_text(encoding="utf-8").count("\n", 0, m.start()) + 1
                bad.append(f"{path.relative_to(WEB)}:{line}: t({first}")
    assert not bad, "t() takes a key of hallq/locale/zh_Hans/web.po:\n" + "\n".join(bad)


def test_every_key_used_is_in_the_catalogues_and_every_key_is_used():
    used = {key: path.relative_to(WEB) for path in SOURCES for key in KEY.findall(path.read_text(encoding="utf-8"))}
    zh, en = catalogue("zh_Hans"), catalogue("en")
    assert not {k: str(p) for k, p in used.items() if k not in zh}, "missing from zh_Hans/web.po"
    assert not {k: str(p) for k, p in used.items() if k not in en}, "missing from en/web.po"
    assert not set(zh) - set(used), "keys of web.po nothing uses: remove them"
    assert all(key.startswith("web.") for key in zh)


def call_fields(source: str, start: int) -> set[str]:
    """The names a ``t("web.…", …)`` call starting at ``start`` passes: ``{ n, job_no: w.job }`` or ``n=mine``."""
    depth, i = 0, start
    while True:
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(source[i], 0)
        if depth == 0 and source[i] == ")":
            break
        i += 1
    args = source[start + 1:i].split(",", 1)[1:] if "," in source[start + 1:i] else []
    params = args[0].strip() if args else ""
    if params.startswith("{"):  # JavaScript: an object, shorthand or name: value
        return set(re.findall(r"(?:^|[{,])\s*([A-Za-z_]\w*)\s*(?=[:,}])", params))
    return set(re.findall(r"(?:^|,)\s*([A-Za-z_]\w*)\s*=(?!=)", params))  # Jinja and Python: keywords


def test_every_call_fills_exactly_the_fields_of_its_message():
    zh = catalogue("zh_Hans")
    bad = []
    for path in SOURCES:
        source = path.read_text(encoding="utf-8")
        for m in re.finditer(r"""(?<![\w.$])t(\()\s*(["'])(web\.[A-Za-z0-9_.]+)\2""", source):
            given, wanted = call_fields(source, m.start(1)), fields(zh[m.group(3)])
            if given != wanted:
                bad.append(f"{path.relative_to(WEB)}: {m.group(3)} is given {sorted(given)}, its text has {sorted(wanted)}")
    assert not bad, "\n".join(bad)


def test_a_console_page_speaks_the_catalogue_in_each_language(app):
    b = Browser(app, "900")
    for lang in ("zh-Hant", "en"):
        page = b.client.get(f"/manager/hall?lang={lang}").text
        for key in ("web.common.live_hall", "web.hall.queues", "web.base.sign_out", "web.common.language"):
            assert i18n.text(key, lang) in page, (lang, key)
        block = json.loads(re.search(r'<script type="application/json" id="messages">(.*?)</script>', page).group(1))
        wanted = set(pages.script_keys("console/common.js")) | set(pages.script_keys("console/hall.js"))
        assert set(block) == wanted and "web.hall.tidal_alerts" in block
        assert block == {key: i18n.text(key, lang) for key in wanted}
        assert page.index('id="messages"') < page.index("console/common.js")  # read as common.js loads
    assert "大廳實況" in b.client.get("/manager/hall?lang=zh-Hant").text  # OpenCC, Hong Kong by default


def test_the_ticket_page_speaks_the_catalogue(api):
    mine = api.issue("alpha")
    for lang in ("zh-Hant", "en"):
        page = api.client.get(f"/t/{mine['id']}?lang={lang}").get_data(as_text=True)
        for key in ("web.ticket.title", "web.ticket.ahead_none", "web.ticket.enable_alerts"):
            assert i18n.text(key, lang) in page, (lang, key)
        data = json.loads(re.search(r'id="ticket-data">(.*?)</script>', page, re.S).group(1).replace("<\\/", "</"))
        assert data["texts"]["ahead"] == i18n.text("web.ticket.ahead", lang)  # what ticket.js fills in
    gone = api.client.get("/t/not-a-ticket?lang=en").get_data(as_text=True)
    assert i18n.text("web.ticket.gone", "en") in gone


@pytest.fixture
def server(server_proc):
    return server_proc()


def test_the_window_console_script_renders_catalogue_texts(server, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    chromium.delete_all_cookies()
    chromium.get(f"{server.url}/console/login?lang=en")
    chromium.find_element(By.ID, "job_no").send_keys("101")
    chromium.find_element(By.ID, "password").send_keys(DEMO_PASSWORD)
    chromium.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(chromium, 10).until(lambda d: "/console/login" not in d.current_url)
    try:
        for lang in ("zh-Hant", "en"):
            chromium.get(f"{server.url}/console/windows/1?lang={lang}")
            # written by window.js once it has read the window: a free, closed window and its banner
            wanted = i18n.text("web.window.nobody_signed_in", lang)
            WebDriverWait(chromium, 10, 0.1).until(lambda d, w=wanted: d.find_element(By.ID, "window-staff").text == w)
            assert chromium.find_element(By.ID, "not-here").text == i18n.text("web.window.sign_in_to_see", lang)
            assert chromium.find_element(By.ID, "window-state").text == i18n.text("web.common.closed", lang)
            assert "web." not in chromium.find_element(By.TAG_NAME, "body").text  # no key shown for a text
    finally:
        chromium.delete_all_cookies()
