"""newsflow's one HTTP client: every feed, page and robots.txt request goes through here.

Everything newsflow fetches comes from hosts it does not control, so the client is built to
stay bounded and harmless whatever the other end does (docs/fetching.md):

* **Never raises for network or protocol trouble.** ``get`` returns a ``FetchResult`` whose
  ``error`` starts with a stable code word (``blocked``, ``timeout``, ``deadline``,
  ``too_large``, ``redirect_loop``, ``too_many_redirects``, ``scheme``, ``userinfo``,
  ``invalid_url``, ``connection``, ``dns``, ``tls``, ``decode``, ``protocol``) followed by a
  sentence an on-call person can act on. Non-2xx statuses are not errors here: callers
  decide what a 404 or a 429 means for their source. ``status``/``final_url`` describe the
  last response received (``status`` is None when the last hop got no response at all).
* **SSRF guard at connect time.** The urllib3 connection resolves the host itself, refuses
  every non-global address (``tasks/addresses``) unless ``allow_private`` names the exact
  ``host:port`` of the URL or a CIDR containing the address, connects only to an address that
  passed, and re-checks ``getpeername()`` on the connected socket. Because the check sits in the
  connection, it holds on every redirect hop and for DNS names that resolve to private
  addresses; the URL is never re-parsed to decide, so parser differentials cannot bypass it.
  Proxies and ``.netrc`` are ignored (``trust_env=False``) so the environment cannot route
  around the guard.
* **No connection reuse.** Each request opens a fresh connection, so every hop (and every DNS
  answer) is checked and a connection's socket belongs to exactly one request, which is what
  lets the deadline below shut it down safely. Per-host politeness spaces requests to one host
  by seconds, so keep-alive would save little.
* **Timeouts plus a wall-clock deadline.** Connect and read timeouts bound each socket
  operation; a slow-drip server that sends a byte just inside the read timeout would still
  hold a request for ever (seen: 60 s with ``timeout=(5, 5)``). A watchdog timer therefore
  shuts the request's sockets down when ``deadline_s`` has passed, which wakes any blocked
  TLS handshake, header or body read; each hop's connect timeout is also cut to the time
  left, and the chunk loop checks the clock.
  (DNS resolution itself cannot be interrupted and is bounded by the system resolver.)
* **Decompressed size cap.** Bodies are streamed (``stream=True`` + ``iter_content``) and the
  *decoded* bytes are counted, so a gzip bomb stops at ``max_bytes`` with bounded memory
  (urllib3 ≥ 2.6 limits how much one read inflates). Only ``gzip, deflate`` are offered.
* **Manual redirects.** At most ``max_redirects`` hops, each re-checked (scheme, userinfo,
  address), recorded as ``(status, absolute location)``; ``Authorization`` and ``Cookie``
  headers the caller passed are dropped when the host changes; a hop back to a URL already
  visited in the same state is a loop. Cookies set during one chain are replayed within that
  chain only (a "set cookie and come back" consent redirect works), never kept across calls.

``HttpClient`` can be shared between threads: per-request state (cookies, deadline) lives in
the call, and no connection is shared.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
import urllib3.exceptions as u3exc
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import requote_uri
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.connection import _set_socket_options, allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from newsflow.schemas.allow_list import AllowList, normalise_host
from newsflow.schemas.records import FetchResult
from newsflow.tasks.fetch.addresses import describe, parse_allow_private, permits
from newsflow.tasks.fetch.urls import url_problem

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
# Headers the client owns: framing, transport and content negotiation must not be overridden
# by a caller (e.g. "Accept-Encoding: br" would bypass the vetted decoders).
_RESERVED_HEADERS = frozenset(
    {
        "host",
        "accept-encoding",
        "connection",
        "content-length",
        "transfer-encoding",
        "te",
        "upgrade",
        "user-agent",
        "proxy-authorization",
    }
)
_CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for every request; built from ``[fetch]`` in the config."""

    user_agent: str = "newsflow/0.1 (+https://example.org/newsflow)"
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0
    deadline_s: float = 45.0  # wall clock for the whole request incl. redirects and body
    max_bytes: int = 5 * 1024 * 1024  # decompressed body cap
    max_redirects: int = 5
    allow_private: tuple[str, ...] = ()  # exact "host:port" or CIDR strings

    def __post_init__(self) -> None:
        # TOML gives lists; keep the dataclass hashable and validate at start-up.
        object.__setattr__(self, "allow_private", tuple(self.allow_private))
        for name in ("connect_timeout_s", "read_timeout_s", "deadline_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"fetch.{name} must be > 0, got {getattr(self, name)!r}")
        if self.max_bytes <= 0:
            raise ValueError(f"fetch.max_bytes must be > 0, got {self.max_bytes!r}")
        if self.max_redirects < 0:
            raise ValueError(f"fetch.max_redirects must be >= 0, got {self.max_redirects!r}")
        if not self.user_agent.strip():
            raise ValueError("fetch.user_agent must not be empty: sites reject anonymous clients")
        parse_allow_private(self.allow_private)  # raises ValueError naming a bad entry


# --------------------------------------------------------------------------------------------
# Deadline watchdog
# --------------------------------------------------------------------------------------------


class _Watch:
    """The wall-clock deadline of one ``get``: when it expires, every socket the request
    opened is shut down, so whatever read or handshake is blocked returns at once.

    Sockets are registered as duplicates (``dup``) because wrapping a socket in TLS detaches the
    original object; shutting a duplicate down affects the shared connection, and closing it
    afterwards does not. Connections are never pooled, so no other request can be hit.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires_at = time.monotonic() + seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()

    def is_over(self) -> bool:
        return self.expired or self.remaining() <= 0

    def adopt(self, sock: socket.socket) -> None:
        dup = sock.dup()
        with self._lock:
            if self._done:
                dup.close()
                return
            self._socks.append(dup)
            if self.expired:
                _shutdown(dup)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            for s in self._socks:
                _shutdown(s)

    def finish(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            socks, self._socks = self._socks, []
        for s in socks:
            s.close()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer: nothing left to wake
        sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()


def _current_watch() -> _Watch | None:
    return getattr(_current, "watch", None)


# --------------------------------------------------------------------------------------------
# Guarded urllib3 connections
# --------------------------------------------------------------------------------------------


class AddressBlocked(Exception):  # noqa: N818 - reads as a reason, like the error code
    """Raised inside the connection when the guard refuses every resolved address. Not an
    OSError on purpose: urllib3 and requests let it through unwrapped, so ``get`` can tell a
    refusal from a network failure."""


class _GuardMixin:
    """Replaces urllib3's ``_new_conn``: resolve, vet each address, connect only to a vetted
    one, re-check the connected peer, and hand the socket to the request's deadline watch."""

    _allow: AllowList = AllowList()
    # Provided by urllib3's HTTPConnection:
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        host = normalise_host(self.host)
        port = self.port
        try:
            infos = socket.getaddrinfo(
                self._dns_host.strip("[]"), port, allowed_gai_family(), socket.SOCK_STREAM
            )
        except socket.gaierror as e:
            raise u3exc.NameResolutionError(self.host, self, e) from e  # type: ignore[arg-type]
        except UnicodeError as e:
            raise u3exc.LocationParseError(f"{self.host!r}: {e}") from e

        vetted = [info for info in infos if permits(self._allow, host, port, info[4][0])]
        if not vetted:
            raise AddressBlocked(_blocked_message(host, port, infos[0][4][0] if infos else ""))

        err: OSError | None = None
        for family, socktype, proto, _canon, sockaddr in vetted:
            sock = socket.socket(family, socktype, proto)
            try:
                _set_socket_options(sock, self.socket_options)
                if self.timeout is not _DEFAULT_TIMEOUT:
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)
                peer = sock.getpeername()[0]
            except OSError as e:
                sock.close()
                err = e
                continue
            if not permits(self._allow, host, port, peer):  # defence in depth
                sock.close()
                raise AddressBlocked(_blocked_message(host, port, peer))
            watch = _current_watch()
            if watch is not None:
                watch.adopt(sock)
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock

        if isinstance(err, TimeoutError):
            raise u3exc.ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from err
        raise u3exc.NewConnectionError(
            self,  # type: ignore[arg-type]
            f"Failed to establish a new connection: {err}",
        ) from err


