"""Ratings (好差评): the window's rating tablet, and following up bad reviews.

* ``/rate/<window>``: the page a tablet at the window shows all day. It holds
  no data itself; its script authenticates with the tablet's device key,
  given once in the address's fragment (``/rate/3#key=…``, never sent to the
  server or written in its logs) and then kept in the tablet's storage.
* ``/console/reviews``: bad reviews through verify → fix → report back, with
  their deadlines and appeals. Managers see all; a clerk sees their own.
"""

from __future__ import annotations

import json

from flask import Blueprint, request

from hallq.i18n import pick
from queue_server.domain.followups import followup_id
from queue_server.readmodel import consoles as console_reads
from queue_server.readmodel import followups as reads
from queue_server.web.pages import install_page_headers, lang, page, render, state, t

bp = Blueprint("ratings_pages", __name__)
install_page_headers(bp)

# the reason codes a resident may tick with a bad review, and their texts: the official categories, exactly the
# domain's list in its order (queue_server/domain/ratings.py REASONS, the only codes a rating stores; tested)
REASONS = {
    "slow": "web.rate.reason_slow",
    "attitude": "web.rate.reason_attitude",
    "unclear_guide": "web.rate.reason_unclear_guide",
    "repeated_visits": "web.rate.reason_repeated_visits",
    "not_solved": "web.rate.reason_not_solved",
    "other": "web.rate.reason_other",
}


def reason_names() -> dict[str, str]:
    """Each reason code's text in the page's language."""
    return {code: t(key) for code, key in REASONS.items()}


@bp.get("/rate/<int:number>")
def rating_tablet(number):
    st = state()
    w = console_reads.window_row(st, number)
    data = {"window": number, "window_name": json.loads(w["name"]), "hall_name": st.hall.config.name,
            "reasons": [{"code": c, "text": text} for c, text in reason_names().items()],
            "contact_days": st.hall.config.privacy.followup_contact_days}
    return render("console/rate.html", number=number, window_name=pick(data["window_name"], lang()), data=data)


@bp.get("/console/reviews")
@page("staff")
def reviews(actor):
    which = request.args.get("which", "active")
    if which not in reads.WHICH:
        which = "active"
    st = state()
    st.service.followups.open_pending()
    items = reads.listing(st, actor, which)
    names = {c: b["name"] for c, b in st.service.businesses().items()}
    return render("console/reviews.html", items=items, which=which, business_names=names,
                  reasons=reason_names())


@bp.get("/console/reviews/<int:fid>")
@page("staff")
def review(fid, actor):
    f = reads.one(state(), actor, followup_id(str(fid)))
    names = {c: b["name"] for c, b in state().service.businesses().items()}
    owner = f["owner_staff_id"] == actor.staff_id
    manager = actor.is_manager
    can = {
        "verify": manager and f["state"] == "open",
        "fix": (manager or owner) and f["state"] == "verified" and f["complaint_valid"] is not False,
        "report": manager and (f["state"] == "fixed" or (f["state"] == "verified" and f["complaint_valid"] is False)),
        "appeal": (manager or owner) and f["state"] != "closed" and f["appeal"] is None,
        "decide": manager and f["appeal"] is not None and f["appeal"]["state"] == "pending"
                  and f["appeal"]["by"] != actor.label,
        "see_contact": manager,  # managers call residents back (回访核实); the clerk sees only that one was left
    }
    # the phone is decrypted only on a manager's click, and that view is journaled (followup_contact_viewed)
    contact = (state().service.followups.contact(actor, f["id"])
               if manager and f["contact_left"] and request.args.get("contact") == "1" else None)
    return render("console/review.html", f=f, can=can, business_names=names, reasons=reason_names(),
                  contact=contact)  # every page is sent no-store (install_page_headers)
