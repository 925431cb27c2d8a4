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
import re
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
    """``{key: text}`` of a PO file (entries with an empty translation are left out).

    The catalogues use only ``msgid``/``msgstr`` pairs and comments: those are read here, without Babel
    (1.3 MB a process keeps once imported); a file with more of the format (contexts, plurals, obsolete
    entries) is read by Babel. Both read the same (tests/hallq/test_i18n_parts.py).
    """
    simple = _read_simple_po(path.read_text(encoding="utf-8"))
    if simple is not None:
        return simple
    from babel.messages.pofile import read_po as babel_read_po

    with path.open("rb") as f:
        cat = babel_read_po(f, charset="utf-8")
    return {m.id: m.string for m in cat if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string}


_ESCAPE = re.compile(r'\\([\\abfnrtv"])')
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape(quoted: str) -> str | None:
    """The text of one quoted PO string, as Babel unescapes it; None if it is not one."""
    if len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
        return None
    inner = quoted[1:-1]
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), inner) if "\\" in inner else inner


def _read_simple_po(source: str) -> dict[str, str] | None:
    """``{msgid: msgstr}`` of a PO file made only of msgid/msgstr pairs and comments; None if it has more."""
    found: dict[str, str] = {}
    msgid: list[str] | None = None
    msgstr: list[str] | None = None
    current: list[str] | None = None

    def finish() -> None:
        if msgid is not None and msgstr is not None and "".join(msgid):
            found["".join(msgid)] = "".join(msgstr)

    for raw in source.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#~") or line.startswith("#|"):  # obsolete entries, previous ids: Babel's
                return None
            continue
        keyword, _, rest = line.partition(" ")
        if keyword == "msgid":
            finish()
            msgid, msgstr = [], None
            current = msgid
        elif keyword == "msgstr" and msgid is not None and msgstr is None:
            msgstr = []
            current = msgstr
        elif line.startswith('"') and current is not None:
            rest = line
        else:  # msgctxt, msgid_plural, msgstr[n], or something unexpected
            return None
        piece = _unescape(rest.strip())
        if piece is None or current is None:
            return None
        current.append(piece)
    finish()
    return {k: v for k, v in found.items() if v}


@lru_cache(maxsize=None)
def _load(directory: Path) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in catalogue_files(directory):
        merged.update(read_po(path))
    return merged


def _part_file(directory: Path, key: str) -> Path | None:
    """The file of ``key``'s part (``kiosk.home.take_number``: ``kiosk.po``; ``error.x``: ``errors.po``), if any."""
    part = key.partition(".")[0]
    for name in (f"{part}.po", f"{part}s.po"):
        if (directory / name).is_file():
            return directory / name
    return None


@lru_cache(maxsize=None)
def _load_part(path: Path) -> dict[str, str]:
    return read_po(path)


def _lookup(lang: str, key: str) -> str | None:
    """``catalogue(lang).get(key)``, reading only the key's part while the whole catalogue is not needed.

    The keys are unique across the parts, so the part's text is the catalogue's: a process that speaks one part
    (the announcer, the gateway) does not keep every part's messages (docs/deployment.md, "The small
    processes' memory"). A key its part's file does not hold is looked up in the whole catalogue, as before.
    """
    directory = catalogue_dir(lang)
    if directory not in _loaded_dirs:
        path = _part_file(directory, key)
        if path is not None:
            found = _load_part(path).get(key)
            if found is not None:
                return found
    return catalogue(lang).get(key)


_loaded_dirs: set[Path] = set()  # the directories whose whole catalogue is read: look there, not in a part


def catalogue(lang: str) -> dict[str, str]:
    """Every message of one display language, ``{key: text}`` (all its parts together)."""
    directory = catalogue_dir(lang)
    if not catalogue_files(directory):
        raise MissingMessage(f"no catalogue for language {lang!r} ({directory}/*.po)")
    merged = _load(directory)
    _loaded_dirs.add(directory)
    return merged


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
    found = _lookup(lang, key) if lang != DEFAULT_LANG else None
    if found is None:
        if lang != DEFAULT_LANG and strict():
            raise MissingMessage(f"{key!r} is missing from the catalogue {catalogue_dir(lang).name}/")
        found = _lookup(DEFAULT_LANG, key)
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
