"""When a run that completed did nothing useful: every polled feed failed, or every fetched
page failed.

Such a run loads nothing, yet every stage ran without an exception, so without this it would
end Completed and exit 0 (say every feed blocked by the address guard). It ends Failed instead
(``failure.NothingWorked``), with one line saying why; the CLI exits 4 (``EXIT_NOTHING_WORKED``).
What it recorded (``feed_fetches``, ``raw_pages``, ``dq_results``) is kept and published as usual.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping


def dead_run_reason(
    feeds_polled: int,
    feeds_failed: Mapping[str, str],
    pages_fetched: int,
    page_errors: Mapping[str, str],
) -> str | None:
    """Why a run did nothing useful, or None when something worked.

    ``pages_fetched`` and ``page_errors`` are the pages of new feed entries: re-checks of pages
    seen before (edits, retries) do not count, or a run whose feeds are merely unchanged
    would be dead whenever a known-bad page is asked for again. Sources skipped by the feed
    lifecycle (paused, gone, Retry-After) were not polled and do not count either; a run that
    polled nothing (every feed skipped) or fetched nothing (every feed unchanged) is a quiet
    tick, not a dead run.
    """
    if feeds_polled and len(feeds_failed) >= feeds_polled:
        return f"every feed failed ({len(feeds_failed)} of {feeds_polled}): " + _commonest(
            feeds_failed
        )
    if pages_fetched and len(page_errors) >= pages_fetched:
        return f"every page failed ({len(page_errors)} of {pages_fetched}): " + _commonest(
            page_errors
        )
    return None


def _commonest(errors: Mapping[str, str]) -> str:
    """The most frequent reason, and how many others there were."""
    reasons = Counter(reason.split("\n", 1)[0] for reason in errors.values())
    reason, count = reasons.most_common(1)[0]
    others = len(errors) - count
    return reason + (f" (and {others} with other reasons)" if others else "")