def _blocked_message(host: str, port: int, ip: str) -> str:
    kind = describe(ip) or "not allowed"
    if normalise_host(ip.split("%", 1)[0]) == host:
        what = f"{ip} is {kind}"
    else:
        what = f"{host} resolves to {ip}, {kind}"
    return f"blocked: {what} (not in fetch.allow_private)"


class _NoReuseMixin:
    """A pool that closes connections instead of keeping them (see module docstring)."""

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn.close()
        super()._put_conn(None)  # type: ignore[misc]


def _pool_classes(allow: AllowList) -> dict[str, type]:
    conn_attrs = {"_allow": allow}
    http_conn = type("GuardedHTTPConnection", (_GuardMixin, HTTPConnection), conn_attrs)
    https_conn = type("GuardedHTTPSConnection", (_GuardMixin, HTTPSConnection), conn_attrs)
    return {
        "http": type(
            "GuardedHTTPPool", (_NoReuseMixin, HTTPConnectionPool), {"ConnectionCls": http_conn}
        ),
        "https": type(
            "GuardedHTTPSPool",
            (_NoReuseMixin, HTTPSConnectionPool),
            {"ConnectionCls": https_conn},
        ),
    }


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, allow: AllowList) -> None:
        self._pools = _pool_classes(allow)
        super().__init__(max_retries=0)  # retries are the caller's policy, not the client's

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, *_args: Any, **_kwargs: Any) -> Any:
        raise AddressBlocked("blocked: proxies are not used by newsflow's HTTP client")


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


