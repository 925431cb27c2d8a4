"""The manager's pages in words, not codes (issue 17): business names where codes showed, the journal's details
as readable fields, and the Excel export with a named sheet and satisfaction as a percentage."""

from __future__ import annotations

import io
import re

from queue_server.web import journal_names
from tests.web.test_roles import Browser


def test_the_items_table_names_each_business(app):
    page = Browser(app, "900").client.get("/manager/services").text
    items = page[page.index('id="i-h"'):]
    rows = re.findall(r"<tr><td>(?:<a [^>]*>)?(T-[A-Z]+-1)(?:</a>)?</td><td>([^<]*)</td>", items)  # code links its guide
    assert rows == [("T-ALPHA-1", "A 甲业务"), ("T-BETA-1", "B 乙业务")]


def test_the_journal_reads_as_words(app, api):
    api.open_window(1, "101")
    api.issue("alpha")
    api.act(1, "call-next", "101")
    api.act(1, "no-show", "101")
    page = Browser(app, "900").client.get("/manager/journal").text
    details = re.findall(r'<td class="muted">([^<]*)</td></tr>', page)
    assert details and not [d for d in details if re.search(r"\b[a-z_]+=", d)], details
    assert any("工号：101" in d for d in details), details
    assert "<td>甲业务</td>" in page and "<td>alpha</td>" not in page
    businesses = app.extensions["hallq"].service.businesses()
    words = journal_names.details({"seq": 12, "recalls": 0, "bad": True, "level": 1, "serves": ["beta", "alpha"],
                                   "job_no": "2001"}, "zh-Hans", businesses)
    assert words == "当日序号：12；重呼次数：0；差评：是；评价：非常不满意；办理业务：乙业务、甲业务；工号：2001"
    assert journal_names.details({"seq": 12, "bad": False}, "en", businesses) == "number of the day: 12; bad review: no"
    assert journal_names.details({"class": "ordinary", "stage": "window", "delivery": "mail", "console": True},
                                 "zh-Hans") == "号票类别：普通号；评价环节：窗口服务；送达方式：邮寄；网页工作台：是"
    assert journal_names.details({"someday_new": 3}, "zh-Hans") == "someday_new：3"  # a new field: still shown
    # the coded values the review found raw: a role, a day's kind and note, a green-channel reason, what a console
    # change changed, a tidal window's businesses before
    assert journal_names.details({"job_no": "555", "role": "staff"}, "zh-Hans") == "工号：555；角色：工作人员"
    assert journal_names.details({"day": "2026-12-31", "kind": "holiday", "note": "x"}, "zh-Hans") == \
        "日期：2026-12-31；类型：放假；备注：x"
    assert journal_names.details({"green_reason": "disabled"}, "zh-Hans") == "绿色通道原因：残疾人"
    assert journal_names.details({"source": "console", "changed": ["daily_limit", "prefix"]}, "zh-Hans") == \
        "来源：管理后台；更改：每日限号、前缀"
    assert journal_names.details({"previous": ["alpha"]}, "zh-Hans", businesses) == "原值：甲业务"
    assert journal_names.details({"previous": "staff"}, "zh-Hans", businesses) == "原值：staff"  # no business: as it is


def test_the_excel_export_names_its_sheet_and_shows_satisfaction_as_a_percentage(app, api):
    from openpyxl import load_workbook

    api.open_window(1, "101")
    api.issue("alpha")
    api.act(1, "call-next", "101")
    api.act(1, "complete", "101")
    b = Browser(app, "900")
    for lang, sheet in (("zh-Hans", "按时段统计"), ("en", "By hour")):
        r = b.client.get("/api/v1/stats?group=hour&format=xlsx&from=2026-11-23&to=2026-11-23",
                         headers={"Accept-Language": lang})
        assert r.status_code == 200
        ws = load_workbook(io.BytesIO(r.data)).active
        assert ws.title == sheet
        head = [c.value for c in ws[1]]
        share = head.index("满意率" if lang == "zh-Hans" else "Satisfaction") + 1
        assert all(ws.cell(row, share).number_format == "0.0%" for row in range(2, ws.max_row + 1))
