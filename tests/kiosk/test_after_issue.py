"""Once the server has issued the number, nothing after it loses it (docs/kiosk.md, "When things go wrong"): whatever
fails while the ticket is built, printed or said, or while the kiosk works out where to wait, becomes a print problem
and the result screen shows the number, which is spoken; in every flow that issues a ticket. And a hall whose
``public_url`` is an internationalised name prints its ticket, the QR holding the address in ASCII (punycode)."""

from __future__ import annotations

import shutil

import pytest

from device_drivers.sim_id_reader import demo_card
from hallq.client import ApiError
from hallq.testing import ROOT
from kiosk import receipts
from kiosk.presenters.after_service import Requeue
from kiosk.presenters.checkin import CheckIn
from kiosk.presenters.take_number import NO_ITEM, TakeNumber
from tests.kiosk.conftest import make_session
from tests.kiosk.test_appointments import book, move_clock

IDN_URL = "http://大厅.六盘水.政务:8080"
IDN_ASCII = "http://xn--imrx4k.xn--65qs66dqqh.xn--zfr164b:8080"


@pytest.fixture
def idn_city(server_proc, tmp_path):
    """The sample city hall at an internationalised address (a valid one: [hall] public_url accepts it)."""
    conf = tmp_path / "idn"
    shutil.copytree(ROOT / "config" / "city-hall", conf)
    hall = conf / "hall.toml"
    text = hall.read_text(encoding="utf-8")
    assert 'public_url = "http://127.0.0.1:8080"' in text
    hall.write_text(text.replace('public_url = "http://127.0.0.1:8080"', f'public_url = "{IDN_URL}"'), "utf-8")
    return server_proc(config=hall)


def said(session) -> str:
    session.devices.voice.wait_idle()
    return " ".join(text for _, text in session.devices.voice.spoken)


def test_a_hall_at_an_idn_address_prints_its_ticket_with_the_address_in_ascii(idn_city):
    session = make_session(idn_city.url)
    try:
        flow = TakeNumber(session)
        flow.start()
        flow.handle("choose", "construction")
        flow.handle("choose", NO_ITEM)
        v = flow.view()
        assert v.step == "result" and v.result["number"] == "B001"
        assert flow.ticket["track_url"] == f"{IDN_URL}/t/{flow.ticket['id']}"   # as the server gives it
        expected = f"{IDN_ASCII}/t/{flow.ticket['id']}"
        assert v.result["qr"] == expected                       # the screen's QR: what every phone opens
        assert session.devices.printer.last.qr_codes == [expected]
        assert v.notice.level == "ok" and v.result["printed"]
        assert "B001" in said(session)
    finally:
        session.devices.close()


@pytest.mark.parametrize("value, expected", [
    (f"{IDN_URL}/t/abc", f"{IDN_ASCII}/t/abc"),
    ("https://例子.中国/大厅/t/x?q=号#票", "https://xn--fsqu00a.xn--fiqs8s/%E5%A4%A7%E5%8E%85/t/x?q=%E5%8F%B7#%E7%A5%A8"),
    ("http://hall。例子。中国/t/x", "http://hall.xn--fsqu00a.xn--fiqs8s/t/x"),     # ideographic full stops
    ("http://127.0.0.1:8080/t/x", "http://127.0.0.1:8080/t/x"),
    ("HALLQ-APPT:K7Q2M9XP", "HALLQ-APPT:K7Q2M9XP"),
])
def test_qr_text_is_an_ascii_address(value, expected):
    assert receipts.qr_text(value) == expected


def _fail_build(session, monkeypatch):
    def broken(*a, **kw):
        raise ValueError("QR payloads are ASCII (URLs, codes)")
    monkeypatch.setattr(receipts, "ticket", broken)


def _fail_where(session, monkeypatch):
    def broken():
        raise ApiError(500, "error", {"en": "Internal Server Error"})
    session.cache.pop("windows", None)
    monkeypatch.setattr(session.api, "windows", broken)


def _fail_nearby(session, monkeypatch):
    monkeypatch.setattr(session.api, "nearby", lambda business: ["not", "the", "shape"])    # another server's answer


def _fail_voice(session, monkeypatch):
    real = session.devices.voice.say

    def say(text, *a, **kw):
        if "前面还有" in text:
            raise RuntimeError("espeak died")
        return real(text, *a, **kw)
    monkeypatch.setattr(session.devices.voice, "say", say)


@pytest.mark.parametrize("fail", [_fail_build, _fail_where, _fail_nearby, _fail_voice],
                         ids=["ticket-not-built", "where-to-wait-refused", "nearby-answer-odd", "voice-fails"])
