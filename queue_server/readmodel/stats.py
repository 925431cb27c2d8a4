"""Statistics reports (办件统计) as the API and the statistics page read them: the query, the report, its columns.

Closed days are rolled up into the summary tables first, through the service
(``QueueService.roll_up_statistics``); :func:`report` only reads.
"""

from __future__ import annotations

import json
from collections.abc import Container, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from hallq.i18n import pick, text
from hallq.privacy import mask_name
from queue_server.domain import statistics
from queue_server.domain.errors import DomainError

MAX_DAYS = 3 * 366

def column_name(key: str, lang: str) -> str:
    """A column of the statistics table as ``lang`` heads it: ``domain.stats.column.<key>`` of ``domain.po``."""
    return text(f"domain.stats.column.{key}", lang)


# the statistics table's columns in order, each headed by column_name (domain.stats.column.<key>)
COLUMNS = ("label", "issued", "done", "no_show", "cancelled", "expired", "green", "appointment", "avg_wait_min",
           "p90_wait_min", "avg_service_min", "rated", "avg_level", "satisfaction", "bad")


def bad_parameter(field: str, problem: str) -> DomainError:
    """400 ``invalid_fields`` naming one query parameter."""
    err = DomainError("error.query.invalid", field=field, problem=problem,
                      code="invalid_fields")
    err.fields = [{"field": field, "problem": problem}]
    return err


def _date(args: Mapping[str, str], name: str, default: date) -> date:
    raw = args.get(name)
    if not raw:
        return default
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise bad_parameter(name, "must be a date like 2026-11-23") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:  # a period's arithmetic near year 1 or 9999 overflows (a 500)
        raise bad_parameter(name, f"must be a date from {FIRST_YEAR} to {LAST_YEAR}")
    return day


FIRST_YEAR, LAST_YEAR = 1900, 2999  # the dates a report's period may name


def query(args: Mapping[str, str], today: date, businesses: Container[str]) -> tuple[date, date, str, str | None]:
    """A report's period, grouping and business from the query (``from``, ``to``, ``group``, ``business``):
    by default the 30 days to today, by day; 400 ``invalid_fields`` naming what is wrong."""
    return report_query(args, today, 30, statistics.GROUPS, "day", "business", businesses)


def report_query(args: Mapping[str, str], today: date, days: int, groups: Sequence[str], default_group: str,
                 name: str, known: Container[str]) -> tuple[date, date, str, str | None]:
    """The query every statistics report reads (tickets here, 办件 in app_stats): a period, by default the ``days``
    days to today, of at most :data:`MAX_DAYS`; a grouping of ``groups``; a filter ``name`` that must be one of
    ``known`` (or absent). 400 ``invalid_fields`` naming what is wrong."""
    last = _date(args, "to", today)
    first = _date(args, "from", last - timedelta(days=days - 1))
    if first > last:
        raise bad_parameter("from", "must not be after to")
    if (last - first).days > MAX_DAYS:
        raise bad_parameter("from", f"must be within {MAX_DAYS} days of to")
    group = args.get("group", default_group)
    if group not in groups:
        raise bad_parameter("group", f"must be one of {', '.join(groups)}")
    value = args.get(name) or None
    if value and value not in known:
        raise bad_parameter(name, f"is not a known {name}")
    return first, last, group, value


def report(st, first: date, last: date, group: str, business: str | None, lang: str = "zh-Hans") -> dict[str, Any]:
    """The report of a period by ``group``, each row labelled in ``lang``."""
    now = st.hall.now()
    with st.db.read() as conn:
        rep = statistics.report(conn, first, last, group, now.date(), business)
        labels = _labels(st, conn, group, lang)
    for row in rep["rows"]:
        row["label"] = labels(row["key"])
    return rep


def _labels(st, conn, group: str, lang: str):
    if group == "business":
        names = {c: pick(b["name"], lang) for c, b in st.service.businesses().items()}
        return lambda k: names.get(k, k)
    if group == "window":
        names = {r["number"]: pick(json.loads(r["name"]), lang) for r in conn.execute("SELECT number, name FROM windows")}
        none = text("domain.stats.never_called", lang)
        return lambda k: names.get(k, str(k)) if k else none
    if group == "staff":
        names = {r["id"]: f"{r['job_no']} {mask_name(r['name'])}" for r in conn.execute("SELECT id, job_no, name FROM staff")}
        none = text("domain.stats.nobody", lang)
        return lambda k: names.get(k, str(k)) if k else none
    if group == "hour":
        return lambda k: f"{k:02d}:00"
    return lambda k: k
