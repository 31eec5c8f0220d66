"""A synthetic news corpus for throughput benchmarks: N article pages over H loopback hosts.

Pages are generated on request from their number (nothing is held in memory), 50–300 KB each
like real news pages (most of the bytes are markup, scripts and menus), with text varied enough
that no two articles share a paragraph. Each host serves ``/feed.xml`` listing its pages and
``/robots.txt``. The site runs in its own process so that serving never competes with the
pipeline for the pipeline's interpreter lock.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_WORDS = (
    "council harbour ferry budget school river bridge market museum railway vote plan winter "
    "summer storm forecast hospital clinic nurse doctor teacher student farmer harvest grain "
    "orchard timber mill factory worker union wage strike agreement minister mayor election "
    "campaign district village town city county coast island valley mountain forest lake "
    "road tunnel station airport freight cargo ship crew captain engineer contractor tender "
    "bid report inquiry court judge lawyer police officer fire brigade volunteer charity "
    "festival concert theatre gallery library archive record history century anniversary "
    "heritage restoration repair roof window wall garden park playground football club "
    "season league match coach player supporter stadium ticket price cost fund grant loan "
    "tax levy rate rent housing tenant landlord planning permit licence energy power grid "
    "wind solar battery heat pump insulation water supply reservoir drought flood warning "
    "evacuation shelter ambulance emergency response delay closure opening launch expansion "
    "merger takeover survey study researcher university laboratory data figure percent "
    "increase decrease growth decline shortage surplus demand supply export import trade "
    "partner neighbour resident family child parent pensioner community meeting hall debate "
    "motion proposal amendment deadline schedule timetable service route bus tram cycle lane "
    "pavement "
).split()
_NAMES = "Amsel Brandt Castell Dorin Elms Farrow Gale Hollis Ivers Jansen Keel Lorne".split()


def page_count_per_host(n: int, hosts: int) -> list[int]:
    base, extra = divmod(n, hosts)
    return [base + (1 if h < extra else 0) for h in range(hosts)]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(9, 22))]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice([".", ".", ".", "?"])


def article_page(host: int, index: int, *, base: str, target_kb: int | None = None) -> bytes:
    """The HTML of article ``index`` on host ``host``: deterministic, unique text."""
    seed = int(hashlib.sha256(f"{host}/{index}".encode()).hexdigest()[:12], 16)
    rng = random.Random(seed)
    size_kb = target_kb or rng.randint(50, 300)
    title = f"{_sentence(rng)[:-1]} ({host}-{index})"
    paragraphs = [
        " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))
        for _ in range(rng.randint(6, 16))
    ]
    published = datetime(2026, 11, 27, tzinfo=UTC) - timedelta(minutes=index)
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    nav = "".join(f'<li><a href="{base}/section/{w}">{w.title()}</a></li>' for w in _WORDS[:40])
    head = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title} | Bench News</title><meta property='og:title' content='{title}'>"
        f"<meta name='author' content='{rng.choice(_NAMES)}'>"
        f"<meta property='article:published_time' content='{published.isoformat()}'>"
        f"<link rel='canonical' href='{base}/a/{index}.html'></head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header><main><article><h1>{title}</h1>{body}</article>"
        "<aside><h3>Most read</h3><ul>"
        + "".join(
            f"<li><a href='{base}/a/{(index + k) % 997}.html'>Story {k}</a></li>" for k in range(12)
        )
        + "</ul></aside></main><footer><p>© Bench News</p></footer>"
    )
    # Pad with the script and style bulk real news pages carry, up to the page's size.
    filler_unit = (
        "<script>window.dataLayer=window.dataLayer||[];"
        "dataLayer.push({'event':'pv','id':%d});</script>\n"
    )
    page = head
    pad_needed = size_kb * 1024 - len(page) - 20
    if pad_needed > 0:
        unit = filler_unit % seed
        page += unit * (pad_needed // len(unit) + 1)
    return (page + "</body></html>").encode()


def feed_xml(host: int, count: int, *, base: str) -> bytes:
    items = []
    for index in range(count):
        published = datetime(2026, 11, 27, tzinfo=UTC) - timedelta(minutes=index)
        items.append(
            f"<item><title>Story {host}-{index}</title><link>{base}/a/{index}.html</link>"
            f"<guid isPermaLink='false'>bench-{host}-{index}</guid>"
            f"<pubDate>{format_datetime(published)}</pubDate></item>"
        )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Bench</title>"
        f"<link>{base}/</link>{''.join(items)}</channel></rss>"
    ).encode()


def _serve(
    host_index: int, address: str, count: int, ready: multiprocessing.Event
) -> ThreadingHTTPServer:
    feed_cache: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            base = f"http://{address}:{self.server.server_address[1]}"
            etag = None
            if self.path == "/feed.xml":
                body = feed_cache.setdefault(base, feed_xml(host_index, count, base=base))
                ctype, etag = "application/rss+xml", '"feed-v1"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
            elif self.path == "/robots.txt":
                body, ctype = b"User-agent: *\nAllow: /\n", "text/plain"
            elif self.path.startswith("/a/") and self.path.endswith(".html"):
                body = article_page(host_index, int(self.path[3:-5]), base=base)
                ctype = "text/html; charset=utf-8"
            else:
                body, ctype = b"not found", "text/plain"
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            if etag:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((address, 0), Handler)
    server.daemon_threads = True
    return server


def _site_process(n: int, hosts: int, conn: multiprocessing.connection.Connection) -> None:
    servers = []
    for h, count in enumerate(page_count_per_host(n, hosts)):
        server = _serve(h, f"127.0.0.{h + 2}", count, None)  # type: ignore[arg-type]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    conn.send([(f"127.0.0.{h + 2}", s.server_address[1]) for h, s in enumerate(servers)])
    conn.recv()  # wait for "stop"
    for server in servers:
        server.shutdown()


class BenchSite:
    """The corpus served from a child process; ``hosts`` are (address, port) pairs."""

    def __init__(self, n: int, hosts: int) -> None:
        parent, child = multiprocessing.Pipe()
        self._conn = parent
        self._process = multiprocessing.get_context("spawn").Process(
            target=_site_process, args=(n, hosts, child), daemon=True
        )
        self._process.start()
        self.hosts: list[tuple[str, int]] = parent.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
