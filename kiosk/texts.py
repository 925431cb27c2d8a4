"""Every sentence the kiosk shows or says: the ``kiosk.*`` messages of hallq's catalogues.

The words themselves live in ``hallq/locale/`` (Simplified Chinese, English, and
Traditional Chinese generated from the Simplified; see :mod:`hallq.i18n`): plain
words a first-time user understands; each error says what to do next. Messages
from the server come with their own languages (hallq's one error shape) and are
shown as they are.
"""

from __future__ import annotations

from hallq import i18n
from hallq.waits import shown

PREFIX = "kiosk."


def tr(key: str, lang: str, **fmt) -> str:
    """The text ``key`` in ``lang``, formatted; an unknown key is a bug and raises KeyError."""
    return i18n.text(PREFIX + key, lang, **fmt)


def texts(key: str, **fmt) -> dict[str, str]:
    """The text ``key`` in every language of the hall (for receipts printed in the resident's language)."""
    return i18n.texts(PREFIX + key, **fmt)


def keys() -> list[str]:
    return [k[len(PREFIX):] for k in i18n.catalogue(i18n.DEFAULT_LANG) if k.startswith(PREFIX)]


def wait_words(say, point: str, wide: str, t: dict) -> str | None:
    """A ticket's or queue's estimated wait in words: ``point`` ({m}) or, where unsure, ``wide`` ({lo}, {hi}).

    ``say(key, **fmt)`` is the caller's lookup (a flow's ``t`` or ``tr`` with a
    language); :func:`hallq.waits.shown` decides, as on every other screen.
    """
    w = shown(t.get("est_wait_minutes"), t.get("est_wait_range"))
    if w is None:
        return None
    return say(point, m=w[0]) if w[0] == w[1] else say(wide, lo=w[0], hi=w[1])


def promised_words(say, a: dict) -> str:
    """An application's time limit: "承诺 2026-12-09 前办结", or "即办（当场办结）" when the promise is the day it was
    accepted (a same-day item; a date would read as a deadline days away); "" without a promise."""
    by = a.get("promised_by") or ""
    if not by:
        return ""
    since = (a.get("accepted_at") or a.get("submitted_at") or "")[:10]
    if since and by[:10] <= since:
        return say("guide.immediate")
    return say("apply.promised", date=by)


def promise_words(say, t: dict) -> str | None:
    """A green-channel or appointment ticket's promise ("目标 10 分钟内" / "目标 10:40 前"); None for others."""
    promise, klass = t.get("promise") or {}, t.get("class")
    if klass not in ("green", "appointment"):
        return None
    by = (promise.get("by") or "")[11:16]
    return say(f"take.class.{klass}", m=promise.get("within_minutes", ""), by=by)
