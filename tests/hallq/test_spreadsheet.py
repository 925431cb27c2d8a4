"""Tables as downloads (hallq/spreadsheet.py), shared by a hall's statistics and the county's console: every text cell
opens as the text it is, a formula-looking one and one with a control character included (an item name with one made
the county's Excel export a 500)."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from hallq.spreadsheet import CSV, XLSX, table_file

HEAD = ["名称", "=cmd", "份额"]
ROWS = [["X\x0bY", "=HYPERLINK(\"http://evil.example\")", 0.5], ["\t=1+1", "-2", -2], ["@SUM(A1)", "普通", None]]


def test_an_excel_file_holds_every_text_as_text():
    body, media = table_file(HEAD, ROWS, "xlsx", "统计", shares=[3])
    assert media == XLSX
    ws = load_workbook(io.BytesIO(body)).active
    got = [[c.value for c in row] for row in ws.iter_rows()]
    assert got[0] == ["名称", "'=cmd", "份额"]
    assert got[1] == ["XY", "'=HYPERLINK(\"http://evil.example\")", 0.5]
    assert got[2] == ["'\t=1+1", "'-2", -2]
    assert got[3] == ["'@SUM(A1)", "普通", None]
    assert ws["C2"].number_format == "0.0%" and ws.title == "统计"
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)  # no formula anywhere


def test_a_csv_starts_with_the_bom_and_holds_the_same_safe_texts():
    body, media = table_file(HEAD, ROWS, "csv", "统计")
    assert media == CSV and body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8")[1:])))
    assert rows[1][:2] == ["XY", "'=HYPERLINK(\"http://evil.example\")"] and rows[2][0] == "'\t=1+1"


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError):
        table_file(HEAD, ROWS, "pdf", "统计")
