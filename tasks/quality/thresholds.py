"""One namespace for the thresholds of both data-quality suites.

Users tune every check in one place (``[checks]`` globally, ``[[sources]] checks = {...}`` per
source), so the keys of the row suite (``articles_row.json``) and of the table suite
(``articles_table.json``) share one table. Each suite's code only understands its own keys, so
this module splits a user's table into the two halves and validates both at start-up: a
misspelt or mistyped threshold must be a config error (exit 2), not a surprise in the middle of
a run, and never a check that silently passes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

TABLE_SUITE = "articles_table"

_INT_KEYS = {"volume_runs": 1, "volume_min_runs": 1, "min_rows": 1}  # key -> minimum
_RATE_KEYS = {"max_reject_rate", "max_authors_null_rate", "max_published_at_null_rate"}
_NON_NEGATIVE_KEYS = {"freshness_hours", "min_volume_ratio"}


@cache
def _suite_thresholds(name: str) -> dict[str, Any]:
    text = resources.files("newsflow.expectations").joinpath(f"{name}.json").read_text("utf-8")
    suite = json.loads(text)
    return dict(((suite.get("meta") or {}).get("newsflow") or {}).get("thresholds") or {})


def row_defaults() -> dict[str, Any]:
    """The row suite's default thresholds (``min_words`` …)."""
    return dict(_suite_thresholds("articles_row"))


def table_defaults() -> dict[str, Any]:
    """The table suite's default thresholds (``freshness_hours`` …)."""
    return dict(_suite_thresholds(TABLE_SUITE))


def split(values: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(row-suite keys, table-suite keys) of a user's threshold table; unknown keys dropped
    (``check_all`` is what rejects them)."""
    row, table = row_defaults(), table_defaults()
    values = dict(values or {})
    return (
        {k: v for k, v in values.items() if k in row},
        {k: v for k, v in values.items() if k in table},
    )


def coerce_table_threshold(key: str, value: Any, where: str = "thresholds") -> float | int:
    """One table-suite threshold, type- and range-checked."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: threshold {key!r} must be a number, got {value!r}")
    if key in _INT_KEYS:
        if not isinstance(value, int) or value < _INT_KEYS[key]:
            raise ValueError(
                f"{where}: threshold {key!r} must be an integer >= {_INT_KEYS[key]}, got {value!r}"
            )
        return value
    if key in _RATE_KEYS and not 0 <= value <= 1:
        raise ValueError(
            f"{where}: threshold {key!r} must be a fraction from 0 to 1, got {value!r}"
        )
    if key in _NON_NEGATIVE_KEYS and value < 0:
        raise ValueError(f"{where}: threshold {key!r} must not be negative, got {value!r}")
    return value


def check_table_thresholds(
    values: Mapping[str, Any] | None, *, where: str = "thresholds"
) -> dict[str, Any]:
    """Validated table-suite thresholds; ``ValueError`` naming ``where`` and the key."""
    known = table_defaults()
    out = {}
    for key, value in (values or {}).items():
        if key not in known:
            raise ValueError(f"unknown threshold {key!r} in {where} (known: {', '.join(known)})")
        out[key] = coerce_table_threshold(key, value, where)
    return out


def check_all(values: Mapping[str, Any] | None, *, where: str = "checks") -> dict[str, Any]:
    """Validate a ``checks`` table holding keys of either suite; returns it unchanged.

    The message of the ``ValueError`` names ``where``, the key and what was expected, so the
    config loader can show it as is.
    """
    from newsflow.tasks.quality.validate import (
        check_thresholds,  # pandas: only when a config has checks
    )

    values = dict(values or {})
    row_known, table_known = row_defaults(), table_defaults()
    unknown = [k for k in values if k not in row_known and k not in table_known]
    if unknown:
        names = ", ".join(sorted({*row_known, *table_known}))
        raise ValueError(f"unknown threshold {unknown[0]!r} in {where} (known: {names})")
    row, table = split(values)
    try:
        check_thresholds(row, where=where, known=row_known)
        check_table_thresholds(table, where=where)
    except ValueError as exc:  # the config loader names the key itself
        raise ValueError(str(exc).removeprefix(f"{where}: ")) from None
    return values


def table_thresholds_for(
    global_checks: Mapping[str, Any] | None,
    source_checks: Mapping[str, Mapping[str, Any]] | None,
    sources: list[str],
) -> dict[str, dict[str, Any]]:
    """Effective table thresholds per source: suite defaults < ``[checks]`` < the source's own."""
    base = table_defaults()
    base.update(check_table_thresholds(split(global_checks)[1], where="checks"))
    out = {}
    for source in sources:
        extra = split((source_checks or {}).get(source))[1]
        where = f"checks of source {source!r}"
        out[source] = {**base, **check_table_thresholds(extra, where=where)}
    return out
