"""The warehouse: a DuckDB working file the pipeline writes, and the snapshot analysts read.

DuckDB allows one writing process per file, and while it writes no other process can open the
file even read-only. So the file a user names (``warehouse.path`` / ``--db``) is a published
snapshot that newsflow never holds open: runs write ``<name>.work.duckdb`` beside it and, at the
end of each run, write a fresh snapshot to a temporary file and rename it into place. Readers
that already had the old snapshot open keep reading it; new readers get the new one. The bulky
``raw_pages`` archive stays in the working file.

All writes are bulk (Arrow tables registered and inserted with one statement) and each batch
is one transaction, so a crash never leaves half a batch behind.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from newsflow.schemas.records import FeedEntry
from newsflow.tasks.fetch.feeds import FeedPoll
from newsflow.tasks.warehouse import lake, publishing, search, snapshot
from newsflow.tasks.warehouse.alert_store import AlertStore
from newsflow.tasks.warehouse.archive import RunBoilerplateStore
from newsflow.tasks.warehouse.backfill_store import BackfillStore
from newsflow.tasks.warehouse.bulk import arrow_table as _arrow
from newsflow.tasks.warehouse.connection import (
    MigrationFailed,
    WarehouseDamaged,
    connect_with_wait,
    is_corruption,
    is_lock_error,
)
from newsflow.tasks.warehouse.feed_store import FeedStore
from newsflow.tasks.warehouse.lake_connection import LakeTarget
from newsflow.tasks.warehouse.metrics import TableMetrics
from newsflow.tasks.warehouse.migrate import available_migrations, current_version, migrate
from newsflow.tasks.warehouse.page_store import PageStore
from newsflow.tasks.warehouse.restore import restore_from_snapshot
from newsflow.tasks.warehouse.story_store import StoryStore


@dataclass
class LoadCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: LoadCounts) -> LoadCounts:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


def check_location(published: Path, working: Path) -> None:
    """Refuse a warehouse location before anything is written: a directory where the snapshot
    or the working file should be (found only at publish otherwise, after a whole run)."""
    for path in (published, working):
        if path.is_dir():
            raise IsADirectoryError(
                errno.EISDIR,
                "warehouse.path names a directory, not a DuckDB file (name a file inside it)",
                str(path),
            )
    parent = next((p for p in published.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise NotADirectoryError(
            errno.ENOTDIR, "the warehouse's folder is a file, not a directory", str(parent)
        )


#: The free space a run needs beside the working file before it starts: room for the first
#: batches, DuckDB's write-ahead log and a small snapshot. Less, and the run would only find
#: out mid-batch; refused at open, nothing is written.
MIN_FREE_BYTES = 16 * 1024 * 1024

#: Rows a publish may change and still keep the snapshot it replaced as the next one's start
#: (``Warehouse._spare_worth_keeping``), the full-text index's rows included (about 150 per
#: article). Measured at a million articles (benchmarks/scale.py): copying the 2.1 GB snapshot
#: takes about 6 s; applying a 1,000-article run's rows again (some 150,000 with its index
#: rows) takes about 2 s, while a million articles' took 29 s. So a busy run keeps its spare,
#: and a backfill of thousands of articles leaves the next publish to copy.
SPARE_MAX_LAG = 500_000


def check_free_space(published: Path, minimum: int = MIN_FREE_BYTES) -> None:
    """ENOSPC before anything is written when the warehouse's filesystem has less than
    ``minimum`` bytes free (measured at the nearest existing folder of ``published``; a
    filesystem reporting no size at all is not judged: whatever refuses the write says so)."""
    folder = next((p for p in (published.parent, *published.parents) if p.is_dir()), None)
    if folder is None:
        return
    usage = shutil.disk_usage(folder)
    free = usage.free
    if usage.total and free < minimum:  # total 0: a pseudo filesystem (/proc) that has no size
        mib = 1024 * 1024
        raise OSError(
            errno.ENOSPC,
            f"only {free / mib:.1f} MiB free where the warehouse lives, a run needs at least "
            f"{minimum // mib} MiB: free some space and run again",
            str(folder),
        )


def working_path(published: Path) -> Path:
    """``news.duckdb`` → ``news.work.duckdb``: the file only the pipeline opens."""
    return published.with_name(f"{published.stem}.work{published.suffix or '.duckdb'}")


class Warehouse(
    PageStore, FeedStore, AlertStore, StoryStore, TableMetrics, RunBoilerplateStore, BackfillStore
):
    """The pipeline's only door to DuckDB. Keep every SQL statement behind these methods, so
    a different target (DuckLake, MotherDuck) is a new implementation, not a hunt.

    The SQL is split by subject: runs, polls, articles and publishing here; pages, the feed
    lifecycle, alerts, story clusters, the table checks' measurements and the run boilerplate
    in the store mixins (``page_store``, ``feed_store``, ``alert_store``, ``story_store``,
    ``metrics``, ``archive``), which share the connection and the bulk writes of
    ``bulk.BulkStore``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, published: Path, working: Path) -> None:
        self.con = con
        self.published = published
        self.working = working
        #: How the last :meth:`publish` wrote the snapshot (None before the first).
        self.last_publish: publishing.PublishStats | None = None
        #: A DuckLake each publish also merges the runs into (``lake.py``); None: the file only.
        self.lake: LakeTarget | None = None
        #: What the last publish merged into the lake (None: no lake, or no publish yet).
        self.last_lake_publish: lake.LakePublish | None = None

    @classmethod
    def open(
        cls,
        published: str | os.PathLike[str],
        *,
        lock_timeout_s: float = 600.0,
        memory_limit: str | None = None,
    ) -> Warehouse:
        """Open the working file for writing (created, with its folder, when missing; restored
        from the snapshot, with a warning, when only the working file is missing: see
        ``restore.py``).

        Raises OSError for a location that cannot hold a warehouse (a directory where the file
        should be, a folder that cannot be created, less than :data:`MIN_FREE_BYTES` free),
        :class:`WarehouseLocked` after waiting out another writer, and
        :class:`WarehouseDamaged` for a working file DuckDB cannot read: all before anything
        is written. A migration that fails on a readable file raises :class:`MigrationFailed`
        naming it (rolled back, the file kept): only corruption is worth rebuilding over."""
        published_path = Path(published).expanduser().resolve()
        working = working_path(published_path)
        check_location(published_path, working)
        check_free_space(published_path)
        published_path.parent.mkdir(parents=True, exist_ok=True)
        existed, restored = working.exists(), None
        if not existed and published_path.is_file():  # the working file is gone, not new
            restored = restore_from_snapshot(published_path, working)
            existed = True
        if restored is not None:
            snapshot.warn(
                f"the working file {working} was missing: restored it from the snapshot "
                f"{published_path} ({restored} articles, run history and first_seen_at kept; "
                "the HTML archive starts again with the next fetch)"
            )
        con = connect_with_wait(working, lock_timeout_s, memory_limit)
        try:
            migrate(con)
        except duckdb.Error as exc:
            corrupt, failed = is_corruption(exc), None
            if not corrupt:  # the failed migration rolled back: it is the next one pending
                with suppress(duckdb.Error):
                    have = current_version(con)
                    failed = next((m for m in available_migrations() if m.version > have), None)
            con.close()
            if corrupt and existed:
                raise WarehouseDamaged.of(working, exc) from None
            if failed is None:
                raise
            raise MigrationFailed.of(working, failed.version, failed.name, exc) from None
        return cls(con, published_path, working)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------------

    def start_run(self, run_id: str, flow: str) -> list[str]:
        """Record the run as ``running``, and first mark every other run still ``running`` as
        ``crashed``: this process holds the working file's lock, so no other run is writing,
        and a row left ``running`` belongs to a process that was killed. Returns those runs."""
        with self._transaction():
            crashed = self.con.execute(
                """
                UPDATE pipeline_runs SET status = 'crashed', message = 'the run''s process ended '
                    || 'without finishing it (killed or lost power); found by run ' || ?
                WHERE status = 'running' AND run_id <> ?
                RETURNING run_id
                """,
                [run_id, run_id],
            ).fetchall()
            self.con.execute(
                "INSERT OR REPLACE INTO pipeline_runs (run_id, flow, started_at, status) "
                "VALUES (?, ?, ?, 'running')",
                [run_id, flow, _now()],
            )
        return sorted(r[0] for r in crashed)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for everything a batch's outcome writes (its articles, rejects,
        page errors, check results, and its entries marked done), so a kill leaves all or
        none of it."""
        with self._transaction():
            yield

    def finish_run(
        self, run_id: str, status: str, counts: dict[str, int], message: str | None
    ) -> None:
        allowed = {
            "feeds_polled",
            "pages_fetched",
            "page_errors",
            "articles_new",
            "articles_updated",
            "articles_unchanged",
            "rejected",
            "checks_failed",
        }
        sets = ", ".join(f"{k} = ?" for k in counts if k in allowed)
        values = [v for k, v in counts.items() if k in allowed]
        self.con.execute(
            f"UPDATE pipeline_runs SET finished_at = ?, status = ?, message = ?"
            f"{', ' + sets if sets else ''} WHERE run_id = ?",
            [_now(), status, message, *values, run_id],
        )

    # -- feeds --------------------------------------------------------------------------------

    def record_feed_polls(
        self,
        run_id: str,
        polls: Sequence[FeedPoll],
        new_counts: dict[str, int],
        chosen: Sequence[FeedEntry] = (),
    ) -> None:
        """One ``feed_fetches`` row per poll, and the polling state for the next run.

        The entries the run chose to fetch are kept as ``pending`` in the same transaction:
        the feed's new ETag means the next poll may answer 304, and an entry known only from
        this answer must not be lost with a run killed before its page was fetched."""
        if not polls:
            return
        rows = [
            {
                "run_id": run_id,
                "source": p.source,
                "feed_url": p.feed_url,
                "status": p.status,
                "etag": p.etag,
                "last_modified": p.last_modified,
                "bytes": p.bytes,
                "elapsed_ms": p.elapsed_ms,
                "entries": len(p.entries),
                "new_entries": new_counts.get(p.source, 0),
                "error": p.error or p.warning,
                "fetched_at": p.fetched_at,
            }
            for p in polls
        ]
        # Sources not requested (gone, paused, Retry-After) keep their state as it was.
        answered = {p.source: p for p in polls if not p.skipped}
        states = pa.Table.from_pylist(
            [
                {
                    "source": p.source,
                    "feed_url": p.feed_url,
                    "etag": p.etag if p.succeeded else None,
                    "last_modified": p.last_modified if p.succeeded else None,
                    "fetched_at": p.fetched_at,
                    "ok": p.succeeded,
                    # A 304 carries no new validators worth losing the old ones for.
                    "keep_old": p.status == 304,
                }
                for p in answered.values()
            ],
            schema=_POLL_STATE,
        )
        with self._registered("_polls", states), self._transaction():
            self._insert("feed_fetches", rows, replace=True)
            self.record_pending_entries(chosen, _now())
            self.con.execute(
                """
                INSERT INTO feed_state (source, feed_url, etag, last_modified, last_polled_at,
                    last_success_at, consecutive_errors)
                SELECT p.source, p.feed_url,
                    CASE WHEN p.keep_old THEN coalesce(p.etag, s.etag)
                         WHEN p.ok THEN p.etag ELSE s.etag END,
                    CASE WHEN p.keep_old THEN coalesce(p.last_modified, s.last_modified)
                         WHEN p.ok THEN p.last_modified ELSE s.last_modified END,
                    p.fetched_at,
                    CASE WHEN p.ok THEN p.fetched_at ELSE s.last_success_at END,
                    CASE WHEN p.ok THEN 0 WHEN s.source IS NULL THEN 1
                         ELSE s.consecutive_errors + 1 END
                FROM _polls p LEFT JOIN feed_state s USING (source)
                ON CONFLICT (source) DO UPDATE SET
                    feed_url = excluded.feed_url, etag = excluded.etag,
                    last_modified = excluded.last_modified,
                    last_polled_at = excluded.last_polled_at,
                    last_success_at = excluded.last_success_at,
                    consecutive_errors = excluded.consecutive_errors
                """
            )

    def unseen_entry_ids(
        self, source: str, entry_ids: Iterable[str], now: datetime | None = None
    ) -> set[str]:
        """Entry ids of ``source`` whose page still needs fetching: new, ``pending`` (listed
        before, never requested: a killed run), or a ``retry`` that is due at ``now``.

        An ``archived`` entry is not fetched again: its page is in the archive and the run
        finishes it from there (``unfinished_urls``); ``done`` and ``failed`` are final."""
        ids = list(dict.fromkeys(entry_ids))
        if not ids:
            return set()
        done = self.con.execute(
            "SELECT entry_id FROM seen_entries WHERE source = ? AND entry_id IN (SELECT unnest(?)) "
            "AND (state IN ('done', 'archived', 'failed') "
            "     OR (state = 'retry' AND next_attempt_at > ?))",
            [source, ids, now or _now()],
        ).fetchall()
        return set(ids) - {row[0] for row in done}

    # -- articles -----------------------------------------------------------------------------

    def load_articles(
        self,
        run_id: str,
        rows: Sequence[dict[str, Any]],
        line_hashes: dict[str, list[str]] | None = None,
        *,
        touch_unchanged: bool = True,
    ) -> LoadCounts:
        """Upsert valid article rows: new ones inserted at version 1, changed content gets a new
        version, unchanged content only moves ``last_seen_at``. Idempotent for the same input.
        An article keeps the source that first loaded it, whichever feed lists it later.

        ``touch_unchanged=False`` (reprocessing the archive, where nothing was seen on the site)
        leaves ``last_seen_at`` and ``run_id`` of unchanged articles alone."""
        rows = _last_by(rows, "article_id")
        if not rows:
            return LoadCounts()
        now = _now()
        batch = [
            {
                **{k: r.get(k) for k in _ARTICLE_INPUT},
                "version": 1,
                "first_seen_at": now,
                "last_seen_at": now,
                "run_id": run_id,
                # after run_id, in the table's column order (schema 10 added them last)
                "published_at_source": r.get("published_at_source"),
                "quality_flags": list(r.get("quality_flags") or ()),
                "origin": self.origin,  # schema 11; kept by later loads (not updated below)
            }
            for r in rows
        ]
        table = _arrow(batch, "articles", self.con)
        counts = LoadCounts()
        with self._transaction():
            self.con.register("_batch", table)
            try:
                status = dict(
                    self.con.execute(
                        """
                        SELECT b.article_id,
                               CASE WHEN a.article_id IS NULL THEN 'new'
                                    WHEN a.content_hash = b.content_hash THEN 'unchanged'
                                    ELSE 'updated' END
                        FROM _batch b LEFT JOIN articles a USING (article_id)
                        """
                    ).fetchall()
                )
                self.con.execute(
                    """
                    INSERT INTO articles AS a
                    SELECT * FROM _batch
                    ON CONFLICT (article_id) DO UPDATE SET
                        url = excluded.url, title = excluded.title,
                        text = excluded.text, authors = excluded.authors,
                        published_at = excluded.published_at, language = excluded.language,
                        captions = excluded.captions, word_count = excluded.word_count,
                        version = CASE WHEN a.content_hash = excluded.content_hash
                                       THEN a.version ELSE a.version + 1 END,
                        content_hash = excluded.content_hash,
                        last_seen_at = CASE WHEN ? OR a.content_hash <> excluded.content_hash
                                            THEN excluded.last_seen_at ELSE a.last_seen_at END,
                        run_id = CASE WHEN ? OR a.content_hash <> excluded.content_hash
                                      THEN excluded.run_id ELSE a.run_id END,
                        quality_flags = excluded.quality_flags,
                        published_at_source = excluded.published_at_source
                    """,
                    [touch_unchanged, touch_unchanged],
                )
                changed = [k for k, v in status.items() if v != "unchanged"]
                if changed:
                    self.con.execute(
                        """
                        INSERT INTO article_versions
                        SELECT a.article_id, a.version, a.content_hash, a.title, a.text, ?, ?
                        FROM articles a WHERE a.article_id IN (SELECT unnest(?))
                        ON CONFLICT DO NOTHING
                        """,
                        [now, run_id, changed],
                    )
            finally:
                self.con.unregister("_batch")
            if line_hashes:
                self._save_line_hashes(
                    {k: v for k, v in line_hashes.items() if status.get(k) != "unchanged"}, rows
                )
        for value in status.values():
            setattr(counts, value, getattr(counts, value) + 1)
        return counts

    def _save_line_hashes(
        self, line_hashes: dict[str, list[str]], rows: Sequence[dict[str, Any]]
    ) -> None:
        source_of = {r["article_id"]: r["source"] for r in rows}
        pairs = [
            {"source": source_of[aid], "article_id": aid, "line_hash": h}
            for aid, hashes in line_hashes.items()
            if aid in source_of
            for h in dict.fromkeys(hashes)
        ]
        if not pairs:
            return
        self.con.execute(
            "DELETE FROM source_lines WHERE article_id IN (SELECT unnest(?))", [list(line_hashes)]
        )
        self._insert("source_lines", pairs, replace=True)

    def save_rejections(
        self,
        run_id: str,
        rejections: Sequence[dict[str, Any]],
        *,
        replacing: Sequence[str] = (),
    ) -> None:
        """Rows that failed checks, with every failed check and the observed values.

        ``replacing`` (reprocess: the record URLs of the batch it judged again) first deletes
        what earlier reprocess runs rejected of those URLs, so each reprocess replaces its own
        verdict instead of adding another full set; an ingest run's rejects stay, since its
        reject rate is measured from them."""
        if replacing:
            self.con.execute(
                """
                DELETE FROM rejected_articles
                WHERE url IN (SELECT unnest(?)) AND run_id <> ? AND run_id IN (
                    SELECT run_id FROM pipeline_runs WHERE flow = 'reprocess')
                """,
                [list(replacing), run_id],
            )
        if not rejections:
            return
        now = _now()
        rows = [
            {
                "url": r["url"],
                "source": r["source"],
                "run_id": run_id,
                "failed_checks": list(r["failed_checks"]),
                "details": json.dumps(r["details"], default=str, sort_keys=True),
                "record": json.dumps(r["record"], default=str, sort_keys=True),
                "rejected_at": now,
            }
            for r in _last_by(rejections, "url")
        ]
        with self._transaction():
            self._insert("rejected_articles", rows, replace=True)

    def save_dq_results(self, run_id: str, results: Sequence[dict[str, Any]]) -> None:
        if not results:
            return
        now = _now()
        rows = [
            {
                "run_id": run_id,
                "suite": r["suite"],
                "check": r["check"],
                "source": r.get("source"),
                "severity": r["severity"],
                "success": bool(r["success"]),
                "observed": r.get("observed")
                if isinstance(r.get("observed"), str | None)
                else json.dumps(r.get("observed"), default=str),
                "unexpected_count": r.get("unexpected_count"),
                "checked_at": now,
            }
            for r in results
        ]
        with self._transaction():
            self._insert("dq_results", rows)

    # -- queries used by the CLI and the table checks -----------------------------------------

    def latest_ingest_run(self) -> str | None:
        """The newest ingest run that finished: what ``newsflow check`` checks the rates of."""
        return self.scalar(
            "SELECT run_id FROM pipeline_runs WHERE flow = 'ingest' "
            "AND status NOT IN ('running', 'crashed') "
            "ORDER BY started_at DESC LIMIT 1"
        )

    def known_sources(self) -> list[str]:
        """Every source the warehouse has polled or loaded (when no config names them)."""
        rows = self.con.execute(
            "SELECT source FROM feed_state UNION SELECT DISTINCT source FROM articles ORDER BY 1"
        ).fetchall()
        return [r[0] for r in rows]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.con.execute(sql, list(params)).fetchone()
        return row[0] if row else None

    # -- publishing ---------------------------------------------------------------------------

    def publish(self) -> Path:
        """Write the analysts' snapshot and atomically rename it over the published file.

        A run's publish costs what the run changed: it starts from the spare (the snapshot
        before the current one, ``snapshot.take_spare``) or else a copy of the current one (a
        reflink where the filesystem shares blocks), and only the rows that differ from the
        working file are removed and added (``publishing.py``). A snapshot is a starting point
        only when nothing but newsflow wrote it (``snapshot.is_untouched``) at this file's
        schema version. Otherwise (the first publish, a migration, a snapshot an analyst or a
        tool changed) the snapshot is rebuilt from every table. After a delta the
        snapshot's watermark must equal the working file's, or it is rebuilt too: the delta is
        a shortcut to the same file, never a different one.

        Around the rename: temp files of killed publishes are removed, a read-write session on
        the snapshot is reported, and the ``.wal`` such a session leaves is removed (and
        reported), so that no reader replays an analyst's writes onto the new snapshot.

        With a lake (``[warehouse] kind = "ducklake"``), the runs the lake lacks are then
        merged into it as one DuckLake snapshot (``lake.py``); a lake that cannot be reached
        raises after the file snapshot is in place, and the next publish carries those runs.
        """
        self.con.execute("CHECKPOINT")
        snapshot.remove_stale_temp_files(self.published)
        holder = snapshot.read_write_holder(self.published)
        if holder:
            snapshot.warn(
                f"the snapshot {self.published} is open read-write ({holder}): it blocks "
                "every other reader until that session ends, and its writes are not kept; "
                "open the snapshot read-only"
            )
        tmp = self.published.with_name(f".{self.published.name}.{os.getpid()}.tmp")
        leftovers = (tmp, Path(f"{tmp}.wal"))
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        search.sync_index(self.con)  # index what changed since the last publish
        mark = snapshot.watermark(self.con)
        version = self.scalar("SELECT max(version) FROM schema_migrations")
        published_at = _now()
        try:
            if not self._write_delta(tmp, version, mark, published_at):
                for leftover in leftovers:
                    leftover.unlink(missing_ok=True)
                self._write_rebuild(tmp, mark, published_at)
            snapshot.stamp(tmp, published_at)
            snapshot.replace_keeping_spare(tmp, self.published, keep=self._spare_worth_keeping())
        except BaseException:
            for leftover in leftovers:  # nothing half-written stays beside the snapshot
                with suppress(OSError):
                    leftover.unlink(missing_ok=True)
            raise
        if snapshot.drop_snapshot_wal(self.published):
            snapshot.warn(
                f"removed {self.published}.wal, left by a read-write session on the snapshot: "
                "read-only readers would have replayed its writes onto the new snapshot"
            )
        if self.lake is not None:  # the file first: analysts of the file never wait on the lake
            self.last_lake_publish = lake.publish(self.con, self.lake)
        return self.published

    def _spare_worth_keeping(self) -> bool:
        """Whether the snapshot this publish replaces should stay as the spare. The spare lags
        the new snapshot by exactly this publish's changes, which the next publish would
        apply to it again on top of its own: worth it for a run's few hundred rows, not after
        a rebuild or a delta of a backfill's hundred thousand (there, copying the current
        snapshot costs less)."""
        stats = self.last_publish
        if stats is None or stats.kind != "delta":
            return False
        return stats.removed + stats.added <= SPARE_MAX_LAG

    def _write_delta(self, tmp: Path, version: int, mark: str, published_at: datetime) -> bool:
        """This run's changes applied at ``tmp`` to an earlier snapshot that only newsflow
        wrote: the spare (the snapshot before the current one, moved into place: no bytes
        copied) or else a copy of the current one. False (and ``tmp`` left for the caller to
        remove) when there is no such snapshot, or the result does not hold what the working
        file holds."""
        if snapshot.take_spare(self.published, version, tmp):
            try:
                return self._apply_delta(tmp, mark, published_at, "spare")
            except duckdb.IOException as exc:
                if not is_lock_error(str(exc)):
                    raise
            # a reader still has the spare open from when it was the snapshot: leave it be
            for leftover in (tmp, Path(f"{tmp}.wal")):
                leftover.unlink(missing_ok=True)
        if not snapshot.is_untouched(self.published, version):
            return False
        publishing.clone_file(self.published, tmp)
        return self._apply_delta(tmp, mark, published_at, "copy")

    def _apply_delta(self, tmp: Path, mark: str, published_at: datetime, base: str) -> bool:
        own = self.scalar("SELECT current_database()")
        with publishing.attached(self.con, tmp):
            with self._transaction():
                stats = publishing.apply_delta(self.con, own)
                self.last_publish = replace(stats, base=base)
                self._record_state(mark, published_at)
            self.con.execute("USE snapshot")
            try:
                held = snapshot.watermark(self.con)
            finally:
                self.con.execute(f'USE "{own}"')
        if held != mark:
            snapshot.warn(
                "the snapshot did not match the working file after applying this run's "
                "changes; rebuilding it from every table"
            )
            return False
        return True

    def _write_rebuild(self, tmp: Path, mark: str, published_at: datetime) -> None:
        """A new snapshot at ``tmp`` from every table of the working file."""
        own = self.scalar("SELECT current_database()")
        with publishing.attached(self.con, tmp):
            publishing.prepare_empty(self.con, own)
            with self._transaction():
                self.last_publish = publishing.rebuild(self.con, own)
                self._record_state(mark, published_at)

    def _record_state(self, mark: str, published_at: datetime) -> None:
        latest = self.scalar("SELECT run_id FROM pipeline_runs ORDER BY started_at DESC LIMIT 1")
        publishing.record_state(self.con, published_at, latest, mark)


#: What ``record_feed_polls`` merges into ``feed_state``, one row per source that was polled.
_POLL_STATE = pa.schema(
    [
        ("source", pa.string()),
        ("feed_url", pa.string()),
        ("etag", pa.string()),
        ("last_modified", pa.string()),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
        ("ok", pa.bool_()),
        ("keep_old", pa.bool_()),
    ]
)

_ARTICLE_INPUT = (
    "article_id",
    "url",
    "source",
    "title",
    "text",
    "authors",
    "published_at",
    "language",
    "captions",
    "word_count",
    "content_hash",
)


def _last_by(rows: Sequence[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Keep the last row per key: DuckDB's upserts keep the *first* of in-batch duplicates."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        out[tuple(row[k] for k in keys)] = row
    return list(out.values())


def _now() -> datetime:
    return datetime.now(UTC)


def _sql_str(value: str) -> str:
    return value.replace("'", "''")
