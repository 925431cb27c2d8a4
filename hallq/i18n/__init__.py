"""The three languages of every resident-facing text.

Simplified Chinese first, then Traditional Chinese and English. A text is a
dict ``{"zh-Hans": ..., "zh-Hant": ..., "en": ...}``; :func:`pick` falls back to
Simplified Chinese when a translation is missing, never to an empty string.
"""

from __future__ import annotations

LANGS = ("zh-Hans", "zh-Hant", "en")
DEFAULT_LANG = "zh-Hans"

Texts = dict[str, str]


def pick(texts: Texts | str | None, lang: str = DEFAULT_LANG) -> str:
    if texts is None:
        return ""
    if isinstance(texts, str):
        return texts
    return texts.get(lang) or texts.get(DEFAULT_LANG) or next(iter(texts.values()), "")


def t3(zh: str, hant: str, en: str) -> Texts:
    """Shorthand for a text in the three languages."""
    return {"zh-Hans": zh, "zh-Hant": hant, "en": en}
