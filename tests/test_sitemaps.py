"""Sitemap parsing and discovery (tasks/fetch/sitemaps.py): the pure parts, and hostile
documents served on loopback through the real client."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import pytest

from newsflow.schemas.config import FetchConfig
from newsflow.schemas.records import SitemapItem
from newsflow.tasks.fetch import sitemaps
from newsflow.tasks.fetch.sitemap_tasks import discover_sitemaps
from tests.servers import LoopbackServer, gzip_bomb_bytes

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS = "http://www.google.com/schemas/sitemap-news/0.9"


def test_a_news_sitemap_gives_publication_dates_titles_and_lastmod_apart():
    xml = (
        f"<urlset xmlns='{NS}' xmlns:n='{NEWS}'><url><loc>/a.html</loc>"
        "<lastmod>2026-11-20</lastmod><n:news><n:publication_date>2026-11-19T08:15:00+01:00"
        "</n:publication_date><n:title>A story</n:title></n:news></url>"
        "<url><loc>javascript:alert(1)</loc></url><url><loc>https://x.example/b</loc></url>"
        "</urlset>"
    ).encode()
    parsed = sitemaps.parse_sitemap(xml, "https://x.example/s.xml", max_bytes=10**6)
    assert parsed.error is None and parsed.children == []
    a, b = parsed.items  # the javascript: entry is left out
    assert a.url == "https://x.example/a.html" and a.title == "A story"
    assert a.published_at == datetime(2026, 11, 19, 7, 15, tzinfo=UTC)
    assert a.lastmod == datetime(2026, 11, 20, tzinfo=UTC)
    assert (b.published_at, b.lastmod, b.title) == (None, None, None)


def test_an_index_gzip_and_refusals():
    index = f"<sitemapindex xmlns='{NS}'><sitemap><loc>/n.xml.gz</loc><lastmod>2026-01</lastmod>"
    index += "</sitemap></sitemapindex>"
    parsed = sitemaps.parse_sitemap(gzip.compress(index.encode()), "http://h/", max_bytes=10**6)
    assert parsed.children == [("http://h/n.xml.gz", datetime(2026, 1, 1, tzinfo=UTC))]

    bomb = sitemaps.parse_sitemap(gzip_bomb_bytes(64), "http://h/", max_bytes=10**6)
    assert bomb.error.startswith("too_large:")
    laughs = (
        b"<?xml version='1.0'?><!DOCTYPE u [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;'>]>"
        b"<urlset><url><loc>&b;</loc></url></urlset>"
    )
    assert sitemaps.parse_sitemap(laughs, "http://h/", max_bytes=10**6).error.startswith(
        "entities:"
    )
    external = b"<!DOCTYPE u SYSTEM 'file:///etc/passwd'><urlset/>"
    assert sitemaps.parse_sitemap(external, "http://h/", max_bytes=10**6).error.startswith(
        "entities:"
    )
    assert sitemaps.parse_sitemap(b"<html/>", "http://h/", max_bytes=99).error.startswith(
        "not_sitemap:"
    )
    assert sitemaps.parse_sitemap(b"<urlset><url>", "http://h/", max_bytes=99).error.startswith(
        "malformed:"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-11-20T10:00Z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T10:00:00.5-05:00", datetime(2026, 11, 20, 15, 0, 0, 500000, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_w3c_dates(text, expected):
    assert sitemaps.parse_w3c_date(text) == expected


def test_the_window_publication_date_first_lastmod_only_bounds_since_undated_only_unbounded():
    day = datetime(2026, 11, 1, tzinfo=UTC)
    inside = SitemapItem("u1", "s", published_at=day + timedelta(days=3))
    after = SitemapItem("u2", "s", published_at=day + timedelta(days=40))
    edited_later = SitemapItem("u3", "s", lastmod=day + timedelta(days=40))
    edited_before = SitemapItem("u4", "s", lastmod=day - timedelta(days=1))
    undated = SitemapItem("u5", "s")
    items = [inside, after, edited_later, edited_before, undated]
    kept = sitemaps.in_window(items, day, day + timedelta(days=30))
    assert [i.url for i in kept] == ["u3", "u1"]  # newest first
    assert [i.url for i in sitemaps.in_window(items, None, None)][-1] == "u5"
    assert len(sitemaps.in_window(items, None, None, max_items=2)) == 2


def test_discovery_follows_robots_and_stays_on_the_site_through_the_guard():
    with LoopbackServer() as server:
        other = f"http://127.0.0.2:{server.port}"
        server.add(
            "/robots.txt",
            f"User-agent: *\nDisallow: /private/\nSitemap: {server.url('/index.xml')}\n",
            content_type="text/plain",
        )
        server.add(
            "/index.xml",
            f"<sitemapindex xmlns='{NS}'>"
            f"<sitemap><loc>{server.url('/private/s.xml')}</loc></sitemap>"
            f"<sitemap><loc>{server.url('/s.xml')}</loc></sitemap>"
            f"<sitemap><loc>{other}/s.xml</loc></sitemap></sitemapindex>",
        )
        server.add("/s.xml", f"<urlset xmlns='{NS}'><url><loc>/a.html</loc></url></urlset>")
        server.add("/private/s.xml", f"<urlset xmlns='{NS}'><url><loc>/p.html</loc></url></urlset>")
        fetch = FetchConfig(allow_private=[server.host_port], per_host_delay_s=0, retries=0)
        found = discover_sitemaps.fn(server.url("/feed.xml"), fetch)
        assert [i.url for i in found.items] == [server.url("/a.html")]
        assert any("robots: disallowed" in e for e in found.errors)
        paths = [r.path for r in server.requests]
        assert "/private/s.xml" not in paths  # robots.txt said no
        assert paths.count("/sitemap.xml") == 1 and paths.count("/news-sitemap.xml") == 1

        # Without the loopback allowance the guard refuses every hop, robots.txt included.
        server.requests.clear()
        blocked = discover_sitemaps.fn(server.url("/feed.xml"), FetchConfig(retries=0))
        assert blocked.items == [] and server.requests == []
        assert any("blocked:" in e for e in blocked.errors)
