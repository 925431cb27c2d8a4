"""The real kiosk app (kiosk.ui.app.KioskApp, offscreen) through whole visits, on a clock the script moves: what the
next resident finds, and what the idle timer does while a press is retried or a ticket was not printed.

    python tests/kiosk/drive_visits.py SCENARIO SERVER_URL OUT_JSON

Events go through ``app.process`` (what the worker thread runs) and the idle timer is ``app._tick`` (what Kivy's
clock runs every second); what they send is processed at once, in order, as the one worker would. Scenarios:

* ``defaults`` (the village station, elderly mode by default): a resident switches to English and normal size and
  takes a number, 完成; another switches language and leaves on the home screen; another goes back (返回) from the
  first step;
* ``outage``: the server issues the number but its answers are lost (tests/kiosk/netfault.py) for longer than the
  idle timeout; the resident also presses 返回 and confirms again;
* ``unprinted``: a ticket the printer cannot print (paper out), against one it prints;
* ``devices``: the device poller with the ID card reader and the scanner both unplugged.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
scenario, url, out = sys.argv[1:4]

from kiosk.ui.setup import prepare  # noqa: E402

prepare((1080, 1920), fullscreen=False, headless=True, kivy_home=tempfile.mkdtemp())

from kiosk.ui.app import KioskApp  # noqa: E402
from tests.kiosk.conftest import make_session  # noqa: E402
from tests.kiosk.netfault import LossyProxy  # noqa: E402

now = [1000.0]
report: dict = {"log": []}


def make_app(server: str, **cfg) -> KioskApp:
    session = make_session(server, clock=lambda: now[0], **cfg)
    app = KioskApp(session, headless=True, background=False)
    app.sent_events = []
    app.warnings = []

    def send(flow, event, arg=None):          # the worker, at once: the event processed in order
        app.sent_events.append(event)
        if event not in app.AUTOMATIC:
            app.session.touch()
        app.process(flow, event, arg)
    app.send = send
    app._show_warning = lambda seconds: app.warnings.append(seconds)
    return app


def note(app: KioskApp, what: str, **kw) -> None:
    flow = app.flows[app.current]
    notice = getattr(flow, "notice", None)
    report["log"].append({"what": what, "screen": app.current, "step": flow.step, "lang": app.session.lang,
                          "elderly": app.session.elderly, "notice": notice.text if notice else "",
                          "wiped": app.sent_events.count("__wipe__"), "warnings": len(app.warnings), **kw})


def events(app: KioskApp):
    """``go(flow, event, arg=None)``: an event through the app as the worker takes it."""
    return lambda flow, event, arg=None: app.process(flow, event, arg)


def tick(app: KioskApp, seconds: float, step: float = 1.0) -> None:
    """``seconds`` of nobody touching the screen, the idle timer running every ``step``."""
    end = now[0] + seconds
    while now[0] < end:
        now[0] += step
        app._tick(step)


def defaults() -> None:
    app = make_app(url, key="demo-kiosk-station", elderly_mode=True, idle_timeout_seconds=120,
                   idle_warning_seconds=20, result_timeout_seconds=60)
    go = events(app)
    go("home", "__open__", {})
    note(app, "start")
    go("home", "action", "lang:en")
    go("home", "action", "elderly")
    note(app, "A chose")
    go("home", "choose", "take_number")
    take = app.flows["take_number"]
    if take.step == "item":
        go("take_number", "choose", "__none__")
    note(app, "A's ticket", number=(take.ticket or {}).get("ticket"))
    go("take_number", "action", "done")                          # 完成
    note(app, "after done")
    go("home", "action", "lang:zh-Hant")                        # B changes the language, then walks away
    go("home", "action", "elderly")
    tick(app, 30)
    note(app, "B left 30 s ago")
    tick(app, 100)
    note(app, "B left 130 s ago")
    tick(app, 300)
    note(app, "long after")
    go("home", "action", "lang:en")                             # C: English, then 返回 from the first step
    go("home", "choose", "take_number")
    go("take_number", "back")
    note(app, "C went back")
    go("home", "choose", "take_number")
    app.go_home()                                               # 首页
    note(app, "C pressed home")


def outage() -> None:
    port = urlsplit(url).port
    proxy = LossyProxy(port)
    app = make_app(proxy.url, idle_timeout_seconds=8, idle_warning_seconds=4, result_timeout_seconds=5,
                   retry_seconds=1)
    issued = []
    real = app.session.api.issue_ticket

    def issue(body, key):
        issued.append(key)
        return real(body, key)
    app.session.api.issue_ticket = issue
    go = events(app)
    go("home", "__open__", {})
    go("home", "choose", "take_number")
    go("take_number", "choose", "construction")
    proxy.mode = "drop_answers"
    go("take_number", "choose", "__none__")                     # 确认: issued on the server, the answer lost
    take = app.flows["take_number"]
    note(app, "confirmed", retrying=take.retrying)
    for _ in range(3):                                          # 30 s of automatic retries, nobody touching
        tick(app, 10)
        go("take_number", "retry")
    note(app, "30 s later", retrying=take.retrying)
    go("take_number", "back")                                   # the resident gives up waiting: 返回
    note(app, "went back", held=take.press.held)
    go("take_number", "choose", "construction")                 # ... and asks for the same again
    go("take_number", "choose", "__none__")
    tick(app, 20)
    note(app, "confirmed again", retrying=take.retrying)
    proxy.mode = "pass"                                         # the network is back
    go("take_number", "retry")
    note(app, "network back", number=(take.ticket or {}).get("ticket"), keys=len(set(issued)), calls=len(issued))
    tick(app, 3)
    note(app, "3 s on the ticket")
    tick(app, 5)
    note(app, "8 s on the ticket")
    waiting = {b["code"]: b["queue"]["waiting"] for b in app.session.api.businesses()}
    report["waiting"] = waiting["construction"]
    proxy.close()


def unprinted() -> None:
    app = make_app(url, idle_timeout_seconds=60, idle_warning_seconds=15, result_timeout_seconds=10)
    go = events(app)
    for paper in ("ok", "out"):
        app.session.devices.printer.state.paper = paper
        go("home", "__open__", {})
        go("home", "choose", "take_number")
        go("take_number", "choose", "construction")
        go("take_number", "choose", "__none__")
        note(app, f"ticket, paper {paper}", unprinted=app.flows["take_number"].unprinted)
        for seconds in (12, 36, 10, 5):
            tick(app, seconds)
            note(app, f"paper {paper}, +{seconds} s")


def devices() -> None:
    """The ID card reader and the scanner both unplugged; the scanner is read on every screen, the reader only
    where a card is asked for: the reader's error must still reach that screen (typing is offered there)."""
    import threading
    import time

    from device_drivers.base import DeviceError

    app = make_app(url)
    reads = {"reader": 0, "scanner": 0}

    def unplugged(device: str):
        def read(*args):
            reads[device] += 1
            raise DeviceError("unplugged", f"the {device} is not connected", "plug it in")
        return read
    app.session.devices.reader.read_card = unplugged("reader")
    app.session.devices.scanner.read = unplugged("scanner")
    events: list[tuple[str, str]] = []
    app.send = lambda flow, event, arg=None: events.append((event, arg))
    app.listening = ()
    threading.Thread(target=app._poll_devices, daemon=True).start()
    deadline = time.monotonic() + 10
    while reads["scanner"] < 3 and time.monotonic() < deadline:      # the home screen: the scanner only
        time.sleep(0.05)
    app.listening = ("card",)                                          # a screen asks for the ID card
    while reads["reader"] < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    app._halt.set()
    report["reads"] = dict(reads)
    report["events"] = events


try:
    {"defaults": defaults, "outage": outage, "unprinted": unprinted, "devices": devices}[scenario]()
finally:
    Path(out).write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
