"""Row-level data-quality gate: one Great Expectations run per batch of cleaned articles.

The checks live in ``expectations/articles_row.json`` (GX suite JSON, read at every call) so an
analyst can read, tune or extend them without touching Python. GX expectations compare columns,
so what a check needs is first *derived* here in pandas, one column per question:
``title_echo``, ``max_paragraph_repeats``, ``language_ok``, and per-row threshold columns
(``min_words``, ``latest_published_at`` …). Putting thresholds into columns rather than into the
suite is what lets one GX run serve a batch mixing sources with different thresholds.

GX runs with result format COMPLETE and the ``row_index`` column as the unexpected-index key, so
every failing row maps back to its record with every check it failed. What a failing row
becomes depends on its check's ``severity``:

* a **critical** check (no URL, no body, not an article) rejects the row: it goes to
  ``rejected_articles`` with every check it failed. These are records that are not articles;
* a **warning** check keeps the row: its name is appended to the row's ``quality_flags`` and
  the row is loaded. A 30-word brief, a FAQ that repeats its question, a table-layout page whose
  first line holds the headline are real articles that analysts may want, or filter out.

``mostly`` in the suite only decides whether the *batch* fails an expectation, and so whether
the run alerts (warning) or fails (critical).
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from newsflow.schemas.suites import ROW_SUITE, effective_thresholds, load_suite
from newsflow.tasks.extract.clean_normalise import normalise_line
from newsflow.tasks.extract.repeats import count_lines
from newsflow.tasks.quality.alerts import SAMPLE_URLS
from newsflow.tasks.quality.page_kind import not_an_article

KEY_COLUMN = "row_index"
_TEXT_START_CHARS = 80


CRITICAL = "critical"


@dataclass
class Rejection:
    """A record that failed a critical row check, with every check it failed (warnings too)
    and what was seen."""

    record: dict  # the row as given
    failed_checks: list[str]  # check names, in suite order, e.g. ["body_present"]
    details: dict  # check -> {"observed": {column: value}, "expected": str}; JSON-serialisable


@dataclass
class ValidationOutcome:
    """Rows to load (each with its ``quality_flags``: the warning checks it failed, in suite
    order), rejected rows to record, one ``dq_results`` row per check."""

    valid: list[dict]
    rejected: list[Rejection]
    results: list[dict]  # suite, check, severity, success, observed (JSON str), unexpected_count
    data_docs_page: Path | None = field(default=None)  # this run's page, when Data Docs are built
    # The checked columns (long text cut short), so a run validated in several batches can be
    # documented once at its end (``document_row_checks``) instead of once per batch.
    frame: pd.DataFrame | None = field(default=None, repr=False)


# --------------------------------------------------------------------------- derived columns


def is_title_echo(title: str | None, text: str | None) -> bool:
    """True when the body starts with the whole title (at a word boundary).

    Compared in the cleaner's line form (``clean_normalise.normalise_line``), so the check and the
    cleaner that should already have removed the echo agree on what "the same words" means, in
    scripts written with combining marks too.
    """
    norm_title = normalise_line(title or "")
    if not norm_title:
        return False
    norm_text = normalise_line(text or "")
    return norm_text == norm_title or norm_text.startswith(norm_title + " ")


def paragraph_repeats(text: str | None, min_chars: int) -> tuple[int, str | None]:
    """(how often the most repeated paragraph of ``min_chars``+ characters occurs, that paragraph).

    Paragraphs are the body's lines (the cleaner separates paragraphs by a newline). What counts
    as the same line, and which lines are too short to count, is the cleaner's own definition
    (``tasks/extract/repeats.py``): the cleaner drops copies, so what is left here is a repeat it
    kept on purpose (a FAQ's question), which flags the article and never rejects it.
    """
    counted = count_lines((text or "").split("\n"), min_chars)
    if not counted:
        return 0, None
    line, count = counted[0]
    return count, (line[:_TEXT_START_CHARS] if count > 1 else None)


def body_of(
    text: str | None, description: str | None, captions: Sequence[Any] | None
) -> str | None:
    """The body as the ``body_present`` check sees it: None when there is none.

    A page that is a captioned picture and its summary (a "photo of the day") often comes out of
    extraction as one line: the page's standfirst, which is also its meta description. That
    line is the page's summary, not text of its own, so such a body counts as absent and the
    record is rejected for ``body_present`` instead of loaded as a one-line article. A page
    without a picture keeps it: a brief whose only paragraph is also its description is real.
    """
    body = text.strip() if isinstance(text, str) else ""
    if not body:
        return None
    if captions and description and normalise_line(body) == normalise_line(description):
        return None
    return body


def primary_language(tag: str | None) -> str | None:
    """``"en-GB"`` / ``"EN_us"`` → ``"en"``; blank → None."""
    if not tag or not str(tag).strip():
        return None
    return re.split(r"[-_]", str(tag).strip().lower(), maxsplit=1)[0]


def language_matches(observed: str | None, expected: str | None) -> bool:
    """Unconfigured sources and undetected languages pass: the check is for a wrong language."""
    want, got = primary_language(expected), primary_language(observed)
    return want is None or got is None or want == got


def _to_utc(value: Any) -> datetime | None:
    """Aware UTC datetime; naive values are taken as UTC; unparseable values as missing."""
    if value is None:
        return None
    if not isinstance(value, datetime):  # strings, dates: the slow path, off the contract
        stamp = pd.to_datetime(value, errors="coerce", utc=True)
        return None if pd.isna(stamp) else stamp.to_pydatetime()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _word_count(row: Mapping[str, Any]) -> int:
    given = row.get("word_count")
    if isinstance(given, int) and not isinstance(given, bool):
        return given
    return len((row.get("text") or "").split())


def derive_frame(
    rows: list[dict],
    per_source: Mapping[str, Mapping[str, Any]],
    expected_language: Mapping[str, str | None],
    now: datetime,
) -> pd.DataFrame:
    """One row per record: the columns the suite's expectations and messages refer to."""
    records = []
    for index, row in enumerate(rows):
        source = row.get("source")
        limits = per_source[source]
        title, text = row.get("title"), row.get("text")
        fetched = _to_utc(row.get("fetched_at"))
        reference = fetched if fetched is not None else now.astimezone(UTC)
        repeats, repeated = paragraph_repeats(text, limits["min_paragraph_chars"])
        expected = expected_language.get(source) if source is not None else None
        records.append(
            {
                KEY_COLUMN: index,
                "source": source,
                "url": row.get("url"),
                "url_text": str(row.get("url") or ""),  # missing → "" so the regex check fails
                "title": title,
                "title_text": title.strip() if isinstance(title, str) and title.strip() else None,
                "body_text": body_of(text, row.get("description"), row.get("captions")),
                "body_chars": len(text.strip()) if isinstance(text, str) else 0,
                "text_start": (text or "").strip()[:_TEXT_START_CHARS],
                "word_count": _word_count(row),
                "min_words": limits["min_words"],
                "title_echo": is_title_echo(title, text),
                "max_paragraph_repeats": repeats,
                "repeated_paragraph": repeated,
                "min_paragraph_chars": limits["min_paragraph_chars"],
                "published_at": _to_utc(row.get("published_at")),
                "fetched_at": fetched,
                "max_future_days": limits["max_future_days"],
                "latest_published_at": reference + timedelta(days=limits["max_future_days"]),
                "earliest_published_at": limits["earliest_published"],
                "language": row.get("language"),
                "expected_language": expected,
                "language_ok": language_matches(row.get("language"), expected),
                "page_kind": not_an_article(row.get("url"), title, text),
            }
        )
    frame = pd.DataFrame.from_records(records)
    for column in ("published_at", "fetched_at", "latest_published_at", "earliest_published_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["title_echo"] = frame["title_echo"].astype(bool)
    frame["language_ok"] = frame["language_ok"].astype(bool)
    return frame


# --------------------------------------------------------------------------- results


def json_safe(value: Any) -> Any:
    """numpy scalars, Timestamps and NaN/NaT → plain JSON types."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
        if isinstance(value, datetime | date):
            return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def check_suite(
    suite: Mapping[str, Any],
    columns: set[str],
    *,
    column_keys: Sequence[str] = (),
    template_keys: Sequence[str] = ("expected",),
) -> None:
    """Fail early on a suite edit that would break result mapping or messages: every
    expectation needs a unique ``meta.check``, and every column its ``meta`` names (in
    ``observed``, in the single-column ``column_keys``, or as ``{field}`` in the message
    templates ``template_keys``) must exist in the frame. Both suites use it."""
    seen: set[str] = set()
    for expectation in suite.get("expectations", []):
        meta = expectation.get("meta") or {}
        check = meta.get("check")
        if not check or check in seen:
            raise ValueError(
                f"suite {suite.get('name')!r}: every expectation needs a unique meta.check"
            )
        seen.add(check)
        wanted = set(meta.get("observed") or [])
        wanted |= {meta[key] for key in column_keys if meta.get(key)}
        for key in template_keys:
            wanted |= _template_fields(meta.get(key) or "")
        missing = wanted - columns
        if missing:
            raise ValueError(f"check {check!r} refers to unknown columns {sorted(missing)}")


def _unexpected_rows(outcome: Any) -> list[int]:
    if outcome.exception:
        raise RuntimeError(
            f"data-quality check {outcome.check!r} could not run: {outcome.exception}"
        )
    count = int(outcome.result.get("unexpected_count") or 0)
    entries = outcome.result.get("unexpected_index_list")
    if count and not entries:
        raise RuntimeError(f"check {outcome.check!r}: GX reported failures without row indices")
    return sorted({int(entry[KEY_COLUMN]) for entry in entries or []})


def _row_details(meta: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    template = meta.get("expected") or ""
    return {
        "observed": {column: row[column] for column in meta.get("observed") or []},
        "expected": template.format_map(row) if template else None,
    }


def _result_row(
    suite_name: str, outcome: Any, failing: list[int], example: dict[str, Any] | None, frame: Any
) -> dict:
    """One ``dq_results`` row; ``observed`` carries what an alert needs to be actionable."""
    mostly = float(outcome.kwargs.get("mostly", 1.0))
    observed = {
        "element_count": json_safe(outcome.result.get("element_count")),
        "unexpected_count": len(failing),
        "unexpected_percent": round(float(outcome.result.get("unexpected_percent") or 0.0), 2),
        "max_unexpected_percent": round((1.0 - mostly) * 100, 2),
        "rule": outcome.description,
        "sample_urls": [json_safe(frame.at[i, "url"]) for i in failing[:SAMPLE_URLS]],
        "by_source": dict(Counter(str(frame.at[i, "source"]) for i in failing)),
        "example": example,
    }
    return {
        "suite": suite_name,
        "check": outcome.check,
        "severity": outcome.severity,
        "success": outcome.success,
        "observed": json.dumps(observed, sort_keys=True),
        "unexpected_count": len(failing),
    }


#: How much of each body the Data Docs frame keeps: enough to show, not the whole run's text.
_DOCS_TEXT_CHARS = 200

# --------------------------------------------------------------------------- entry point


def validate_articles(
    rows: list[dict],
    *,
    thresholds: Mapping[str, Any] | None = None,
    source_thresholds: Mapping[str, Mapping[str, Any]] | None = None,
    expected_language: Mapping[str, str | None] | None = None,
    data_docs_dir: Path | None = None,
    run_id: str | None = None,
) -> ValidationOutcome:
    """Split ``rows`` into valid and rejected with one GX run of the row suite.

    ``thresholds`` override the suite's defaults (``min_words``, ``min_paragraph_chars``,
    ``max_future_days``, ``earliest_published``) for every source; ``source_thresholds[source]``
    override them again for one source. Both may hold the table suite's keys too (they are the
    config's ``[checks]`` tables): those are validated and left to the table suite. An unknown or
    invalid threshold is a ``ValueError``. ``expected_language[source]`` is the configured
    language (None or absent: any). With ``data_docs_dir`` the run is kept in a file context
    there and the Data Docs site is rebuilt (``<data_docs_dir>/index.html``); ``run_id`` names
    the GX run so the docs page can be matched to the pipeline run.
    """
    if not rows:
        return ValidationOutcome(valid=[], rejected=[], results=[])

    from newsflow.tasks.quality.gx_context import run_suite  # GX is heavy: import on first use

    suite = load_suite(ROW_SUITE)
    per_source = effective_thresholds(
        ROW_SUITE, thresholds, source_thresholds, {row.get("source") for row in rows}
    )
    frame = derive_frame(rows, per_source, expected_language or {}, datetime.now(UTC))
    check_suite(suite, set(frame.columns))

    run = run_suite(
        frame,
        suite,
        key_columns=[KEY_COLUMN, "url"],
        data_docs_dir=data_docs_dir,
        run_name=run_id,
    )

    failed: dict[int, list[str]] = defaultdict(list)
    critical: set[int] = set()
    details: dict[int, dict[str, Any]] = defaultdict(dict)
    results: list[dict] = []
    safe_rows: dict[int, dict[str, Any]] = {}
    order = {e["meta"]["check"]: i for i, e in enumerate(suite["expectations"])}
    for outcome in sorted(run.outcomes, key=lambda o: order.get(o.check, len(order))):
        failing = _unexpected_rows(outcome)
        example = None
        for index in failing:
            if index not in safe_rows:
                safe_rows[index] = json_safe(frame.iloc[index].to_dict())
            failed[index].append(outcome.check)
            if outcome.severity == CRITICAL:
                critical.add(index)
            details[index][outcome.check] = _row_details(outcome.meta, safe_rows[index])
            if example is None:
                example = {"url": safe_rows[index]["url"], **details[index][outcome.check]}
        results.append(_result_row(suite["name"], outcome, failing, example, frame))

    valid = [
        # flags the row came with (a backfill's date_from_lastmod_only) first, then the checks
        {**row, "quality_flags": [*(row.get("quality_flags") or ()), *failed.get(index, [])]}
        for index, row in enumerate(rows)
        if index not in critical
    ]
    rejected = [
        Rejection(record=rows[index], failed_checks=failed[index], details=details[index])
        for index in sorted(critical)
    ]
    docs_frame = frame.assign(body_text=frame["body_text"].str.slice(0, _DOCS_TEXT_CHARS))
    return ValidationOutcome(
        valid=valid,
        rejected=rejected,
        results=results,
        data_docs_page=run.docs_page,
        frame=docs_frame,
    )


def document_row_checks(
    frames: Sequence[pd.DataFrame], *, data_docs_dir: Path, run_id: str | None = None
) -> Path | None:
    """One Data Docs page for a whole run's row checks, from the frames its batches checked.

    Building Data Docs costs more than validating a batch, so a run of many batches validates
    each without docs and calls this once at the end: one page per run, every row on it.
    """
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return None
    from newsflow.tasks.quality.gx_context import run_suite

    frame = pd.concat(frames, ignore_index=True)
    frame[KEY_COLUMN] = range(len(frame))
    suite = load_suite(ROW_SUITE)
    run = run_suite(
        frame, suite, key_columns=[KEY_COLUMN, "url"], data_docs_dir=data_docs_dir, run_name=run_id
    )
    return run.docs_page
