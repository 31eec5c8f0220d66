"""``newsflow demo --broken``: the demo plus one broken source, to see a check fail and alert.

The broken source, ``quayside-herald``, lives in ``newsflow/demo/site_broken`` and is served as
an overlay on the bundled site (same host and port). Its feed is six weeks older than the rest
of the demo (``freshness`` fails, a warning) and five of its seven pages are captioned photos
with little or no text (no article left after cleaning, or rejected by the row checks), so its
``reject_rate`` fails, a critical check: the run ends Failed and the command exits 1. Nothing
else changes, so the demo's three healthy sources show what passing looks like next to it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from newsflow.schemas.config import Config, SourceConfig

BROKEN_SOURCE = "quayside-herald"
BROKEN_FEED = "quayside-herald/rss.xml"


def broken_site_root() -> Path:
    """The overlay folder the demo server searches before the bundled site."""
    return Path(str(resources.files("newsflow.demo") / "site_broken"))


def with_broken_source(config: Config, base_url: str) -> Config:
    """``config`` (the demo's) plus the broken source, with the table suite's default thresholds."""
    broken = SourceConfig(name=BROKEN_SOURCE, feed=f"{base_url}/{BROKEN_FEED}", language="en")
    return config.model_copy(update={"sources": [*config.sources, broken]})


def with_alert_urls(config: Config, urls: list[str]) -> Config:
    """``config`` with ``urls`` added to ``[alerts] urls`` (``--alert-url``)."""
    if not urls:
        return config
    alerts = config.alerts.model_copy(update={"urls": [*config.alerts.urls, *urls]})
    return config.model_copy(update={"alerts": alerts})
