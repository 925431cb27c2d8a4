"""The resident's progress page of an application or a 一件事 package: ``GET /a/<tracking_no>``.

One tracking number, one page: the status, for a package each department's part with its status (a
result shows as soon as it is ready, "N 个事项的结果已可领取"), the promised date, what a correction
notice asks for, and the timeline. Served by the hall's own server with no script; 刷新进度 reloads it (no timed
refresh: WCAG 2.2.1, a page must not reload under the reader's eyes); it carries no personal data, like the open
progress API it reads (docs/applications.md). At a village station, an application it took for another hall says
which hall handles it and how recent the progress shown is (docs/county.md, "Routed applications").
"""

from __future__ import annotations

from flask import Blueprint, current_app, make_response, render_template

from hallq.i18n import LANGS, pick, text, texts
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
    try:  # taken here for another hall (就近办), or filed here
        view = st.service.routing.get(tracking_no) or st.service.packages.get(tracking_no)
    except NotFound:
        return _secure(make_response(render_template("ticket/application.html", lang=lang, texts=said, view=None,
                                                     hall=pick(cfg.name, lang), langs=LANGS, pick=pick,
                                                     missing=""), 404))
    missing = "、".join(pick(m["name"], lang) for m in (view.get("correction") or {}).get("missing", []))
    routed = view.get("routed")
    if routed:  # where it is handled, its state, and since when (the handling hall's progress, as last fetched)
        said["routed"] = pick(texts("routing.handled_by", target=pick(routed["target_name"], lang) or routed["target"]),
                              lang)
        said["routed_state"] = pick(routed["state_name"], lang)
        said["routed_ready"] = pick(texts("routing.ready"), lang) if routed.get("ready") else ""
        said["routed_as_of"] = pick(texts("routing.stale" if routed.get("stale") else "routing.as_of",
                                          time=(routed["as_of"] or "")[:16].replace("T", " ")), lang) \
            if routed.get("as_of") else ""
    return _secure(make_response(render_template("ticket/application.html", lang=lang, texts=said, view=view,
                                                 hall=pick(cfg.name, lang), langs=LANGS, pick=pick,
                                                 missing=missing)))
