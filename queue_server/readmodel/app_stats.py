"""Application statistics (办件统计, supervision) as the API and the manager's page read them.

The query (``from``, ``to``, ``group``, ``item``), the report with each row labelled in the page's
language, and its columns (``domain.stats.app_column.<key>`` of ``domain.po``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from hallq.clock import iso
from hallq.i18n import pick, text
from queue_server.domain import app_statistics
from queue_server.readmodel.stats import report_query

# the table's columns in order, each headed by column_name (domain.stats.app_column.<key>)
COLUMNS = ("label", "received", "accepted", "corrected", "refused", "completed", "on_time", "overdue",
           "avg_workdays", "on_time_rate", "one_visit_rate")
RATES = ("on_time_rate", "one_visit_rate")


def column_name(key: str, lang: str) -> str:
    return text(f"domain.stats.app_column.{key}", lang)


def query(args: Mapping[str, str], today: date, items: Mapping[str, Any]) -> tuple[date, date, str, str | None]:
    """Period (by submission), grouping and item: by default the 365 days to today, by item; 400 naming what is wrong."""
    return report_query(args, today, 365, app_statistics.GROUPS, "item", "item", items)


def item_names(conn, lang: str) -> dict[str, str]:
    return {r["code"]: pick(json.loads(r["name"]), lang) for r in conn.execute("SELECT code, name FROM items")}


def items_named(st, lang: str) -> dict[str, str]:
    """Every item's name in ``lang``, by code (for the report's item filter)."""
    with st.db.read() as conn:
        return item_names(conn, lang)


def roll_up(st, first: date, last: date) -> int:
    """Roll up the past days of the period whose rollup is missing or was opened again (short writes)."""
    now = st.hall.now()
    return app_statistics.roll_up(st.db, st.hall.config.calendar, first, last, now.date(), iso(now))


def report(st, first: date, last: date, group: str, item: str | None, lang: str = "zh-Hans") -> dict[str, Any]:
    """The report of a period by ``group``, each row labelled in ``lang`` (after :func:`roll_up`)."""
    today = st.hall.now().date()
    with st.db.read() as conn:
        of_item = None
        if group == "department":
            depts = {r[0]: r[1] or "" for r in conn.execute(
                "SELECT code, json_extract(guide, '$.department') FROM items")}
            of_item = lambda code: depts.get(code, "")  # noqa: E731
        elif group == "business":
            owners = {r[0]: r[1] for r in conn.execute("SELECT code, business FROM items")}
            of_item = lambda code: owners.get(code, "")  # noqa: E731
        rep = app_statistics.report(conn, st.hall.config.calendar, first, last, group, today, item, of_item)
        if group == "item":
            names = item_names(conn, lang)
            label = lambda k: names.get(k, k)  # noqa: E731
        elif group == "business":
            names = {c: pick(b["name"], lang) for c, b in st.service.businesses().items()}
            label = lambda k: names.get(k, k)  # noqa: E731
        elif group == "window":
            wins = {r["number"]: pick(json.loads(r["name"]), lang)
                    for r in conn.execute("SELECT number, name FROM windows")}
            none = text("domain.stats.app_no_window", lang)
            label = lambda k: wins.get(k, str(k)) if k else none  # noqa: E731
        else:
            none = text("domain.stats.app_no_department", lang)
            label = lambda k: k or none  # noqa: E731
    for row in rep["rows"]:
        row["label"] = label(row["key"])
    return rep


def table(rep: dict[str, Any], lang: str) -> tuple[list[str], list[list[Any]]]:
    """The head and the rows of the export (the totals last)."""
    head = [column_name(c, lang) for c in COLUMNS]
    rows = [[r.get(c) for c in COLUMNS] for r in rep["rows"]]
    rows.append([text("domain.stats.total", lang)] + [rep["total"].get(c) for c in COLUMNS[1:]])
    return head, rows
