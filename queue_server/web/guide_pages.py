"""The manager's guide pages (办事指南维护): every item with its guide, one item's guide to edit, the catalogue
exported and imported as services.toml (a dry run first). Managers and administrators only.

The pages show what they hold at once; their script (static/console/guides.js) sends the edit to
``PUT /api/v1/items/<code>/guide`` and shows every refused field beside it (queue_server/domain/guides.py).
"""

from __future__ import annotations

from flask import Blueprint

from hallq.config_schema import FORM_FIELD_TYPES
from queue_server.domain import guides
from queue_server.domain.errors import unknown_item
from queue_server.web.pages import install_page_headers, page, render, state

bp = Blueprint("guide_pages", __name__)
install_page_headers(bp)

MATERIAL_FORMS = ("原件", "复印件", "原件及复印件", "电子件")  # as in services.toml (hallq/config_schema.py MATERIAL)
ONLINE = ("全程网办", "网上预审", "窗口办理")
FIELD_TYPES = FORM_FIELD_TYPES


def _businesses() -> list[dict]:
    return [{"code": c, "name": b["name"], "prefix": b["prefix"]} for c, b in state().service.businesses().items()
            if b["active"]]


@bp.get("/manager/guides")
@page("manager")
def index(actor):
    with state().db.read() as conn:
        rows = conn.execute("SELECT i.*, (SELECT MAX(version) FROM item_versions v WHERE v.code = i.code) AS version "
                            "FROM items i WHERE i.active ORDER BY i.position, i.code").fetchall()
    items = [{**guides.as_entry(r), "version": r["version"]} for r in rows]
    return render("console/guides.html", items=items, businesses={b["code"]: b for b in _businesses()})


@bp.get("/manager/guides/<code>")
@page("manager")
def edit(actor, code):
    with state().db.read() as conn:
        row = conn.execute("SELECT * FROM items WHERE code = ?", (code,)).fetchone()
        if row is None:
            raise unknown_item(code)
        versions = guides.versions(conn, code)
    item = guides.as_entry(row)
    return render("console/guide_edit.html", item=item, active=bool(row["active"]), versions=versions,
                  businesses=_businesses(), material_forms=MATERIAL_FORMS, online=ONLINE, field_types=FIELD_TYPES,
                  options_text=_options_text, data={"item": item})


def _options_text(field: dict) -> str:
    """A select's options, one a line: ``value | 简体 | 繁體 | English`` (what the page edits)."""
    lines = []
    for o in field.get("options", []):
        label = o.get("label", {})
        lines.append(" | ".join([o["value"], label.get("zh-Hans", ""), label.get("zh-Hant", ""), label.get("en", "")])
                     .rstrip(" |"))
    return "\n".join(lines)
