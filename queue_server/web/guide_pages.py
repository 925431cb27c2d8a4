"""The manager's guide pages (办事指南维护): every item with its guide, one item's guide to edit, the catalogue
exported and imported as services.toml (a dry run first). Managers and administrators only.

The pages show what they hold at once; their script (static/console/guides.js) sends the edit to
``PUT /api/v1/items/<code>/guide`` and shows every refused field beside it (queue_server/domain/guides.py).
"""

from __future__ import annotations

from flask import Blueprint

from hallq.config_schema import FORM_FIELD_TYPES
from queue_server.readmodel import guides as reads
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
    items = reads.index(state())
    return render("console/guides.html", items=items, businesses={b["code"]: b for b in _businesses()})


@bp.get("/manager/guides/<code>")
@page("manager")
def edit(actor, code):
    item, active, versions = reads.item(state(), code)
    return render("console/guide_edit.html", item=item, active=active, versions=versions,
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
