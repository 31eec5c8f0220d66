"""The extract stage's Prefect task: one task run per batch of pages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from newsflow.schemas.records import ExtractedArticle, Page
from newsflow.tasks.extract import boilerplate, transform
from newsflow.tasks.extract.extract import release_caches
from newsflow.tasks.warehouse.warehouse import Warehouse


def html_pages_of(fetched: Sequence[Page]) -> list[Page]:
    """The pages of a batch that carry HTML to extract."""
    return [p for p in fetched if p.has_html]


@task(name="extract-pages", cache_policy=NO_CACHE)
def extract_batch(
    fetched: Sequence[Page],
    boilerplate: Mapping[str, frozenset[str]],
    executor: Executor | None = None,
    started: Iterable[ExtractedArticle] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, list[str]]]:
    """Extract and clean the HTML pages of a batch, on ``executor`` (the run's process pool)
    when given, else on a pool of its own if the batch is worth one. ``started``: the batch's
    extraction already handed to the pool (``transform.start_extraction``), to collect.

    Returns article rows, the pages that gave no article (url → reason), and each article's
    line hashes for per-source boilerplate learning. A page that was read as HTML but left no
    text is a row with an empty body, not an error: the row suite's ``body_present`` rejects
    it into ``rejected_articles`` with its title, authors and date, where an analyst sees it.
    """
    html_pages = html_pages_of(fetched)
    if started is not None:
        extracted = list(started)
    else:
        with transform.extraction_pool(len(html_pages), executor) as pool:
            extracted = transform.extract_many(html_pages, boilerplate, executor=pool)
        if pool is None:  # extracted here; this process validates and loads next
            release_caches()
    rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    line_hashes: dict[str, list[str]] = {}
    for page, article in zip(html_pages, extracted, strict=True):
        if article.error and not article.no_text:
            errors[page.url] = article.error
            continue
        row = transform.article_row(
            article,
            source=page.source,
            fetched_url=page.final_url,
            fetched_at=page.fetched_at,
            entry=page.entry,
        )
        rows.append(row)
        line_hashes[row["article_id"]] = article.line_hashes
    return rows, errors, line_hashes


def source_boilerplate(warehouse: Warehouse, sources: Sequence[str]) -> dict[str, frozenset[str]]:
    """Each source's boilerplate as learnt from its stored articles now: the set its last run
    applied where no article of it was seen or changed since, else learnt again from counts
    the warehouse makes for all those sources in one query (``boilerplate.learn_from_counts``).
    A source with no stored article has none."""
    kept = warehouse.unchanged_boilerplate(sources)
    stale = [s for s in sources if s not in kept]
    counts = warehouse.line_doc_frequencies(stale, min_docs=boilerplate.DEFAULT_MIN_DOCS)
    learnt = {s: boilerplate.learn_from_counts(*counts.get(s, (0, {}))) for s in stale}
    return {s: kept[s] if s in kept else learnt[s] for s in sources}
