"""Per-source boilerplate from the first run (issue 15): a line repeated across enough pages of
one source within the current run goes as if an earlier run had taught it, so a new source is
clean on its first run, and ``reprocess`` keeps it clean.

Over real parts: the demo site on loopback HTTP, a real ingest flow and a real DuckDB file. The
demo's north-star-wire is a new source on the first run; each of its articles ends with the same
newsletter promo.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from newsflow.demo.config import demo_config
from newsflow.demo.server import demo_site_root, start_demo_site
from newsflow.flows.ingest import ingest
from newsflow.flows.reprocess import reprocess
from newsflow.tasks.extract.boilerplate import RunBoilerplate, line_hash

PROMO = "Get the North Star Wire evening digest in your inbox every weekday at 6pm."
MANIFEST = json.loads((demo_site_root() / "manifest.json").read_text())


def _texts(db: str, source: str) -> list[str]:
    with duckdb.connect(db, read_only=True) as con:
        rows = con.execute(
            "SELECT text FROM articles WHERE source = ? ORDER BY article_id", [source]
        ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture(scope="module")
def runs(prefect_harness, tmp_path_factory):
    db = str(tmp_path_factory.mktemp("first-run") / "newsflow.duckdb")
    site = start_demo_site(0)
    try:
        config = demo_config(site.base_url, db=db)
        first = ingest(config=config, db=db)
        after_first = _texts(db, "north-star-wire")
        again = reprocess(config=config, db=db)
        after_reprocess = _texts(db, "north-star-wire")
    finally:
        site.stop()
    return first, after_first, again, after_reprocess


def test_the_demo_pages_share_the_promo() -> None:
    # The premise: every north-star-wire page of the demo carries the line.
    pages = [m for m in MANIFEST if m["source"] == "north-star-wire"]
    assert len([m for m in pages if PROMO in m["boilerplate_lines"]]) >= 5


def test_a_new_source_is_clean_on_its_first_run(runs) -> None:
    first, after_first, _, _ = runs
    assert first.status == "completed"
    assert len(after_first) >= 5
    assert not [t for t in after_first if "evening digest" in t]
    assert all(len(t.split()) > 30 for t in after_first)  # the reporting stays


def test_reprocess_keeps_the_first_run_clean(runs) -> None:
    _, after_first, again, after_reprocess = runs
    assert again.status == "completed"
    assert after_reprocess == after_first


def test_run_counts_use_the_stored_thresholds() -> None:
    chrome, news = line_hash("Sign up for the evening digest"), [f"{i:016x}" for i in range(40)]
    learnt = RunBoilerplate({"old": frozenset({"stored"})})
    # Four articles are below min_docs (5): nothing learnt yet; the stored set stands.
    assert learnt.observe("new", [[chrome, news[i]] for i in range(4)]) == frozenset()
    assert learnt.observe("new", [[chrome, news[4]]]) == {chrome}
    # 5 of 30 is below a quarter: the line no longer counts as chrome.
    assert learnt.observe("new", [[news[i]] for i in range(5, 30)]) == frozenset()
    assert learnt["old"] == {"stored"}
    assert learnt.observe("old", [[chrome]] * 5) == {"stored", chrome}
