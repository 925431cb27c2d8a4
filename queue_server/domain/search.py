"""The search index of the service items (事项检索): built here, queried by queue_server/readmodel/search.py.

``item_search`` (migration 018, SQLite FTS5) holds, for every item, its names, keywords, department and
guide text with one Chinese character per token, and the pinyin of its Chinese name and keywords as
initials and full pinyin, every suffix from a character on (hallq/pinyin.py gives the readings). It is
rebuilt whole, in the transaction that changed the items: when the hall config is applied
(queue_server/hallsync.py) and when an items CSV is imported (catalogue.import_items). The table is a
derived index: it is dropped and created again from the migration's own definition, so a release that
indexes differently only raises :data:`VERSION` (the next start rebuilds). Only active items are in it.
2,000 items are indexed in under a second (bench/bench_search.py reports it).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from hallq.pinyin import HAN_RUN, MissingData, Readings, readings
from queue_server.migrations import SCHEMA_DIR, split_statements

log = logging.getLogger("hallq.search")

VERSION = "2"  # meta search_index: a release that indexes differently raises it, and the next start rebuilds
# (2: contentless, with the business column; a database that indexed with the first definition rebuilds)
META_KEY = "search_index"
MIGRATION = SCHEMA_DIR / "018_item_search.sql"


def table_sql() -> str:
    """The ``CREATE VIRTUAL TABLE item_search`` of the migration: one definition for both."""
    return next(s for s in split_statements(MIGRATION.read_text(encoding="utf-8"))
                if s.lstrip().startswith("CREATE VIRTUAL TABLE item_search"))


def spaced(text: str) -> str:
    """``text`` with every Chinese character a token of its own: 养老保险 → "养 老 保 险"."""
    return HAN_RUN.sub(lambda m: f" {' '.join(m.group())} ", text)


def business_token(code: str) -> str:
    """The business column's one token for ``code``: letters and digits only, so a match is exact."""
    return "b" + code.encode().hex()


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


def rebuild(conn: sqlite3.Connection, set_meta: Callable[[str, str], None]) -> int:
    """Index every item again (inside the caller's transaction); the number of items indexed."""
    rows = conn.execute("SELECT rowid, business, name, guide FROM items WHERE active").fetchall()
    items = [(r[0], r[1], json.loads(r[2]), json.loads(r[3])) for r in rows]

    def chinese(name: dict[str, str], guide: dict[str, Any]) -> list[str]:
        return [name.get("zh-Hans") or name.get("zh-Hant") or "", *(str(k) for k in guide.get("keywords") or [])]

    try:
        book = readings(t for *_, name, guide in items for t in chinese(name, guide))
    except MissingData as e:  # a damaged install: the items are still found by their words
        log.error("%s; until then items are found by their words only, not by pinyin", e)
        book = Readings({}, {})
    conn.execute("DROP TABLE IF EXISTS item_search")  # faster than deleting every row, and the definition is ours
    conn.execute(table_sql())
    out = []
    for rowid, business, name, guide in items:
        initials, full = spellings(chinese(name, guide), book)
        out.append((rowid, spaced(" ".join(str(v) for v in name.values())),
                    spaced(" ".join(str(k) for k in guide.get("keywords") or [])), initials, full,
                    spaced(str(guide.get("department") or "")), spaced(_guide_text(guide)), business_token(business)))
    conn.executemany("INSERT INTO item_search (rowid, name, keywords, initials, pinyin, department, guide, business) "
                     "VALUES (?,?,?,?,?,?,?,?)", out)
    set_meta(META_KEY, VERSION)
    return len(out)
