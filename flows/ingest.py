"""The ingest flow: one pass over the configured sources.

poll feeds → keep new entries → fetch pages → extract and clean → validate → load → publish.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from newsflow.flows import console, steps
from newsflow.schemas.config import Config, load_config
from newsflow.schemas.records import FeedEntry
from newsflow.tasks.boilerplate import learn_boilerplate
from newsflow.tasks.feeds import FeedPoll
from newsflow.tasks.load import LoadCounts, Warehouse
from newsflow.tasks.urls import normalise_url


@dataclass
class RunSummary:
    """What a run did, for the CLI's closing summary and for tests."""

    run_id: str
    db: str
    status: str = "completed"
    feeds_polled: int = 0
    feed_errors: dict[str, str] = field(default_factory=dict)
    pages_fetched: int = 0
    page_errors: dict[str, str] = field(default_factory=dict)  # url → reason
    loaded: LoadCounts = field(default_factory=LoadCounts)
    rejected: dict[str, list[str]] = field(default_factory=dict)  # url → failed checks
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    critical_failed: bool = False
    elapsed_s: float = 0.0
    stage_s: dict[str, float] = field(default_factory=dict)  # wall time per stage

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_s[stage] = self.stage_s.get(stage, 0.0) + time.perf_counter() - started

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["loaded"] = asdict(self.loaded)
        return data

    def counts(self) -> dict[str, int]:
        return {
            "feeds_polled": self.feeds_polled,
            "pages_fetched": self.pages_fetched,
            "page_errors": len(self.page_errors),
            "articles_new": self.loaded.new,
            "articles_updated": self.loaded.updated,
            "articles_unchanged": self.loaded.unchanged,
            "rejected": len(self.rejected),
            "checks_failed": len(self.checks_failed),
        }


def current_run_id() -> str:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else uuid.uuid4().hex


def new_entries(
    warehouse: Warehouse, polls: list[FeedPoll]
) -> tuple[list[FeedEntry], dict[str, int]]:
    """Entries whose pages have not been handled yet.

    An article listed by two feeds (often with tracking parameters on one link) is fetched once,
    for the source configured first.
    """
    chosen: list[FeedEntry] = []
    per_source: dict[str, int] = {}
    seen_urls: set[str] = set()
    for poll in polls:
        unseen = warehouse.unseen_entry_ids(poll.source, [e.entry_id for e in poll.entries])
        fresh = []
        for entry in poll.entries:
            key = normalise_url(entry.url)
            if entry.entry_id in unseen and key not in seen_urls:
                seen_urls.add(key)
                fresh.append(entry)
        per_source[poll.source] = len(fresh)
        chosen.extend(fresh)
    return chosen, per_source


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


@flow(name="newsflow-ingest", log_prints=False)
def ingest(
    config_path: str | None = None, db: str | None = None, config: Config | None = None
) -> RunSummary:
    """Poll every enabled source once and load what is new."""
    started = time.monotonic()
    config = config or load_config(config_path)
    db_path = db or config.warehouse.path
    run_id = current_run_id()
    summary = RunSummary(run_id=run_id, db=db_path)
    sources = [s for s in config.sources if s.enabled]

    with Warehouse.open(db_path, lock_timeout_s=config.warehouse.lock_timeout_s) as warehouse:
        warehouse.start_run(run_id, "ingest")
        try:
            polls = [
                future.result()
                for future in [
                    steps.poll_feed.submit(s, config, warehouse.feed_validators(s.name, s.feed))
                    for s in sources
                ]
            ]
            summary.feeds_polled = len(polls)
            summary.feed_errors = {p.source: p.error for p in polls if p.error}
            entries, per_source = new_entries(warehouse, polls)
            warehouse.record_feed_polls(run_id, polls, per_source)

            boilerplate = {
                s.name: learn_boilerplate(warehouse.source_line_hashes(s.name)) for s in sources
            }
            with console.progress("Fetching pages", len(entries)) as bar:
                for batch in _batches(entries, config.fetch.batch_size):
                    process_batch(warehouse, run_id, batch, config, boilerplate, summary, bar)

            warehouse.finish_run(run_id, summary.status, summary.counts(), None)
            with summary.timed("publish"):
                warehouse.publish()
        except BaseException as exc:
            warehouse.finish_run(run_id, "failed", summary.counts(), f"{type(exc).__name__}: {exc}")
            raise
    summary.elapsed_s = time.monotonic() - started
    return summary


def process_batch(
    warehouse: Warehouse,
    run_id: str,
    batch: list[FeedEntry],
    config: Config,
    boilerplate: dict[str, frozenset[str]],
    summary: RunSummary,
    bar: Any,
) -> None:
    """One batch of pages through fetch → extract → validate → load."""
    with summary.timed("fetch"):
        fetched = steps.fetch_batch(batch, config, on_done=lambda _page: bar.advance())
    summary.pages_fetched += len(fetched)
    with summary.timed("archive"):
        warehouse.save_pages(run_id, fetched)
    with summary.timed("extract"):
        rows, extract_errors, line_hashes = steps.extract_batch(fetched, boilerplate)
    warehouse.mark_page_errors(extract_errors)
    summary.page_errors.update({p["url"]: p["error"] for p in fetched if p["error"]})
    summary.page_errors.update(extract_errors)
    with summary.timed("validate"):
        outcome = steps.validate_batch(rows, config)
    with summary.timed("load"):
        summary.loaded += steps.load_batch(warehouse, run_id, outcome, line_hashes)
    summary.rejected.update({r.record["url"]: r.failed_checks for r in outcome.rejected})
    for result in outcome.results:
        if result["success"]:
            summary.checks_passed += 1
        else:
            summary.checks_failed.append(result["check"])
