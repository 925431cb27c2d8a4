"""The window console (窗口叫号): a clerk picks a window and calls, serves and passes on tickets.

The page is a thin shell: its script (static/console/window.js) calls the
same ``/api/v1/windows/<n>/…`` endpoints as the call keypads, with the
session cookie and the CSRF token, and reloads the console's data
(``GET /api/v1/console/windows/<n>``) whenever the hall's journal moves.
That read, like the page, is only for the clerk signed in at the window and
managers: a clerk at a free window sees its state and "sign in here", no queue.
"""

from __future__ import annotations

import json

from flask import Blueprint

from hallq.i18n import pick
from queue_server.domain.windows import authorize_actor
from queue_server.readmodel import consoles as reads
from queue_server.web.pages import install_page_headers, lang, page, render, state, t

bp = Blueprint("window_console", __name__)
install_page_headers(bp)

# the reasons a clerk picks from when pausing the window (or types another)
PAUSE_REASONS = ("web.window.pause_lunch", "web.window.pause_away", "web.window.pause_consulting",
                 "web.window.pause_fault", "web.window.pause_meeting")


@bp.get("/console/windows")
@page("staff")
def pick_window(actor):
    st = state()
    view = reads.pick_window(st, actor.staff_id)
    names = {c: b["name"] for c, b in st.service.businesses().items()}
    return render("console/pick_window.html", windows=view["windows"], mine=view["mine"], business_names=names)


@bp.get("/console/windows/<int:number>")
@page("staff")
def window_page(number, actor):
    """The console of a window: for its clerk and managers; a free window's, for the clerk to sign in there.

    A window someone else is signed in at is refused (403), as its queue is: only the clerk signed
    in there, a manager or its own devices see it (``windows.may_act_for``).
    """
    st = state()
    w = reads.window_row(st, number)
    if w["staff_id"] is not None:
        authorize_actor(actor, w)
    businesses = st.service.businesses()
    data = {
        "window": number,
        "businesses": [{"code": c, "name": b["name"], "prefix": b["prefix"], "requires": b["ticket_requires"]}
                       for c, b in businesses.items() if b["active"]],
        "items": reads.items_by_business(st),
        "pause_reasons": [t(key) for key in PAUSE_REASONS],  # the reason is kept as the clerk read it
        "lang": lang(),
    }
    return render("console/window.html", number=number, window_name=pick(json.loads(w["name"]), lang()), data=data)

