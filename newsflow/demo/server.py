"""Serve the bundled demo site on a loopback port, as a real news site would answer.

Files are served from ``newsflow/demo/site`` with ``{{BASE}}`` replaced by the server's own
base URL, with ETag and Last-Modified validators (so a second poll gets ``304 Not Modified``),
the right content types, and 404 for what is not there. ``overlays`` are folders searched
first: tests use one to publish an edited article between two runs.
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from collections.abc import Callable, Sequence
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
    ".json": "application/json",
}
_TEXT_SUFFIXES = {".html", ".xml", ".rss", ".atom", ".rdf", ".txt", ".json"}
_LAST_MODIFIED = formatdate(1795000000, usegmt=True)  # fixed: the site does not change by itself

#: The demo's usual port. Article URLs include it, so every demo run into one database should
#: use the same port: a fixed default does that without anyone thinking about it.
DEMO_PORT = 8765

#: How many recent requests a demo site remembers (``DemoSite.requests``).
REQUEST_LOG = 100_000


def demo_site_root() -> Path:
    return Path(str(resources.files("newsflow.demo") / "site"))


class DemoSite:
    """A running demo site: ``base_url`` to point feeds at, ``stop()`` when done."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.base_url = f"http://{self.host}:{self.port}"
        # (method, path, status) of recent requests, for tests; `serve --demo` runs for days,
        # so the oldest half goes once it holds REQUEST_LOG entries.
        self.requests: list[tuple[str, str, int]] = []

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(roots: Sequence[Path], site: list[DemoSite]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "newsflow-demo/1"
        sys_version = ""

        def log_message(self, *args: object) -> None:  # quiet: the CLI prints its own summary
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = urlsplit(self.path).path
            body, ctype = self._lookup(path)
            if body is None:
                return self._send(404, b"not found", "text/plain")
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, b"", None, etag=etag)
            self._send(200, body, ctype, etag=etag)

        def _lookup(self, path: str) -> tuple[bytes | None, str]:
            relative = path.lstrip("/")
            if not relative or ".." in Path(relative).parts:
                return None, ""
            for root in roots:
                candidate = root / relative
                if candidate.is_file():
                    data = candidate.read_bytes()
                    suffix = candidate.suffix.lower()
                    if suffix in _TEXT_SUFFIXES:
                        data = data.replace(b"{{BASE}}", site[0].base_url.encode())
                    ctype = _TYPES.get(suffix) or mimetypes.guess_type(candidate.name)[0]
                    return data, ctype or "application/octet-stream"
            return None, ""

        def _send(
            self, status: int, body: bytes, ctype: str | None, etag: str | None = None
        ) -> None:
            log = site[0].requests
            log.append(("GET", self.path, status))
            if len(log) > REQUEST_LOG:
                del log[: REQUEST_LOG // 2]
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            if etag:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", _LAST_MODIFIED)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

    return Handler


def start_demo_site(
    port: int = 0, *, host: str = "127.0.0.1", overlays: Sequence[Path] = ()
) -> DemoSite:
    """Start serving in a background thread; port 0 picks a free one."""
    holder: list[DemoSite] = []
    roots = [*overlays, demo_site_root()]
    server = ThreadingHTTPServer((host, port), _handler(roots, holder))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="newsflow-demo", daemon=True)
    site = DemoSite(server, thread)
    holder.append(site)
    thread.start()
    return site


def start_demo_site_on(
    port: int = DEMO_PORT,
    *,
    overlays: Sequence[Path] = (),
    note: Callable[[str], None] = lambda _message: None,
) -> DemoSite:
    """The demo site on ``port`` or, when that port is busy, on a free one, and ``note`` says
    so: the articles then get other URLs than on earlier runs into the same database."""
    try:
        return start_demo_site(port, overlays=overlays)
    except OSError:
        site = start_demo_site(0, overlays=overlays)
    note(
        f"port {port} is busy; serving the demo on {site.port}. Article URLs include the "
        "port, so use the same --port on every demo run into one database."
    )
    return site
