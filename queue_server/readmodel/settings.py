"""Hall settings as managers read them, and the process's own copy of them kept in line.

The overrides a manager makes (hours, holidays, capacities, businesses) are rows in the database;
each server process applies them to its ``hall.config`` at start, after its own changes
(:func:`reload`), and when another process changed them (:func:`sync`, checked at most every
``hall_settings.SYNC_SECONDS``).
"""

from __future__ import annotations

import json
from typing import Any

from queue_server.domain import catalogue, hall_settings


def overview(st) -> dict[str, Any]:
    """Effective hours, calendar overrides, the next 60 days, appointment capacity."""
    with st.db.read() as conn:
        return hall_settings.overview(conn, st.hall, st.hall.now().date())


def catalogue_view(st) -> dict[str, list[dict[str, Any]]]:
    """Every business and service item, active or not, names and guides decoded (the services page)."""
    with st.db.read() as conn:
        businesses = [{**dict(r), "name": json.loads(r["name"])}
                      for r in conn.execute("SELECT * FROM businesses ORDER BY position, code")]
        items = [{**dict(r), "name": json.loads(r["name"]), "guide": json.loads(r["guide"])}
                 for r in conn.execute("SELECT * FROM items ORDER BY position, code")]
    return {"businesses": businesses, "items": items}


def bookable_items(st) -> list[tuple[str, dict[str, str]]]:
    """(code, name) of the active items that take appointments (the calendar page's capacity form)."""
    return [(r["code"], json.loads(r["name"])) for r in st.db.connection().execute(
        "SELECT code, name FROM items WHERE active AND json_extract(guide, '$.appointment') ORDER BY position")]


def businesses_csv(st) -> str:
    with st.db.read() as conn:
        return catalogue.export_businesses(conn)


def items_csv(st) -> str:
    with st.db.read() as conn:
        return catalogue.export_items(conn)


def apply_at_start(st) -> None:
    """Apply the stored overrides to this process's hall settings (once, when the app is set up)."""
    hall_settings.apply(st.db.connection(), st.hall)


def reload(st) -> None:
    """After a change made here: this process sees it at once (others within ``SYNC_SECONDS``)."""
    with st.db.read() as conn:
        hall_settings.apply(conn, st.hall)
        st.service.invalidate_caches()
        st.snapshots.refresh_names(conn)


def sync(st) -> None:
    """Re-apply the settings if another process changed them (checked at most every ``SYNC_SECONDS``)."""
    if hall_settings.sync(st.db.connection(), st.hall):
        st.service.invalidate_caches()
        st.snapshots.refresh_names(st.db.connection())
