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
from queue_server.domain.search import business_token

MAX_QUERY = 50   # characters: longer is not a search anybody types (400)
MAX_TERMS = 8
_WORDS = re.compile(r"[^\W_]+")  # letters and digits, Chinese among them
_HAN_SPLIT = re.compile(f"({HAN.pattern}+)")
# bm25 weights by column: name, keywords, initials, pinyin, department, guide, business
_WEIGHTS = "10.0, 8.0, 6.0, 6.0, 3.0, 1.0, 0"
_NAMED = "1, 1, 1, 1, 0, 0, 0"  # < 0 when a term matched the name, keywords or their pinyin


def terms(q: str) -> list[str]:
    """The terms of a query, normalised (full-width to half-width, lower case), at most MAX_TERMS."""
    out = []
    for word in _WORDS.findall(unicodedata.normalize("NFKC", q).lower()):
        out += [t for t in _HAN_SPLIT.split(word) if t]  # 社保ka → 社保, ka
    return out[:MAX_TERMS]


def fts_query(words: list[str], business: str | None = None) -> str:
    """The FTS5 query for ``words`` (from :func:`terms`): every part quoted, nothing read as syntax.

    The terms are looked for in every column but the business's, which ``business`` filters on."""
    parts = []
    for w in words:
        if HAN.match(w):
            parts.append(" + ".join(f'"{c}"' for c in w))  # a phrase: the characters next to each other
        else:
            parts.append(f'"{w.replace(chr(34), "")}" *')
    query = "{name keywords initials pinyin department guide} : (" + " AND ".join(parts) + ")"
    return f"{query} AND business : {business_token(business)}" if business else query


def search_items(st: Any, q: str, business: str | None, limit: int) -> list[dict[str, Any]]:
    """Active items matching ``q`` (of one business if given), best first; 404 for an unknown business."""
    conn = st.db.connection()
    if business and not conn.execute("SELECT 1 FROM businesses WHERE code = ? AND active", (business,)).fetchone():
        raise unknown_business(business)
    words = terms(q)
    if not words:
        return []  # punctuation only: nothing to look for
    # ranked on the index alone (contentless: no row is read), then the few rows of items: sorting the
    # items' guides along with every match made a common word (身份证) five times slower. Among equals,
    # the catalogue's order (items are inserted in it, so their rowids follow it).
    sql = (f"SELECT i.code, i.business, i.name, i.guide FROM (SELECT rowid AS id, "
           f"bm25(item_search, {_NAMED}) < 0 AS named, bm25(item_search, {_WEIGHTS}) AS score "
           f"FROM item_search WHERE item_search MATCH ? "
           f"ORDER BY named DESC, score, rowid LIMIT ?) r JOIN items i ON i.rowid = r.id AND i.active "
           f"ORDER BY r.named DESC, r.score, r.id")
    return [{"code": r["code"], "business": r["business"], "name": json.loads(r["name"]),
             "guide": json.loads(r["guide"])} for r in conn.execute(sql, (fts_query(words, business), limit))]
