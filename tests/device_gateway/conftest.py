"""Fixtures of the device gateway's tests: a real HTTP server of the tiny hall and one window's desk."""

from __future__ import annotations

import threading

import pytest


@pytest.fixture
def http_hall(tmp_path, clock):
    """The tiny hall's real Flask app behind a real HTTP server in a thread (no MQTT): (url, app)."""
    from werkzeug.serving import make_server

    from queue_server.app import create_app
    from hallq.testing import TINY

    app = create_app(TINY, data_dir=tmp_path / "data", clock=clock, mqtt=False, housekeeping=False)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    app.extensions["hallq"].close()


class Desk:
    """Window actions of the tiny hall over real HTTP, with staff 101 signed in at window 1.

    It plays the window's devices too: it records what the keypad and the pad
    are told and what the server offers to rate.
    """

    def __init__(self, url: str, app) -> None:
        from device_gateway.actions import WindowActions
        from hallq.client import HallClient
        from hallq.demo import DEMO_PASSWORD

        self.url, self.app = url, app
        self.staff = HallClient(url)
        self.staff.login("101", DEMO_PASSWORD)
        self.staff.window_action(1, "sign-in")
        self.kiosk = HallClient(url, token="demo-kiosk-1")
        self.snapshot: dict = {}
        self.keypad_messages: list[str] = []
        self.pad_messages: list[str] = []
        self.offers: list[dict] = []
        self.local_prompts = 0
        self.actions = WindowActions(
            1, HallClient(url, token="demo-gateway-1", timeout=3, retries=1), self,
            snapshot=lambda: self.snapshot, business_codes=["alpha", "beta"],
            keypad_options={"call_completes_current": True, "pause_reasons": ["临时离开", "午休"]},
            pad_options={"prompt_after_complete": True, "thanks_text": "谢谢您的评价"}, rating_poll=0)
        self.actions.start()

    # the window's devices
    def keypad_message(self, text: str) -> None:
        self.keypad_messages.append(text)

    def pad_message(self, text: str) -> None:
        self.pad_messages.append(text)

    def offer_rating(self, prompt: dict) -> None:
        self.offers.append(prompt)

    def prompt_pad(self) -> None:
        self.local_prompts += 1

    def offered(self) -> list:
        """The tickets offered for rating, in order (None: nothing to rate)."""
        return [(o["ticket"] or {}).get("ticket") for o in self.offers]

    def press(self, press) -> str:
        """Submit a press, wait until it is handled, return what the device was told."""
        before = self.actions.done
        self.actions.submit(press)
        assert self.actions.wait_done(before + 1), "the press was not handled in time"
        from device_drivers.rating_pad import RatingPress

        return (self.pad_messages if isinstance(press, RatingPress) else self.keypad_messages)[-1]

    def window(self, number: int = 1) -> dict:
        return self.staff.get(f"/windows/{number}/queue")["window"]

    def follow(self) -> None:
        """Give the actions the window snapshot, as MQTT would."""
        self.snapshot = self.window()

    def db(self):
        return self.app.extensions["hallq"].db.connection()


@pytest.fixture
def desk(http_hall):
    d = Desk(*http_hall)
    yield d
    d.actions.stop()
