"""Every user-facing message, looked up by a stable key in one catalogue per language.

The catalogues are gettext PO files (the format every translation tool reads)
in ``hallq/locale/<language>/``, one directory per language and, in it, one file
per part of hallq, its gettext *domain*: ``kiosk.po`` (the kiosk), ``errors.po``
(the API's refusals), ``web.po`` (the consoles and the resident's pages)... A key
begins with its part (``kiosk.home.take_number``, ``error.unknown_business``) and is
unique across the parts; a language's catalogue is all its files together.

* ``zh_Hans/``: Simplified Chinese, the source every other catalogue follows;
* ``en/``: English, written by hand;
* ``zh_Hant_HK/`` and ``zh_Hant_TW/``: Traditional Chinese **generated** from
  the Simplified by OpenCC (Hong Kong or Taiwan characters and phrasing) and then
  corrected where a reviewer chose a word (``hallq/locale/review/``); regenerate
  them with ``python -m hallq.i18n.build`` and never edit them by hand.

A hall shows three languages (``zh-Hans``, ``zh-Hant``, ``en``); which Traditional
catalogue ``zh-Hant`` reads is the hall's choice (``[hall] traditional = "hk"`` or
``"tw"``; see :func:`use_traditional`). A fourth language (Uyghur, Tibetan...) is a
new catalogue directory ``hallq/locale/<lang>/`` and the hall's ``languages`` list, not a
change of code.

A text read from the hall's own configuration (a business's name, a guide) is a
dict ``{"zh-Hans": ..., "zh-Hant": ..., "en": ...}``; :func:`pick` chooses from it,
falling back to Simplified Chinese, never to an empty string.

Placeholders use ``str.format`` fields (``{ticket}``); every catalogue must carry
the same fields as the Simplified one (``tests/hallq/test_i18n.py``). A key missing
from a catalogue falls back to Simplified Chinese; with ``HALLQ_I18N_STRICT=1`` (the
test suite) it raises instead, so a missing message fails a test.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

LANGS = ("zh-Hans", "zh-Hant", "en")
DEFAULT_LANG = "zh-Hans"
TRADITIONAL = ("hk", "tw")
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

Texts = dict[str, str]

_lock = threading.Lock()
_traditional = "hk"
_languages: tuple[str, ...] = LANGS


class MissingMessage(KeyError):
    """A key no catalogue holds (raised only in strict mode and for Simplified Chinese)."""


def catalogue_dir(lang: str, traditional: str | None = None) -> Path:
    """The catalogue directory of a display language (``zh-Hant`` reads the hall's Traditional variant)."""
    if lang == "zh-Hant":
        return LOCALE_DIR / f"zh_Hant_{(traditional or _traditional).upper()}"
    return LOCALE_DIR / lang.replace("-", "_")


def catalogue_files(directory: Path) -> list[Path]:
    """The PO files of one language, one per part (domain), in name order."""
    return sorted(directory.glob("*.po"))


def read_po(path: Path) -> dict[str, str]:
    """``{key: text}`` of a PO file (entries with an empty translation are left out)."""
    from babel.messages.pofile import read_po as babel_read_po

    with path.open("rb") as f:
        cat = babel_read_po(f, charset="utf-8")
    return {m.id: m.string for m in cat if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string}


@lru_cache(maxsize=None)
def _load(directory: Path) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in catalogue_files(directory):
        merged.update(read_po(path))
    return merged


def catalogue(lang: str) -> dict[str, str]:
    """Every message of one display language, ``{key: text}`` (all its parts together)."""
    directory = catalogue_dir(lang)
    if not catalogue_files(directory):
        raise MissingMessage(f"no catalogue for language {lang!r} ({directory}/*.po)")
    return _load(directory)


def use_traditional(variant: str) -> None:
    """Choose which Traditional Chinese catalogue ``zh-Hant`` reads: ``"hk"`` or ``"tw"``."""
    global _traditional
    if variant not in TRADITIONAL:
        raise ValueError(f"traditional must be one of {TRADITIONAL}, not {variant!r}")
    with _lock:
        _traditional = variant


def use_languages(languages: tuple[str, ...] | list[str]) -> None:
    """The languages :func:`texts` renders (the hall's; Simplified Chinese always first)."""
    global _languages
    langs = tuple(dict.fromkeys([DEFAULT_LANG, *languages]))
    for lang in langs:
        if not catalogue_files(catalogue_dir(lang)):
            raise ValueError(f"no catalogue for language {lang!r}: add its PO files in {catalogue_dir(lang)}/")
    with _lock:
        _languages = langs


def languages() -> tuple[str, ...]:
    return _languages


def traditional() -> str:
    return _traditional


def strict() -> bool:
    return os.environ.get("HALLQ_I18N_STRICT", "") not in ("", "0")


def text(key: str, lang: str = DEFAULT_LANG, /, **params: Any) -> str:
    """The message ``key`` in ``lang``, its ``{fields}`` filled from ``params``."""
    found = catalogue(lang).get(key) if lang != DEFAULT_LANG else None
    if found is None:
        if lang != DEFAULT_LANG and strict():
            raise MissingMessage(f"{key!r} is missing from the catalogue {catalogue_dir(lang).name}/")
        found = catalogue(DEFAULT_LANG).get(key)
        if found is None:
            raise MissingMessage(f"{key!r} is missing from the catalogue {catalogue_dir(DEFAULT_LANG).name}/")
    return found.format(**params) if params else found


def texts(key: str, /, **params: Any) -> Texts:
    """The message ``key`` in every language the hall shows: ``{"zh-Hans": ..., "zh-Hant": ..., "en": ...}``."""
    return {lang: text(key, lang, **params) for lang in _languages}


def has(key: str) -> bool:
    return key in catalogue(DEFAULT_LANG)


@dataclass(frozen=True)
class Msg:
    """A catalogue message named where it is declared and looked up when shown.

    For texts declared at import time (a form's field labels), so they follow the
    language and the Traditional variant chosen later; :func:`pick` renders one.
    """

    key: str
    params: tuple[tuple[str, Any], ...] = ()

    def __call__(self, lang: str = DEFAULT_LANG) -> str:
        return text(self.key, lang, **dict(self.params))


def pick(texts: Texts | Msg | str | None, lang: str = DEFAULT_LANG) -> str:
    """One language of a configured text, falling back to Simplified Chinese, never to "".

    ``texts`` may also be a :class:`Msg` (a catalogue message) or a plain string.
    """
    if texts is None:
        return ""
    if isinstance(texts, Msg):
        return texts(lang)
    if isinstance(texts, str):
        return texts
    return texts.get(lang) or texts.get(DEFAULT_LANG) or next(iter(texts.values()), "")
