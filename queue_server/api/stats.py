"""Statistics (办件统计) by day, hour, business, window or staff, as JSON, CSV or Excel."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from hallq import spreadsheet
from hallq.schema import Arr, Obj, Str
from queue_server.api import api, operation, request_lang
from queue_server.api.hall import state
from queue_server.domain import app_statistics, statistics
from queue_server.readmodel import app_stats as app_reads
from queue_server.readmodel import stats as reads
from hallq.i18n import text
from queue_server.readmodel.stats import COLUMNS, column_name

REPORT = Obj({"group": Str(), "first": Str(), "last": Str(), "rows": Arr(Obj({}, extra=True), max_items=None),
              "total": Obj({}, extra=True)}, extra=True)
QUERY = {"from": Str(pattern=r"[0-9]{4}-[0-9]{2}-[0-9]{2}"), "to": Str(pattern=r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
         "group": Str(enum=list(statistics.GROUPS)), "business": Str(max_len=32),
         "format": Str(enum=["json", "csv", "xlsx"])}
XLSX = spreadsheet.XLSX


def table(rep: dict[str, Any], lang: str) -> tuple[list[str], list[list[Any]]]:
    head = [column_name(c, lang) for c in COLUMNS]
    total_label = text("domain.stats.total", lang)
    rows = [[r.get(c) for c in COLUMNS] for r in rep["rows"]]
    rows.append([total_label] + [rep["total"].get(c) for c in COLUMNS[1:]])
    return head, rows


def export(rep: dict[str, Any], fmt: str, lang: str) -> Response:
    head, rows = table(rep, lang)
    return download(head, rows, fmt, f"hallq-stats-{rep['group']}-{rep['first']}-{rep['last']}",
                    text(f"domain.stats.sheet.{rep['group']}", lang),  # 按时段统计, not the code "hour"
                    [COLUMNS.index("satisfaction") + 1])


def download(head: list[str], rows: list[list[Any]], fmt: str, name: str, sheet: str, shares: list[int]) -> Response:
    """A table as a CSV (UTF-8 with a BOM) or an Excel file (hallq/spreadsheet.py: cells safe to open); ``shares``:
    1-based columns of shares of 1 (shown as %)."""
    body, media = spreadsheet.table_file(head, rows, fmt, sheet, shares)
    return Response(body, mimetype=media.split(";")[0],
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


@api.get("/stats")
@operation("statistics", "Volumes, waits (average and p90), service times, no-shows, satisfaction",
           tag="statistics", auth="manager", response=REPORT, errors=(400, 401, 403), query=QUERY,
           media=("application/json", "text/csv", XLSX),
           description="group: day, hour, business, window or staff; from/to: dates (default: the last 30 days); "
                       "format=csv or xlsx downloads the table.")
def get_statistics(actor):
    st = state()
    first, last, group, business = reads.query(request.args, st.hall.now().date(), st.service.businesses())
    lang = request_lang()
    st.service.roll_up_statistics()  # closed days not yet in the summary tables
    rep = reads.report(st, first, last, group, business, lang)
    fmt = request.args.get("format", "json")
    if fmt in ("csv", "xlsx"):
        return export(rep, fmt, lang)
    if fmt != "json":
        raise reads.bad_parameter("format", "must be json, csv or xlsx")
    return rep


APP_QUERY = {"from": QUERY["from"], "to": QUERY["to"], "group": Str(enum=list(app_statistics.GROUPS)),
             "item": Str(max_len=64), "format": QUERY["format"]}


@api.get("/stats/applications")
@operation("application_statistics", "Applications for supervision: received, accepted, corrected, refused, "
           "completed on time, overdue, average working days, 一次办结率", tag="statistics", auth="manager",
           response=REPORT, errors=(400, 401, 403), query=APP_QUERY, media=("application/json", "text/csv", XLSX),
           description="group: item, department, business or window; from/to: submission dates (default: the last "
                       "365 days); item: one item only; format=csv or xlsx downloads the table. Rates are shares of 1 "
                       "over the completed (docs/statistics.md, Applications).")
def get_application_statistics(actor):
    st = state()
    lang = request_lang()
    items = app_reads.items_named(st, lang)
    first, last, group, item = app_reads.query(request.args, st.hall.now().date(), items)
    app_reads.roll_up(st, first, last)  # past days not yet (or no longer) in the summary table
    rep = app_reads.report(st, first, last, group, item, lang)
    fmt = request.args.get("format", "json")
    if fmt in ("csv", "xlsx"):
        head, rows = app_reads.table(rep, lang)
        return download(head, rows, fmt, f"hallq-applications-{group}-{rep['first']}-{rep['last']}",
                        text(f"domain.stats.app_sheet.{group}", lang),
                        [app_reads.COLUMNS.index(c) + 1 for c in app_reads.RATES])
    if fmt != "json":
        raise reads.bad_parameter("format", "must be json, csv or xlsx")
    return rep
