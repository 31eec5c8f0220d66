"""How newsflow opens DuckDB: one place for the settings every connection shares.

Nothing is downloaded at run time (extensions come from their pip packages only), so every
connection, the pipeline's and a reader's alike, turns DuckDB's extension auto-install and
auto-load off. The pipeline's own read-write connection adds its memory settings.
"""

from __future__ import annotations

import re
import time
from os import PathLike

import duckdb

#: Settings of every connection newsflow opens: no extension is fetched or loaded implicitly.
OFFLINE: dict[str, str] = {
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
}

#: The pipeline's read-write connection. DuckDB caches up to 80 % of RAM by default; the
#: pipeline streams batches and DuckDB spills what does not fit, so a fixed cap keeps a run's
#: memory flat as the warehouse grows (measured over 5,000 pages: 256 MB let the run process
#: grow ~60 MB more at publish), and its allocator hands freed memory back instead of keeping
#: up to 128 MB of it.
WRITER: dict[str, str] = {
    **OFFLINE,
    "memory_limit": "128MB",
    "allocator_flush_threshold": "32MB",
    "allocator_background_threads": "true",
}

Connection = duckdb.DuckDBPyConnection
Error = duckdb.Error


class WarehouseLocked(RuntimeError):
    """Another process holds the working file; the message names the file and the holder."""


def connect_read_only(path: str | PathLike[str]) -> Connection:
    """A reader's connection to a warehouse file (the snapshot, or the working file)."""
    return duckdb.connect(str(path), read_only=True, config=OFFLINE)


def connect_with_wait(path: str | PathLike[str], timeout_s: float) -> Connection:
    """Open ``path`` read-write for the pipeline, waiting while another process holds its lock."""
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    while True:
        try:
            return duckdb.connect(str(path), config=WRITER)
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" not in message.lower():
                raise
            if time.monotonic() >= deadline:
                holder = _lock_holder(message)
                raise WarehouseLocked(
                    f"{path} is locked by another process{holder}; waited {timeout_s:g} s "
                    "(warehouse.lock_timeout_s). Another newsflow run is probably writing."
                ) from None
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)


def _lock_holder(message: str) -> str:
    match = re.search(r"Conflicting lock is held in (.+?) \(PID (\d+)\)", message)
    return f" ({match[1]}, PID {match[2]})" if match else ""
