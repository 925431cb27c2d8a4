"""030: the notices stored before their texts were cleaned are cleaned now, as a notice is saved since
(queue_server/domain/notices.py ``shown_text``): one line, any ID or mobile number masked. Until now a notice such
as "请身份证号520201198506151232的张三到服务台" went out whole on every board, the ``notices`` topic and
``GET /notices``. Run once, in the migrations' transaction; a text already clean is left as it is.
"""

from __future__ import annotations

import json
import sqlite3


def upgrade(conn: sqlite3.Connection, secret: bytes | None) -> None:
    rows = conn.execute("SELECT id, text FROM notices").fetchall()
    if not rows:
        return  # a fresh database: nothing more is loaded into the process that migrates it (issue 16's memory)
    from queue_server.domain.notices import shown_text

    for notice_id, text in rows:
        try:
            before = json.loads(text)
        except ValueError:
            continue
        if not isinstance(before, dict):
            continue
        after = shown_text({k: v for k, v in before.items() if isinstance(v, str)})
        if after != before:
            conn.execute("UPDATE notices SET text = ? WHERE id = ?", (json.dumps(after, ensure_ascii=False), notice_id))
