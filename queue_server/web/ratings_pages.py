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
from queue_server.web.pages import install_page_headers, lang, page, render, state

bp = Blueprint("ratings_pages", __name__)
install_page_headers(bp)

REASONS = [  # reason codes a resident may tick with a bad review
    ("slow", "等候或办理时间长", "等候或辦理時間長", "Waited or took too long"),
    ("attitude", "服务态度不好", "服務態度不好", "Unfriendly service"),
    ("unclear_guide", "没有一次性告知", "沒有一次性告知", "Not told everything at once"),
    ("repeated_visits", "需要多次跑动", "需要多次跑動", "Had to come back again"),
    ("not_solved", "问题没有解决", "問題沒有解決", "Problem not solved"),
    ("other", "其他", "其他", "Other"),
]


@bp.get("/rate/<int:number>")
def rating_tablet(number):
    st = state()
    w = console_reads.window_row(st, number)
    data = {"window": number, "window_name": json.loads(w["name"]), "hall_name": st.hall.config.name,
            "reasons": [{"code": c, "text": {"zh-Hans": a, "zh-Hant": b, "en": e}} for c, a, b, e in REASONS]}
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
                  reasons={c: {"zh-Hans": a, "zh-Hant": b, "en": e} for c, a, b, e in REASONS})


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
    }
    return render("console/review.html", f=f, can=can, business_names=names,
                  reasons={c: {"zh-Hans": a, "zh-Hant": b, "en": e} for c, a, b, e in REASONS})
