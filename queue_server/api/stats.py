"""Statistics (办件统计) by day, hour, business, window or staff, as JSON, CSV or Excel."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, request

from hallq.schema import Arr, Obj, Str
from queue_server.api import api, operation, request_lang
from queue_server.api.hall import state
from queue_server.domain import statistics
from queue_server.readmodel import stats as reads
from hallq.i18n import text
from queue_server.readmodel.stats import COLUMNS, column_name

REPORT = Obj({"group": Str(), "first": Str(), "last": Str(), "rows": Arr(Obj({}, extra=True), max_items=None),
              "total": Obj({}, extra=True)}, extra=True)
QUERY = {"from": Str(pattern=r"\d{4}-\d{2}-\d{2}"), "to": Str(pattern=r"\d{4}-\d{2}-\d{2}"),
         "group": Str(enum=list(statistics.GROUPS)), "business": Str(max_len=32),
         "format": Str(enum=["json", "csv", "xlsx"])}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def table(rep: dict[str, Any], lang: str) -> tuple[list[str], list[list[Any]]]:
    head = [column_name(c, lang) for c in COLUMNS]
    total_label = text("domain.stats.total", lang)
    rows = [[r.get(c) for c in COLUMNS] for r in rep["rows"]]
    rows.append([total_label] + [rep["total"].get(c) for c in COLUMNS[1:]])
    return head, rows


def export(rep: dict[str, Any], fmt: str, lang: str) -> Response:
    head, rows = table(rep, lang)
    name = f"hallq-stats-{rep['group']}-{rep['first']}-{rep['last']}"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(head)
        w.writerows(rows)
        # the BOM lets Excel open Chinese CSV as UTF-8
        return Response("\ufeff" + buf.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = text(f"domain.stats.sheet.{rep['group']}", lang)  # 按时段统计, not the code "hour"
    ws.append(head)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append(r)
    share = COLUMNS.index("satisfaction") + 1  # a share of 1: Excel shows 0.5 as 50.0%
    for (cell,) in ws.iter_rows(min_row=2, min_col=share, max_col=share):
        cell.number_format = "0.0%"
    ws.freeze_panes = "B2"
    ws.column_dimensions["A"].width = 22
    out = io.BytesIO()
    wb.save(out)
    return Response(out.getvalue(), mimetype=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})


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
