"""Hall settings pages: businesses and items (CSV), opening hours, holidays, appointment capacity.

This module also keeps every server process's in-memory hall settings in
line with the database: applied at start, re-checked at most every
``hall_settings.SYNC_SECONDS`` before a request.
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app

from queue_server.api.settings import overview
from queue_server.domain import hall_settings
from queue_server.web.pages import install_page_headers, page, render, state

bp = Blueprint("settings_pages", __name__)
install_page_headers(bp)


@bp.record_once
def _apply_at_start(setup) -> None:
    st = setup.app.extensions["hallq"]
    hall_settings.apply(st.db.connection(), st.hall)


@bp.before_app_request
def _sync_settings() -> None:
    st = current_app.extensions["hallq"]
    if hall_settings.sync(st.db.connection(), st.hall):
        st.service.invalidate_caches()
        st.snapshots.refresh_names(st.db.connection())


@bp.get("/manager/services")
@page("manager")
def services(actor):
    with state().db.read() as conn:
        businesses = [{**dict(r), "name": json.loads(r["name"])}
                      for r in conn.execute("SELECT * FROM businesses ORDER BY position, code")]
        items = [{**dict(r), "name": json.loads(r["name"]), "guide": json.loads(r["guide"])}
                 for r in conn.execute("SELECT * FROM items ORDER BY position, code")]
    return render("console/services.html", businesses=businesses, items=items)


@bp.get("/manager/calendar")
@page("manager")
def calendar(actor):
    st = state()
    v = overview()
    return render("console/calendar.html", v=v, businesses=st.service.businesses(),
                  items=[(r["code"], json.loads(r["name"])) for r in st.db.connection().execute(
                      "SELECT code, name FROM items WHERE active AND json_extract(guide, '$.appointment') "
                      "ORDER BY position")])
