"""A city hall in mid-morning, built through the real API, and helpers to render boards offscreen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hallq import contract
from tests.conftest import CITY, Api, make_id

VILLAGE = CITY.parents[1] / "village-station" / "hall.toml"

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "display_board"
RENDER = Path(__file__).with_name("render_board.py")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class CityHall:
    """The sample city hall on the frozen Monday-morning clock, driven through its HTTP API."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.signed_in: set[int] = set()

    def issue(self, business: str, n: int, first_seq: int = 100) -> None:
        for i in range(n):
            body = {"id_number": make_id(seq=first_seq + i)} if business in ("commerce", "social", "delivery") else {}
            self.api.issue(business, **body)

    def call(self, window: int, job_no: str) -> dict:
        if window not in self.signed_in:
            self.api.open_window(window, job_no)
            self.signed_in.add(window)
        return self.api.act(window, "call-next", job_no, {"complete_current": True})

    def recall(self, window: int, job_no: str) -> dict:
        return self.api.act(window, "recall", job_no)

    def notice(self, zh: str, en: str, level: str = "info") -> None:
        self.api.ok("post", "/notices", {"text": {"zh-Hans": zh, "zh-Hant": zh, "en": en}, "level": level},
                    as_="2001", status=201)

    def board(self) -> dict:
        """The board snapshot exactly as the server publishes it (same builder), with its version."""
        return {"version": contract.VERSION, **self.api.ok("get", "/board")}

    def notices(self) -> dict:
        return {"version": contract.VERSION, **self.api.ok("get", "/notices")}


@pytest.fixture
def city(tmp_path, clock):
    from queue_server.app import create_app

    app = create_app(CITY, data_dir=tmp_path / "city", clock=clock, mqtt=False, housekeeping=False)
    api = Api(app.test_client())
    api.tokens.update({"kiosk": "demo-kiosk-1", "gateway": "demo-gateway-1"})
    yield CityHall(api)
    app.extensions["hallq"].close()


@pytest.fixture
def morning(city) -> CityHall:
    """Numbers taken in four businesses; windows 1, 4, 7, 12 and 19 calling; a recall; two notices."""
    city.issue("commerce", 6, 100)
    city.issue("construction", 9)
    city.issue("social", 14, 200)
    city.issue("delivery", 2, 300)
    for window, job in ((1, "1001"), (4, "1002"), (7, "1003"), (12, "1004"), (19, "1005"), (1, "1001"), (7, "1003")):
        city.call(window, job)
    city.recall(7, "1003")
    city.notice("今日下午 14:00-15:00 系统升级，不动产登记、公积金提取业务暂停受理，其他业务照常办理；"
                "急需办理的请到 19 号窗口登记", "Real-estate services pause 14:00-15:00 today", "urgent")
    city.notice("请保管好随身物品，谨防诈骗", "Mind your belongings")
    return city


@pytest.fixture
def station(tmp_path, clock) -> CityHall:
    """The sample village station (one business, two windows) in mid-morning: numbers taken, three called."""
    from queue_server.app import create_app

    app = create_app(VILLAGE, data_dir=tmp_path / "village", clock=clock, mqtt=False, housekeeping=False)
    api = Api(app.test_client())
    api.tokens.update({"kiosk": "demo-kiosk-station"})
    hall = CityHall(api)
    hall.issue("general", 6)
    for window, job in ((1, "3001"), (2, "3002"), (1, "3001")):
        hall.call(window, job)
    yield hall
    app.extensions["hallq"].close()


def render(tmp_path: Path, board: str, steps: list[dict], font: str = "cjk", boards: Path | None = None) -> list[dict]:
    """Run tests/display_board/render_board.py in a fresh process (Kivy's window is per process)."""
    spec = {"boards": str(boards or CITY.parent / "board.toml"), "board": board, "font": font,
            "kivy_home": str(tmp_path / "kivy"), "steps": steps}
    spec_path, result_path = tmp_path / f"spec-{board}-{font}.json", tmp_path / f"result-{board}-{font}.json"
    spec_path.write_text(json.dumps(spec, ensure_ascii=False))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run([sys.executable, str(RENDER), str(spec_path), str(result_path)], env=env,
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0 and result_path.exists(), r.stderr[-4000:]
    return json.loads(result_path.read_text())
