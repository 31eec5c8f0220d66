"""The two data-quality suites as data: their JSON, their default thresholds, and the one rule
table that validates and merges a user's thresholds.

Users tune every check in one place (``[checks]`` globally, ``[[sources]] checks = {...}`` per
source), so the keys of the row suite (``articles_row.json``) and of the table suite
(``articles_table.json``) share one namespace. The config loader validates that table at start-up
with :func:`check_thresholds`: a misspelt or mistyped threshold must be a config error (exit 2),
not a surprise in the middle of a run, and never a check that silently passes. Each suite then
takes its own keys with :func:`effective_thresholds`, through the same rules.

The suites' JSON is read at every call, so an edit of a suite needs no restart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from importlib import resources
from typing import Any, Literal

ROW_SUITE = "articles_row"
TABLE_SUITE = "articles_table"


@dataclass(frozen=True)
class Rule:
    """What one threshold must be, and which suite reads it."""

    suite: str
    kind: Literal["integer", "number", "fraction", "date"]
    minimum: int = 0  # for integers and numbers


#: Every threshold either suite knows. Each suite's ``meta.newsflow.thresholds`` holds the defaults
#: of exactly its keys here (tests/test_config.py checks that they agree).
RULES: dict[str, Rule] = {
    "min_words": Rule(ROW_SUITE, "integer"),
    "min_paragraph_chars": Rule(ROW_SUITE, "integer"),
    "max_future_days": Rule(ROW_SUITE, "number"),
    "earliest_published": Rule(ROW_SUITE, "date"),
    "freshness_hours": Rule(TABLE_SUITE, "number"),
    "volume_runs": Rule(TABLE_SUITE, "integer", minimum=1),
    "volume_min_runs": Rule(TABLE_SUITE, "integer", minimum=1),
    "min_volume_ratio": Rule(TABLE_SUITE, "number"),
    "max_reject_rate": Rule(TABLE_SUITE, "fraction"),
    "max_page_error_rate": Rule(TABLE_SUITE, "fraction"),
    "max_authors_null_rate": Rule(TABLE_SUITE, "fraction"),
    "max_published_at_null_rate": Rule(TABLE_SUITE, "fraction"),
    "min_rows": Rule(TABLE_SUITE, "integer", minimum=1),
}


def load_suite(name: str) -> dict[str, Any]:
    """A suite's JSON as a dict, read from the installed ``newsflow.expectations`` package."""
    text = resources.files("newsflow.expectations").joinpath(f"{name}.json").read_text("utf-8")
    return json.loads(text)


def suite_defaults(name: str) -> dict[str, Any]:
    """A suite's default thresholds, as its JSON declares them (``meta.newsflow.thresholds``)."""
    meta = load_suite(name).get("meta") or {}
    return dict((meta.get("newsflow") or {}).get("thresholds") or {})


def _coerce(key: str, rule: Rule, value: Any) -> Any:
    """``value`` checked against ``rule``; dates come back as UTC ``pandas.Timestamp``."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if rule.kind in ("integer", "number"):
        integer = rule.kind == "integer"
        if not number or (integer and not isinstance(value, int)) or value < rule.minimum:
            noun = "an integer" if integer else "a number"
            wanted = f"{noun} >= {rule.minimum}" if rule.minimum else f"a non-negative {rule.kind}"
            raise ValueError(f"threshold {key!r} must be {wanted}, got {value!r}")
    elif rule.kind == "fraction":
        if not number or not 0 <= value <= 1:
            raise ValueError(f"threshold {key!r} must be a fraction from 0 to 1, got {value!r}")
    else:
        import pandas as pd  # heavy: only for a config that sets a date threshold

        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"threshold {key!r} must be a date, got {value!r}") from exc
        if pd.isna(stamp):
            raise ValueError(f"threshold {key!r} must be a date, got {value!r}")
        return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return value


def check_thresholds(
    values: Mapping[str, Any] | None, *, where: str = "thresholds"
) -> dict[str, Any]:
    """Validated, coerced thresholds of either suite; ``ValueError`` naming ``where`` and the key.

    An unknown key is an error whichever suite it was meant for: a typo must never leave a check
    on its default unnoticed.
    """
    out = {}
    for key, value in (values or {}).items():
        rule = RULES.get(key)
        if rule is None:
            names = ", ".join(sorted(RULES))
            raise ValueError(f"unknown threshold {key!r} in {where} (known: {names})")
        try:
            out[key] = _coerce(key, rule, value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return out


def effective_thresholds(
    suite: str,
    checks: Mapping[str, Any] | None,
    source_checks: Mapping[str, Mapping[str, Any] | None] | None,
    sources: Iterable[str],
) -> dict[str, dict[str, Any]]:
    """One suite's thresholds per source: its defaults < ``checks`` < ``source_checks[source]``.

    Both tables may hold keys of either suite (they are the user's ``[checks]`` tables); each is
    validated whole and only ``suite``'s keys are kept.
    """

    def own(values: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
        checked = check_thresholds(values, where=where)
        return {k: v for k, v in checked.items() if RULES[k].suite == suite}

    base = own(suite_defaults(suite), f"the defaults of suite {suite!r}")
    base.update(own(checks, "checks"))
    return {
        source: {**base, **own((source_checks or {}).get(source), f"checks of source {source!r}")}
        for source in sources
    }
