"""A news site with sitemaps, on loopback, for the backfill tests.

robots.txt names a sitemap index; the index lists a gzip Google News sitemap (publication
dates, titles), an old-style archive sitemap without any date, an archive sitemap whose
``lastmod`` is years old (a backfill with ``--since`` never reads it) and a sitemap on another
site (never read). The news sitemap also lists an article outside the window and a page on
another site. Some article pages declare their own date, some do not.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.servers import LoopbackServer, Response

WORDS = [f"w{n:03d}" for n in range(400)]


def page_html(slug: str, page_date: datetime | None) -> str:
    """An article page of 120+ distinct words; ``page_date`` None: the page declares no date."""
    import random

    rng = random.Random(slug)
    body = "".join(
        f"<p>{' '.join(rng.choice(WORDS) for _ in range(30)).capitalize()}.</p>" for _ in range(5)
    )
    title = f"Story {slug}: " + " ".join(rng.choice(WORDS) for _ in range(4))
    meta = (
        f"<meta property='article:published_time' content='{page_date.isoformat()}'>"
        if page_date
        else ""
    )
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title>"
        f"<meta name='author' content='Writer'>{meta}</head>"
        f"<body><article><h1>{title}</h1>{body}</article></body></html>"
    )


@dataclass
class SitemapSite:
    """The site: which article URLs a backfill of ``[since, until)`` must load, and how."""

    server: LoopbackServer
    now: datetime
    page_delay_s: float = 0.0
    #: slug → (sitemap publication date or None, page's own date or None)
    news: dict[str, tuple[datetime, datetime | None]] = field(default_factory=dict)
    archive: list[str] = field(default_factory=list)  # undated, old-style sitemap
    old: list[str] = field(default_factory=list)  # in a sitemap last modified years ago
    #: slug → page's own date or None; their sitemap gives only a recent lastmod
    lastmod_only: dict[str, datetime | None] = field(default_factory=dict)

    @property
    def since(self) -> datetime:
        return self.now - timedelta(days=30)

    def url(self, slug: str) -> str:
        return self.server.url(f"/news/{slug}.html")

    def in_window(self) -> set[str]:
        """URLs a backfill with ``--since self.since`` must load."""
        news = {self.url(s) for s, (d, _p) in self.news.items() if d >= self.since}
        return news | {self.url(s) for s in self.lastmod_only}

    def page_requests(self) -> list[str]:
        return [r.path for r in self.server.requests if r.path.startswith("/news/")]


def build_site(
    server: LoopbackServer, *, n_news: int = 6, page_delay_s: float = 0.0
) -> SitemapSite:
    now = datetime.now(UTC).replace(microsecond=0)
    site = SitemapSite(server, now, page_delay_s)
    for i in range(n_news):
        sitemap_date = now - timedelta(days=i + 1, hours=3)
        page_date = sitemap_date - timedelta(hours=5) if i % 2 == 0 else None
        site.news[f"n{i}"] = (sitemap_date, page_date)
    site.news["stale"] = (now - timedelta(days=90), now - timedelta(days=90))  # out of window
    site.archive = ["a0", "a1"]
    site.old = ["o0"]
    site.lastmod_only = {"m0": None, "m1": now - timedelta(days=3)}

    def news_urlset() -> bytes:
        entries = "".join(
            f"<url><loc>{site.url(s)}</loc><news:news><news:publication>"
            f"<news:name>Test</news:name><news:language>en</news:language></news:publication>"
            f"<news:publication_date>{d.isoformat()}</news:publication_date>"
            f"<news:title>Story {s}</news:title></news:news></url>"
            for s, (d, _p) in site.news.items()
        )
        entries += "<url><loc>http://elsewhere.invalid/news/x.html</loc></url>"
        xml = (
            "<?xml version='1.0' encoding='UTF-8'?>"
            "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
            "xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>"
            f"{entries}</urlset>"
        )
        return gzip.compress(xml.encode())

    def urlset(slugs: list[str], lastmod: datetime | None = None) -> str:
        changed = f"<lastmod>{lastmod.date().isoformat()}</lastmod>" if lastmod else ""
        entries = "".join(f"<url><loc>/news/{s}.html</loc>{changed}</url>" for s in slugs)
        return (
            "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
            f"{entries}</urlset>"
        )

    index = (
        "<?xml version='1.0'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        f"<sitemap><loc>{server.url('/sitemaps/news.xml.gz')}</loc>"
        f"<lastmod>{now.isoformat()}</lastmod></sitemap>"
        f"<sitemap><loc>{server.url('/sitemaps/archive.xml')}</loc></sitemap>"
        f"<sitemap><loc>{server.url('/sitemaps/recent.xml')}</loc></sitemap>"
        f"<sitemap><loc>{server.url('/sitemaps/old.xml')}</loc>"
        "<lastmod>2019-05-01</lastmod></sitemap>"
        "<sitemap><loc>http://elsewhere.invalid/sitemap.xml</loc></sitemap>"
        "</sitemapindex>"
    )
    robots = f"User-agent: *\nAllow: /\nSitemap: {server.url('/sitemap_index.xml')}\n"
    server.add("/robots.txt", robots, content_type="text/plain")
    server.add("/sitemap_index.xml", index, content_type="application/xml")
    server.add("/sitemaps/news.xml.gz", news_urlset(), content_type="application/x-gzip")
    server.add("/sitemaps/archive.xml", urlset(site.archive), content_type="application/xml")
    server.add("/sitemaps/old.xml", urlset(site.old), content_type="application/xml")
    recent = urlset(list(site.lastmod_only), now - timedelta(days=2))
    server.add("/sitemaps/recent.xml", recent, content_type="application/xml")
    server.add("/feed.xml", "<rss version='2.0'><channel></channel></rss>")

    pages = {s: page_date for s, (_d, page_date) in site.news.items()}
    pages.update({s: None for s in [*site.archive, *site.old]})
    pages.update(site.lastmod_only)

    def page(request):  # noqa: ANN001
        if site.page_delay_s:
            time.sleep(site.page_delay_s)
        slug = request.path.rsplit("/", 1)[1].removesuffix(".html")
        if slug not in pages:
            return Response(404, b"no")
        return Response(200, page_html(slug, pages[slug]))

    for slug in pages:
        server.route(f"/news/{slug}.html", page)
    return site
