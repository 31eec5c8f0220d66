"""The analysts' snapshot: what it holds, who else has it open, and what publishing cleans up.

The snapshot is the analysts' to read, never to write. DuckDB gives a read-write session on
it a ``<snapshot>.wal`` beside the file, and every later reader, read-only included, replays
that log onto whatever file now has the name: an analyst's ``DELETE`` would reach every later
snapshot. So publishing removes the log after the rename (and says so), and reports a
read-write session holding the snapshot by the file's name.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from newsflow.run_log import run_logger
from newsflow.tasks.warehouse.connection import connect_read_only, is_lock_error

logger = logging.getLogger("newsflow.warehouse")

#: What the snapshot's article tables hold, as one string: row counts and an order-free hash
#: of the columns that change when an article is loaded, edited or seen again. Equal in the
#: working file and the snapshot exactly when the snapshot is current.
WATERMARK_SQL = """
SELECT concat_ws('/',
    (SELECT count(*) || ':' || coalesce(bit_xor(hash(article_id, content_hash, version,
                                                     last_seen_at, run_id)), 0)
     FROM articles),
    (SELECT count(*) || ':' || coalesce(bit_xor(hash(article_id, version, content_hash)), 0)
     FROM article_versions),
    (SELECT count(*) || ':' || coalesce(bit_xor(hash(cluster_id, article_id, clustered_at)), 0)
     FROM story_clusters))
"""

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp(?:\.wal)?$")


def watermark(con: duckdb.DuckDBPyConnection) -> str:
    """The change watermark of the database ``con`` uses (see :data:`WATERMARK_SQL`)."""
    row = con.execute(WATERMARK_SQL).fetchone()
    return str(row[0]) if row else ""


def is_untouched(published: Path, schema_version: int) -> bool:
    """Whether the published file is exactly as newsflow's last publish left it, at
    ``schema_version``: then a publish may start from a copy of it (``publishing.py``).

    Each publish sets the file's modification time to the ``published_at`` it records inside
    (:func:`stamp`); any later write that reached the file (an analyst's read-write session
    that checkpointed, a tool that rewrote it) moves the time and the two differ. A session's
    uncheckpointed ``.wal`` does not count: the copy leaves it behind, and publishing removes it.
    Filesystems with coarse timestamps never match, and are always rebuilt: slower, not wrong."""
    if not published.is_file():
        return False
    try:
        with connect_read_only(published) as snap:
            version = snap.execute("SELECT max(version) FROM schema_migrations").fetchone()
            stamped = snap.execute("SELECT max(published_at) FROM snapshot_state").fetchone()
        mtime_us = published.stat().st_mtime_ns // 1000
    except (duckdb.Error, OSError):
        return False
    if not version or version[0] != schema_version or not stamped or stamped[0] is None:
        return False
    return mtime_us == _micros(stamped[0])


def stamp(path: Path, published_at: datetime) -> None:
    """Set ``path``'s modification time to ``published_at`` (see :func:`is_untouched`)."""
    ns = _micros(published_at) * 1000
    os.utime(path, ns=(ns, ns))


def _micros(moment: datetime) -> int:
    return int((moment - _EPOCH) / timedelta(microseconds=1))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def read_write_holder(published: Path) -> str | None:
    """Who holds the snapshot read-write ("PID 4242, /usr/bin/duckdb"), or None.

    A read-write session locks the file against every reader; newsflow never opens the
    snapshot for writing, so whoever holds it is an analyst's session (or a tool of theirs)."""
    if not published.is_file():
        return None
    try:
        with connect_read_only(published):
            return None
    except duckdb.IOException as exc:
        message = str(exc)
        if not is_lock_error(message):
            return None
        match = re.search(r"Conflicting lock is held in (.+?) \(PID (\d+)\)", message)
        return f"PID {match[2]}, {match[1]}" if match else "another process"
    except duckdb.Error:
        return None


def remove_stale_temp_files(published: Path) -> list[Path]:
    """Remove ``.<name>.<pid>.tmp`` (and its ``.wal``) of publishes whose process is gone:
    what a publish killed half-way leaves beside the snapshot. Returns what was removed."""
    removed = []
    with suppress(OSError):
        for path in published.parent.iterdir():
            match = _TEMP.match(path.name)
            if not match or match["name"] != published.name or not path.is_file():
                continue
            pid = int(match["pid"])
            if pid == os.getpid() or _alive(pid):
                continue
            with suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def drop_snapshot_wal(published: Path) -> bool:
    """Remove the snapshot's ``.wal`` after a publish; True when there was one.

    The log belongs to a read-write session on the *previous* snapshot; replayed onto the new
    one it would apply that session's writes to data they were never meant for."""
    wal = Path(f"{published}.wal")
    if not wal.exists():
        return False
    wal.unlink(missing_ok=True)
    return True


def warn(message: str) -> None:
    """A warning in the flow run's log when there is one (the CLI shows it), else Python's."""
    run_logger(logger).warning(message)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
