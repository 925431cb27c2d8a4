"""The rating pad (评价器): its drivers' contract, and a press becoming a stored rating (好差评)."""

from __future__ import annotations

import pytest

from device_drivers.keypad import KeyPress
from device_drivers.rating_pad import RatingPress
from tests.device_drivers.window_fixtures import desk, http_hall, socat_pair, window_device  # noqa: F401 (fixtures)

VARIANTS = ["serial", "simulator"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_levels_arrive_once(window_device, variant):
    pad, sim, _ = window_device("rating_pad", variant, address=16)  # 16 = DLE: escaped on the wire
    assert pad.identify().type == "rating_pad"
    assert pad.poll() is None
    for level in (5, 1, 3):
        sim.press(level)
    assert [pad.poll() for _ in range(4)] == [RatingPress(5, 1), RatingPress(1, 2), RatingPress(3, 3), None]


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_prompt_and_display(window_device, variant):
    pad, sim, _ = window_device("rating_pad", variant)
    pad.prompt(30, "请您对本次服务进行评价")
    assert (sim.prompt_text, sim.prompts) == ("请您对本次服务进行评价", 1)
    pad.display(1, "谢谢您的评价")
    assert sim.lines[1] == "谢谢您的评价"


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_a_rating_sent_again_counts_once(window_device, variant):
    pad, sim, _ = window_device("rating_pad", variant)
    sim.press(2)
    sim.ignore_acks = 2
    assert pad.poll() == RatingPress(2, 1)
    assert pad.poll() is None and pad.poll() is None
    assert pad.duplicates == 2


@pytest.mark.parametrize("variant", VARIANTS)
def test_contract_keys_other_than_1_to_5_are_ignored(window_device, variant):
    pad, sim, _ = window_device("rating_pad", variant)
    sim._press(ord("9"))
    sim._press(ord("0"))
    sim.press(4)
    assert pad.poll() is None and pad.poll() is None
    assert pad.poll() == RatingPress(4, 3)
    with pytest.raises(ValueError):
        sim.press(6)


# -- a press becomes a rating over real HTTP ---------------------------------------------

def test_a_press_rates_the_service_just_finished(desk):
    desk.kiosk.issue_ticket("alpha")
    desk.press(KeyPress("call_next"))
    desk.follow()
    desk.press(KeyPress("complete"))
    assert desk.offered() == ["A001"]  # the server offers A001 for rating: the pad prompts
    assert desk.press(RatingPress(2)) == "谢谢您的评价"
    conn = desk.db()
    row = conn.execute("SELECT t.label, r.level, r.bad, r.window, r.source FROM ratings r "
                       "JOIN tickets t ON t.id = r.ticket_id").fetchone()
    assert tuple(row) == ("A001", 2, 1, 1, row["source"]) and "gateway" in row["source"]
    # sent with an Idempotency-Key: a network retry of the same press would not rate twice
    assert conn.execute("SELECT COUNT(*) FROM requests WHERE response LIKE '%\"level\": 2%'").fetchone()[0] == 1
    # one rating per service: a second press is refused with the server's reason
    assert desk.press(RatingPress(5)) == "没有可以评价的服务。"
    assert conn.execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 1


def test_nothing_to_rate_is_said_on_the_pad(desk):
    assert desk.press(RatingPress(5)) == "没有可以评价的服务。"
