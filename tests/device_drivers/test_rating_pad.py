"""The rating pad (评价器): its drivers' contract.

(A press becoming a stored rating (好差评): tests/device_gateway/test_actions.py.)
"""

from __future__ import annotations

import pytest

from device_drivers.rating_pad import RatingPress
from tests.device_drivers.window_fixtures import socat_pair, window_device  # noqa: F401 (fixtures)

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
