"""Age-friendly rules (适老化) of both themes: contrast, text sizes, touch targets."""

from __future__ import annotations

import pytest

from kiosk.ui.theme import ELDERLY, NORMAL, PAIRS, contrast


@pytest.mark.parametrize("theme", [NORMAL, ELDERLY], ids=["normal", "elderly"])
def test_every_text_colour_pair_has_contrast(theme):
    for fg, bg in PAIRS:
        ratio = contrast(getattr(theme, fg), getattr(theme, bg))
        assert ratio >= (7.0 if theme is ELDERLY else 4.5), f"{theme.name}: {fg} on {bg} is only {ratio:.2f}:1"


def test_sizes_meet_the_miit_rules():
    assert ELDERLY.body_sp >= 18 and ELDERLY.small_sp >= 18 and ELDERLY.action_sp >= 30
    assert NORMAL.body_sp >= 18 and NORMAL.small_sp >= 18
    for theme in (NORMAL, ELDERLY):
        assert theme.target_dp >= 60
    assert ELDERLY.body_sp > NORMAL.body_sp and ELDERLY.target_dp > NORMAL.target_dp


def test_contrast_formula():
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)
