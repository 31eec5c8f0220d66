"""Table-level data-quality checks: one Great Expectations run over DuckDB query results.

After a load (and on ``newsflow check``) the warehouse is summarised per source by
``Warehouse`` queries (``tasks/warehouse/metrics.py``), one row per source: what was measured
(age of the newest article, new articles in this run, reject, page-error and null rates,
duplicate URLs)
next to that source's thresholds. The table suite
(``expectations/articles_table.json``) then compares the columns, the same way the row suite
does, so per-source thresholds need no per-source suite and the suite JSON stays the one place
that says what is checked and how severe a failure is.

GX validates the pandas frame (its SQLAlchemy path to DuckDB is broken in current releases).
Result format COMPLETE with ``source`` as the unexpected-index key maps each failure to its
source. A measurement that cannot be made in this run (no feed poll that answered 200, too few
records for a rate) is NaN: the expectation skips the row, the result is ``skip``, it is not
written to ``dq_results`` and it leaves the alert state as it was, so a quiet tick (every feed
``304 Not Modified``) never looks like a recovery.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsflow.schemas.suites import TABLE_SUITE, load_suite
from newsflow.tasks.quality.alerts import SAMPLE_URLS, CheckResult
from newsflow.tasks.quality.validate import check_suite

if TYPE_CHECKING:
    from newsflow.tasks.warehouse.warehouse import Warehouse

KEY_COLUMN = "source"


@dataclass
class TableOutcome:
    """One result per (check, source) evaluated or skipped, and where the Data Docs page is."""

    results: list[CheckResult]
    data_docs_page: Path | None = None
    data_docs_index: Path | None = None


# --------------------------------------------------------------------------- metrics → frame


def collect_metrics(
    warehouse: Warehouse,
    *,
    run_id: str | None,
    thresholds: Mapping[str, Mapping[str, Any]],
    now: datetime | None = None,
) -> tuple[Any, dict[tuple[str, str], list[str]]]:
    """The per-source frame the table suite runs on, and sample URLs per (kind, source).

    ``thresholds`` maps each source to check to its effective thresholds; ``run_id`` is the
    ingest run whose rates and volume are checked (None: only freshness and duplicates).
    """
    import pandas as pd

    now = (now or datetime.now(UTC)).astimezone(UTC)
    sources = list(thresholds)
    totals = warehouse.article_totals(sources)
    accepted = warehouse.run_accepted(run_id, sources, SAMPLE_URLS)
    rejected = warehouse.run_rejected(run_id, sources, SAMPLE_URLS)
    page_errors = warehouse.run_page_errors(run_id, sources, SAMPLE_URLS)
    duplicates = warehouse.duplicate_urls(SAMPLE_URLS)
    volume = _volume(warehouse, run_id, thresholds)

    records, samples = [], {}
    for source in sources:
        limits = thresholds[source]
        count, newest_at, newest_url = totals.get(source, (0, None, None))
        n_ok, no_auth, no_auth_urls, no_pub, no_pub_urls = accepted.get(source, (0, 0, [], 0, []))
        n_rows_bad, n_pages_bad, bad_urls = rejected.get(source, (0, 0, []))
        n_bad = n_rows_bad + n_pages_bad
        n_pages, n_failed, failed_urls = page_errors.get(source, (0, 0, []))
        n_dup, dup_urls = duplicates.get(source, (0, []))
        run_new, median, history = volume.get(source, (0, None, 0))
        n_all = n_ok + n_bad
        enough = limits["min_rows"]
        floor = None if median is None else limits["min_volume_ratio"] * median
        age = None if newest_at is None else (now - newest_at).total_seconds() / 3600
        records.append(
            {
                KEY_COLUMN: source,
                "articles": count,
                "newest_at": newest_at,
                "age_hours": _nan(age),
                "freshness_hours": float(limits["freshness_hours"]),
                "run_new": float(run_new),
                "volume_median": _nan(median),
                "volume_history_runs": float(history),
                "min_volume_ratio": float(limits["min_volume_ratio"]),
                "volume_floor": _nan(floor),
                "run_rejected": float(n_bad),
                "rows_rejected": float(n_rows_bad),
                "pages_without_article": float(n_pages_bad),
                "run_accepted": float(n_ok),
                "run_records": float(n_all),
                "reject_rate": n_bad / n_all if n_all and n_all >= enough else math.nan,
                "max_reject_rate": float(limits["max_reject_rate"]),
                "run_pages": float(n_pages),
                "pages_failed": float(n_failed),
                "page_error_rate": _rate(n_failed, n_pages, enough),
                "max_page_error_rate": float(limits["max_page_error_rate"]),
                "authors_missing": float(no_auth),
                "authors_null_rate": no_auth / n_ok if n_ok and n_ok >= enough else math.nan,
                "max_authors_null_rate": float(limits["max_authors_null_rate"]),
                "published_missing": float(no_pub),
                "published_at_null_rate": no_pub / n_ok if n_ok and n_ok >= enough else math.nan,
                "max_published_at_null_rate": float(limits["max_published_at_null_rate"]),
                "duplicate_urls": int(n_dup),
            }
        )
        samples[("newest", source)] = [newest_url] if newest_url else []
        samples[("rejected", source)] = list(bad_urls or [])
        samples[("pages_failed", source)] = list(failed_urls or [])
        samples[("authors_missing", source)] = list(no_auth_urls or [])
        samples[("published_missing", source)] = list(no_pub_urls or [])
        samples[("duplicates", source)] = list(dup_urls or [])
    frame = pd.DataFrame.from_records(records, columns=_COLUMNS)
    frame["newest_at"] = pd.to_datetime(frame["newest_at"], utc=True)
    return frame, samples


_COLUMNS = [
    KEY_COLUMN,
    "articles",
    "newest_at",
    "age_hours",
    "freshness_hours",
    "run_new",
    "volume_median",
    "volume_history_runs",
    "min_volume_ratio",
    "volume_floor",
    "run_rejected",
    "rows_rejected",
    "pages_without_article",
    "run_accepted",
    "run_records",
    "reject_rate",
    "max_reject_rate",
    "run_pages",
    "pages_failed",
    "page_error_rate",
    "max_page_error_rate",
    "authors_missing",
    "authors_null_rate",
    "max_authors_null_rate",
    "published_missing",
    "published_at_null_rate",
    "max_published_at_null_rate",
    "duplicate_urls",
]


def _rate(part: int, whole: int, enough: int) -> float:
    """``part / whole``, or NaN (the check skips) below ``enough`` rows."""
    return part / whole if whole and whole >= enough else math.nan


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _volume(
    warehouse: Warehouse, run_id: str | None, thresholds: Mapping[str, Mapping[str, Any]]
) -> dict[str, tuple[int, float | None, int]]:
    """Per source: (new articles in ``run_id``, median over its history or None, history size).

    Only runs in which the source's feed listed new entries count, for this run and for the
    history (its last ``volume_runs`` such runs before this one): a quiet tick (``304 Not
    Modified``, or the same feed again) has nothing new by definition and would drag the
    median to zero; a feed that stops listing anything is the freshness check's business. The
    median is None (check skipped) unless this run's feed listed new entries and at least
    ``volume_min_runs`` runs make up the history.
    """
    if run_id is None or not thresholds:
        return {}
    sources = list(thresholds)
    depth = max(int(t["volume_runs"]) for t in thresholds.values())
    active_now = warehouse.sources_with_new_entries(run_id)
    history = warehouse.earlier_runs_with_new_entries(run_id, sources, depth)
    runs = [run_id, *(run for runs in history.values() for run in runs)]
    new_by_run = warehouse.new_articles_by_run(sources, runs)
    out = {}
    for source in sources:
        limits = thresholds[source]
        runs = history.get(source, [])[: int(limits["volume_runs"])]
        counts = [new_by_run.get((source, run), 0) for run in runs]
        median = None
        if source in active_now and len(counts) >= int(limits["volume_min_runs"]):
            median = float(statistics.median(counts))
        out[source] = (new_by_run.get((source, run_id), 0), median, len(counts))
    return out


# --------------------------------------------------------------------------- GX run → results


def run_table_suite(
    frame: Any,
    samples: Mapping[tuple[str, str], list[str]],
    *,
    data_docs_dir: Path | None = None,
    run_id: str | None = None,
    suite: Mapping[str, Any] | None = None,
) -> TableOutcome:
    """Validate the per-source frame with the table suite: one result per (check, source)."""
    suite = load_suite(TABLE_SUITE) if suite is None else suite
    if frame.empty:
        return TableOutcome(results=[])
    check_suite(
        suite,
        set(frame.columns),
        column_keys=("count", "skip_unless"),
        template_keys=("observed_text", "expected"),
    )

    from newsflow.tasks.quality.gx_context import run_suite  # GX is heavy: import on first use

    run = run_suite(
        frame, suite, key_columns=[KEY_COLUMN], data_docs_dir=data_docs_dir, run_name=run_id
    )
    order = {e["meta"]["check"]: i for i, e in enumerate(suite["expectations"])}
    results: list[CheckResult] = []
    rows = {str(r[KEY_COLUMN]): r for r in frame.to_dict("records")}
    for outcome in sorted(run.outcomes, key=lambda o: order.get(o.check, len(order))):
        if outcome.exception:
            raise RuntimeError(f"table check {outcome.check!r} could not run: {outcome.exception}")
        failing = {
            str(entry[KEY_COLUMN]) for entry in outcome.result.get("unexpected_index_list") or []
        }
        for source, row in rows.items():
            results.append(_result(suite["name"], outcome, source, row, failing, samples))
    return TableOutcome(
        results=results, data_docs_page=run.docs_page, data_docs_index=run.docs_index
    )


def _result(
    suite_name: str,
    outcome: Any,
    source: str,
    row: Mapping[str, Any],
    failing: set[str],
    samples: Mapping[tuple[str, str], list[str]],
) -> CheckResult:
    meta = outcome.meta
    skip_column = meta.get("skip_unless")
    if source in failing:
        status = "fail"
    elif skip_column and _missing(row.get(skip_column)):
        status = "skip"
    else:
        status = "pass"
    count_column = meta.get("count")
    count = int(row[count_column]) if count_column and not _missing(row[count_column]) else 0
    sample_kind = meta.get("samples") or ("newest" if meta.get("check") == "freshness" else None)
    observed = {
        "values": {c: _json_value(row.get(c)) for c in meta.get("observed") or []},
        "observed": _render(meta.get("observed_text"), row, meta.get("missing_text")),
        "expected": _render(meta.get("expected"), row, None),
        "count": count,
        "count_label": meta.get("count_label"),
        "sample_urls": list(samples.get((sample_kind, source), []))[:SAMPLE_URLS]
        if sample_kind
        else [],
        "rule": outcome.description,
    }
    if status == "skip":
        observed["skipped"] = "not enough data in this run to evaluate"
    return CheckResult(
        suite=suite_name,
        check=outcome.check,
        source=source,
        severity=outcome.severity,
        status=status,
        observed=observed,
        count=count,
    )


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT
    except (TypeError, ValueError):
        return False


def _render(template: str | None, row: Mapping[str, Any], missing_text: str | None) -> str | None:
    """Fill a message template; a template over a missing value gives ``missing_text``."""
    if not template:
        return None
    try:
        return template.format_map(_FormatRow(row))
    except (ValueError, TypeError, _MissingValue):
        return missing_text or "not measured"


class _MissingValue(Exception):
    pass


class _FormatRow(dict):
    """Row values for ``str.format_map``: timestamps as ISO text, NaN raises ``_MissingValue``."""

    def __init__(self, row: Mapping[str, Any]) -> None:
        super().__init__(row)

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if _missing(value):
            raise _MissingValue(key)
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return value


def _json_value(value: Any) -> Any:
    if _missing(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, float):
        return round(value, 4)
    return value


# --------------------------------------------------------------------------- entry point


def check_tables(
    warehouse: Warehouse,
    *,
    run_id: str | None,
    thresholds: Mapping[str, Mapping[str, Any]],
    data_docs_dir: Path | None = None,
    validation_name: str | None = None,
    now: datetime | None = None,
) -> TableOutcome:
    """Measure the warehouse per source and run the table suite over it.

    ``run_id`` is the ingest run whose rates are checked; ``validation_name`` names the GX run
    (the ingest or checks run id) so the Data Docs page matches the pipeline run.
    """
    if not thresholds:
        return TableOutcome(results=[])
    frame, samples = collect_metrics(warehouse, run_id=run_id, thresholds=thresholds, now=now)
    return run_table_suite(
        frame, samples, data_docs_dir=data_docs_dir, run_id=validation_name or run_id
    )
