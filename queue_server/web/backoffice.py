"""The back office (后台分类审批): applications submitted at kiosks or windows, moved on by staff.

Seed 004 §四: pre-review, then either accept (the same day) or ONE correction
notice listing everything missing (补齐补正通知), or reject with a reason; the
result comes back to the delivery window, handed over on site or mailed. The
rules and deadlines (working days) live in queue_server/domain/applications.py
(built by the applications feature); these pages list and show applications
and send each step to ``POST /api/v1/applications/<no>/transition``.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from hallq.i18n import pick
from queue_server.domain.errors import DomainError
from queue_server.domain.forms import HELD_WHOLE

from queue_server.readmodel import hall as hall_reads
from queue_server.web.pages import install_page_headers, lang, page, render, state, t, texts

bp = Blueprint("backoffice", __name__)
install_page_headers(bp)

STATUSES = ("submitted", "pre_review", "correction", "accepted", "result_ready", "rejected", "delivered")
OPEN = ("submitted", "pre_review", "correction", "accepted", "result_ready")


@bp.get("/console/backoffice")
@page("staff")
def applications(actor):
    st = state()
    status = request.args.get("status") or None
    if status not in STATUSES:
        status = None
    overdue = request.args.get("overdue") == "1"
    business = request.args.get("business") or None
    if business not in st.service.businesses():
        business = None
    # the to-do list (no filter) asks for the open cases themselves: taking the newest 300 of every status and keeping
    # the open ones lost the older open cases, overdue ones among them, once 300 newer ones had closed
    todo = status is None and not overdue and request.args.get("all") != "1"
    rows = st.service.applications.find(status=status, business=business, overdue=True if overdue else None,
                                        limit=300, statuses=OPEN if todo else None)
    return render("console/backoffice.html", rows=rows, status=status, overdue=overdue, business=business,
                  packages=st.service.packages.menu(), routed_items=st.service.routing.items(),
                  routed=st.service.routing.find(limit=100),
                  businesses=st.service.businesses(), statuses=STATUSES, show_all=request.args.get("all") == "1")


@bp.get("/console/backoffice/packages/<code>")
@page("staff")
def new_package(code, actor):
    """帮办: the clerk files a 一件事 package for the resident in front of them (one form, one set of materials)."""
    st = state()
    guide = st.service.packages.guide(code)
    return render("console/package_new.html", guide=guide, data={"package": code})


@bp.get("/console/backoffice/routed/<code>")
@page("staff")
def new_routed(code, actor):
    """帮办 for an item another hall handles (就近办): the same form as the kiosk's, posted to /applications."""
    st = state()
    form = st.service.routing.form(code)
    guide = {"name": form["item_name"], "fields": form["fields"], "materials": form["materials"]}
    return render("console/package_new.html", guide=guide, data={"item": code, "post": "/applications"},
                  routed_label=t("web.routing.handled_by", target=texts(form["routed_to"]["name"])))


@bp.get("/console/backoffice/<tracking_no>")
@page("staff")
def application(tracking_no, actor):
    st = state()
    routed = st.service.routing.get(tracking_no, back_office=True)  # taken here for another hall (就近办)
    if routed is not None:
        return render("console/routed.html", app=routed)
    app = st.service.packages.get(tracking_no, back_office=True)  # a 一件事 package's number, or one 办件's
    if "parts" in app:
        return _package(st, app)
    provided = set(app["materials_provided"])
    # every material not handed in is offered for the correction notice; only the required ones come ticked
    missing = [m for m in app["materials"] if m["index"] not in provided]
    return render("console/application.html", app=app, missing=missing, provided=provided,
                  form_rows=_form_rows(st, app),
                  data={"tracking_no": app["tracking_no"], "status": app["status"], "delivery": app["delivery"]})


@bp.post("/console/backoffice/<tracking_no>/applicant-name")
@page("staff")
def applicant_name(tracking_no, actor):
    """显示全名: the applicant's full name for the page's script (the page itself holds only the mask).

    A POST with the session's CSRF token; allowed to a clerk of the case (its business's window, a step of the
    case of theirs, a delivery window once the result is ready) or a manager (queue_server/domain/resident_names.py);
    with the form's other names and phones (``fields``); journaled (resident_name_viewed); never cached.
    """
    try:
        body, status = state().service.packages.applicant_name(actor, tracking_no), 200
    except DomainError as e:  # the page's script shows the sentence, in the page's language
        body, status = {"error": {"code": e.code, "message": pick(e.messages, lang())}}, e.status
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _package(st, pkg) -> str:
    """一件事 at the comprehensive window: pre-reviewed together (accept all, one notice, refuse all), then split."""
    guide = st.service.packages.guide(pkg["package"])
    handed = set(pkg["materials_provided"])
    labels = {f["key"]: f for f in guide["fields"]}
    rows = []
    for key, value in pkg["fields"].items():
        spec = labels.get(key, {})
        options = {o["value"]: o["label"] for o in spec.get("options") or []}
        rows.append((texts(spec["label"]) if spec.get("label") else key,
                     texts(options[value]) if isinstance(value, str) and value in options else str(value),
                     key if spec.get("type") in HELD_WHOLE else None))  # a name or phone: masked; 显示全名 fills it in
    # a correction notice out (a part in 补正): the clerk records what the resident brings, for the whole package
    # (supplement_package: every part that asked gets it); no second notice, no accepting, until then
    in_correction = any(p["status"] == "correction" for p in pkg["parts"])
    reviewable = not in_correction and any(p["status"] in ("submitted", "pre_review") for p in pkg["parts"])
    return render("console/package.html", pkg=pkg, guide=guide, handed=handed, form_rows=rows, reviewable=reviewable,
                  in_correction=in_correction,
                  missing=[m for m in guide["materials"] if m["name"] not in handed],
                  data={"tracking_no": pkg["tracking_no"]})


def _form_rows(st, app) -> list[tuple]:
    """The form's answers as the clerk reads them: the field's label and, for a choice, the option's words
    (经营者类型: 个人经营), from the item's form in hall.toml; a key the form no longer has is shown as it is. The
    values come masked (a person's name, a phone: progress.application_view); the third element names the fields
    the page's 显示全名 fills in from its journaled answer (queue_server/domain/resident_names.py)."""
    specs = {f["key"]: f for f in hall_reads.item_form(st, app["item"])}
    rows = []
    for key, value in app["fields"].items():
        spec = specs.get(key, {})
        options = {o["value"]: o["label"] for o in spec.get("options", [])}
        values = value if isinstance(value, list) else [value]
        shown = "、".join(texts(options[v]) if isinstance(v, str) and v in options else str(v) for v in values)
        rows.append((texts(spec["label"]) if spec.get("label") else key, shown,
                     key if spec.get("type") in HELD_WHOLE else None))  # a name or phone: masked; 显示全名 fills it in
    return rows
