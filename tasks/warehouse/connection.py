"""How newsflow opens DuckDB: one place for the settings every connection shares.

Nothing is downloaded at run time (extensions come from their pip packages only), so every
connection, the pipeline's and a reader's alike, turns DuckDB's extension auto-install and
auto-load off. The pipeline's own read-write connection adds its memory settings
(``[warehouse] memory_limit``, spilling beside the working file).
"""

from __future__ import annotations

import os
import re
import time
from os import PathLike

import duckdb

#: Settings of every connection newsflow opens: no extension is fetched or loaded implicitly.
OFFLINE: dict[str, str] = {
    "autoinstall_known_extensions": "false",
    "autoload_known_extensions": "false",
}

#: The pipeline's read-write connection, less its memory limit and temp directory (see
#: :func:`writer_settings`): the allocator hands freed memory back instead of keeping it.
WRITER: dict[str, str] = {
    **OFFLINE,
    "allocator_flush_threshold": "32MB",
    "allocator_background_threads": "true",
}

#: The default ``[warehouse] memory_limit``: a quarter of the machine's RAM, at most 2 GB.
#: DuckDB's own default (80 % of RAM) competes with the extraction workers and the other
#: processes of a shared machine; a fixed small cap (128 MB) makes bulk writes over
#: hundreds of sources fail with "failed to pin block". What does not fit spills to the temp
#: directory beside the working file.
DEFAULT_MEMORY_SHARE = 0.25
DEFAULT_MEMORY_CAP = 2 * 1024**3


def default_memory_limit() -> str:
    """min(25 % of RAM, 2 GB), as DuckDB reads it (``"512MB"``)."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: take the cap
        ram = DEFAULT_MEMORY_CAP * 4
    return f"{int(min(ram * DEFAULT_MEMORY_SHARE, DEFAULT_MEMORY_CAP)) // 1024**2}MB"


def writer_settings(path: str | PathLike[str], memory_limit: str | None) -> dict[str, str]:
    """The writer's settings for the working file ``path``: its memory limit (the config's,
    else :func:`default_memory_limit`) and spilling to ``<working file>.tmp/`` beside it."""
    return {
        **WRITER,
        "memory_limit": memory_limit or default_memory_limit(),
        "temp_directory": f"{os.fspath(path)}.tmp",
    }


Connection = duckdb.DuckDBPyConnection


class WarehouseLocked(RuntimeError):
    """Another process holds the working file; the message names the file and the holder."""


class WarehouseDamaged(RuntimeError):
    """The working file exists but DuckDB cannot read it (truncated, overwritten, corrupt).

    The message names the file and the recovery (README, "A damaged working file"): nothing
    was written, and the snapshot analysts read is untouched. The file is never moved away by
    newsflow itself: its HTML archive may still be worth salvaging, and only its owner knows."""

    @classmethod
    def of(cls, path: str | PathLike[str], exc: BaseException) -> WarehouseDamaged:
        reason = " ".join(str(exc).split())
        return cls(
            f"the working file {path} is damaged and cannot be opened ({reason[:160]}); move "
            "it away and run again to rebuild it from the snapshot (see the README, "
            '"A damaged working file")'
        )


class MigrationFailed(RuntimeError):
    """A schema migration failed on a working file DuckDB reads fine (a migration bug, a
    conflicting table, out of memory): the file is not damaged and must not be moved away,
    which would throw away its ``raw_pages`` archive. The migration's transaction rolled back.
    """

    @classmethod
    def of(
        cls, path: str | PathLike[str], version: int, name: str, exc: BaseException
    ) -> MigrationFailed:
        reason = " ".join(str(exc).split())
        return cls(
            f"migration {version:03d} ({name}) failed on {path} ({reason[:300]}); it was "
            "rolled back and the file is not damaged: keep it, fix the cause and run again"
        )


#: DuckDB's error types that can mean the file itself is unreadable, and the words of those
#: messages that do ("not a valid DuckDB database file", "Could not read enough bytes" for a
#: file cut short, "Corrupt database file: computed checksum ... does not match", "Failed to
#: read block", "Failed to deserialize"). Both must match: an IO error can also be a newer
#: DuckDB's file or a permission, and "checksum" can be a column name in a Catalog Error.
_CORRUPTION_TYPES = (duckdb.IOException, duckdb.SerializationException, duckdb.InternalException)
_CORRUPTION_WORDS = (
    "not a valid duckdb database file",
    "could not read enough bytes",
    "corrupt database file",
    "does not match stored checksum",
    "failed to read block",
    "failed to deserialize",
)


def is_corruption(exc: BaseException) -> bool:
    """Is ``exc`` DuckDB saying the file's bytes are bad (not merely that an operation on a
    good file failed)? Only then is "move it away and rebuild" the right advice."""
    if not isinstance(exc, _CORRUPTION_TYPES):
        return False
    message = str(exc).lower()
    return any(words in message for words in _CORRUPTION_WORDS)


def connect_read_only(path: str | PathLike[str]) -> Connection:
    """A reader's connection to a warehouse file (the snapshot, or the working file)."""
    return duckdb.connect(str(path), read_only=True, config=OFFLINE)


def connect_with_wait(
    path: str | PathLike[str], timeout_s: float, memory_limit: str | None = None
) -> Connection:
    """Open ``path`` read-write for the pipeline, waiting while another process holds its lock."""
    deadline = time.monotonic() + timeout_s
    delay = 0.2
    settings = writer_settings(path, memory_limit)
    while True:
        try:
            return duckdb.connect(str(path), config=settings)
        except duckdb.Error as exc:
            message = str(exc)
            if not is_lock_error(message):
                if os.path.isfile(path) and is_corruption(exc):
                    raise WarehouseDamaged.of(path, exc) from None
                raise  # a permission, a newer DuckDB's file...: DuckDB's own words say it
            if time.monotonic() >= deadline:
                holder = _lock_holder(message)
                raise WarehouseLocked(
                    f"{path} is locked by another process{holder}; waited {timeout_s:.1f} s "
                    "(warehouse.lock_timeout_s). Another newsflow run is probably writing."
                ) from None
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)


def is_lock_error(message: str) -> bool:
    """DuckDB's "Could not set lock on file …: Conflicting lock is held in …" (and not, say, a
    corrupt file's "failed to read block")."""
    lowered = message.lower()
    return "could not set lock" in lowered or "conflicting lock" in lowered


def _lock_holder(message: str) -> str:
    match = re.search(r"Conflicting lock is held in (.+?) \(PID (\d+)\)", message)
    return f" ({match[1]}, PID {match[2]})" if match else ""
