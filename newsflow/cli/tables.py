"""``newsflow query --csv`` and ``--json``: a result streamed as CSV or JSON Lines.

The rows come from :func:`newsflow.tasks.warehouse.reader.query_rows` (a header, then tuples of
plain values) and are written as they arrive, so ``| head`` or a million-row export needs no
more memory than a chunk. Nested values (lists, structs, maps) become JSON text in a CSV cell
and JSON in a JSON line; timestamps and decimals become their ISO or exact text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO


def _plain(value: Any) -> Any:
    """A value JSON can carry: dates as ISO text, decimals and UUIDs as text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _cell(value: Any) -> Any:
    """A CSV cell: NULL is empty, nested values are JSON, bytes hex (as in JSON Lines)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, default=_plain, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def write_csv(rows: Iterable[Sequence[Any]], out: TextIO) -> None:
    """The header then every row, RFC 4180 quoting (``csv`` module), ``\\n`` line ends."""
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])


def write_json_lines(rows: Iterable[Sequence[Any]], out: TextIO) -> None:
    """One JSON object a row, keyed by column name (the first item of ``rows``)."""
    columns: list[str] | None = None
    for row in rows:
        if columns is None:
            columns = [str(c) for c in row]
            continue
        record = dict(zip(columns, row, strict=True))
        out.write(json.dumps(record, default=_plain, ensure_ascii=False) + "\n")
