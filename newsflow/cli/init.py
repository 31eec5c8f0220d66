"""``newsflow init [PATH]``: a commented ``newsflow.toml`` to start your own feeds from.

The file is generated from the config models (``schemas/config.py``) and the suites' default
thresholds (``schemas/suites.py``), so every key newsflow reads is in it with the default it
really has: a key added to the models without a line of help here fails a test instead of
going missing from the file. Each key is written commented out (``# key = default``): the file
loads as the defaults, a user uncomments what they change, and a default newsflow changes later
is not frozen into every user's file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from newsflow.cli.output import EXIT_BAD_CONFIG, EXIT_OK, error, note

DEFAULT_PATH = "newsflow.toml"

#: One line of help per key, by section ("sources" for the keys of a [[sources]] entry).
HELP: dict[str, dict[str, str]] = {
    "warehouse": {
        "path": "the analysts' DuckDB file; runs write newsflow.work.duckdb beside it",
        "lock_timeout_s": "how long a run waits for another run holding the working file",
        "memory_limit": "DuckDB's memory for a run's writes (unset: min(25 % of RAM, 2GB))",
        "kind": '"ducklake": each publish also merges into the DuckLake below',
        "catalog": "DuckLake's PostgreSQL catalog, no password (PGPASSWORD, ~/.pgpass)",
        "data_path": "DuckLake's files: a folder or s3://bucket/prefix/ (keys: AWS_* env)",
    },
    "fetch": {
        "user_agent": "say who you are and how to reach you",
        "allow_private": 'exact "host:port" or CIDRs the address guard lets through',
        "per_host_delay_s": "pause between two requests to one host (Crawl-delay can raise it)",
        "connect_timeout_s": "seconds to connect",
        "read_timeout_s": "seconds between two reads of a response",
        "page_deadline_s": "wall clock per page, redirects and body included",
        "feed_deadline_s": "wall clock per feed",
        "max_page_bytes": "decompressed size cap of a page",
        "max_feed_bytes": "decompressed size cap of a feed",
        "max_redirects": "redirect hops followed",
        "max_workers": "hosts fetched in parallel",
        "respect_robots": "obey robots.txt",
        "max_entries_per_feed": "entries read from one feed per poll",
        "batch_size": "pages per Prefect task run",
        "retries": "extra tries for resets, timeouts and 5xx (never 4xx)",
        "retry_backoff_s": "base of the exponential backoff with jitter",
        "pause_after_errors": "failed feed polls in a row that pause a source (and alert)",
        "redirect_adopt_after": "301/308 polls in a row before the polled feed URL moves",
        "max_retry_after_s": "cap on a feed's Retry-After (429/503)",
        "throttle_default_s": "wait after a 429 without Retry-After",
        "refetch_window_h": "re-check pages first seen this recently for edits (0 = never)",
        "refetch_interval_min": "each page re-checked at most this often",
        "refetch_max_pages": "re-checks per run, least recently checked first",
        "page_retry_after_min": "a page that failed (timeout, 5xx, 429…) is asked for again after",
        "page_retry_max_h": "  this long, the gap doubling up to this cap,",
        "page_max_attempts": "  this many requests in all",
        "share_politeness": '"domain": one pace per registrable domain; "host": per host',
        "polling": '"adaptive": each feed at its own rhythm; "fixed": every feed every run',
        "poll_min_interval_min": "adaptive polling: never sooner than this",
        "poll_max_interval_h": "  …and never later than this",
        "poll_window_days": "  entries per week counted over this trailing window",
    },
    "alerts": {
        "urls": "apprise URLs; URLs with tokens belong in $NEWSFLOW_ALERT_URLS instead",
        "data_docs_dir": "GX Data Docs folder (unset: <warehouse stem>-data-docs/ beside it)",
        "delivery_attempts": "tries per alert URL and message in one run",
        "retry_delay_s": "wait before the second try, doubling after each",
    },
    "stories": {
        "window_days": "articles first seen at most this many days apart can be one story",
    },
    "checks": {
        "min_words": "row check body_min_length: fewer words is a warning",
        "min_paragraph_chars": "shorter lines do not count as paragraphs",
        "max_future_days": "published_at this far ahead is implausible",
        "earliest_published": "published_at before this is implausible",
        "freshness_hours": "a source's newest article older than this fails freshness",
        "volume_runs": "volume: the median of this many runs with new entries…",
        "volume_min_runs": "  …once there are at least this many",
        "min_volume_ratio": "  …times this ratio is the least a run must load",
        "max_reject_rate": "critical above: pages that gave no valid article",
        "max_page_error_rate": "critical above: pages that did not answer 200",
        "max_authors_null_rate": "warning above: articles without an author",
        "max_published_at_null_rate": "warning above: articles without a date",
        "min_rows": "the rate checks need at least this many rows of a source in a run",
    },
    "sources": {
        "name": "your name for it: in every table and alert",
        "feed": "RSS, Atom or RDF feed URL",
        "language": "optional: records in another language are rejected",
        "enabled": "false: keep it configured but do not poll it",
        "checks": "optional per-source overrides of [checks]",
    },
}

#: What to show for a key whose default is "unset" (None): an example value, not the default.
UNSET_EXAMPLES: dict[str, dict[str, Any]] = {
    "warehouse": {
        "memory_limit": "2GB",
        "catalog": "host=db.internal dbname=newsflow",
        "data_path": "s3://newsflow-lake/news/",
    },
    "alerts": {"data_docs_dir": "newsflow-data-docs"},
}

#: The [[sources]] example: every key of a source, commented out like the rest.
EXAMPLE_SOURCE: dict[str, Any] = {
    "name": "example-news",
    "feed": "https://example.org/rss.xml",
    "language": "en",
    "enabled": True,
    "checks": {"min_words": 40, "freshness_hours": 96},
}

HEADER = """\
# newsflow configuration (written by `newsflow init`; reference: the README's Configuration).
#
# Every key below is commented out and shows its default: uncomment what you change.
# newsflow finds this file by --config, then $NEWSFLOW_CONFIG, then ./newsflow.toml.
#
# Secrets never go in this file: alert URLs carrying tokens go in the environment,
#   export NEWSFLOW_ALERT_URLS="slack://TokenA/TokenB/TokenC/#news-data"   (space-separated)
# and a Prefect server's address and key in PREFECT_API_URL / PREFECT_API_KEY.
#
# To try it on the bundled demo site: `newsflow demo --serve-only` prints the [[sources]]
# entries and the allow_private line to paste below; then `newsflow run`.
"""


def defaults() -> dict[str, dict[str, Any]]:
    """Every config section's keys with their defaults, from the models themselves."""
    from newsflow.schemas.config import Config
    from newsflow.schemas.suites import ROW_SUITE, TABLE_SUITE, suite_defaults

    sections: dict[str, dict[str, Any]] = {}
    for section, field in Config.model_fields.items():
        if section in ("checks", "sources"):
            continue
        model = field.annotation
        sections[section] = {
            key: spec.get_default(call_default_factory=True)
            for key, spec in model.model_fields.items()  # type: ignore[union-attr]
        }
    sections["checks"] = {**suite_defaults(ROW_SUITE), **suite_defaults(TABLE_SUITE)}
    return sections


