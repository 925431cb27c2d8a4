"""The resident's progress page of an application or a 一件事 package: ``GET /a/<tracking_no>``.

One tracking number, one page: the status, for a package each department's part with its status (a
result shows as soon as it is ready, "N 个事项的结果已可领取"), the promised date, what a correction
notice asks for, and the timeline. Served by the hall's own server with no script; 刷新进度 reloads it (no timed
refresh: WCAG 2.2.1, a page must not reload under the reader's eyes); it carries no personal data, like the open
progress API it reads (docs/applications.md).
"""

from __future__ import annotations

from flask import Blueprint, current_app, make_response, render_template

from hallq.i18n import LANGS, pick, text
from queue_server.domain.errors import NotFound
from queue_server.web.ticket_page import _lang, _secure

bp = Blueprint("application_page", __name__, template_folder="templates")

TEXTS = ("web.progress.title", "web.progress.parts", "web.progress.promised", "web.progress.correction",
         "web.progress.timeline", "web.progress.results_ready", "web.progress.unknown", "web.progress.number",
         "web.progress.overdue", "web.progress.refresh")


@bp.get("/a/<tracking_no>")
def application_page(tracking_no: str):
    st = current_app.extensions["hallq"]
    lang = _lang()
    cfg = st.hall.config
    said = {key.rsplit(".", 1)[1]: text(key, lang) for key in TEXTS}
    try:
        view = st.service.packages.get(tracking_no)
    except NotFound:
        return _secure(make_response(render_template("ticket/application.html", lang=lang, texts=said, view=None,
                                                     hall=pick(cfg.name, lang), langs=LANGS, pick=pick,
                                                     missing=""), 404))
    missing = "、".join(pick(m["name"], lang) for m in (view.get("correction") or {}).get("missing", []))
    return _secure(make_response(render_template("ticket/application.html", lang=lang, texts=said, view=view,
                                                 hall=pick(cfg.name, lang), langs=LANGS, pick=pick,
                                                 missing=missing)))