class HttpClient:
    """See the module docstring. Use as a context manager or call ``close()``."""

    def __init__(self, policy: FetchPolicy = FetchPolicy()) -> None:  # noqa: B008 - frozen
        self.policy = policy
        self._allow = parse_allow_private(policy.allow_private)
        session = requests.Session()
        session.trust_env = False  # no env proxies, no .netrc: nothing routes around the guard
        session.proxies = {}
        session.headers = CaseInsensitiveDict(
            {
                "User-Agent": policy.user_agent,
                "Accept-Encoding": "gzip, deflate",
                "Accept": "*/*",
                "Connection": "close",
            }
        )
        # The session keeps no cookies between calls; a chain's cookies live in the call.
        session.cookies = RequestsCookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
        adapter = _GuardedAdapter(self._allow)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self._session = session

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the one request method --------------------------------------------------------------
    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        deadline_s: float | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """GET ``url`` within the policy's limits; never raises for network problems.

        ``headers`` are extra request headers (e.g. ``If-None-Match``); headers the client owns
        (User-Agent, Accept-Encoding, Host, framing) are ignored. ``max_bytes`` and
        ``deadline_s`` override the policy for this call; ``accept`` sets ``Accept``.
        """
        started = time.monotonic()
        cap = self.policy.max_bytes if max_bytes is None else max_bytes
        deadline = self.policy.deadline_s if deadline_s is None else deadline_s
        watch = _Watch(deadline)
        previous = _current_watch()
        _current.watch = watch
        watch.start()
        try:
            result = self._get(url, headers or {}, cap, watch, accept)
        finally:
            watch.finish()
            _current.watch = previous
        result.elapsed_ms = int((time.monotonic() - started) * 1000)
        return result

    def _get(
        self,
        url: str,
        extra: Mapping[str, str],
        cap: int,
        watch: _Watch,
        accept: str | None,
    ) -> FetchResult:
        owned = _RESERVED_HEADERS | ({"accept"} if accept else set())
        hop_headers = {k: v for k, v in extra.items() if k.lower() not in owned}
        if accept:
            hop_headers["Accept"] = accept
        jar = RequestsCookieJar()
        redirects: list[tuple[int, str]] = []
        visited: set[tuple[str, tuple]] = set()
        current = url

        def result(**kw: Any) -> FetchResult:
            return FetchResult(url=url, final_url=current, redirects=list(redirects), **kw)

        while True:
            problem = url_problem(current)
            if problem is not None:
                return result(error=problem)
            visited.add((urldefrag(current)[0], _cookie_state(jar)))
            remaining = watch.remaining()
            if remaining <= 0:
                return result(error=f"deadline: no complete response after {watch.seconds:g} s")
            timeouts = (
                min(self.policy.connect_timeout_s, remaining),
                min(self.policy.read_timeout_s, remaining),
            )
            try:
                resp = self._send(current, hop_headers, jar, timeouts)
            except AddressBlocked as e:
                return result(error=str(e))
            except _NETWORK_ERRORS as e:
                return result(error=_describe_failure(e, current, timeouts, watch, "response"))

            status = resp.status_code
            resp_headers = {k.lower(): v for k, v in resp.headers.items()}
            location = self._session.get_redirect_target(resp)
            if status not in REDIRECT_STATUSES or not location:
                try:
                    content, error = _read_body(resp, cap, watch, timeouts[1])
                finally:
                    resp.close()
                return result(status=status, headers=resp_headers, content=content, error=error)

            # A redirect: never read its body (a 3xx can carry a gzip bomb too; CVE-2026-21441
            # was urllib3 decompressing redirect bodies).
            try:
                extract_cookies_to_jar(jar, resp.request, resp.raw)
                target = requote_uri(urljoin(current, location))
            except ValueError as e:  # includes requests' InvalidURL
                return result(
                    status=status,
                    headers=resp_headers,
                    error=f"invalid_url: redirect to unusable Location {location[:200]!r} ({e})",
                )
            finally:
                resp.close()
            redirects.append((status, target))
            if len(redirects) > self.policy.max_redirects:
                return result(
                    status=status,
                    headers=resp_headers,
                    error=(
                        f"too_many_redirects: more than {self.policy.max_redirects} redirects "
                        f"(the last to {target})"
                    ),
                )
            if (urldefrag(target)[0], _cookie_state(jar)) in visited:
                return result(
                    status=status,
                    headers=resp_headers,
                    error=f"redirect_loop: {current} redirects to {target}, already visited",
                )
            if self._session.should_strip_auth(current, target):
                hop_headers = {
                    k: v for k, v in hop_headers.items() if k.lower() not in _CREDENTIAL_HEADERS
                }
            current = target

    def _send(
        self,
        url: str,
        headers: Mapping[str, str],
        jar: RequestsCookieJar,
        timeouts: tuple[float, float],
    ) -> requests.Response:
        """One hop, straight through the adapter.

        Not ``Session.get(allow_redirects=False)``: even then requests' ``Session.send``
        pre-computes the next hop through ``resolve_redirects``, which reads the *whole*
        redirect body into memory with decompression. A 302 carrying a gzip bomb took
        2.1 GB RSS that way (requests 2.34.2); here a redirect body is never read.
        """
        prepared = self._session.prepare_request(
            requests.Request("GET", url, headers=dict(headers), cookies=jar)
        )
        adapter = self._session.get_adapter(prepared.url or url)
        return adapter.send(
            prepared, stream=True, timeout=timeouts, verify=True, cert=None, proxies={}
        )


