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


# -- the spare: the snapshot before the current one, kept to start the next publish from -----


def spare_path(published: Path) -> Path:
    """Where the previous snapshot is kept: a hidden file beside the published one."""
    return published.with_name(f".{published.name}.spare")


def take_spare(published: Path, schema_version: int, target: Path) -> bool:
    """Move the spare to ``target`` when newsflow alone wrote it (``is_untouched``); True if
    moved. A spare that someone opened read-write (a ``.wal`` beside it, or a modification
    time that is not its publish time) is discarded instead: its rows are not newsflow's.

    The caller still has to open ``target`` read-write: a reader that opened the file while
    it was the published snapshot holds a shared lock on it, and DuckDB then refuses the
    writer, so nobody's open snapshot is ever written under them."""
    spare = spare_path(published)
    wal = Path(f"{spare}.wal")
    if _open_here(spare):
        return False  # file locks do not guard a file against its own process: leave it be
    if wal.exists() or not is_untouched(spare, schema_version):
        for path in (spare, wal):
            with suppress(OSError):
                path.unlink(missing_ok=True)
        return False
    try:
        os.replace(spare, target)
    except OSError:
        return False
    return True


def replace_keeping_spare(new: Path, published: Path, *, keep: bool = True) -> None:
    """Rename ``new`` over ``published`` atomically, keeping the snapshot it replaces as the
    spare: a hard link is made first, so readers always find a complete file at the published
    name and the old one keeps its inode (readers that have it open go on reading it). Where
    the filesystem has no hard links, there is no spare (the next publish copies instead).

    ``keep=False`` keeps no spare (and drops an older one): the caller knows the replaced
    snapshot lags so far behind that bringing it up to date would cost more than a copy."""
    spare = spare_path(published)
    staged = spare.with_name(f"{spare.name}.new")
    with suppress(OSError):
        staged.unlink(missing_ok=True)
    if not keep:
        for path in (spare, Path(f"{spare}.wal")):
            with suppress(OSError):
                path.unlink(missing_ok=True)
    kept = False
    if keep and published.is_file():
        try:
            os.link(published, staged)
            kept = True
        except OSError:
            kept = False
    os.replace(new, published)
    if kept:
        try:
            os.replace(staged, spare)
        except OSError:
            with suppress(OSError):
                staged.unlink(missing_ok=True)


def _open_here(path: Path) -> bool:
    """Whether this process has ``path``'s file open (Linux: ``/proc/self/fd``; elsewhere
    False). A DuckDB reader in the process that publishes (a notebook that also runs flows)
    holds no lock DuckDB's own writer would see."""
    try:
        target = path.stat()
        fds = list(Path("/proc/self/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        with suppress(OSError):
            st = fd.stat()
            if (st.st_ino, st.st_dev) == (target.st_ino, target.st_dev):
                return True
    return False
