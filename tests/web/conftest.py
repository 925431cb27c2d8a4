"""Real browser fixtures: Debian's chromium, headless, driven by selenium through chromedriver.

* ``chromium``: one headless browser per test module, phone-sized (412×915), with a
  fresh profile directory, no background networking;
* ``screenshot(driver, name)``: saves a PNG under ``$HALLQ_SCREENSHOTS`` (default: the
  test's tmp dir) and returns its path, so a person can look at what the test saw.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PHONE = (412, 915)


def chromium_options(profile: Path, size: tuple[int, int] = PHONE):
    from selenium import webdriver

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", "--lang=zh-CN"):
        opts.add_argument(arg)
    # what the browser asks for in Accept-Language (headless chromium sends en-US whatever --lang says): the pages
    # follow it, as a resident's phone in China asks for Chinese
    opts.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    return opts


def start_chromium(profile: Path, size: tuple[int, int] = PHONE):
    """A headless chromium on a fresh profile (the caller quits it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver") or CHROMEDRIVER
    if not (os.path.exists(driver_path) and (shutil.which("chromium") or os.path.exists(CHROMIUM))):
        pytest.fail("chromium and chromium-driver are not installed: apt-get install chromium chromium-driver")
    driver = webdriver.Chrome(service=Service(driver_path), options=chromium_options(profile, size))
    driver.set_page_load_timeout(20)
    return driver


DESKTOP = (1366, 900)  # a console's screen


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    """One chromium of a console's size per test module (a module may define its own)."""
    driver = start_chromium(tmp_path_factory.mktemp("desktop-profile"), DESKTOP)
    yield driver
    driver.quit()


@pytest.fixture
def browser(desktop):
    """The module's chromium, signed out before and after the test."""
    desktop.delete_all_cookies()
    yield desktop
    desktop.delete_all_cookies()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


@pytest.fixture
def screenshot(tmp_path):
    target = Path(os.environ.get("HALLQ_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)

    def take(driver, name: str) -> Path:
        path = target / f"{name}.png"
        assert driver.save_screenshot(str(path)), f"could not save {path}"
        return path

    return take
