"""The demo's configuration: the bundled site's three feeds, and nothing else allowed."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from newsflow.demo.server import demo_site_root
from newsflow.schemas.config import Config, FetchConfig, SourceConfig, WarehouseConfig

#: (source name, feed path, format) of the bundled demo site.
DEMO_FEEDS = (
    ("harbor-gazette", "harbor-gazette/rss.xml"),
    ("valley-courier", "valley-courier/atom.xml"),
    ("north-star-wire", "north-star-wire/index.rdf"),
)


#: The config a demo run used, saved beside its warehouse (``newsflow demo``, ``serve --demo``).
DEMO_CONFIG_NAME = "newsflow-demo.toml"


def saved_config_path(db: str | os.PathLike[str]) -> Path:
    """Where the demo saves the config it ran with: beside the warehouse ``db``, so that
    ``newsflow check --config``, ``reprocess`` and ``serve`` read the very thresholds the demo
    used (its freshness limit above all, see :func:`snapshot_freshness_hours`)."""
    return Path(db).expanduser().resolve().with_name(DEMO_CONFIG_NAME)


def demo_sources_toml(base_url: str) -> str:
    """What a config of your own needs to ingest the demo site at ``base_url``: the
    ``allow_private`` entry that lets the address guard through to exactly this loopback host
    and port, and the site's feeds as ``[[sources]]`` (``newsflow demo --serve-only`` prints
    it). Said as lines to put under the sections ``newsflow init`` writes, since a TOML
    table cannot be given twice."""
    netloc = urlsplit(base_url).netloc
    fresh = snapshot_freshness_hours()
    lines = [
        "# under [fetch]: let the address guard through to this site only, with no pause",
        f'allow_private = ["{netloc}"]',
        "per_host_delay_s = 0.0",
        "# under [checks], optional: the site is a frozen snapshot, older than 48 h",
        f"freshness_hours = {fresh}",
        "# at the end: the site's feeds",
    ]
    for name, path in DEMO_FEEDS:
        lines += ["[[sources]]", f'name = "{name}"', f'feed = "{base_url}/{path}"']
        lines += ['language = "en"', ""]
    return "\n".join(lines).rstrip("\n")


def demo_config(base_url: str, *, db: str = "newsflow.duckdb") -> Config:
    """A config for the demo site at ``base_url``.

    The guard lets exactly the demo's loopback host:port through; the politeness delay is off
    because the site is our own. Polling is fixed: the demo's runs come seconds apart (and
    ``serve --demo`` ticks every minute), so each shows the conditional GET (a 304) instead of
    an adaptive schedule that would leave the demo's feeds alone for hours.
    """
    netloc = urlsplit(base_url).netloc
    return Config(
        warehouse=WarehouseConfig(path=db),
        fetch=FetchConfig(allow_private=[netloc], per_host_delay_s=0.0, polling="fixed"),
        sources=[
            SourceConfig(
                name=name,
                feed=f"{base_url}/{path}",
                language="en",
                checks={"freshness_hours": snapshot_freshness_hours()},
            )
            for name, path in DEMO_FEEDS
        ],
    )


def snapshot_freshness_hours(now: datetime | None = None, slack_h: int = 48) -> int:
    """The demo site is a frozen snapshot: its newest article stays as old as the snapshot.

    Measure the healthy sources' freshness from the snapshot's newest article, so the demo
    passes the freshness check however long after the snapshot it runs (the table suite's
    default is 48 h; ``newsflow/demo/site_broken`` is stale relative to the snapshot itself).
    """
    manifest = json.loads((demo_site_root() / "manifest.json").read_text("utf-8"))
    dates = [datetime.fromisoformat(e["published_at"]) for e in manifest if e.get("published_at")]
    newest = max(dates)
    age_h = ((now or datetime.now(UTC)) - newest).total_seconds() / 3600
    return max(slack_h, math.ceil(age_h) + slack_h)
