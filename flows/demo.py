"""The demo's configuration: the bundled site's three feeds, and nothing else allowed."""

from __future__ import annotations

from urllib.parse import urlsplit

from newsflow.schemas.config import Config, FetchConfig, SourceConfig, WarehouseConfig

#: (source name, feed path, format) of the bundled demo site.
DEMO_FEEDS = (
    ("harbor-gazette", "harbor-gazette/rss.xml"),
    ("valley-courier", "valley-courier/atom.xml"),
    ("north-star-wire", "north-star-wire/index.rdf"),
)


def demo_config(base_url: str, *, db: str = "newsflow.duckdb") -> Config:
    """A config for the demo site at ``base_url``.

    The guard lets exactly the demo's loopback host:port through; the politeness delay is off
    because the site is our own.
    """
    netloc = urlsplit(base_url).netloc
    return Config(
        warehouse=WarehouseConfig(path=db),
        fetch=FetchConfig(allow_private=[netloc], per_host_delay_s=0.0),
        sources=[
            SourceConfig(name=name, feed=f"{base_url}/{path}", language="en")
            for name, path in DEMO_FEEDS
        ],
    )