def test_whatever_fails_after_the_number_is_issued_the_number_is_shown_and_spoken(session, monkeypatch, fail):
    fail(session, monkeypatch)
    flow = TakeNumber(session)
    flow.start()
    flow.handle("choose", "construction")
    flow.handle("choose", NO_ITEM)
    v = flow.view()
    assert v.step == "result" and v.result["number"] == "B001" and not flow.press.pending
    assert "B001" in said(session)
    if fail is _fail_build:
        assert v.notice.level == "warn" and "打印机暂时无法出票（打印机故障）" in v.notice.text and "B001" in v.notice.text
        assert not v.result["printed"] and flow.unprinted and session.devices.printer.jobs == []
        assert session.devices.health["printer"] == ["printer_error"]      # told to staff, like paper out
    if fail is _fail_where:
        assert "请在大厅等候叫号" in v.result["lines"][-1]
    waiting = {b["code"]: b["queue"]["waiting"] for b in session.api.businesses()}
    assert waiting["construction"] == 1


def test_a_check_in_whose_ticket_cannot_be_built_still_shows_its_number(session, city, monkeypatch):
    card = demo_card()
    booking = book(session, card=card)
    booking.handle("action", "confirm")
    move_clock(city, "2026-11-24T08:50:00+08:00")
    _fail_build(session, monkeypatch)
    checkin = CheckIn(session)
    checkin.start()
    checkin.handle("card", card)
    v = checkin.view()
    assert v.step == "result" and v.result["number"].startswith("A") and checkin.unprinted
    assert "打印机故障" in v.notice.text and v.result["number"] in said(session)


def test_a_requeue_whose_ticket_cannot_be_built_still_shows_its_number(session, take_number, window4, monkeypatch):
    ticket = take_number().ticket
    window4.call_next(4)
    window4.window_action(4, "no-show")
    _fail_build(session, monkeypatch)
    flow = Requeue(session)
    flow.start()
    flow.handle("action", "type_ticket")
    flow.handle("submit", ticket["ticket"])
    v = flow.view()
    assert v.step == "result" and v.result["number"] == ticket["ticket"] and flow.unprinted
    assert "打印机故障" in v.notice.text


def test_a_held_press_whose_number_has_gone_by_gives_the_next_resident_a_new_one(city):
    """A's confirm was done by the server (B001) but answered 504; A pressed 首页 and left, the key held for the
    identical request (kiosk.api.PressKey.leave). B001 was called and missed meanwhile. B asks the same: B's slip
    is a new number, waiting, not B001's replay, which would say "waiting, 0 ahead" for a number gone by."""
    from hallq.client import Unreachable
    from hallq.demo import DEMO_PASSWORD

    s = make_session(city.url)
    try:
        real, fail = s.api.issue_ticket, {"on": True}

        def behind_a_proxy(body, key):
            answer = real(body, key)  # the server did it ...
            if fail["on"]:
                raise Unreachable("504 gateway time-out", 504)  # ... and the proxy answered 504
            return answer
        s.api.issue_ticket = behind_a_proxy
        a = TakeNumber(s)
        a.start(), a.handle("choose", "construction"), a.handle("choose", NO_ITEM)
        assert a.retrying
        s.wipe(forget=False)  # 首页
        assert a.press.held
        clerk = city.client()
        clerk.login("1004", DEMO_PASSWORD)
        clerk.window_action(4, "sign-in")
        assert clerk.window_action(4, "call-next")["ticket"]["ticket"] == "B001"
        clerk.window_action(4, "no-show", {"ticket": "B001"})
        fail["on"] = False
        a.start(), a.handle("choose", "construction"), a.handle("choose", NO_ITEM)
        assert (a.ticket["ticket"], a.ticket["state"]) == ("B002", "waiting")
        assert s.devices.printer.last is not None and a.view().result["number"] == "B002"
    finally:
        s.devices.close()


def test_a_typed_id_number_is_drawn_masked_while_its_press_is_retried(city):
    """A confirm during an outage holds the screen (and its idle timer) for as long as the outage lasts, perhaps with
    nobody in front of it: the ID number typed is drawn masked meanwhile (the keypad keeps it whole)."""
    from hallq.client import Unreachable
    from hallq.privacy import mask_id_number
    from tests.conftest import make_id

    s = make_session(city.url)
    try:
        s.devices.reader = None  # no reader: the number is typed

        def down(body, key):
            raise Unreachable("ConnectionRefusedError")
        s.api.issue_ticket = down
        f = TakeNumber(s)
        f.start(), f.handle("choose", "commerce")
        v = f.view()
        if f.step != "identity":
            f.handle("choose", v.options[0].key)
        typed = make_id(seq=123)
        f.handle("submit", typed)
        v = f.view()
        assert f.retrying and v.entry["value"] == typed
        assert v.entry["shown"] == mask_id_number(typed) and typed not in v.entry["shown"]
    finally:
        s.devices.close()
