"""The tidal windows page (潮汐窗口): pressure, assignments, alerts, the automatic switch."""

from __future__ import annotations

from flask import Blueprint

from queue_server.readmodel import manager as reads
from queue_server.web.pages import install_page_headers, page, render, state

bp = Blueprint("tidal_pages", __name__)
install_page_headers(bp)


@bp.get("/manager/tidal")
@page("manager")
def tidal(actor):
    st = state()
    view = reads.tidal_overview(st)
    businesses = st.service.businesses()
    assigned = {a["window"]: a for a in view["assignments"]}
    return render("console/tidal.html", v=view, businesses=businesses, assigned=assigned)
