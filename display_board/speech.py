"""What the announcer says: the words of a call, by the domain rules.

"请 A 零零一 号到 十二 号窗口办理": the ticket number is read digit by digit
(A 零零一), the window number as a number (十二号窗口, 一百零五号窗口); a
recall says so (请 A 零零一 号再次到…). The words are written out in Chinese
characters before synthesis, so the reading does not depend on how a voice
happens to read digits (the readings are hallq.reading's, shared with the kiosk's
读给我听). English reads the ticket as written ("A001": espeak
spells it "A zero zero one") and the window as a number ("window 12").
"""

from __future__ import annotations

from typing import Any

from hallq.i18n import pick
from hallq.reading import DIGITS, ticket_words, zh_digits, zh_number
from display_board.settings import Language

__all__ = ["DIGITS", "call_text", "merged_text", "ticket_words", "window_words", "zh_digits", "zh_number"]


def window_words(window: int, numbers: str) -> str:
    return str(window) if numbers == "en" else zh_number(window)


def _fields(call: dict[str, Any], language: Language) -> dict[str, str]:
    return {
        "ticket": ticket_words(call["ticket"], language.numbers),
        "window": window_words(call["window"], language.numbers),
        "business": pick(call.get("business_name"), language.names),
        "window_name": pick(call.get("window_name"), language.names),
    }


def call_text(call: dict[str, Any], language: Language) -> str:
    """The sentence for one call in ``language`` (its template for the call's kind)."""
    template = language.templates.get(call.get("kind", "call")) or language.templates["call"]
    return template.format(**_fields(call, language))


def merged_text(calls: list[dict[str, Any]], language: Language) -> str:
    """One sentence for calls that waited too long: 请 A 零零一 号到 三 号窗口，B 零零二 号到 五 号窗口 办理."""
    items = [language.templates["merged_item"].format(**_fields(c, language)) for c in calls]
    return language.templates["merged"].format(items=language.templates["separator"].join(items),
                                               ticket="", window="", business="", window_name="")
