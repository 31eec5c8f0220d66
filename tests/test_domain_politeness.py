"""Per-domain politeness across sources (tasks/fetch/domains.py): hosts of one registrable
domain share one page queue and a 429; feeds on one site share a Retry-After."""

from __future__ import annotations

import threading
import time

import duckdb

from newsflow.flows.ingest import ingest
from newsflow.schemas.config import Config, FetchConfig, SourceConfig, WarehouseConfig
from newsflow.schemas.records import FeedEntry, FetchResult
from newsflow.tasks.fetch.domains import domain_of, registrable_domain
from newsflow.tasks.fetch.pages import fetch_pages
from newsflow.tasks.warehouse.warehouse import working_path
from tests.hostile_site import rss
from tests.servers import LoopbackServer


def test_registrable_domains():
    assert registrable_domain("news.bbc.co.uk") == "bbc.co.uk"
    assert registrable_domain("a.b.example.com") == "example.com"
    assert registrable_domain("user.github.io") == "user.github.io"  # a private suffix
    assert domain_of("https://feeds.example.co.uk:8443/rss") == "example.co.uk"
    assert domain_of("http://127.0.0.1:8080/x") == "127.0.0.1:8080"
    assert domain_of("http://127.0.0.1:8081/x") != domain_of("http://127.0.0.1:8080/x")
    assert domain_of("not a url") is None


class PublicSites:
    """Stands in for public sites, which tests must not reach: answers every URL at once, or
    429 for ``throttling``, and counts how many requests per domain are in flight."""

    def __init__(self, throttling: str = "") -> None:
        self.throttling = throttling
        self.asked: list[str] = []
        self.in_flight: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, url: str) -> FetchResult:
        domain = domain_of(url)
        with self._lock:
            self.asked.append(url)
            self.in_flight[domain] = self.in_flight.get(domain, 0) + 1
            self.most[domain] = max(self.most.get(domain, 0), self.in_flight[domain])
        time.sleep(0.01)  # long enough for a second worker to overlap, if it could
        with self._lock:
            self.in_flight[domain] -= 1
        if self.throttling and url.startswith(self.throttling):
            return FetchResult(url=url, final_url=url, status=429, headers={"retry-after": "60"})
        html = b"<html><body><article><p>text</p></article></body></html>"
        return FetchResult(
            url=url,
            final_url=url,
            status=200,
            content=html,
            headers={"content-type": "text/html"},
        )


def _entries(*urls: str) -> list[FeedEntry]:
    return [FeedEntry(source="s", entry_id=u, url=u) for u in urls]


def test_hosts_of_one_domain_share_one_queue_and_a_429():
    urls = [f"https://{h}.example.co.uk/{i}" for i in range(4) for h in ("news", "img", "www")]
    urls += [f"https://other.example.org/{i}" for i in range(4)]
    sites = PublicSites()
    pages = fetch_pages(_entries(*urls), sites, per_host_delay_s=0, max_workers=8)
    assert len(pages) == len(urls) and all(p.error is None for p in pages)
    assert sites.most["example.co.uk"] == 1  # never two requests at once to one publisher

    throttled = PublicSites(throttling="https://news.example.co.uk/")
    order = [
        "https://news.example.co.uk/1",
        "https://img.example.co.uk/2",
        "https://x.example.org/3",
    ]
    pages = fetch_pages(_entries(*order), throttled, per_host_delay_s=0, max_workers=8)
    assert throttled.asked.count("https://img.example.co.uk/2") == 0  # same publisher: left
    assert pages[1].error.startswith("throttled:") and pages[1].transient
    assert pages[2].error is None  # another publisher: asked as usual

    apart = PublicSites(throttling="https://news.example.co.uk/")
    pages = fetch_pages(_entries(*order), apart, per_host_delay_s=0, by_domain=False)
    assert "https://img.example.co.uk/2" in apart.asked  # share_politeness = "host"
    assert pages[1].error is None


def test_a_retry_after_on_one_feed_holds_back_the_others_on_its_site(prefect_harness, tmp_path):
    with LoopbackServer() as server:
        server.add("/a.xml", status=429, headers={"Retry-After": "3600"})
        server.add("/b.xml", rss("b", []), content_type="application/rss+xml")
        with LoopbackServer() as elsewhere:
            elsewhere.add("/c.xml", rss("c", []), content_type="application/rss+xml")
            db = tmp_path / "w.duckdb"
            config = Config(
                warehouse=WarehouseConfig(path=str(db)),
                fetch=FetchConfig(
                    allow_private=[server.host_port, elsewhere.host_port],
                    per_host_delay_s=0,
                    retries=0,
                    polling="fixed",
                ),
                sources=[
                    SourceConfig(name="a", feed=server.url("/a.xml")),
                    SourceConfig(name="b", feed=server.url("/b.xml")),
                    SourceConfig(name="c", feed=elsewhere.url("/c.xml")),
                ],
            )
            ingest(config=config)  # a: 429; b, on the same site, waits for a later run
            ingest(config=config)  # a and b both wait out a's Retry-After
            assert server.hits("/a.xml") == 1 and server.hits("/b.xml") == 0
            assert elsewhere.hits("/c.xml") == 2  # another site: polled as usual
    with duckdb.connect(str(working_path(db)), read_only=True) as con:
        errors = con.execute(
            "SELECT source, error FROM feed_fetches WHERE source = 'b' ORDER BY fetched_at"
        ).fetchall()
    assert "another feed on" in errors[0][1] and "answered HTTP 429" in errors[0][1]
    assert "source a on the same domain" in errors[1][1]
