"""Finding a service item (事项检索): ``GET /api/v1/items?q=``, over the index queue_server/domain/search.py builds.

What a resident or a clerk types is cut into terms; every term must match (AND):

* a run of Chinese characters is a phrase of characters (社保 → ``"社" "保"`` next to each other) in the
  name, keywords, department or guide (conditions, materials...);
* a run of letters or digits is a prefix: of a word of a name (``pension``), of the initials of the
  Chinese name or keywords from any character on (``yl`` 养老, ``sb`` 社保), or of their full pinyin
  (``yanglao``, ``yangl`` while typing).

Nothing the user types reaches FTS5 as syntax: every term is quoted, so ``"``, ``*``, ``NEAR(`` or
``OR`` are text (and punctuation only separates terms). Ranked: items whose name, keywords or pinyin
match first, then by bm25 with the name weighing most, then the catalogue's order.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from hallq.pinyin import HAN
from queue_server.domain.errors import unknown_business

MAX_QUERY = 50   # characters: longer is not a search anybody types (400)
MAX_TERMS = 8
_WORDS = re.compile(r"[^\W_]+")  # letters and digits, Chinese among them
_HAN_SPLIT = re.compile(f"({HAN.pattern}+)")
# bm25 weights by column: code, name, keywords, initials, pinyin, department, guide
_WEIGHTS = "0, 10.0, 8.0, 6.0, 6.0, 3.0, 1.0"
_NAMED = "0, 1, 1, 1, 1, 0, 0"  # < 0 when a term matched the name, keywords or their pinyin


def terms(q: str) -> list[str]:
    """The terms of a query, normalised (full-width to half-width, lower case), at most MAX_TERMS."""
    out = []
    for word in _WORDS.findall(unicodedata.normalize("NFKC", q).lower()):
        out += [t for t in _HAN_SPLIT.split(word) if t]  # 社保ka → 社保, ka
    return out[:MAX_TERMS]


def fts_query(words: list[str]) -> str:
    """The FTS5 query for ``words`` (from :func:`terms`): every part quoted, nothing read as syntax."""
    parts = []
    for w in words:
        if HAN.match(w):
            parts.append(" + ".join(f'"{c}"' for c in w))  # a phrase: the characters next to each other
        else:
            parts.append(f'"{w.replace(chr(34), "")}" *')
    return " AND ".join(parts)


def search_items(st, q: str, business: str | None, limit: int) -> list[dict[str, Any]]:
    """Active items matching ``q`` (of one business if given), best first; 404 for an unknown business."""
    conn = st.db.connection()
    if business and not conn.execute("SELECT 1 FROM businesses WHERE code = ? AND active", (business,)).fetchone():
        raise unknown_business(business)
    words = terms(q)
    if not words:
        return []  # punctuation only: nothing to look for
    sql = (f"SELECT i.code, i.business, i.name, i.guide FROM item_search s JOIN items i ON i.rowid = s.rowid "
           f"WHERE item_search MATCH ? AND i.active {'AND i.business = ? ' if business else ''}"
           f"ORDER BY bm25(item_search, {_NAMED}) < 0 DESC, bm25(item_search, {_WEIGHTS}), i.position LIMIT ?")
    params: tuple = (fts_query(words), business, limit) if business else (fts_query(words), limit)
    return [{"code": r["code"], "business": r["business"], "name": json.loads(r["name"]),
             "guide": json.loads(r["guide"])} for r in conn.execute(sql, params)]
