"""CSV files producers open in Excel on Korean Windows: every export (roster, allocation sheet,
payouts) is written here. UTF-8 with a byte-order mark (without it Excel reads Hangul as
mojibake), headers in the reader's language, times in the site's zone (Asia/Seoul), and every
text cell that a spreadsheet would run as a formula (= + - @, tab, carriage return) made inert
with a leading apostrophe. Numbers stay numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Response, current_app

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value):
    """A cell's value, safe to open in a spreadsheet: text starting like a formula gets a
    leading apostrophe; numbers and everything else pass unchanged (None becomes empty)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def local_time(value: datetime | None) -> str:
    """A UTC time as the producer reads it: "2026-12-04 15:30" in the site's zone."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).strftime("%Y-%m-%d %H:%M")


def csv_text(header: Iterable, rows: Iterable[Iterable]) -> str:
    """The whole file: BOM, the header (strings, lazily translated ones included), then the rows,
    every cell passed through `inert`. Lines end in CRLF, as Excel writes them."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow([inert(str(cell)) for cell in header])
    for row in rows:
        writer.writerow([inert(cell) for cell in row])
    return out.getvalue()


def csv_response(body: str, filename: str) -> Response:
    """An attachment download of a `csv_text` body. Header values must be Latin-1, so a Hangul
    file name goes as UTF-8 in `filename*` (RFC 6266), with an ASCII `filename` for old clients."""
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    return Response(
        body.encode("utf-8"), content_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition}
    )
