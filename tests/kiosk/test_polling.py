"""The device poller (kiosk/polling.py) and a card left on the ID reader: read once per flow that asks for it.

Within a flow a card lying on the reader is reported once (a refusal shown on the same screen must not send it to
the server again and again: 24 requests in 10 s once); when the resident opens another flow the reader forgets it,
so a card lifted on the last result screen (when nothing asked the reader) and put back is read."""

from __future__ import annotations

from types import SimpleNamespace

from device_drivers.sim_id_reader import IdReaderSimulator, ReaderState, demo_card
from kiosk.polling import DevicePoller


def rounds(poller: DevicePoller, flow: str, n: int) -> None:
    for _ in range(n):
        poller.poll(("card",), flow)


def test_a_card_left_on_the_reader_is_read_once_per_flow_however_slow_the_server():
    reader = IdReaderSimulator(ReaderState(card=demo_card(), remove_after_read=False))
    sent: list[tuple[str, str]] = []
    poller = DevicePoller(SimpleNamespace(reader=reader, scanner=None), lambda flow, event, arg: sent.append((flow, event)))
    rounds(poller, "take_number", 40)  # ten seconds of polls on one screen, the card lying there (a refusal shown)
    assert sent == [("take_number", "card")]
    poller.poll((), "home")  # the resident went home: the reader is not asked there
    rounds(poller, "take_number", 3)  # and opens a flow again, the card still (or again) on the reader
    rounds(poller, "checkin", 3)
    assert sent == [("take_number", "card"), ("take_number", "card"), ("checkin", "card")]
