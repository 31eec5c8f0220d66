"""A hostile news site on loopback: every way a feed or a page can misbehave, next to one healthy
source, for full ingest runs (tests/test_hostile.py) and the memory benchmark
(benchmarks/hostile_memory.py).

Four ``LoopbackServer``s, all on 127.0.0.1:

* ``main``: the hostile host, one source per hostile *feed* and one source (``hostile-pages``)
  whose feed lists every hostile *page*;
* ``throttler``: a host whose first page answers 429 with Retry-After, and a second page that must
  then not be requested at all;
* ``healthy``: an ordinary news site with conditional GET (ETag/304) and two articles;
* ``forbidden``: a server on another port that ``fetch.allow_private`` does *not* name; redirects
  point at it (and at 127.0.0.2) and it must never see a request.

Each case carries the reason newsflow must record (``expect``: a prefix of ``feed_fetches.error``
or ``raw_pages.error``, None for "loads normally") and its behaviour in words, which
docs/fetching.md repeats in its table. Nothing here talks to anything but loopback.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from newsflow.schemas.config import Config, FetchConfig, SourceConfig, WarehouseConfig
from tests.servers import LoopbackServer, Request, Response

PAGES_SOURCE = "hostile-pages"
HEALTHY_SOURCE = "healthy-news"
RSS = "application/rss+xml; charset=utf-8"
SWEDISH = (
    "Regeringen föreslår nya åtgärder för att stärka skyddet av Östersjöns kustområden. "
    "Miljöministern säger att förändringarna är nödvändiga och att arbetet måste börja i år."
)


@dataclass(frozen=True)
class Case:
    name: str  # source name (feed cases) or page slug (page cases)
    kind: str  # "feed" or "page"
    path: str  # on ``main`` (or ``throttler`` for the throttled pages)
    # prefix of the recorded error; "rejected:<check>": rejected by that row check, no page
    # error; None: loads normally
    expect: str | None
    behaviour: str  # what newsflow does, in words (docs/fetching.md)


FEED_CASES = (
    Case(
        "feed-slow-drip",
        "feed",
        "/feeds/drip.xml",
        "deadline:",
        "stopped at the wall-clock deadline",
    ),
    Case("feed-endless", "feed", "/feeds/endless.xml", "too_large:", "stopped at max_feed_bytes"),
    Case(
        "feed-gzip-bomb",
        "feed",
        "/feeds/bomb.xml",
        "too_large:",
        "inflation stopped at max_feed_bytes",
    ),
    Case("feed-entities", "feed", "/feeds/entities.xml", "entities:", "refused before parsing"),
    Case("feed-malformed", "feed", "/feeds/malformed.xml", "malformed:", "recorded, no entries"),
    Case(
        "feed-malformed-usable",
        "feed",
        "/feeds/malformed-usable.xml",
        "malformed but usable:",
        "entries used, the problem recorded as a warning",
    ),
    Case(
        "feed-redirect-loop", "feed", "/feeds/loop-a.xml", "redirect_loop:", "stopped at the loop"
    ),
    Case(
        "feed-redirect-forbidden",
        "feed",
        "/feeds/escape.xml",
        "blocked:",
        "the hop to a loopback port not in allow_private is refused before connecting",
    ),
    Case(
        "feed-429",
        "feed",
        "/feeds/throttled.xml",
        "http_429:",
        "no retry; next_allowed_at = now + Retry-After (seconds); skipped until then",
    ),
    Case(
        "feed-503-retry-after",
        "feed",
        "/feeds/unavailable.xml",
        "http_503:",
        "no retry; next_allowed_at from the Retry-After HTTP date; skipped until then",
    ),
    Case(
        "feed-flapping-503",
        "feed",
        "/feeds/flapping.xml",
        None,
        "503, 503, then 200: succeeds on the third attempt (two retries with backoff)",
    ),
    Case("feed-500", "feed", "/feeds/error.xml", "http_500:", "retried twice, then recorded"),
    Case("feed-404", "feed", "/feeds/missing.xml", "http_404:", "requested once, recorded"),
    Case("feed-410", "feed", "/feeds/gone.xml", "http_410:", "source marked gone; skipped"),
    Case("feed-empty", "feed", "/feeds/empty.xml", "empty:", "recorded, no entries"),
    Case(
        "feed-bad-links",
        "feed",
        "/feeds/bad-links.xml",
        "no_link:",
        "a link with a port out of range is kept and its page recorded as invalid_url, never "
        "requested; a broken IPv6 literal (blanked by feedparser) is counted as skipped; the "
        "feed's good entry loads",
    ),
    Case(
        "feed-moved",
        "feed",
        "/feeds/old.xml",
        None,
        "301 followed; polled at the new URL after redirect_adopt_after permanent redirects",
    ),
)

PAGE_CASES = (
    Case(
        "slow-drip", "page", "/pages/drip.html", "deadline:", "stopped at the wall-clock deadline"
    ),
    Case("endless", "page", "/pages/endless.html", "too_large:", "stopped at max_page_bytes"),
    Case(
        "gzip-bomb", "page", "/pages/bomb.html", "too_large:", "inflation stopped at max_page_bytes"
    ),
    Case("huge-20mb", "page", "/pages/huge.html", "too_large:", "stopped at max_page_bytes"),
    Case("redirect-loop", "page", "/pages/loop-a.html", "redirect_loop:", "stopped at the loop"),
    Case(
        "redirect-forbidden-port",
        "page",
        "/pages/escape.html",
        "blocked:",
        "the hop to a loopback port not in allow_private is refused before connecting",
    ),
    Case(
        "redirect-other-loopback",
        "page",
        "/pages/escape-address.html",
        "blocked:",
        "the hop to 127.0.0.2 (same port, other address) is refused before connecting",
    ),
    Case("error-500", "page", "/pages/error.html", "http_500:", "retried twice, then recorded"),
    Case("flapping-503", "page", "/pages/flapping.html", None, "503, then 200: loads on retry"),
    Case("missing-404", "page", "/pages/missing.html", "http_404:", "requested once, recorded"),
    Case("gone-410", "page", "/pages/gone.html", "http_410:", "requested once, recorded"),
    Case("empty", "page", "/pages/empty.html", "empty:", "recorded, nothing extracted"),
    Case(
        "binary-as-html",
        "page",
        "/pages/binary.html",
        "binary:",
        "a PNG labelled text/html: recorded, never extracted",
    ),
    Case(
        "no-article",
        "page",
        "/pages/no-article.html",
        "rejected:body_present",  # no page error: the row suite's verdict in rejected_articles
        "fetched and archived; trafilatura finds no text: rejected for body_present",
    ),
    Case(
        "charset-header-says-latin1",
        "page",
        "/pages/charset-latin1-header.html",
        None,
        "UTF-8 body, header iso-8859-1: decoded as UTF-8 (valid UTF-8 wins)",
    ),
    Case(
        "charset-header-says-utf8",
        "page",
        "/pages/charset-utf8-header.html",
        None,
        "windows-1252 body with <meta charset=windows-1252>, header utf-8: decoded as windows-1252",
    ),
    Case(
        "throttled-429",
        "page",
        "/pages/throttled.html",
        "http_429:",
        "no retry; the host's other pages are not requested this run",
    ),
    Case(
        "after-throttle",
        "page",
        "/pages/after-throttle.html",
        "throttled:",
        "not requested (same host answered 429); retried on a later run",
    ),
)
THROTTLER_PAGES = ("throttled-429", "after-throttle")
#: Links of the ``feed-bad-links`` feed that cannot be fetched: ``urlsplit(...).port`` raises on
#: the first and ``urlsplit`` on the second. Neither may fail the run.
BAD_PORT_LINK = "http://127.0.0.1:99999/pages/bad-port.html"
BAD_IPV6_LINK = "http://[::1/pages/bad-ipv6.html"


def article_html(title: str, paragraphs: list[str], *, charset: str | None = "utf-8") -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    published = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f'<!doctype html><html lang="en"><head>{meta}<title>{title}</title>'
        f'<meta property="article:published_time" content="{published}"></head>'
        f"<body><header><nav><a href='/'>Home</a></nav></header><article><h1>{title}</h1>"
        f"{body}</article><footer>Contact us</footer></body></html>"
    )


def english_paragraphs(topic: str, n: int = 5) -> list[str]:
    """Distinct, article-length prose about ``topic`` (row checks want 80+ words)."""
    return [
        f"Paragraph {i} about {topic}: the council met on Tuesday evening to discuss the plan, "
        f"and residents who attended said the {topic} proposal needed more detail on costs, "
        f"timing and who would be responsible for maintenance in the years ahead ({i})."
        for i in range(1, n + 1)
    ]


def rss(title: str, links: list[tuple[str, str]]) -> str:
    when = format_datetime(datetime.now(UTC) - timedelta(hours=2), usegmt=True)
    items = "".join(
        f"<item><title>{t}</title><link>{u}</link><guid>{u}</guid><pubDate>{when}</pubDate></item>"
        for t, u in links
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://example.invalid/</link>{items}</channel></rss>"
    )


class HostileSite:
    """The four servers and their routes. Use as a context manager."""

    def __init__(self) -> None:
        self.main = LoopbackServer()
        self.throttler = LoopbackServer()
        self.healthy = LoopbackServer()
        self.forbidden = LoopbackServer()

    def __enter__(self) -> HostileSite:
        for srv in self.servers:
            srv.start()
        self._routes()
        return self

    def __exit__(self, *exc: object) -> None:
        for srv in self.servers:
            srv.stop()

    @property
    def servers(self) -> tuple[LoopbackServer, ...]:
        return (self.main, self.throttler, self.healthy, self.forbidden)

    # -- what tests need ---------------------------------------------------------------------
    def case_url(self, case: Case) -> str:
        srv = self.throttler if case.name in THROTTLER_PAGES else self.main
        return srv.url(case.path)

    def server_of(self, case: Case) -> LoopbackServer:
        return self.throttler if case.name in THROTTLER_PAGES else self.main

    def healthy_articles(self) -> list[tuple[str, str]]:
        return [
            ("Harbour bridge reopens after repairs", self.healthy.url("/news/bridge.html")),
            ("Library extends weekend opening hours", self.healthy.url("/news/library.html")),
        ]

    def config(self, db: str, **fetch: object) -> Config:
        """All hostile sources plus the healthy one; small deadlines so a run takes seconds."""
        settings: dict[str, object] = {
            "allow_private": [
                self.main.host_port,
                self.throttler.host_port,
                self.healthy.host_port,
            ],
            "per_host_delay_s": 0.0,
            "connect_timeout_s": 2.0,
            "read_timeout_s": 2.0,
            "feed_deadline_s": 2.0,
            "page_deadline_s": 2.0,
            "retries": 2,
            "retry_backoff_s": 0.05,
            "pause_after_errors": 2,
            "redirect_adopt_after": 2,
            "polling": "fixed",  # runs seconds apart stand for ticks: every source each run
            # one loopback server stands for many unrelated sites
            "share_politeness": "host",
        }
        settings.update(fetch)
        sources = [SourceConfig(name=c.name, feed=self.main.url(c.path)) for c in FEED_CASES]
        # Most of this source's pages give no article on purpose: its reject rate (a critical
        # table check, which would fail the run) is expected to be high.
        sources.append(
            SourceConfig(
                name=PAGES_SOURCE,
                feed=self.main.url("/feeds/pages.xml"),
                checks={"max_reject_rate": 1.0},
            )
        )
        sources.append(
            SourceConfig(name=HEALTHY_SOURCE, feed=self.healthy.url("/feed.xml"), language="en")
        )
        return Config(
            warehouse=WarehouseConfig(path=db, lock_timeout_s=30),
            fetch=FetchConfig(**settings),
            sources=sources,
        )

    # -- routes ------------------------------------------------------------------------------
    def _routes(self) -> None:
        self._feed_routes()
        self._page_routes()
        self._healthy_routes()
        self.forbidden.add("/feed.xml", rss("Should never be read", []), content_type=RSS)
        self.forbidden.add("/secret.html", "<p>internal</p>")

    def _feed_routes(self) -> None:
        m = self.main
        m.drip("/feeds/drip.xml", chunk=b"<!-- still coming -->\n", content_type=RSS)
        m.endless("/feeds/endless.xml", content_type=RSS)
        m.gzip_bomb("/feeds/bomb.xml", content_type=RSS)
        laughs = '<!ENTITY lol0 "lol">' + "".join(
            f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
        )
        m.add(
            "/feeds/entities.xml",
            f'<?xml version="1.0"?><!DOCTYPE rss [{laughs}]>'
            '<rss version="2.0"><channel><title>&lol9;</title></channel></rss>',
            content_type=RSS,
        )
        m.add(
            "/feeds/malformed.xml",
            '<?xml version="1.0"?><rss version="2.0"><channel><title>Cut</title><item><title>Cut o',
            content_type=RSS,
        )
        usable = rss(
            "Broken but usable", [("From a malformed feed", m.url("/pages/from-malformed.html"))]
        ).replace("<title>Broken but usable</title>", "<title>Broken & usable</title>")
        m.add("/feeds/malformed-usable.xml", usable, content_type=RSS)
        m.redirect("/feeds/loop-a.xml", "/feeds/loop-b.xml")
        m.redirect("/feeds/loop-b.xml", "/feeds/loop-a.xml")
        m.redirect("/feeds/escape.xml", self.forbidden.url("/feed.xml"))
        m.add("/feeds/throttled.xml", status=429, headers={"Retry-After": "120"}, content_type=None)
        later = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
        m.add("/feeds/unavailable.xml", status=503, headers={"Retry-After": later})
        flapping_feed = rss(
            "Flapping", [("From a flapping feed", m.url("/pages/from-flapping.html"))]
        )
        m.sequence(
            "/feeds/flapping.xml",
            [Response(503), Response(503), Response(200, flapping_feed, content_type=RSS)],
        )
        m.add("/feeds/error.xml", "oops", status=500, content_type="text/plain")
        m.add("/feeds/missing.xml", "no", status=404, content_type="text/plain")
        m.add("/feeds/gone.xml", "gone", status=410, content_type="text/plain")
        m.add("/feeds/empty.xml", b"", content_type=RSS)
        m.redirect("/feeds/old.xml", "/feeds/new.xml", status=301)
        moved = rss("Moved", [("From a moved feed", m.url("/pages/from-moved.html"))])
        m.add("/feeds/new.xml", moved, content_type=RSS)
        bad_links = rss(
            "Bad links",
            [
                ("A port out of range", BAD_PORT_LINK),
                ("A broken IPv6 literal", BAD_IPV6_LINK),
                ("Listed beside bad links", m.url("/pages/from-bad-links.html")),
            ],
        )
        m.add("/feeds/bad-links.xml", bad_links, content_type=RSS)
        listed = [(c.name, self.case_url(c)) for c in PAGE_CASES]
        m.add("/feeds/pages.xml", rss("Hostile pages", listed), content_type=RSS)

    def _page_routes(self) -> None:
        m = self.main
        m.drip("/pages/drip.html")
        m.endless("/pages/endless.html")
        m.gzip_bomb("/pages/bomb.html")
        block = b"<p>" + b"x" * (64 * 1024 - 8) + b"</p>\n"
        m.route(
            "/pages/huge.html",
            lambda _req: Response(200, (block for _ in range(320))),  # 20 MiB, chunked
        )
        m.redirect("/pages/loop-a.html", "/pages/loop-b.html")
        m.redirect("/pages/loop-b.html", "/pages/loop-a.html")
        m.redirect("/pages/escape.html", self.forbidden.url("/secret.html"))
        m.redirect("/pages/escape-address.html", f"http://127.0.0.2:{m.port}/pages/empty.html")
        m.add("/pages/error.html", "oops", status=500)
        good = article_html("Flapping server finally answers", english_paragraphs("ferry"))
        m.sequence("/pages/flapping.html", [Response(503), Response(200, good)])
        m.add("/pages/missing.html", "not here", status=404)
        m.add("/pages/gone.html", "gone", status=410)
        m.add("/pages/empty.html", b"")
        png = b"\x89PNG\r\n\x1a\n" + hashlib.sha256(b"png").digest() * 500 + os.urandom(2048)
        m.add("/pages/binary.html", png)
        nav = "".join(f"<li><a href='/s/{i}'>Section {i}</a></li>" for i in range(12))
        m.add(
            "/pages/no-article.html",
            f"<!doctype html><html><head><title>Sections</title></head><body><nav><ul>{nav}"
            "</ul></nav></body></html>",
        )
        utf8_page = article_html("Kustskydd i Östersjön", [SWEDISH] * 1 + _swedish_more())
        m.add(
            "/pages/charset-latin1-header.html",
            utf8_page.encode("utf-8"),
            content_type="text/html; charset=iso-8859-1",
        )
        cp1252_page = article_html(
            "Nya åtgärder för kusten", [SWEDISH] + _swedish_more(), charset="windows-1252"
        )
        m.add(
            "/pages/charset-utf8-header.html",
            cp1252_page.encode("cp1252"),
            content_type="text/html; charset=utf-8",
        )
        m.add(
            "/pages/from-malformed.html",
            article_html("Story listed by a malformed feed", english_paragraphs("harbour")),
        )
        m.add(
            "/pages/from-moved.html",
            article_html("Story listed by a moved feed", english_paragraphs("museum")),
        )
        m.add(
            "/pages/from-bad-links.html",
            article_html("Story listed beside bad links", english_paragraphs("tram")),
        )
        m.add(
            "/pages/from-flapping.html",
            article_html("Story listed by a flapping feed", english_paragraphs("school")),
        )
        t = self.throttler
        t.add("/pages/throttled.html", "slow down", status=429, headers={"Retry-After": "60"})
        t.add(
            "/pages/after-throttle.html",
            article_html("Never requested this run", english_paragraphs("parking")),
        )

    def _healthy_routes(self) -> None:
        h = self.healthy
        feed = rss("Healthy News", self.healthy_articles()).encode()
        etag = '"' + hashlib.sha1(feed).hexdigest()[:12] + '"'

        def feed_route(req: Request) -> Response:
            if req.headers.get("if-none-match") == etag:
                return Response(304, b"", {"ETag": etag}, content_type=None)
            return Response(200, feed, {"ETag": etag}, content_type=RSS)

        h.route("/feed.xml", feed_route)
        h.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        for (title, url), topic in zip(self.healthy_articles(), ("bridge", "library"), strict=True):
            h.add(url.removeprefix(h.origin), article_html(title, english_paragraphs(topic)))


def _swedish_more() -> list[str]:
    return [
        f"Stycke {i}: Kommunerna längs kusten får ökade anslag för att övervaka vattnet, "
        f"och forskare vid universitetet i Göteborg ska följa upp åtgärderna under flera år ({i})."
        for i in range(1, 5)
    ]


def all_cases() -> Iterator[Case]:
    yield from FEED_CASES
    yield from PAGE_CASES
