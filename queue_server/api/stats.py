"""Statistics (办件统计) by day, hour, business, window or staff, as JSON, CSV or Excel."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from typing import Any

from flask import Response, request

from hallq.i18n import pick
from hallq.privacy import mask_name
from hallq.schema import Arr, Obj, Str
from queue_server.api import BadRequest, api, operation
from queue_server.api.hall import state
from queue_server.domain import statistics

REPORT = Obj({"group": Str(), "first": Str(), "last": Str(), "rows": Arr(Obj({}, extra=True), max_items=None),
              "total": Obj({}, extra=True)}, extra=True)
QUERY = {"from": Str(pattern=r"\d{4}-\d{2}-\d{2}"), "to": Str(pattern=r"\d{4}-\d{2}-\d{2}"),
         "group": Str(enum=list(statistics.GROUPS)), "business": Str(max_len=32),
         "format": Str(enum=["json", "csv", "xlsx"])}
MAX_DAYS = 3 * 366
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

COLUMNS = [  # key, zh-Hans, zh-Hant, en
    ("label", "分组", "分組", "Group"), ("issued", "取号", "取號", "Issued"), ("done", "办结", "辦結", "Completed"),
    ("no_show", "过号", "過號", "No-shows"), ("cancelled", "弃号", "棄號", "Cancelled"),
    ("expired", "未办", "未辦", "Expired"), ("green", "绿色通道", "綠色通道", "Green channel"),
    ("appointment", "预约", "預約", "Appointments"), ("avg_wait_min", "平均等候(分)", "平均等候(分)", "Avg wait (min)"),
    ("p90_wait_min", "90%等候(分)", "90%等候(分)", "p90 wait (min)"),
    ("avg_service_min", "平均办理(分)", "平均辦理(分)", "Avg service (min)"),
    ("rated", "评价数", "評價數", "Ratings"), ("avg_level", "平均评价", "平均評價", "Avg level"),
    ("satisfaction", "满意率", "滿意率", "Satisfaction"), ("bad", "差评", "差評", "Bad reviews"),
]


def _date(name: str, default: date) -> date:
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _bad(name, "must be a date like 2026-11-23") from None


def _bad(field: str, problem: str) -> BadRequest:
    err = BadRequest(f"参数 {field} 有误。", f"參數 {field} 有誤。", f"Query parameter {field} {problem}.",
                     code="invalid_fields")
    err.fields = [{"field": field, "problem": problem}]
    return err


def params() -> tuple[date, date, str, str | None]:
    today = state().hall.now().date()
    last = _date("to", today)
    first = _date("from", last - timedelta(days=29))
    if first > last:
        raise _bad("from", "must not be after to")
    if (last - first).days > MAX_DAYS:
        raise _bad("from", f"must be within {MAX_DAYS} days of to")
    group = request.args.get("group", "day")
    if group not in statistics.GROUPS:
        raise _bad("group", f"must be one of {', '.join(statistics.GROUPS)}")
    business = request.args.get("business") or None
    if business and business not in state().service.businesses():
        raise _bad("business", "is not a known business")
    return first, last, group, business


def build(first: date, last: date, group: str, business: str | None, lang: str = "zh-Hans") -> dict[str, Any]:
    """Roll up closed days that are not yet, then read the report and label its rows."""
    st = state()
    now = st.hall.now()
    statistics.roll_up_pending(st.db, now)
    with st.db.read() as conn:
        rep = statistics.report(conn, first, last, group, now.date(), business)
        labels = _labels(conn, group, lang)
    for row in rep["rows"]:
        row["label"] = labels(row["key"])
    return rep


def _labels(conn, group: str, lang: str):
    if group == "business":
        names = {c: pick(b["name"], lang) for c, b in state().service.businesses().items()}
        return lambda k: names.get(k, k)
    if group == "window":
        names = {r["number"]: pick(json.loads(r["name"]), lang) for r in conn.execute("SELECT number, name FROM windows")}
        none = {"zh-Hans": "未到窗口", "zh-Hant": "未到窗口", "en": "never called"}[lang]
        return lambda k: names.get(k, str(k)) if k else none
    if group == "staff":
        names = {r["id"]: f"{r['job_no']} {mask_name(r['name'])}" for r in conn.execute("SELECT id, job_no, name FROM staff")}
        none = {"zh-Hans": "无", "zh-Hant": "無", "en": "nobody"}[lang]
        return lambda k: names.get(k, str(k)) if k else none
    if group == "hour":
        return lambda k: f"{k:02d}:00"
    return lambda k: k


def table(rep: dict[str, Any], lang: str) -> tuple[list[str], list[list[Any]]]:
    i = {"zh-Hans": 1, "zh-Hant": 2, "en": 3}[lang]
    head = [c[i] for c in COLUMNS]
    total_label = {"zh-Hans": "合计", "zh-Hant": "合計", "en": "Total"}[lang]
    rows = [[r.get(c[0]) for c in COLUMNS] for r in rep["rows"]]
    rows.append([total_label] + [rep["total"].get(c[0]) for c in COLUMNS[1:]])
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
    ws.title = rep["group"]
    ws.append(head)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append(r)
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
    from queue_server.api import request_lang

    first, last, group, business = params()
    lang = request_lang()
    rep = build(first, last, group, business, lang)
    fmt = request.args.get("format", "json")
    if fmt in ("csv", "xlsx"):
        return export(rep, fmt, lang)
    if fmt != "json":
        raise _bad("format", "must be json, csv or xlsx")
    return rep
