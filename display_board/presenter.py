"""Turning the board's model into the words on the screen. Kivy-free.

:func:`present` builds a :class:`BoardView`: every text the screen shows, in
the board's languages (first language large, second small), already
formatted and cut to size. The Kivy layer only copies these strings into
widgets, so what a resident reads is decided, and tested, here.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from display_board.model import MAX_NOTICE_CHARS, BoardModel, Call
from hallq import i18n
from hallq.i18n import pick
from hallq.privacy import strip_controls
from hallq.waits import shown

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_TILES = 12  # queue tiles on one page: two rows of six; more businesses are shown page by page


def ui(key: str, lang: str, **kw) -> str:
    """A board text from the catalogue (``hallq/locale/*/board.po``, keys ``board.*``)."""
    return i18n.text(f"board.{key}", lang, **kw)


@dataclass(frozen=True)
class CallLine:
    ticket: str
    window: str  # "3号窗口"
    window_2: str  # second language, "" when the board has one
    business: str
    mark: str  # "重呼" / "回呼" / "转自工程建设项目" / ""
    seq: int


@dataclass(frozen=True)
class QueueTile:
    business: str
    name: str
    name_2: str
    waiting: str
    wait: str
    busy: bool  # more than a few waiting: the tile is highlighted


@dataclass(frozen=True)
class Notice:
    text: str
    level: str


@dataclass(frozen=True)
class BoardView:
    hall_name: str
    hall_name_2: str
    date_text: str
    time_text: str
    newest: CallLine | None
    prompt: str  # "请到 3 号窗口"
    prompt_parts: tuple[str, str, str]  # ("请到 ", "3", " 号窗口"): the window number is drawn emphasised
    prompt_2: str
    newest_detail: str  # business · area
    placeholder: str  # shown instead of a newest call
    flashing: bool
    recent: list[CallLine] = field(default_factory=list)
    queues: list[QueueTile] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    banner: str = ""
    banner_2: str = ""
    stale: bool = False
    closed_badge: str = ""
    recent_title: str = ""
    queues_title: str = ""
    by_window: bool = False  # a station's one to three windows: each window's number instead of the recent calls


def by_window(settings) -> bool:
    """A station's board (``panel = "windows"``) shows each window's current number in place of the recent calls:
    with one or two windows the recent calls are few, and a list of them left most of the board empty."""
    return settings.panel == "windows"


def panel_windows(settings) -> list[int]:
    """The windows a ``panel = "windows"`` board lists, one row each (load_boards allows at most six)."""
    return sorted(n for n, w in settings.hall.windows.items() if settings.shows_window(n, w.area))


def _window_lines(model: BoardModel, lang: str) -> list[CallLine]:
    """One line per window: the number it is calling or serving, or what it is doing ("空闲", "暂停", "未开放")."""
    lines = []
    for number in panel_windows(model.settings):
        now = model.windows.get(number) or {}
        state = now.get("state", "closed")
        current = _flat(now.get("current") or "")
        status = "" if current else ui(f"window_{state if state in ('paused', 'closed') else 'idle'}", lang)
        lines.append(CallLine(ticket=current or "—", window=ui("window", lang, window=number), window_2="",
                              business=status, mark="",
                              seq=-number))
    return lines


def _line(c: Call, lang: str, lang2: str | None, settings) -> CallLine:
    mark = ui("recall", lang) if c.kind == "recall" else ui("call_back", lang) if c.kind == "call_back" else ""
    origin = _moved_from(c, settings)
    if not mark and origin is not None:    # "B003 … 商事登记" alone would look like a mistake: say it was moved
        mark = ui("transferred", lang, business=clip(pick(origin.name, lang), 12))
    return CallLine(ticket=c.ticket, window=ui("window", lang, window=c.window),
                    window_2=ui("window", lang2, window=c.window) if lang2 else "",
                    business=clip(pick(c.business_name or _hall_name(settings, c.business), lang), 16), mark=mark,
                    seq=c.seq)


def _moved_from(c: Call, settings):
    """The business a transferred ticket was taken for, when it is called for another: its letters are the prefix of
    the business it was issued to (a transfer keeps the number; the call says the business it is now in)."""
    letters = "".join(ch for ch in c.ticket if ch.isalpha())
    origin = settings.hall.business_by_prefix(letters)
    return origin if origin is not None and origin.code != c.business else None


def _clock(now: datetime, lang: str) -> tuple[str, str]:
    wd = ui(f"weekday.{WEEKDAYS[now.weekday()]}", lang)
    return ui("clock.date", lang, at=now, weekday=wd), now.strftime("%H:%M")


def _wait_text(q: dict, lang: str) -> str:
    if q.get("waiting", 0) == 0:
        return ui("no_wait", lang)
    w = shown(q.get("est_wait_minutes"), q.get("est_wait_range"))
    if w is None:
        return ui("no_window", lang)
    if w[1] == 0:
        return ui("est_soon", lang)
    return ui("est", lang, m=w[0]) if w[0] == w[1] else ui("est_range", lang, lo=w[0], hi=w[1])


def present(model: BoardModel, now: datetime) -> BoardView:
    """Everything the board shows at ``now`` (hall time), from ``model``."""
    s = model.settings
    lang = s.languages[0]
    lang2 = s.languages[1] if len(s.languages) > 1 else None
    date_text, time_text = _clock(now, lang)

    newest = model.newest
    if newest is not None:
        line = _line(newest, lang, lang2, s)
        prompt = ui("please_go", lang, window=newest.window)
        before, _, after = i18n.text("board.please_go", lang).partition("{window}")
        parts = (before, str(newest.window), after)
        prompt_2 = ui("please_go", lang2, window=newest.window) if lang2 else ""
        detail = clip(" · ".join(x for x in (line.business, newest.area) if x), 44)
        placeholder = ""
    else:
        line, prompt, prompt_2, detail, parts = None, "", "", "", ("", "", "")
        placeholder = ui("no_calls", lang) if model.have_snapshot else ui("loading", lang)

    shown = s.shown_businesses()
    order = list(s.hall.businesses)
    queues = sorted((q for code, q in model.queues.items() if shown is None or code in shown),
                    key=lambda q: order.index(q["business"]) if q["business"] in order else len(order))
    tiles = [QueueTile(business=q["business"], name=clip(pick(q.get("name") or _hall_name(s, q["business"]), lang), 20),
                       name_2=clip(pick(q.get("name") or _hall_name(s, q["business"]), lang2), 40) if lang2 else "",
                       waiting=ui("waiting", lang, n=q.get("waiting", 0)), wait=_wait_text(q, lang),
                       busy=q.get("waiting", 0) >= 10) for q in queues]

    notices = [Notice(text=_one_line(pick(n.get("text"), lang)), level=n.get("level", "info"))
               for n in model.notices if not _ended(n.get("until"), now)]
    notices = [n for n in notices if n.text] or _standing_notices(s, lang, lang2)

    banner_key = ("lost_broker" if not model.broker_connected
                  else {"offline": "server_offline", "stopped": "server_stopped"}.get(model.server_state or ""))
    banner = ui(banner_key, lang) if banner_key else ""
    banner_2 = ui(banner_key, lang2) if banner_key and lang2 else ""
    stale = bool(banner) and model.have_snapshot
    if stale:
        banner_2 = f"{ui('may_be_old', lang)} · {banner_2}" if banner_2 else ui("may_be_old", lang)

    small = by_window(s)
    title = "windows_now" if small else "recent"
    closed = ""
    if model.serving is False:
        closed = ui("closed", lang) + (f" · {ui('closed', lang2)}" if lang2 else "")

    return BoardView(
        hall_name=clip(pick(model.hall_name, lang), 40), hall_name_2=clip(pick(model.hall_name, lang2), 90) if lang2 else "",
        date_text=date_text, time_text=time_text, newest=line, prompt=prompt, prompt_parts=parts, prompt_2=prompt_2,
        newest_detail=detail, placeholder=placeholder, flashing=model.flashing() and not stale,
        recent=_window_lines(model, lang) if small else [_line(c, lang, lang2, s) for c in model.recent[1:]],
        queues=tiles, notices=notices, by_window=small,
        banner=banner, banner_2=banner_2, stale=stale, closed_badge=closed,
        recent_title=ui(title, lang) + (f"  {ui(title, lang2)}" if lang2 else ""),
        queues_title=ui("queues", lang) + (f"  {ui('queues', lang2)}" if lang2 else ""),
    )


def _ended(until, now: datetime) -> bool:
    """Whether a notice's end has passed by the board's clock (the one it shows). The server drops an ended notice
    from its snapshot, but while it is offline nothing would take the notice down."""
    if not until:
        return False
    try:
        return datetime.fromisoformat(until) <= now
    except (TypeError, ValueError):
        return False


def tiles_per_page(count: int, most: int = MAX_TILES) -> int:
    """How many queue tiles a page holds: every business when they fit in ``most``, else the businesses spread evenly
    over the fewest pages (20 businesses: two pages of 10, not 12 and 8)."""
    pages = max(1, -(-count // most))
    return max(1, -(-count // pages))


def tile_page(tiles: list[QueueTile], per_page: int, turn: int) -> tuple[list[QueueTile], str]:
    """The queue tiles shown at page turn ``turn`` and the page's "1/2"; all of them and "" when they fit one page."""
    per_page = max(1, per_page)
    pages = -(-len(tiles) // per_page)
    if pages <= 1:
        return list(tiles), ""
    index = turn % pages
    return tiles[index * per_page:(index + 1) * per_page], f"{index + 1}/{pages}"


def _standing_notices(settings, lang: str, lang2: str | None) -> list[Notice]:
    """What the ticker says when the hall has no notices, one short page each: hours and phone, the
    missed-number rule, in each of the board's languages. Short pages stand still (no redrawing)."""
    hall = settings.hall
    pages = []
    for lg in filter(None, (lang, lang2)):
        first = ui("hours", lg, hours=" ".join(str(p) for p in hall.hours.workdays))
        if hall.phone:
            first += " · " + ui("phone", lg, phone=hall.phone)
        pages.append(Notice(text=_one_line(first), level="info"))
        if hall.queue.no_show_grace_minutes and hall.queue.max_requeues:
            pages.append(Notice(text=ui("grace", lg, m=hall.queue.no_show_grace_minutes), level="info"))
    return pages


BREAKS = "，。；、！？,.;!? "


def split_to_fit(text: str, fits) -> list[str]:
    """Cut ``text`` into pages that each ``fits(page)``, preferring to cut after punctuation.

    For notices too long for the ticker on a board that should not scroll (software GL): each
    page then stands still in turn. ``fits`` measures a candidate page (in pixels, by the caller).
    """
    pages, rest = [], text.strip()
    while rest:
        if fits(rest):
            pages.append(rest)
            break
        lo, hi = 1, len(rest)  # the longest prefix that fits (at least one character)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits(rest[:mid]) else (lo, mid - 1)
        cut = lo
        soft = max(rest.rfind(c, 0, cut) for c in BREAKS)
        if soft >= cut // 2:
            cut = soft + 1
        pages.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    return [p for p in pages if p]


def _hall_name(settings, code: str) -> dict:
    b = settings.hall.businesses.get(code)
    return dict(b.name) if b else {"zh-Hans": code}


def clip(text: str, units: int) -> str:
    """Cut ``text`` to ``units`` half-width columns (a Chinese character is two), ending in "…".

    Labels draw only as wide as their text, so the presenter keeps each text inside its box. The text is made one
    line first (a name from hall.toml or a payload with a newline or a NUL in it drew over its neighbours or was cut).
    """
    text = _flat(text)
    width = 0
    for i, ch in enumerate(text):
        width += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if width > units:
            return text[:max(i - 1, 0)] + "…"
    return text


def _flat(text: str) -> str:
    """One line: control characters out (a NUL ends a Kivy label's text there), whitespace runs one space."""
    return " ".join(strip_controls(text or "").split())


def _one_line(text: str) -> str:
    text = _flat(text)
    return text if len(text) <= MAX_NOTICE_CHARS else text[:MAX_NOTICE_CHARS - 1] + "…"