def _cookie_state(jar: RequestsCookieJar) -> tuple:
    return tuple(sorted((c.domain, c.path, c.name, c.value or "") for c in jar))


_NETWORK_ERRORS = (
    requests.RequestException,
    u3exc.HTTPError,
    http.client.HTTPException,
    OSError,
    ValueError,  # malformed URLs and hosts deep in urllib3 / idna (LocationParseError etc.)
)


def _read_body(
    resp: requests.Response, cap: int, watch: _Watch, read_timeout: float
) -> tuple[bytes, str | None]:
    """The decoded body, or an error. Counting *decoded* bytes is what stops a gzip bomb."""
    too_large = f"too_large: body exceeds {cap} bytes after decompression"
    encoding = resp.headers.get("content-encoding", "identity").strip().lower()
    length = resp.headers.get("content-length", "").strip()
    if encoding in ("", "identity") and length.isdigit() and int(length) > cap:
        return b"", f"too_large: Content-Length {length} exceeds {cap} bytes"
    body = bytearray()
    try:
        for chunk in _chunks(resp):
            if len(body) + len(chunk) > cap:
                return b"", too_large
            body += chunk
            if watch.is_over():
                return b"", f"deadline: body not complete after {watch.seconds:g} s"
    except _NETWORK_ERRORS as e:
        return b"", _describe_failure(e, resp.url, (0.0, read_timeout), watch, "body")
    if watch.expired:  # the shutdown may look like a clean end of a close-delimited body
        return b"", f"deadline: body not complete after {watch.seconds:g} s"
    return bytes(body), None


