"""A resident whose ID card name has a rare character (生僻字) books at the kiosk (issue 12, item 6): the card is
read, the screen shows the mask, the server accepts the name and the booking slip prints it as an image line."""

from __future__ import annotations

from device_drivers.sim_id_reader import demo_card
from hallq.fonts import render_line
from tests.kiosk.test_appointments import book


def test_booking_with_a_card_named_with_an_extension_b_character(session):
    card = demo_card(name="𪚥小明", sex="1", seq=77)
    flow = book(session, card=card)
    v = flow.view()
    assert v.step == "confirm", (v.step, [f.error for f in getattr(v, "fields", [])])
    assert "𪚥*明" in v.sections[2].lines[0] and card.id_number not in v.sections[2].lines[0]
    flow.handle("action", "confirm")
    v = flow.view()
    assert v.step == "result" and len(v.result["number"]) == 8
    printed = session.devices.printer.last
    assert printed.find(v.result["number"]) and printed.qr_codes == [f"HALLQ-APPT:{v.result['number']}"]
    assert "?" not in printed.text and "𪚥" not in printed.text and card.name not in printed.text
    [line] = [line for line in printed.lines if line.image is not None]     # only the name line is an image
    width = session.devices.printer.profile.dots
    masked_id = card.id_number[:6] + "********" + card.id_number[-4:]
    assert line.image.bits == render_line(f"姓名：𪚥*明  身份证号：{masked_id}", width, 24).tobytes()
