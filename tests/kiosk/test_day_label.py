"""The kiosk's day labels (kiosk.presenters.forms.day_label) without Babel read exactly as Babel formats them.

The home screen shows today's date at all times; its label is made from the catalogue's CLDR pattern and a few
names kept in the kiosk (docs/kiosk.md, "Memory on a village station"), Babel only for anything else.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from babel.dates import format_date

from hallq import i18n
from kiosk.presenters import forms

PATTERNS = ["M月d日 EEEE", "EEE d MMM", "y年M月d日 EEE", "EEEE, MMMM d, y", "MM/dd EEE", "yyyy-MM-dd"]


@pytest.mark.parametrize("lang", sorted(forms._NAMES))
def test_every_day_of_a_year_reads_as_babel_formats_it(lang):
    locale = forms.BABEL_LOCALES[lang]
    patterns = PATTERNS + [i18n.text("kiosk.date.day", lang)]
    day = date(2028, 1, 1)                                   # a leap year
    while day.year == 2028:
        for pattern in patterns:
            plain = forms._plain_day_label(day, pattern, lang)
            if plain is not None:
                assert plain == format_date(day, pattern, locale=locale), (lang, pattern, day)
        day += timedelta(days=1)
    assert forms._plain_day_label(date(2028, 1, 1), i18n.text("kiosk.date.day", lang), lang) is not None


def test_what_the_names_do_not_cover_goes_to_babel():
    day = date(2026, 11, 24)
    assert forms._plain_day_label(day, "MMM d", "zh-Hans") is None          # a month's name in Chinese
    assert forms._plain_day_label(day, "d 'de' MMM", "en") is None           # quoted text
    assert forms._plain_day_label(day, "G y", "en") is None                   # an era
    assert forms.day_label("2026-11-24", "zh-Hans") == "11月24日 星期二"
    assert forms.day_label("2026-11-24", "en") == "Tue 24 Nov"
