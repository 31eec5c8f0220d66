"""The one HTTP client over real loopback HTTP: limits, redirects and the SSRF guard.

Every server here is started by the test on a loopback address. Guard tests check both sides:
the refused fetch reports ``blocked`` *and* the refused server never saw a request, and the
same target is fetched fine once it is allowed (so the refusal is the guard's doing, not a
dead server's).
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import tracemalloc
from collections.abc import Callable

import pytest

from newsflow.tasks.fetch.http import FetchPolicy, HttpClient
from tests.servers import (
    LoopbackServer,
    Request,
    Response,
    gzip_bomb_bytes,
    loopback_server_fixture,  # noqa: F401 - registers the loopback_server fixture
    start_server_fixture,  # noqa: F401 - registers the start_server fixture
)

StartServer = Callable[..., LoopbackServer]


def client_for(*servers: LoopbackServer, **policy: object) -> HttpClient:
    allow = tuple(s.host_port for s in servers) + tuple(policy.pop("extra_allow", ()))  # type: ignore[arg-type]
    return HttpClient(FetchPolicy(allow_private=allow, **policy))  # type: ignore[arg-type]


# -- plain fetching -----------------------------------------------------------------------------


def test_plain_200_with_identifiable_headers(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.add("/page", "<p>héllo</p>", headers={"ETag": '"v1"'})
    with client_for(srv) as client:
        res = client.get(srv.url("/page"), headers={"If-None-Match": '"v0"'})
    assert res.ok and res.error is None
    assert res.status == 200
    assert res.content == "<p>héllo</p>".encode()
    assert res.headers["etag"] == '"v1"'  # lower-cased names
    assert res.content_type == "text/html"
    assert res.final_url == res.url == srv.url("/page")
    assert res.redirects == []
    sent = srv.last("/page").headers
    assert sent["user-agent"] == FetchPolicy().user_agent
    assert sent["accept-encoding"] == "gzip, deflate"
    assert sent["if-none-match"] == '"v0"'


def test_client_owned_headers_cannot_be_overridden(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.add("/", "ok")
    with client_for(srv) as client:
        res = client.get(
            srv.url("/"),
            headers={"User-Agent": "Mozilla/5.0", "Accept-Encoding": "br", "Host": "evil"},
            accept="application/rss+xml",
        )
    assert res.ok
    sent = srv.last("/").headers
    assert sent["user-agent"].startswith("newsflow/")
    assert sent["accept-encoding"] == "gzip, deflate"
    assert sent["host"] == srv.host_port
    assert sent["accept"] == "application/rss+xml"


def test_gzip_body_is_decoded(loopback_server: LoopbackServer) -> None:
    text = b"<rss>" + b"<item>news</item>" * 1000 + b"</rss>"
    srv = loopback_server.add("/feed", gzip.compress(text), headers={"Content-Encoding": "gzip"})
    with client_for(srv) as client:
        res = client.get(srv.url("/feed"))
    assert res.ok
    assert res.content == text


@pytest.mark.parametrize("status", [404, 410, 429, 500, 503])
def test_non_2xx_is_a_status_not_an_error(loopback_server: LoopbackServer, status: int) -> None:
    srv = loopback_server.add(
        "/x", f"status {status}", status=status, headers={"Retry-After": "120"}
    )
    with client_for(srv) as client:
        res = client.get(srv.url("/x"))
    assert res.error is None and not res.ok
    assert res.status == status
    assert res.content == f"status {status}".encode()
    assert res.headers["retry-after"] == "120"


def test_304_is_returned_not_followed(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.add("/feed", status=304, headers={"ETag": '"v1"'}, content_type=None)
    with client_for(srv) as client:
        res = client.get(srv.url("/feed"), headers={"If-None-Match": '"v1"'})
    assert (res.status, res.error, res.content, res.redirects) == (304, None, b"", [])


# -- size caps and the deadline -------------------------------------------------------------------


def test_gzip_bomb_stops_at_the_decompressed_cap_with_bounded_memory(
    loopback_server: LoopbackServer,
) -> None:
    inflated = 1024 * 1024 * 1024
    assert len(gzip_bomb_bytes(1024)) < 2 * 1024 * 1024  # ~1 MB on the wire, 1 GiB inflated
    srv = loopback_server.gzip_bomb("/bomb", mib=1024)
    cap = 5 * 1024 * 1024
    with client_for(srv) as client:
        tracemalloc.start()
        try:
            res = client.get(srv.url("/bomb"), max_bytes=cap)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert res.status == 200
    assert res.error == f"too_large: body exceeds {cap} bytes after decompression"
    assert res.content == b""
    # Python-level allocations stayed near the cap, nowhere near the inflated size.
    assert peak < 3 * cap < inflated


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "close-delimited"])
def test_endless_body_is_cut_by_the_cap(loopback_server: LoopbackServer, chunked: bool) -> None:
    srv = loopback_server.endless("/endless", chunked=chunked)
    with client_for(srv) as client:
        res = client.get(srv.url("/endless"), max_bytes=1024 * 1024)
    assert res.status == 200
    assert res.error == "too_large: body exceeds 1048576 bytes after decompression"
    assert res.content == b""


def test_declared_length_over_the_cap_is_refused_before_reading(
    loopback_server: LoopbackServer,
) -> None:
    srv = loopback_server.add("/big", b"x" * 200_000)
    with client_for(srv) as client:
        res = client.get(srv.url("/big"), max_bytes=100_000)
    assert res.error == "too_large: Content-Length 200000 exceeds 100000 bytes"
    with client_for(srv) as client:
        assert client.get(srv.url("/big"), max_bytes=200_000).ok  # exactly the cap is fine


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "close-delimited"])
def test_slow_drip_is_cut_at_the_deadline(loopback_server: LoopbackServer, chunked: bool) -> None:
    # A few bytes every 50 ms, for ever: far inside the 15 s read timeout, so only the
    # deadline can end this request. Close-delimited, no read returns before 64 KiB arrive,
    # so it is the watchdog (not the chunk loop) that ends it.
    srv = loopback_server.drip("/drip", interval_s=0.05, chunked=chunked)
    with client_for(srv, deadline_s=1.5) as client:
        res = client.get(srv.url("/drip"))
    assert res.status == 200
    assert res.error == "deadline: body not complete after 1.5 s"
    assert res.content == b""


def test_dripped_headers_are_cut_at_the_deadline(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.drip_headers("/hdrip", interval_s=0.05)
    with client_for(srv) as client:
        res = client.get(srv.url("/hdrip"), deadline_s=1.0)
    assert res.error is not None and res.error.startswith("deadline: ")
    assert res.content == b""


def test_per_call_deadline_covers_the_whole_redirect_chain(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.redirect("/start", "/drip").drip("/drip", interval_s=0.05)
    with client_for(srv) as client:
        res = client.get(srv.url("/start"), deadline_s=1.0)
    assert res.error == "deadline: body not complete after 1 s"
    assert res.redirects == [(302, srv.url("/drip"))]


# -- redirects ------------------------------------------------------------------------------------


def test_redirect_chain_is_followed_and_recorded(loopback_server: LoopbackServer) -> None:
    srv = loopback_server
    srv.redirect("/a", "/b", 301).redirect("/b", srv.url("/c"), 302)
    srv.redirect("/c", "d", 307).redirect("/d", "/e?x=1", 308).add("/e", "final")
    with client_for(srv) as client:
        res = client.get(srv.url("/a"))
    assert res.ok and res.content == b"final"
    assert res.url == srv.url("/a")
    assert res.final_url == srv.url("/e?x=1")
    assert res.redirects == [
        (301, srv.url("/b")),
        (302, srv.url("/c")),
        (307, srv.url("/d")),
        (308, srv.url("/e?x=1")),
    ]


def test_redirect_body_is_never_read(loopback_server: LoopbackServer) -> None:
    """A 302 carrying a gzip bomb: requests' own redirect handling would inflate all of it
    (2.1 GB RSS measured), even with allow_redirects=False."""
    srv = loopback_server.add(
        "/r",
        gzip_bomb_bytes(1024),
        status=302,
        headers={"Location": "/ok", "Content-Encoding": "gzip"},
    )
    srv.add("/ok", "fine")
    srv.route(
        "/r-endless",
        lambda _req: Response(302, iter(lambda: b"x" * 65536, None), {"Location": "/ok"}),
    )
    with client_for(srv) as client:
        tracemalloc.start()
        try:
            bomb = client.get(srv.url("/r"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        endless = client.get(srv.url("/r-endless"), deadline_s=5.0)
    assert bomb.ok and bomb.content == b"fine"
    assert bomb.redirects == [(302, srv.url("/ok"))]
    assert peak < 20 * 1024 * 1024
    assert endless.ok and endless.content == b"fine"


def test_redirect_loop_is_detected(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.redirect("/x", "/y").redirect("/y", "/x")
    with client_for(srv) as client:
        res = client.get(srv.url("/x"))
    assert res.error is not None and res.error.startswith("redirect_loop: ")
    assert res.redirects == [(302, srv.url("/y")), (302, srv.url("/x"))]
    assert res.status == 302
    assert srv.hits("/x") == 1 and srv.hits("/y") == 1


def test_more_redirects_than_allowed_is_an_error(loopback_server: LoopbackServer) -> None:
    srv = loopback_server
    for i in range(6):
        srv.redirect(f"/r{i}", f"/r{i + 1}")
    srv.add("/r6", "end")
    with client_for(srv, max_redirects=5) as client:
        too_many = client.get(srv.url("/r0"))
        assert srv.hits("/r6") == 0  # the sixth hop was not followed
        five = client.get(srv.url("/r1"))
    assert (
        too_many.error
        == f"too_many_redirects: more than 5 redirects (the last to {srv.url('/r6')})"
    )
    assert len(too_many.redirects) == 6
    assert five.ok and five.content == b"end" and len(five.redirects) == 5


def test_cookie_set_during_a_chain_is_replayed_within_it_only(
    loopback_server: LoopbackServer,
) -> None:
    """A "set a consent cookie and come back" redirect is not a loop; nothing is kept across
    calls."""

    def article(req: Request) -> Response:
        if "consent=1" in req.headers.get("cookie", ""):
            return Response(200, "article")
        return Response(302, headers={"Location": "/consent"}, content_type=None)

    srv = loopback_server.route("/article", article)
    srv.add("/consent", status=302, headers={"Location": "/article", "Set-Cookie": "consent=1"})
    with client_for(srv) as client:
        first = client.get(srv.url("/article"))
        second = client.get(srv.url("/article"))
    assert first.ok and first.content == b"article"
    assert len(first.redirects) == 2
    assert second.ok and len(second.redirects) == 2  # the cookie was not kept between calls


def test_credentials_are_dropped_when_the_host_changes(start_server: StartServer) -> None:
    a, b = start_server("127.0.0.1"), start_server("127.0.0.2")
    a.redirect("/same", "/end").redirect("/away", b.url("/end")).add("/end", "a")
    b.add("/end", "b")
    secret = {"Authorization": "Bearer s3cret", "Cookie": "session=1"}
    with client_for(a, b) as client:
        same = client.get(a.url("/same"), headers=secret)
        away = client.get(a.url("/away"), headers=secret)
    assert same.ok and away.ok and away.content == b"b"
    assert a.last("/end").headers["authorization"] == "Bearer s3cret"
    assert "authorization" not in b.last("/end").headers
    assert "cookie" not in b.last("/end").headers


def test_redirect_to_another_scheme_is_refused(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.redirect("/ftp", "ftp://127.0.0.1/file").redirect(
        "/file", "file:///etc/passwd"
    )
    with client_for(srv) as client:
        ftp = client.get(srv.url("/ftp"))
        local = client.get(srv.url("/file"))
    assert ftp.error == "scheme: only http and https are fetched (got 'ftp')"
    assert ftp.final_url == "ftp://127.0.0.1/file"
    assert ftp.redirects == [(302, "ftp://127.0.0.1/file")]
    assert local.error == "scheme: only http and https are fetched (got 'file')"


def test_unusable_redirect_location(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.redirect("/bad", "http://[::1/broken")
    with client_for(srv) as client:
        res = client.get(srv.url("/bad"))
    assert res.status == 302
    assert res.error is not None
    assert res.error.startswith("invalid_url: redirect to unusable Location 'http://[::1/broken'")


# -- the SSRF guard -------------------------------------------------------------------------------


def test_allowing_one_loopback_service_refuses_other_ports_and_addresses(
    start_server: StartServer,
) -> None:
    allowed = start_server("127.0.0.1")
    other_port = start_server("127.0.0.1")
    other_addr = start_server("127.0.0.2")
    for srv in (allowed, other_port, other_addr):
        srv.add("/", f"served by {srv.host_port}")
    allowed.redirect("/to-port", other_port.url("/")).redirect("/to-addr", other_addr.url("/"))

    with client_for(allowed) as client:
        direct = client.get(allowed.url("/"))
        to_port = client.get(allowed.url("/to-port"))
        to_addr = client.get(allowed.url("/to-addr"))

    assert direct.ok and direct.content == f"served by {allowed.host_port}".encode()
    assert to_port.error == "blocked: 127.0.0.1 is a loopback address (not in fetch.allow_private)"
    assert to_port.status is None and to_port.final_url == other_port.url("/")
    assert to_port.redirects == [(302, other_port.url("/"))]
    assert to_addr.error == "blocked: 127.0.0.2 is a loopback address (not in fetch.allow_private)"
    assert other_port.requests == [] and other_addr.requests == []  # never contacted

    # Control: the same hops succeed once their services are named too.
    with client_for(allowed, other_port, other_addr) as client:
        assert (
            client.get(allowed.url("/to-port")).content
            == f"served by {other_port.host_port}".encode()
        )
        assert (
            client.get(allowed.url("/to-addr")).content
            == f"served by {other_addr.host_port}".encode()
        )


def test_without_allow_private_loopback_is_refused(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.add("/", "secret")
    with HttpClient() as client:
        res = client.get(srv.url("/"))
    assert res.error == "blocked: 127.0.0.1 is a loopback address (not in fetch.allow_private)"
    assert res.status is None and res.content == b""
    assert srv.requests == []


def test_names_resolving_to_loopback_are_refused_unless_named(
    loopback_server: LoopbackServer,
) -> None:
    srv = loopback_server.add("/", "secret")
    by_name = f"http://localhost:{srv.port}/"
    with client_for(srv) as client:  # allows 127.0.0.1:<port>, not localhost:<port>
        res = client.get(by_name)
    assert res.error is not None and res.error.startswith("blocked: localhost resolves to ")
    assert srv.requests == []
    with HttpClient(FetchPolicy(allow_private=(f"localhost:{srv.port}",))) as client:
        assert client.get(by_name).content == b"secret"


def test_cidr_allows_a_range(start_server: StartServer) -> None:
    a, b = start_server("127.0.0.1"), start_server("127.0.0.2")
    a.add("/", "a")
    b.add("/", "b")
    with HttpClient(FetchPolicy(allow_private=("127.0.0.0/8",))) as client:
        assert client.get(a.url("/")).content == b"a"
        assert client.get(b.url("/")).content == b"b"


def test_ipv6_loopback(start_server: StartServer) -> None:
    srv = start_server("::1")
    srv.add("/", "six")
    with HttpClient() as client:
        refused = client.get(srv.url("/"))
    assert refused.error == "blocked: ::1 is a loopback address (not in fetch.allow_private)"
    with client_for(srv) as client:
        assert client.get(srv.url("/")).content == b"six"


def test_https_goes_through_the_same_guard(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.add("/", "plain http")
    url = f"https://{srv.host_port}/"
    with HttpClient() as client:
        assert client.get(url).error == (
            "blocked: 127.0.0.1 is a loopback address (not in fetch.allow_private)"
        )
    assert srv.requests == []
    with client_for(srv) as client:
        res = client.get(url)  # allowed, connects, but the server does not speak TLS
    assert res.error is not None and res.error.startswith("tls: ")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("file:///etc/passwd", "scheme: only http and https are fetched (got 'file')"),
        ("ftp://127.0.0.1/x", "scheme: only http and https are fetched (got 'ftp')"),
        ("gopher://127.0.0.1/", "scheme: only http and https are fetched (got 'gopher')"),
        ("/relative", "scheme: only http and https are fetched (got 'no scheme')"),
        ("http:///path", "invalid_url: no host in URL"),
        ("http://127.0.0.1:99999/", "invalid_url: Port out of range 0-65535"),
    ],
)
def test_urls_refused_before_any_traffic(url: str, error: str) -> None:
    with HttpClient() as client:
        res = client.get(url)
    assert res.error == error
    assert res.status is None and res.final_url == url


def test_userinfo_is_refused(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.add("/", "x")
    with client_for(srv) as client:
        res = client.get(f"http://user:pass@{srv.host_port}/")
        sneaky = client.get(f"http://example.org@{srv.host_port}/")
    assert res.error == "userinfo: URLs with credentials (user:password@) are refused"
    assert sneaky.error == res.error
    assert srv.requests == []


# -- other failures are results, not exceptions --------------------------------------------------


def test_connection_refused(free_port: int) -> None:
    with HttpClient(FetchPolicy(allow_private=(f"127.0.0.1:{free_port}",))) as client:
        res = client.get(f"http://127.0.0.1:{free_port}/")
    assert res.error == f"connection: 127.0.0.1:{free_port} refused it"
    assert res.status is None


def test_connect_timeout() -> None:
    """A listener whose accept queue is full drops new SYNs, so the connect never completes."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):  # completes in the backlog
                s.connect(("127.0.0.1", port))
            fillers.append(s)
        try:
            policy = FetchPolicy(allow_private=(f"127.0.0.1:{port}",), connect_timeout_s=0.5)
            with HttpClient(policy) as client:
                res = client.get(f"http://127.0.0.1:{port}/")
        finally:
            for s in fillers:
                s.close()
    assert res.error == "timeout: could not connect to 127.0.0.1 within 0.5 s"


