"""The manager console: live hall, window allocation, notices, staff accounts, the audit journal.

Pages render what they show at once (usable without waiting for a script);
their scripts then keep them live and send changes to the JSON API with the
session cookie and the CSRF token.
"""

from __future__ import annotations

import json

from flask import Blueprint, redirect, request, url_for

from queue_server.api.manager import hall_live
from queue_server.domain import accounts as account_rules
from queue_server.domain import throttles
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
    live = hall_live()
    return render("console/hall.html", live=live, data={"businesses": _businesses(), "live": live})


@bp.get("/manager/allocation")
@page("manager")
def allocation(actor):
    st = state()
    with st.db.read() as conn:
        windows = st.snapshots.windows(conn)
    return render("console/allocation.html", windows=windows, businesses=_businesses(),
                  data={"businesses": _businesses(), "windows": windows})


@bp.get("/manager/notices")
@page("manager")
def notices(actor):
    st = state()
    with st.db.read() as conn:
        rows = conn.execute("SELECT * FROM notices WHERE active ORDER BY id DESC").fetchall()
    items = [{"id": r["id"], "text": json.loads(r["text"]), "level": r["level"], "until": r["until"],
              "created_at": r["created_at"]} for r in rows]
    return render("console/notices.html", notices=items)


@bp.get("/manager/accounts")
@page("manager")
def accounts(actor):
    st = state()
    with st.db.read() as conn:
        rows = account_rules.list_accounts(conn)
        throttled = throttles.active(conn, st.hall.now())
    return render("console/accounts.html", accounts=rows, throttles=throttled, security=st.hall.config.security)


JOURNAL_LIMIT = 500


@bp.get("/manager/journal")
@page("manager")
def journal(actor):
    st = state()
    day = request.args.get("day") or st.hall.now().date().isoformat()
    action = request.args.get("action", "").strip()
    who = request.args.get("actor", "").strip()
    ticket = request.args.get("ticket", "").strip().upper()
    where, params = ["business_day = ?"], [day]
    if action:
        where.append("action = ?")
        params.append(action)
    if who:
        where.append("actor = ?")
        params.append(who if ":" in who or who == "system" else f"staff:{who}")
    if ticket:
        where.append("ticket = ?")
        params.append(ticket)
    with st.db.read() as conn:
        rows = conn.execute(f"SELECT * FROM journal WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
                            (*params, JOURNAL_LIMIT)).fetchall()
        actions = [r[0] for r in conn.execute("SELECT DISTINCT action FROM journal WHERE business_day = ? "
                                              "ORDER BY action", (day,))]
    entries = [{**dict(r), "data": json.loads(r["data"])} for r in rows]
    return render("console/journal.html", entries=entries, day=day, action=action, who=who, ticket=ticket,
                  actions=actions, limit=JOURNAL_LIMIT, lang_code=lang(), action_name=journal_names.action_name,
                  details=journal_names.details)
