"""Hall settings pages: businesses and items (CSV), opening hours, holidays, appointment capacity.

This module also keeps every server process's in-memory hall settings in
line with the database: applied at start, re-checked at most every
``hall_settings.SYNC_SECONDS`` before a request.
"""

from __future__ import annotations

from flask import Blueprint, current_app

from queue_server.readmodel import settings as reads
from queue_server.web.pages import install_page_headers, page, render, state

bp = Blueprint("settings_pages", __name__)
install_page_headers(bp)


@bp.record_once
def _apply_at_start(setup) -> None:
    reads.apply_at_start(setup.app.extensions["hallq"])


@bp.before_app_request
def _sync_settings() -> None:
    reads.sync(current_app.extensions["hallq"])


@bp.get("/manager/services")
@page("manager")
def services(actor):
    return render("console/services.html", **reads.catalogue_view(state()))


@bp.get("/manager/calendar")
@page("manager")
def calendar(actor):
    st = state()
    return render("console/calendar.html", v=reads.overview(st), businesses=st.service.businesses(),
                  items=reads.bookable_items(st))
