"""Reading an import file: its header, then its rows, streamed in constant memory.

UTF-8 with or without a byte-order mark; the delimiter (comma, semicolon or tab) is sniffed from
the header line; quoted fields as the csv module reads them. Each line is read with a cap and
decoded on its own, so one overlong or badly encoded line is one invalid row, never a failed
import; a file whose header is not UTF-8 is refused with the fix named.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .errors import ImportFileError

# Longest line accepted; a longer one is one invalid row, skipped without being kept.
MAX_LINE_BYTES = 64 * 1024
# Widest header accepted: a wider one is a file that is not a contact list.
MAX_COLUMNS = 1000
DELIMITERS = (",", ";", "\t")
NOT_UTF8 = (
    "The file is not UTF-8 text. In Excel choose 'Save as' > 'CSV UTF-8'; in LibreOffice tick "
    "'Edit filter settings' and pick 'Unicode (UTF-8)'; then import it again."
)
csv.field_size_limit(MAX_LINE_BYTES)


@dataclass(frozen=True)
class Header:
    columns: tuple[str, ...]
    delimiter: str
    line: int  # the line number of the header itself


@dataclass(frozen=True)
class BadLine:
    """A line that cannot be a row: reported invalid with `detail`."""

    line: int
    detail: str


def _decoded_lines(
    stream: BinaryIO, on_bytes: Callable[[int], None], after: int = 0
) -> Iterator[tuple[int, str] | BadLine]:
    """(number, text) of each line after line `after`, or a BadLine."""
    number = after
    readline = stream.readline
    while True:
        raw = readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        on_bytes(len(raw))
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest without keeping it
                raw = readline(MAX_LINE_BYTES)
                on_bytes(len(raw))
            yield BadLine(number, f"line longer than {MAX_LINE_BYTES // 1024} KiB")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield BadLine(number, "not UTF-8 text")
            continue
        if number == 1:
            text = text.removeprefix("\ufeff")
        yield number, text


def _sniff(line: str) -> str:
    counts = {delimiter: line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _parse_header(text: str, line: int) -> Header:
    if "\x00" in text:
        raise ImportFileError("The header line contains a NUL byte. Save the file as CSV text.")
    delimiter = _sniff(text)
    try:
        cells = next(csv.reader([text], delimiter=delimiter))
    except (csv.Error, StopIteration):
        raise ImportFileError("The header line cannot be read as CSV.") from None
    if len(cells) > MAX_COLUMNS:
        raise ImportFileError(
            f"The header has {len(cells)} columns; at most {MAX_COLUMNS} are accepted. "
            "Keep the email column and the attributes you need."
        )
    columns = tuple(cell.strip().lower() for cell in cells)
    if "email" not in columns:
        raise ImportFileError(
            "Missing header: the first line must name the columns, including 'email'."
        )
    return Header(columns=columns, delimiter=delimiter, line=line)


def header_read(stream: BinaryIO, on_bytes: Callable[[int], None] | None = None) -> Header:
    """The header of `stream` (its first non-blank line), leaving `stream` just after it.

    Raises ImportFileError saying what to fix: not UTF-8, NUL byte, too many columns, no
    `email` column, an overlong header.
    """
    for item in _decoded_lines(stream, on_bytes or (lambda n: None)):
        if isinstance(item, BadLine):
            if item.detail == "not UTF-8 text":
                raise ImportFileError(NOT_UTF8)
            raise ImportFileError(
                f"The header line is longer than {MAX_LINE_BYTES // 1024} KiB; at most "
                f"{MAX_COLUMNS} columns are accepted."
            )
        number, text = item
        if text.strip():
            return _parse_header(text, number)
    raise ImportFileError(
        "Missing header: the first line must name the columns, including 'email'."
    )


def header_check(head: bytes) -> Header:
    """The header of a file whose first bytes are `head` (at least its first line, if short)."""
    return header_read(io.BytesIO(head))


def rows_read(
    stream: BinaryIO, header: Header, on_bytes: Callable[[int], None]
) -> Iterator[tuple[int, list[str]] | BadLine]:
    """(line number, cells) of every non-blank row after the header, or a BadLine.

    The line number is the row's first physical line (a quoted field may span lines).
    """
    pending: list[BadLine] = []
    numbers: list[int] = []
    lines = _decoded_lines(stream, on_bytes, after=header.line)

    def texts() -> Iterator[str]:
        for item in lines:
            if isinstance(item, BadLine):
                pending.append(item)
                continue
            numbers.append(item[0])
            yield item[1]

    reader = csv.reader(texts(), delimiter=header.delimiter)
    while True:
        numbers.clear()
        try:
            cells = next(reader)
        except StopIteration:
            yield from pending
            return
        except csv.Error as error:
            yield from pending
            pending.clear()
            yield BadLine(numbers[0] if numbers else 0, f"bad CSV: {error}")
            continue
        if pending:
            yield from pending
            pending.clear()
        if not any(cell.strip() for cell in cells):
            continue
        yield numbers[0] if numbers else 0, cells