def render_init_config() -> str:
    """The commented file ``newsflow init`` writes."""
    lines = [HEADER]
    for section, values in defaults().items():
        lines.append(f"[{section}]")
        lines += [_commented(section, key, value) for key, value in values.items()]
        lines.append("")
    lines.append("# One [[sources]] table per feed:")
    lines.append("# [[sources]]")
    lines += [_commented("sources", key, value) for key, value in EXAMPLE_SOURCE.items()]
    return "\n".join(lines) + "\n"


def _commented(section: str, key: str, value: Any) -> str:
    help_text = HELP[section][key]  # a KeyError here: a new key needs its line of help
    if value is None:
        value = UNSET_EXAMPLES[section][key]  # and a key that defaults to unset, an example
    assignment = f"# {key} = {_toml(value)}"
    return f"{assignment:<34} # {help_text}"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


def add_commands(sub: Any) -> None:
    """Register ``newsflow init`` on the CLI's subparsers."""
    parser = sub.add_parser(
        "init",
        help="write a commented newsflow.toml (every key with its default, a source example)",
    )
    parser.add_argument(
        "path", nargs="?", default=DEFAULT_PATH, help="file to write (default: %(default)s)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.set_defaults(handler=init_command)


def init_command(args: argparse.Namespace) -> int:
    """Write the file, refusing to overwrite one without ``--force`` (exit 2)."""
    target = Path(args.path).expanduser()
    if target.is_dir():
        target = target / DEFAULT_PATH
    if target.exists() and not args.force:
        error(f"{target} exists; use --force to overwrite it")
        return EXIT_BAD_CONFIG
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_init_config(), encoding="utf-8")
    except OSError as exc:
        error(f"{target}: cannot write: {exc.strerror or exc}")
        return EXIT_BAD_CONFIG
    note(f"wrote {target}; add your [[sources]] (or try `newsflow demo --serve-only`)")
    return EXIT_OK
