"""The statistics page: a period, a grouping, charts a manager reads at a glance, the table, exports."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, request

from queue_server.readmodel import app_stats as app_reads
from queue_server.readmodel import stats as reads
from queue_server.readmodel.stats import COLUMNS, column_name
from queue_server.web import charts
from queue_server.web.pages import install_page_headers, lang, page, render, state, t

bp = Blueprint("stats_pages", __name__)
install_page_headers(bp)


@bp.get("/manager/stats")
@page("manager")
def stats(actor):
    st = state()
    first, last, group, business = reads.query(request.args, st.hall.now().date(), st.service.businesses())
    st.service.roll_up_statistics()  # closed days not yet in the summary tables
    rep = reads.report(st, first, last, group, business, lang())
    rows = rep["rows"]
    labels = [str(r["label"]) if group != "day" else str(r["label"])[5:] for r in rows]
    draw = charts.lines if group == "day" else charts.bars
    volume = draw(t("web.stats.volumes"), labels, [
        (t("web.common.issued"), [r["issued"] for r in rows]),
        (t("web.common.completed"), [r["done"] for r in rows]),
        (t("web.common.no_shows"), [r["no_show"] for r in rows])])
    waits = draw(t("web.stats.waiting_time"), labels, [
        (t("web.stats.average_wait"), [r["avg_wait_min"] for r in rows]),
        (t("web.common.p90_wait"), [r["p90_wait_min"] for r in rows]),
        (t("web.stats.average_service"), [r["avg_service_min"] for r in rows])], t("web.common.min"))
    satisfaction = draw(t("web.common.satisfaction"), labels, [
        (t("web.stats.satisfaction"),
         [round(r["satisfaction"] * 100, 1) if r["satisfaction"] is not None else None for r in rows])], "%")
    query = {"from": first.isoformat(), "to": last.isoformat(), "group": group, **({"business": business} if business else {})}
    return render("console/stats.html", rep=rep, first=first, last=last, group=group, business=business,
                  businesses=st.service.businesses(), charts=[volume, waits, satisfaction],
                  columns=[(c, column_name(c, lang())) for c in COLUMNS],
                  export=lambda fmt: "/api/v1/stats?" + urlencode({**query, "format": fmt}), today=st.hall.now().date())


@bp.get("/manager/stats/applications")
@page("manager")
def application_stats(actor):
    """办件统计 for supervision: by item, department, business or window, with charts and the exports."""
    st = state()
    items = app_reads.items_named(st, lang())
    first, last, group, item = app_reads.query(request.args, st.hall.now().date(), items)
    app_reads.roll_up(st, first, last)  # past days not yet (or no longer) in the summary table
    rep = app_reads.report(st, first, last, group, item, lang())
    rows = rep["rows"]
    names = {c: app_reads.column_name(c, lang()) for c in app_reads.COLUMNS}
    labels = [str(r["label"]) for r in rows]

    def pct(key: str) -> list[float | None]:
        return [round(r[key] * 100, 1) if r[key] is not None else None for r in rows]

    volumes = charts.bars(t("web.app_stats.volumes"), labels,
                          [(names[k], [r[k] for r in rows]) for k in ("received", "accepted", "completed", "overdue")])
    rates = charts.bars(t("web.app_stats.rates"), labels,
                        [(names["on_time_rate"], pct("on_time_rate")), (names["one_visit_rate"], pct("one_visit_rate"))],
                        "%")
    days = charts.bars(names["avg_workdays"], labels, [(names["avg_workdays"], [r["avg_workdays"] for r in rows])],
                       t("web.app_stats.workdays_unit"))
    query = {"from": first.isoformat(), "to": last.isoformat(), "group": group, **({"item": item} if item else {})}
    return render("console/app_stats.html", rep=rep, first=first, last=last, group=group, item=item, items=items,
                  charts=[volumes, rates, days], names=names, rates=app_reads.RATES,
                  columns=[(c, names[c]) for c in app_reads.COLUMNS],
                  export=lambda fmt: "/api/v1/stats/applications?" + urlencode({**query, "format": fmt}))