def test_read_timeouts_before_and_during_the_body(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.hang("/silent")
    srv.hang("/stall", prefix=b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
    with client_for(srv, read_timeout_s=0.5) as client:
        silent = client.get(srv.url("/silent"))
        stall = client.get(srv.url("/stall"))
    assert (silent.status, silent.error) == (None, "timeout: no response within 0.5 s")
    assert (stall.status, stall.error) == (200, "timeout: body stalled for 0.5 s")


def test_garbage_instead_of_http(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.raw("/", lambda h: h.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"))
    with client_for(srv) as client:
        res = client.get(srv.url("/"))
    assert res.status is None
    assert res.error == "protocol: not an HTTP response (status line 'SSH-2.0-OpenSSH_9.6')"


def test_header_flood_is_refused(loopback_server: LoopbackServer) -> None:
    flood = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(500))
    srv = loopback_server.raw("/many", lambda h: h.wfile.write(flood + b"\r\n"))
    srv.raw("/long", lambda h: h.wfile.write(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 100_000))
    with client_for(srv) as client:
        many = client.get(srv.url("/many"))
        long = client.get(srv.url("/long"))
    assert many.error == "protocol: malformed HTTP response (got more than 100 headers)"
    assert long.error is not None and long.error.startswith("protocol: malformed HTTP response")


def test_closed_without_a_response(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.raw("/", lambda h: None)
    with client_for(srv) as client:
        res = client.get(srv.url("/"))
    assert res.error == "connection: Remote end closed connection without response"


def test_tls_handshake_stall_is_cut_at_the_deadline() -> None:
    """A peer that accepts TCP and never answers the TLS ClientHello."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = listener.getsockname()[1]
        with HttpClient(FetchPolicy(allow_private=(f"127.0.0.1:{port}",))) as client:
            res = client.get(f"https://127.0.0.1:{port}/", deadline_s=1.0)
    assert res.error == "deadline: no complete response after 1 s"


def test_connection_dropped_mid_body(loopback_server: LoopbackServer) -> None:
    def truncated(h) -> None:  # noqa: ANN001
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this")

    srv = loopback_server.raw("/", truncated)
    with client_for(srv) as client:
        res = client.get(srv.url("/"))
    assert res.status == 200
    assert res.error is not None and res.error.startswith("connection: body broken off")
    assert res.content == b""


def test_corrupt_gzip(loopback_server: LoopbackServer) -> None:
    srv = loopback_server.add(
        "/", b"\x1f\x8b\x08not gzip at all", headers={"Content-Encoding": "gzip"}
    )
    with client_for(srv) as client:
        res = client.get(srv.url("/"))
    assert res.error == "decode: body could not be decompressed (bad gzip/deflate data)"


def test_dns_failure_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failure injection: no test may query a real resolver, so getaddrinfo fails here."""

    def no_dns(*_args: object, **_kw: object) -> list:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with HttpClient() as client:
        res = client.get("http://feeds.example.invalid/rss")
    assert res.error == "dns: could not resolve feeds.example.invalid"


def test_bad_policy_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="allow_private"):
        FetchPolicy(allow_private=("localhost",))
    with pytest.raises(ValueError, match="deadline_s"):
        FetchPolicy(deadline_s=0)
    assert FetchPolicy(allow_private=["127.0.0.1:80"]).allow_private == ("127.0.0.1:80",)  # type: ignore[arg-type]
