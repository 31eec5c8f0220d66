"""A real HTTP server on loopback for tests, with routes that behave well or badly on purpose.

Tests must never send traffic off the machine, yet the HTTP client, the feed poller and the
hostile-input suite all need a real server on the other end of a real socket (mocks would not
show a slow drip, a gzip bomb or a redirect to another port). ``LoopbackServer`` is a threaded
``http.server`` bound to 127.0.0.1 (or any loopback address, e.g. 127.0.0.2 or ::1) on port 0,
with a route table that is easy to extend::

    with LoopbackServer() as srv:
        srv.add("/feed.xml", b"<rss/>", content_type="application/rss+xml")
        srv.add("/gone", status=410)
        srv.redirect("/old", "/new", status=301)
        srv.drip("/slow")                       # a few bytes every interval, for ever
        srv.endless("/huge")                    # 64 KiB chunks, for ever
        srv.gzip_bomb("/bomb")                  # 1 GiB of zeros in ~1 MB of gzip
        srv.sequence("/flap", [Response(503), Response(200, b"ok")])
        srv.route("/echo", lambda req: Response(200, req.headers.get("user-agent", "")))
        srv.raw("/bytes", lambda handler: handler.wfile.write(b"HTTP/1.1 200 OK\\r\\n..."))
        srv.hang("/silent")                     # accept, then say nothing
        client.get(srv.url("/feed.xml"))
        srv.requests  # every request received: method, path, headers (and a POST's body)

Unknown paths get 404. Streaming routes stop when the client disconnects or the server stops,
so a test that abandons a response never leaves a thread spinning. Use it as a context manager
or through the ``loopback_server`` / ``start_server`` pytest fixtures below (import
``loopback_server_fixture`` / ``start_server_fixture`` into the test module).
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest


@dataclass(frozen=True)
class Request:
    """What the server received. ``headers`` has lower-cased names."""

    method: str
    target: str  # path plus query, as sent
    headers: dict[str, str]
    body: bytes = b""  # request body (POST), read in full before the route runs

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> str:
        return urlsplit(self.target).query


@dataclass
class Response:
    """What a route sends.

    ``body`` is bytes (sent with Content-Length) or an iterable of byte chunks (sent chunked, or
    close-delimited when ``chunked=False``), paced by ``interval_s`` between chunks.
    """

    status: int = 200
    body: bytes | str | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "text/html; charset=utf-8"
    interval_s: float = 0.0
    chunked: bool = True


Handler = Callable[[Request], Response]
RawHandler = Callable[[BaseHTTPRequestHandler], None]


@lru_cache(maxsize=4)
def gzip_bomb_bytes(mib: int = 1024) -> bytes:
    """A valid gzip stream of ``mib`` MiB of zeros, about 1 KB per MiB.

    Built by repeating one self-contained deflate block (compressed after a full flush, so it
    never refers back to earlier data) instead of compressing a gigabyte, which would take
    seconds per test run.
    """
    zeros = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    final = comp.flush(zlib.Z_FINISH)  # an empty final block
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)
    return header + block * mib + final + trailer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # The default listen backlog (5) overflows when a run polls a dozen feeds at once on a busy
    # machine: the kernel then resets connections the handler never sees.
    request_queue_size = 128

    def __init__(self, owner: LoopbackServer, host: str) -> None:
        self.owner = owner
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, 0), _RequestHandler)

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        # A client hanging up mid-body is the point of several routes: keep output clean, but
        # let a bug in a test's own route handler print its traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch(send_body=False)

    def do_POST(self) -> None:  # noqa: N802  (webhook receivers: alert delivery tests)
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(send_body=True, body=self.rfile.read(length) if length else b"")

    def _dispatch(self, send_body: bool, body: bytes = b"") -> None:
        owner = self.server.owner
        req = Request(
            method=self.command,
            target=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        owner._record(req)
        entry = owner._routes.get(req.path)
        try:
            if entry is None:
                self._send(Response(404, b"not found\n", content_type="text/plain"), send_body)
            elif entry[0] == "raw":
                self.close_connection = True
                entry[1](self)
            else:
                self._send(entry[1](req), send_body)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True

    def _send(self, resp: Response, send_body: bool) -> None:
        stopping = self.server.owner._stopping
        body = resp.body.encode() if isinstance(resp.body, str) else resp.body
        self.send_response(resp.status)
        names = {k.lower() for k in resp.headers}
        if resp.content_type and "content-type" not in names:
            self.send_header("Content-Type", resp.content_type)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if isinstance(body, bytes | bytearray):
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)
            return
        if resp.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if not send_body:
            return
        for chunk in body:
            if stopping.is_set():
                self.close_connection = True
                return
            if resp.chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                self.wfile.write(chunk)
            self.wfile.flush()
            if resp.interval_s:
                stopping.wait(resp.interval_s)
        if resp.chunked:
            self.wfile.write(b"0\r\n\r\n")


class LoopbackServer:
    """A threaded HTTP server on a loopback address and a free port, with a route table."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._routes: dict[str, tuple[str, Callable]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[Request] = []
        self._server = _Server(self, host)
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def stopping(self) -> threading.Event:
        """Set when the server stops: long-running raw handlers should wait on it."""
        return self._stopping

    # -- addresses ---------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return self._server.server_address[0]

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def host_port(self) -> str:
        """``127.0.0.1:54321`` or ``[::1]:54321``: the form ``fetch.allow_private`` expects."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"http://{self.host_port}"

    def url(self, path: str = "/") -> str:
        return self.origin + (path if path.startswith("/") else "/" + path)

    # -- what was received -------------------------------------------------------------------
    def _record(self, req: Request) -> None:
        with self._lock:
            self.requests.append(req)

    def hits(self, path: str) -> int:
        """How many requests arrived for ``path`` (query ignored)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def last(self, path: str) -> Request:
        with self._lock:
            return [r for r in self.requests if r.path == path][-1]

    # -- routes ------------------------------------------------------------------------------
    def route(self, path: str, handler: Handler) -> LoopbackServer:
        """Any behaviour: ``handler(request) -> Response``."""
        self._routes[path] = ("response", handler)
        return self

    def raw(self, path: str, handler: RawHandler) -> LoopbackServer:
        """Byte-level control: ``handler`` writes the whole response to ``handler.wfile``."""
        self._routes[path] = ("raw", handler)
        return self

    def add(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str | None = "text/html; charset=utf-8",
    ) -> LoopbackServer:
        """A fixed response."""
        resp = Response(status, body, dict(headers or {}), content_type)
        return self.route(path, lambda _req: resp)

    def redirect(self, path: str, location: str, status: int = 302) -> LoopbackServer:
        """Redirect to ``location`` (absolute, or relative to this server)."""
        return self.add(path, status=status, headers={"Location": location}, content_type=None)

    def sequence(self, path: str, responses: list[Response]) -> LoopbackServer:
        """Answer with each response in turn, then keep repeating the last (a flapping 503)."""
        calls = iter(range(1 << 62))

        def handler(_req: Request) -> Response:
            return responses[min(next(calls), len(responses) - 1)]

        return self.route(path, handler)

    def drip(
        self,
        path: str,
        *,
        chunk: bytes = b"<p>drip</p>\n",
        interval_s: float = 0.05,
        count: int | None = None,
        content_type: str = "text/html; charset=utf-8",
        chunked: bool = True,
    ) -> LoopbackServer:
        """A slow body: ``chunk`` every ``interval_s``, ``count`` times (None: for ever), sent
        chunked or close-delimited. Each read gets data well within any read timeout, so only
        a wall-clock deadline stops it."""

        def chunks() -> Iterator[bytes]:
            n = 0
            while count is None or n < count:
                n += 1
                yield chunk

        return self.route(
            path,
            lambda _req: Response(200, chunks(), {}, content_type, interval_s, chunked),
        )

    def endless(
        self,
        path: str,
        *,
        chunk_size: int = 64 * 1024,
        content_type: str = "text/html; charset=utf-8",
        chunked: bool = True,
    ) -> LoopbackServer:
        """A body that never ends, as fast as the client reads it."""
        block = b"a" * chunk_size

        def chunks() -> Iterator[bytes]:
            while True:
                yield block

        return self.route(
            path, lambda _req: Response(200, chunks(), {}, content_type, chunked=chunked)
        )

    def gzip_bomb(
        self, path: str, *, mib: int = 1024, content_type: str = "text/html; charset=utf-8"
    ) -> LoopbackServer:
        """``Content-Encoding: gzip`` whose body inflates to ``mib`` MiB of zeros."""
        payload = gzip_bomb_bytes(mib)
        return self.add(
            path, payload, headers={"Content-Encoding": "gzip"}, content_type=content_type
        )

    def hang(self, path: str, *, prefix: bytes = b"") -> LoopbackServer:
        """Send ``prefix`` (nothing: wait for headers for ever; a status line, headers and part
        of a body: a stalled body) and then nothing until the server stops."""

        def handler(h: BaseHTTPRequestHandler) -> None:
            h.wfile.write(prefix)
            h.wfile.flush()
            self._stopping.wait()

        return self.raw(path, handler)

    def drip_headers(self, path: str, *, interval_s: float = 0.05) -> LoopbackServer:
        """A status line and then header bytes one at a time, for ever: per-read timeouts never
        fire, only a deadline that covers the wait for headers stops it."""

        def handler(h: BaseHTTPRequestHandler) -> None:
            h.wfile.write(b"HTTP/1.1 200 OK\r\n")
            stopping = self._stopping
            while not stopping.is_set():
                h.wfile.write(b"X")
                h.wfile.flush()
                stopping.wait(interval_s)

        return self.raw(path, handler)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll ``predicate`` (e.g. that a server saw a request) without fixed sleeps."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# Fixtures are registered under ``name=`` so a test module can import them without its
# parameters shadowing the import (ruff F811):
#     from tests.servers import loopback_server_fixture, start_server_fixture  # noqa: F401
@pytest.fixture(name="loopback_server")
def loopback_server_fixture() -> Iterator[LoopbackServer]:
    """One running server on 127.0.0.1; add routes in the test."""
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture(name="start_server")
def start_server_fixture() -> Iterator[Callable[..., LoopbackServer]]:
    """A factory for more servers (another port, 127.0.0.2, ::1); all stopped at teardown."""
    started: list[LoopbackServer] = []

    def start(host: str = "127.0.0.1") -> LoopbackServer:
        srv = LoopbackServer(host).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
