"""A table as a download: CSV (UTF-8 with a BOM, which Excel needs to open Chinese) or an Excel workbook (openpyxl),
shared by a hall's statistics (queue_server/api/stats.py) and the county's console (county/console_web.py).

Every text cell is made safe to open, since names come from consoles and from the halls' events:

* one a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return first, OWASP's
  list for CSV injection) is prefixed with an apostrophe;
* control characters XML cannot hold are removed (openpyxl refuses them: an item named with one made the whole
  export a 500).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any, Iterable, Sequence

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def safe_cell(value: Any) -> Any:
    """``value`` as a cell that opens as the text it is (non-text values unchanged).

    >>> safe_cell("=HYPERLINK(1)"), safe_cell("X\\x0bY"), safe_cell(-3)
    ("'=HYPERLINK(1)", 'XY', -3)
    """
    if not isinstance(value, str):
        return value
    value = _CONTROL.sub("", value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def table_file(head: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str, sheet: str,
               shares: Sequence[int] = ()) -> tuple[bytes, str]:
    """The file's bytes and media type. ``fmt``: ``csv`` or ``xlsx``; ``sheet``: the workbook's sheet title (31
    characters at most, as Excel allows); ``shares``: 1-based columns of shares of 1, shown as percentages."""
    head = [safe_cell(h) for h in head]
    rows = [[safe_cell(v) for v in r] for r in rows]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(head)
        w.writerows(rows)
        return ("\ufeff" + buf.getvalue()).encode("utf-8"), CSV
    if fmt != "xlsx":
        raise ValueError(f"unknown table format {fmt!r}")
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = safe_cell(sheet)[:31] or "Sheet1"
    ws.append(head)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append(r)
    for share in shares:  # a share of 1: Excel shows 0.5 as 50.0%
        for (cell,) in ws.iter_rows(min_row=2, min_col=share, max_col=share):
            cell.number_format = "0.0%"
    ws.freeze_panes = "B2"
    ws.column_dimensions["A"].width = 22
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), XLSX
