"""robots.txt through protego, fetched by the real client from loopback servers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from newsflow.tasks.fetch.http import FetchPolicy, HttpClient
from newsflow.tasks.fetch.robots import RobotsCache, product_token, robots_url
from newsflow.tasks.fetch.urls import host_key
from tests.servers import (
    LoopbackServer,
    loopback_server_fixture,  # noqa: F401 - registers the loopback_server fixture
    start_server_fixture,  # noqa: F401 - registers the start_server fixture
)

UA = "newsflow/0.1 (+https://example.org/newsflow)"

ROBOTS = """\ufeff# a BOM, comments, wildcards and groups for other agents
User-agent: example
Disallow: /

User-agent: newsflow
Disallow: /private/
Allow: /private/open-*
Disallow: /*.pdf$
Disallow: /*?session=
Crawl-delay: 2.5

User-agent: *
Disallow: /
"""


def cache_for(*servers: LoopbackServer, user_agent: str = UA, **kw: object) -> RobotsCache:
    client = HttpClient(FetchPolicy(allow_private=tuple(s.host_port for s in servers), **kw))  # type: ignore[arg-type]
    return RobotsCache(client, user_agent)


def test_wildcard_rules_for_our_product_token(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.add("/robots.txt", ROBOTS, content_type="text/plain")
    robots = cache_for(srv)
    u = srv.url
    assert robots.allowed(u("/news/2026/story"))
    assert not robots.allowed(u("/private/memo"))
    assert robots.allowed(u("/private/open-letter"))  # the longer Allow wins
    assert not robots.allowed(u("/files/report.pdf"))
    assert robots.allowed(u("/files/report.pdf?page=2"))  # "$" anchors the end
    assert not robots.allowed(u("/story?session=abc"))
    assert robots.crawl_delay(u("/anything")) == 2.5
    # The "example" group does not catch us through the contact URL in our User-Agent.
    assert srv.hits("/robots.txt") == 1  # fetched once, then cached
    assert srv.last("/robots.txt").headers["user-agent"] == UA


def test_other_agents_fall_back_to_the_star_group(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.add("/robots.txt", ROBOTS, content_type="text/plain")
    robots = cache_for(srv, user_agent="otherbot/2.0")
    assert not robots.allowed(srv.url("/news/story"))
    assert robots.crawl_delay(srv.url("/")) is None


@pytest.mark.parametrize("status", [404, 403, 410])
def test_missing_robots_allows_everything(loopback_server: LoopbackServer, status: int) -> None:
    srv = loopback_server.add("/robots.txt", "nope", status=status)
    robots = cache_for(srv)
    assert robots.allowed(srv.url("/private/anything"))
    assert robots.crawl_delay(srv.url("/")) is None
    assert robots.allowed(srv.url("/again"))
    assert srv.hits("/robots.txt") == 1


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_error_disallows_for_the_run(loopback_server: LoopbackServer, status: int) -> None:
    srv = loopback_server.add("/robots.txt", "oops", status=status)
    robots = cache_for(srv)
    assert not robots.allowed(srv.url("/news/story"))
    assert not robots.allowed(srv.url("/other"))
    assert robots.crawl_delay(srv.url("/")) is None
    assert srv.hits("/robots.txt") == 1  # not retried page after page


def test_timeout_disallows(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.hang("/robots.txt")
    robots = cache_for(srv, read_timeout_s=0.5)
    assert not robots.allowed(srv.url("/news/story"))
    assert robots.answer(host_key(srv.url("/")) or ("", "", 0)).reason.startswith(
        "unreachable: timeout: "
    )


def test_redirected_robots_is_followed(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.redirect("/robots.txt", "/static/robots.txt", 301)
    srv.add("/static/robots.txt", "User-agent: *\nDisallow: /secret\n", content_type="text/plain")
    robots = cache_for(srv)
    assert not robots.allowed(srv.url("/secret/x"))
    assert robots.allowed(srv.url("/public"))


def test_cached_per_scheme_host_and_port(start_server: Callable[..., LoopbackServer]) -> None:
    a, b = start_server(), start_server()
    a.add("/robots.txt", "User-agent: *\nDisallow: /a-only\n", content_type="text/plain")
    b.add("/robots.txt", "User-agent: *\nDisallow: /b-only\n", content_type="text/plain")
    robots = cache_for(a, b)
    assert not robots.allowed(a.url("/a-only")) and robots.allowed(a.url("/b-only"))
    assert not robots.allowed(b.url("/b-only")) and robots.allowed(b.url("/a-only"))
    assert a.hits("/robots.txt") == 1 and b.hits("/robots.txt") == 1


def test_answers_expire_after_the_ttl(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.add(
        "/robots.txt", "User-agent: *\nDisallow: /x\n", content_type="text/plain"
    )
    now = [1000.0]
    client = HttpClient(FetchPolicy(allow_private=(srv.host_port,)))
    robots = RobotsCache(client, UA, ttl_s=60.0, clock=lambda: now[0])
    assert not robots.allowed(srv.url("/x"))
    now[0] += 59.0
    assert not robots.allowed(srv.url("/x"))
    assert srv.hits("/robots.txt") == 1
    srv.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    now[0] += 2.0
    assert robots.allowed(srv.url("/x"))
    assert srv.hits("/robots.txt") == 2


def test_huge_crawl_delay_is_capped(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.add(
        "/robots.txt", "User-agent: *\nCrawl-delay: 86400\n", content_type="text/plain"
    )
    assert cache_for(srv).crawl_delay(srv.url("/")) == 120.0


def test_urls_we_never_fetch_are_not_allowed() -> None:
    robots = RobotsCache(HttpClient(), UA)
    assert not robots.allowed("ftp://example.org/file")
    assert not robots.allowed("not a url")
    assert robots.crawl_delay("mailto:someone@example.org") is None


def test_helpers() -> None:
    assert product_token(UA) == "newsflow"
    assert product_token("My-Bot_X/1.0") == "my-bot_x"
    assert host_key("HTTPS://News.Example:443/a?b") == ("https", "news.example", 443)
    assert robots_url(("https", "news.example", 443)) == "https://news.example/robots.txt"
    assert robots_url(("http", "::1", 8080)) == "http://[::1]:8080/robots.txt"
    with pytest.raises(ValueError):
        product_token("/1.0")