def _chunks(resp: requests.Response) -> Iterator[bytes]:
    return resp.iter_content(chunk_size=_CHUNK)


def _causes(exc: BaseException) -> list[tuple[int, BaseException]]:
    """The exception and everything it wraps, with nesting depth (requests and urllib3 nest
    three or four levels: ConnectionError > MaxRetryError > NewConnectionError > OSError)."""
    seen: set[int] = set()
    out: list[tuple[int, BaseException]] = []
    queue = [(0, exc)]
    while queue:
        depth, e = queue.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        out.append((depth, e))
        nested = [getattr(e, "reason", None), e.__cause__, e.__context__, *e.args]
        queue.extend((depth + 1, n) for n in nested if isinstance(n, BaseException))
    return out


def _describe_failure(
    exc: BaseException,
    url: str,
    timeouts: tuple[float, float],
    watch: _Watch,
    phase: str,
) -> str:
    """A short, stable-prefixed reason for a failed request."""
    if watch.is_over():
        if phase == "body":
            return f"deadline: body not complete after {watch.seconds:g} s"
        return f"deadline: no complete response after {watch.seconds:g} s"
    parts = urlsplit(url)
    host = parts.hostname or url
    chain = _causes(exc)
    causes = [e for _, e in chain]

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(c, types) for c in causes)

    if has(u3exc.NameResolutionError, socket.gaierror):
        return f"dns: could not resolve {host}"
    if has(ConnectionRefusedError):
        return f"connection: {host}:{parts.port or _default_port(parts.scheme)} refused it"
    connect_timeout = any(
        isinstance(c, u3exc.ConnectTimeoutError) and not isinstance(c, u3exc.NewConnectionError)
        for c in causes
    )  # urllib3's NewConnectionError subclasses ConnectTimeoutError for history's sake
    if connect_timeout and phase != "body":
        return f"timeout: could not connect to {host} within {timeouts[0]:g} s"
    if has(requests.ReadTimeout, u3exc.ReadTimeoutError, TimeoutError):
        if phase == "body":
            return f"timeout: body stalled for {timeouts[1]:g} s"
        return f"timeout: no response within {timeouts[1]:g} s"
    if has(requests.exceptions.SSLError, u3exc.SSLError):
        return f"tls: {_root_message(chain)}"
    if has(requests.exceptions.ContentDecodingError, u3exc.DecodeError):
        return "decode: body could not be decompressed (bad gzip/deflate data)"
    malformed = [
        c
        for c in causes
        if isinstance(c, http.client.HTTPException)
        and not isinstance(c, http.client.RemoteDisconnected | http.client.IncompleteRead)
    ]
    if malformed:
        bad = malformed[0]
        if isinstance(bad, http.client.BadStatusLine):
            return f"protocol: not an HTTP response (status line {str(bad).strip()[:80]!r})"
        return f"protocol: malformed HTTP response ({str(bad)[:150]})"
    if has(requests.exceptions.InvalidURL, u3exc.LocationParseError, u3exc.LocationValueError):
        return f"invalid_url: {_root_message(chain)}"
    if phase == "body":
        return f"connection: body broken off ({_root_message(chain)})"
    return f"connection: {_root_message(chain)}"


def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80


def _root_message(chain: list[tuple[int, BaseException]]) -> str:
    """The innermost cause's message, trimmed: urllib3's outer messages repeat pool details."""
    root = max(chain, key=lambda item: item[0])[1]
    if isinstance(root, OSError) and root.strerror:
        text = root.strerror
    else:
        text = str(root) or type(root).__name__
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:197] + "..."
