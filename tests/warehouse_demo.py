"""One demo warehouse for the warehouse tests: two real ingest runs of the bundled demo site,
with an article edited on the site in between.

Flow runs cost seconds, so the warehouse is built once per test session (on first use) and the
test modules read it: test_refetch_versions, test_search, test_clusters, test_export. A test
that writes (test_reprocess) works on its own copy (:func:`copy_warehouse`).

Run 1 ingests the site. Then the edited page of ``newsflow/demo/site_updated`` is published
through an overlay folder the running site serves first (same port, so the same URLs). Run 2
finds every feed unchanged (304), and re-checks the pages it saw (``refetch_interval_min = 0``)
with conditional GETs: the edited page answers 200 with its new body, the others 304.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from newsflow.demo.config import demo_config
from newsflow.demo.server import demo_site_root, start_demo_site
from newsflow.flows.ingest import RunSummary, ingest
from newsflow.schemas.config import Config
from newsflow.tasks.warehouse.warehouse import working_path

EDITED = "valley-courier/stories/2026-11-24-cold-ash-reservoir-level.html"
UPDATED_ROOT = demo_site_root().parent / "site_updated"


@dataclass
class DemoWarehouse:
    db: Path  # the published snapshot
    base_url: str
    config: Config
    first: RunSummary
    second: RunSummary
    articles_after_first: list[tuple[Any, ...]]
    second_requests: list[tuple[str, str, int]]  # (method, path, status) served during run 2
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def working(self) -> Path:
        return working_path(self.db)

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.db), read_only=True)


_BUILT: list[DemoWarehouse] = []


def demo_warehouse(tmp_path_factory: Any) -> DemoWarehouse:
    """The session's demo warehouse, built on first use (needs the ``prefect_harness``)."""
    if not _BUILT:
        _BUILT.append(_build(tmp_path_factory.mktemp("demo-warehouse")))
    return _BUILT[0]


def _build(root: Path) -> DemoWarehouse:
    overlay = root / "overlay"
    overlay.mkdir()
    db = root / "news.duckdb"
    site = start_demo_site(0, overlays=[overlay])
    try:
        config = demo_config(site.base_url, db=str(db))
        config.fetch = config.fetch.model_copy(update={"refetch_interval_min": 0})
        first = ingest(config=config, db=str(db))
        with duckdb.connect(str(db), read_only=True) as con:
            after_first = con.execute("SELECT * FROM articles ORDER BY article_id").fetchall()
        # The newsroom corrects one article; its feed entry does not change.
        (overlay / EDITED).parent.mkdir(parents=True)
        shutil.copy(UPDATED_ROOT / EDITED, overlay / EDITED)
        before = len(site.requests)
        second = ingest(config=config, db=str(db))
        second_requests = list(site.requests[before:])
    finally:
        site.stop()
    return DemoWarehouse(
        db=db,
        base_url=site.base_url,
        config=config,
        first=first,
        second=second,
        articles_after_first=after_first,
        second_requests=second_requests,
    )


def copy_warehouse(source: DemoWarehouse, target_dir: Path) -> Path:
    """Copy the snapshot and the working file to ``target_dir`` (times kept, as a backup tool
    would); returns the new snapshot path."""
    target_dir.mkdir(parents=True, exist_ok=True)
    db = target_dir / source.db.name
    shutil.copy2(source.db, db)  # the modification time says newsflow wrote it last
    shutil.copy2(source.working, working_path(db))
    return db
