"""Page fetching (tasks/fetch/pages.py) over loopback servers: outcomes, retries, throttling."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from newsflow.schemas.records import FeedEntry, FetchResult
from newsflow.tasks.fetch.http import FetchPolicy, HttpClient
from newsflow.tasks.fetch.pages import fetch_pages, page_outcome
from newsflow.tasks.fetch.retry import RetryPolicy
from tests.servers import LoopbackServer, Request, Response, start_server_fixture  # noqa: F401

HTML = "<!doctype html><html><body><p>hello</p></body></html>"


def _entry(url: str) -> FeedEntry:
    return FeedEntry(source="s", entry_id=url, url=url)


def _result(content: bytes, content_type: str = "text/html; charset=iso-8859-1") -> FetchResult:
    return FetchResult(
        url="https://x/a",
        final_url="https://x/a",
        status=200,
        content=content,
        headers={"content-type": content_type},
    )


def test_binary_body_labelled_html_is_recorded_not_kept():
    out = page_outcome(_entry("https://x/a"), _result(b"%PDF-1.4\n..."), datetime.now(UTC))
    assert out.error == (
        "binary: the page is labelled text/html but the body is a PDF document; skipped"
    )
    assert out.content is None and out.transient is False


def test_the_header_charset_travels_with_the_page():
    out = page_outcome(_entry("https://x/a"), _result(HTML.encode()), datetime.now(UTC))
    assert out.error is None and out.charset == "iso-8859-1"


def test_failure_after_retries_says_so():
    failed = FetchResult(url="u", final_url="u", status=502)
    out = page_outcome(_entry("https://x/a"), failed, datetime.now(UTC), attempts=3)
    assert out.error == "http_502: the page answered HTTP 502 (after 3 attempts)"
    assert out.transient is True


def _fetch_all(servers: list[LoopbackServer], urls: list[str], retries: int = 2):
    client = HttpClient(FetchPolicy(allow_private=tuple(s.host_port for s in servers)))
    with client:
        return fetch_pages(
            [_entry(u) for u in urls],
            lambda url: client.get(url),
            per_host_delay_s=0.0,
            retry=RetryPolicy(retries=retries, backoff_s=0.01),
        )


def test_pages_retry_transient_failures_only(start_server):
    srv = start_server()
    srv.sequence("/flap", [Response(503), Response(200, HTML)])
    srv.add("/gone", status=404)
    out = _fetch_all([srv], [srv.url("/flap"), srv.url("/gone")])
    assert [o.error for o in out] == [None, "http_404: the page answered HTTP 404"]
    assert (srv.hits("/flap"), srv.hits("/gone")) == (2, 1)


def test_a_host_that_throttles_is_not_asked_again_in_the_run(start_server):
    slow, other = start_server(), start_server()
    slow.add("/a", status=429, headers={"Retry-After": "30"})
    slow.add("/b", HTML)
    other.add("/c", HTML)
    out = _fetch_all([slow, other], [slow.url("/a"), slow.url("/b"), other.url("/c")])
    errors = [o.error for o in out]
    assert errors[0] == "http_429: the page answered HTTP 429"
    assert errors[1].startswith("throttled: the host answered HTTP 429 (Retry-After: 30)")
    assert out[1].transient is True  # tried again on a later run
    assert errors[2] is None  # other hosts carry on
    assert (slow.hits("/a"), slow.hits("/b"), other.hits("/c")) == (1, 0, 1)


def test_a_malformed_link_is_refused_with_its_reason_and_the_rest_fetched(start_server):
    srv = start_server()
    srv.add("/a", HTML)
    bad = ["http://127.0.0.1:99999/x", "http://[::1/y", "http://[fe80::zz]/z"]
    out = _fetch_all([srv], [bad[0], srv.url("/a"), bad[1], bad[2]])
    assert [o.url for o in out] == [bad[0], srv.url("/a"), bad[1], bad[2]]
    assert [o.error for o in out] == [
        "invalid_url: Port out of range 0-65535",
        None,
        "invalid_url: Invalid IPv6 URL",
        "invalid_url: 'fe80::zz' does not appear to be an IPv4 or IPv6 address",
    ]
    assert [o.transient for o in out] == [False, False, False, False]  # asking again won't help
    assert srv.hits("/a") == 1


def test_one_host_spelled_two_ways_is_still_asked_one_request_at_a_time(start_server):
    """``http://news.example/`` and ``http://news.example:80/`` name one origin: its pages queue
    behind each other, never in parallel. The fetcher sends both to one loopback server (our
    stand-in for news.example's DNS), which counts requests in flight."""
    srv = start_server()
    lock = threading.Lock()
    in_flight, most = [0], [0]

    def slow(_req: Request) -> Response:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.2)  # holds the request open long enough for a second one to overlap
        with lock:
            in_flight[0] -= 1
        return Response(200, HTML)

    for path in ("/a", "/b", "/c"):
        srv.route(path, slow)
    urls = ["http://news.example/a", "http://NEWS.example:80/b", "HTTP://news.example/c"]
    policy = FetchPolicy(allow_private=(srv.host_port,))
    local, clients = threading.local(), []

    def get(url: str) -> FetchResult:  # one client per thread, as tasks.fetch_batch does
        if not hasattr(local, "client"):
            local.client = HttpClient(policy)
            clients.append(local.client)
        return local.client.get(srv.url("/" + url.rsplit("/", 1)[1]))

    out = fetch_pages([_entry(u) for u in urls], get, per_host_delay_s=0.0)
    for client in clients:
        client.close()
    assert [o.error for o in out] == [None, None, None]
    assert (srv.hits("/a"), srv.hits("/b"), srv.hits("/c")) == (1, 1, 1)
    assert most[0] == 1
