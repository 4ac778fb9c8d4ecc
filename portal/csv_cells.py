"""CSV exports that a spreadsheet opens safely."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """`value`, with a text that a spreadsheet would run as a formula made plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class _Echo:
    """The file-like object csv.writer needs; each write hands the line back to stream it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """A CSV export as text to stream: the header, then the rows a few hundred lines per chunk
    (far fewer socket writes than one per row), every cell spreadsheet-safe."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    batch: list[str] = []
    for row in rows:
        batch.append(writer.writerow([spreadsheet_safe(value) for value in row]))
        if len(batch) == 500:
            yield "".join(batch)
            batch.clear()
    if batch:
        yield "".join(batch)
