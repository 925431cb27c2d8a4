"""What the guide pages and the guides' API read: the items with their guides and versions, the catalogue as TOML."""

from __future__ import annotations

from typing import Any

from queue_server.domain import guides
from queue_server.domain.errors import unknown_item


def index(st) -> list[dict[str, Any]]:
    """Every active item as its [[items]] entry, with its current version (None: never edited)."""
    with st.db.read() as conn:
        rows = conn.execute("SELECT i.*, (SELECT MAX(version) FROM item_versions v WHERE v.code = i.code) AS version "
                            "FROM items i WHERE i.active ORDER BY i.position, i.code").fetchall()
    return [{**guides.as_entry(r), "version": r["version"]} for r in rows]


def item(st, code: str) -> tuple[dict[str, Any], bool, list[dict[str, Any]]]:
    """An item, active or not, as its [[items]] entry; whether it is active; its versions, newest first."""
    with st.db.read() as conn:
        row = conn.execute("SELECT * FROM items WHERE code = ?", (code,)).fetchone()
        if row is None:
            raise unknown_item(code)
        return guides.as_entry(row), bool(row["active"]), guides.versions(conn, code)


def versions(st, code: str) -> list[dict[str, Any]]:
    return item(st, code)[2]


def catalogue_toml(st) -> str:
    with st.db.read() as conn:
        return guides.export_toml(conn, st.hall.config.site)
