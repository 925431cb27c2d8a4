"""The search index of the service items (事项检索): built here, queried by queue_server/readmodel/search.py.

``item_search`` (migration 018, SQLite FTS5) holds, for every item, its names, keywords, department and
guide text with one Chinese character per token, and the pinyin of its Chinese name and keywords as
initials and full pinyin, every suffix from a character on (hallq/pinyin.py gives the readings). It is
rebuilt whole, in the transaction that changed the items: when the hall config is applied
(queue_server/hallsync.py) and when an items CSV is imported (catalogue.import_items). 2,000 items take
about half a second.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from hallq.pinyin import HAN, HAN_RUN, Readings, readings

VERSION = "1"  # meta search_index: a release that indexes differently raises it, and the next start rebuilds
META_KEY = "search_index"


def spaced(text: str) -> str:
    """``text`` with every Chinese character a token of its own: 养老保险 → "养 老 保 险"."""
    return HAN.sub(lambda m: f" {m.group()} ", text)


def spellings(texts: Iterable[str], book: Readings) -> tuple[str, str]:
    """The initials and the full pinyin of every run of Chinese in ``texts``, each suffix a token.

    社会保险 → ("shbx hbx bx x", "shehuibaoxian huibaoxian baoxian xian"). A character the data does not
    know (a rare one) ends the run there, so the letters never skip it.
    """
    initials: list[str] = []
    full: list[str] = []
    for text in texts:
        for run in HAN_RUN.findall(text):
            syllables = book.syllables(run)
            parts: list[list[str]] = [[]]
            for s in syllables:
                if s is None:
                    parts.append([])
                else:
                    parts[-1].append(s)
            for part in parts:
                for i in range(len(part)):
                    initials.append("".join(s[0] for s in part[i:]))
                    full.append("".join(part[i:]))
    return " ".join(initials), " ".join(full)


def _guide_text(guide: dict[str, Any]) -> str:
    parts: list[str] = [str(guide.get(k) or "") for k in ("category", "recipients", "fee", "online")]
    parts += [str(c) for c in guide.get("conditions") or []]
    for m in guide.get("materials") or []:
        if isinstance(m, dict):
            parts += [str(m.get("name") or ""), str(m.get("note") or "")]
    parts += [str(b) for b in guide.get("basis") or []]
    return "\n".join(p for p in parts if p)


def rebuild(conn: sqlite3.Connection, set_meta) -> int:
    """Index every item again (inside the caller's transaction); the number of items indexed."""
    rows = conn.execute("SELECT rowid, code, name, guide FROM items").fetchall()
    items = [(r[0], r[1], json.loads(r[2]), json.loads(r[3])) for r in rows]

    def chinese(name: dict[str, str], guide: dict[str, Any]) -> list[str]:
        return [name.get("zh-Hans") or name.get("zh-Hant") or "", *(str(k) for k in guide.get("keywords") or [])]

    book = readings(t for _, _, name, guide in items for t in chinese(name, guide))
    conn.execute("DELETE FROM item_search")
    out = []
    for rowid, code, name, guide in items:
        initials, full = spellings(chinese(name, guide), book)
        out.append((rowid, code, spaced(" ".join(str(v) for v in name.values())),
                    spaced(" ".join(str(k) for k in guide.get("keywords") or [])), initials, full,
                    spaced(str(guide.get("department") or "")), spaced(_guide_text(guide))))
    conn.executemany("INSERT INTO item_search (rowid, code, name, keywords, initials, pinyin, department, guide) "
                     "VALUES (?,?,?,?,?,?,?,?)", out)
    set_meta(META_KEY, VERSION)
    return len(out)
