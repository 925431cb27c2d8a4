"""The statistics page: a period, a grouping, charts a manager reads at a glance, the table, exports."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, request

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
