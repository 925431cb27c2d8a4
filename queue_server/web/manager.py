"""The manager console: live hall, window allocation, notices, staff accounts, the audit journal.

Pages render what they show at once (usable without waiting for a script);
their scripts then keep them live and send changes to the JSON API with the
session cookie and the CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from queue_server.readmodel import hall as hall_reads
from queue_server.readmodel import manager as reads
from queue_server.web import journal_names
from queue_server.web.pages import install_page_headers, lang, page, render, state

bp = Blueprint("manager", __name__)
install_page_headers(bp)


def _businesses() -> list[dict]:
    return [{"code": c, "name": b["name"], "prefix": b["prefix"]}
            for c, b in state().service.businesses().items() if b["active"]]


@bp.get("/manager/")
@page("manager")
def home(actor):
    return redirect(url_for("manager.hall"))


@bp.get("/manager/hall")
@page("manager")
def hall(actor):
    live = reads.hall_live(state())
    return render("console/hall.html", live=live, data={"businesses": _businesses(), "live": live})


@bp.get("/manager/allocation")
@page("manager")
def allocation(actor):
    windows = hall_reads.windows(state())
    return render("console/allocation.html", windows=windows, businesses=_businesses(),
                  data={"businesses": _businesses(), "windows": windows})


@bp.get("/manager/notices")
@page("manager")
def notices(actor):
    return render("console/notices.html", notices=reads.active_notices(state()))


@bp.get("/manager/accounts")
@page("manager")
def accounts(actor):
    st = state()
    return render("console/accounts.html", accounts=reads.accounts(st), throttles=reads.sign_in_throttles(st),
                  security=st.hall.config.security)


JOURNAL_LIMIT = 500


@bp.get("/manager/journal")
@page("manager")
def journal(actor):
    st = state()
    day = request.args.get("day") or st.hall.now().date().isoformat()
    action = request.args.get("action", "").strip()
    who = request.args.get("actor", "").strip()
    ticket = request.args.get("ticket", "").strip().upper()
    found = reads.journal_day(st, day, action, who, ticket, JOURNAL_LIMIT)
    return render("console/journal.html", entries=found["entries"], day=day, action=action, who=who, ticket=ticket,
                  actions=found["actions"], limit=JOURNAL_LIMIT, lang_code=lang(), businesses=st.service.businesses(),
                  action_name=journal_names.action_name, details=journal_names.details,
                  business_name=journal_names.business_name)
