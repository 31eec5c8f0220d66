"""The scale benchmark's synthetic news: a vocabulary, article texts, and the loopback site.

Two consumers need the same kind of text: the articles the benchmark loads straight into the
warehouse to grow it (:func:`text_batch`, fast, numpy-drawn), and the article pages the site
serves to real ``newsflow run`` ticks (:func:`article_page`, which extraction turns back into
articles). Both draw words from one vocabulary of a few thousand words with a Zipf-like
frequency (function words first), in sentences and paragraphs, 150–300 words an article, so
the full-text index, the MinHash signatures and the row checks see text shaped like news.

The site (:class:`ScaleSite`) runs in its own process so that serving never competes with the
benchmark for its interpreter lock: one threaded HTTP server per loopback host (127.0.0.2 …),
each serving many feeds (``/feeds/<source>.xml``), their article pages
(``/a/<source>/<n>.html``) and a ``robots.txt`` without a crawl delay, all from memory. A feed
carries an ``ETag`` and a ``Last-Modified`` and answers ``304`` to a matching
``If-None-Match`` (or, without one, an ``If-Modified-Since`` not older than its last change),
so an unchanged feed costs a status line; pages do the same with their own ETag. The parent
adds articles to sources between ticks (:meth:`ScaleSite.add`) and reads the request counts.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import random
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

#: The most frequent English words, in rank order: they carry the Zipf head of every text (and
#: the language vote, should a page not declare its language).
FUNCTION_WORDS = (
    "the of and to in a is that for on said with as was it by at from he his are be have "
    "has were an will not but they which their this its after been would more who about "
    "had one also new two over when there than up out into could last year first"
).split()

#: Real content words; the rest of the vocabulary is made-up words built from syllables, so
#: the index and the shingles see thousands of distinct terms, as news does.
CONTENT_WORDS = (
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
    "pavement"
).split()

_ONSETS = "b br c ch d dr f fl g gr h j k l m n p pl r s st sh t tr v w".split()
_VOWELS = "a e i o u ai ea ou".split()
_CODAS = "n r l s t nd rt ck m".split()
VOCABULARY_SIZE = 3500
NAMES = (
    "Amsel Brandt Castell Dorin Elms Farrow Gale Hollis Ivers Jansen Keel Lorne Marsh Niven "
    "Orme Pryce Quill Rowan Sayer Thorne Upton Vale Wren Yates"
).split()
FIRST_NAMES = "Anna Ben Clara David Eva Felix Greta Hugo Ida Jonas Karin Leo Maja Nils".split()


@lru_cache(maxsize=1)
def vocabulary() -> tuple[list[str], np.ndarray]:
    """The words, most frequent first, and their probabilities (Zipf, exponent 1)."""
    rng = random.Random(13)
    words = list(dict.fromkeys(FUNCTION_WORDS + CONTENT_WORDS))
    seen = set(words)
    while len(words) < VOCABULARY_SIZE:
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(1, 3))
        ) + rng.choice(_CODAS)
        if word not in seen:
            seen.add(word)
            words.append(word)
    weights = 1.0 / np.arange(1, len(words) + 1)
    return words, weights / weights.sum()


def _compose(words: list[str], rng: random.Random) -> tuple[str, str]:
    """A headline and a body (paragraphs joined by newlines) from a run of drawn words."""
    title_words = words[:8]
    title = " ".join(title_words).capitalize()
    body = words[8:]
    paragraphs, sentence, sentences = [], [], []
    limit = rng.randint(8, 20)
    for word in body:
        sentence.append(word)
        if len(sentence) >= limit:
            sentences.append(" ".join(sentence).capitalize() + ".")
            sentence, limit = [], rng.randint(8, 20)
            if len(sentences) >= rng.randint(3, 5):
                paragraphs.append(" ".join(sentences))
                sentences = []
    if sentence:
        sentences.append(" ".join(sentence).capitalize() + ".")
    if sentences:
        paragraphs.append(" ".join(sentences))
    return title, "\n".join(paragraphs)


def text_batch(seed: int, n: int) -> list[tuple[str, str]]:
    """``n`` (headline, body) pairs of 150–300 words each, deterministic in ``seed``."""
    words, probs = vocabulary()
    gen = np.random.default_rng(seed)
    rng = random.Random(seed)
    lengths = gen.integers(150, 301, n) + 8  # body words + the headline's eight
    drawn = gen.choice(len(words), size=int(lengths.sum()), p=probs).tolist()
    out, at = [], 0
    for length in lengths.tolist():
        out.append(_compose([words[i] for i in drawn[at : at + length]], rng))
        at += length
    return out


def near_copy(text: str, rng: random.Random) -> str:
    """A lightly edited copy of ``text`` (wire copy on another site): a dateline added and about
    one word in twenty replaced, which keeps the 3-shingle Jaccard near 0.7."""
    words, _ = vocabulary()
    lines = text.split("\n")
    edited = []
    for line in lines:
        tokens = line.split(" ")
        for k in range(len(tokens)):
            if rng.random() < 0.05:
                tokens[k] = rng.choice(words[:600])
        edited.append(" ".join(tokens))
    edited[0] = f"{rng.choice(NAMES).upper()} (Wire) - {edited[0]}"
    return "\n".join(edited)


def byline(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(NAMES)}"


# --------------------------------------------------------------------------- the site


def source_name(index: int) -> str:
    return f"scale-{index:04d}"


def host_of(index: int, hosts: int) -> int:
    return index % hosts


def article_page(source: int, n: int, published: datetime, base: str) -> bytes:
    """Article ``n`` of ``source`` as a news page: headline, byline, date, paragraphs, chrome."""
    seed = int(hashlib.sha256(f"{source}/{n}".encode()).hexdigest()[:12], 16)
    rng = random.Random(seed)
    title, body = text_batch(seed, 1)[0]
    title = f"{title} ({source}-{n})"  # headlines differ even where drawn words repeat
    author = byline(rng)
    paragraphs = "\n".join(f"<p>{p}</p>" for p in body.split("\n"))
    nav = "".join(
        f'<li><a href="{base}/section/{w}">{w.title()}</a></li>' for w in CONTENT_WORDS[:30]
    )
    related = "".join(
        f'<li><a href="{base}/a/{source_name(source)}/{max(0, n - k)}.html">More {k}</a></li>'
        for k in range(1, 6)
    )
    stamp = published.isoformat()
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title} | Scale News</title><meta property='og:title' content='{title}'>"
        f"<meta name='author' content='{author}'>"
        f"<meta property='article:published_time' content='{stamp}'>"
        f"<link rel='canonical' href='{base}/a/{source_name(source)}/{n}.html'></head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header><main><article><h1>{title}</h1>"
        f"<p class='byline'>By {author}</p><time datetime='{stamp}'>{stamp[:10]}</time>"
        f"{paragraphs}</article><aside><h3>Related</h3><ul>{related}</ul></aside></main>"
        "<footer><p>© Scale News. All rights reserved.</p></footer>"
        "<script>window.dataLayer=window.dataLayer||[];dataLayer.push({'event':'pv'});</script>"
        "</body></html>"
    ).encode()


@dataclass
class _Feed:
    published: list[datetime]  # one per article, article n at index n
    changed: datetime

    @property
    def etag(self) -> str:
        return f'"v{len(self.published)}"'


def _feed_xml(source: int, feed: _Feed, base: str, shown: int) -> bytes:
    items = []
    for n in range(len(feed.published) - 1, max(-1, len(feed.published) - 1 - shown), -1):
        url = f"{base}/a/{source_name(source)}/{n}.html"
        items.append(
            f"<item><title>Story {source}-{n}</title><link>{url}</link>"
            f"<guid isPermaLink='false'>{source_name(source)}-{n}</guid>"
            f"<pubDate>{format_datetime(feed.published[n])}</pubDate></item>"
        )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{source_name(source)}</title><link>{base}/</link>"
        f"{''.join(items)}</channel></rss>"
    ).encode()


def _not_modified(headers, etag: str, changed: datetime) -> bool:  # noqa: ANN001
    match = headers.get("If-None-Match")
    if match is not None:
        return etag in [m.strip() for m in match.split(",")]
    since = headers.get("If-Modified-Since")
    if since:
        try:
            return parsedate_to_datetime(since) >= changed.replace(microsecond=0)
        except (TypeError, ValueError):
            return False
    return False


def _site_process(
    sources: int, hosts: int, shown: int, conn: multiprocessing.connection.Connection
) -> None:
    now = datetime.now(UTC)
    feeds = {s: _Feed(published=[now], changed=now) for s in range(sources)}
    lock = threading.Lock()
    counts: Counter[str] = Counter()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _reply(self, status: int, body: bytes, ctype: str, extra: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            base = f"http://{self.server.server_address[0]}:{self.server.server_address[1]}"
            path = self.path.split("?", 1)[0]
            if path == "/robots.txt":
                counts["robots"] += 1
                self._reply(200, b"User-agent: *\nAllow: /\n", "text/plain", {})
                return
            parts = path.strip("/").split("/")
            try:
                if len(parts) == 2 and parts[0] == "feeds" and parts[1].endswith(".xml"):
                    source = int(parts[1][len("scale-") : -len(".xml")])
                    with lock:
                        feed = feeds[source]
                        etag, changed = feed.etag, feed.changed
                        headers = {"ETag": etag, "Last-Modified": format_datetime(changed, True)}
                        if _not_modified(self.headers, etag, changed):
                            counts["feed 304"] += 1
                            self._reply(304, b"", "", headers)
                            return
                        body = _feed_xml(source, feed, base, shown)
                    counts["feed 200"] += 1
                    self._reply(200, body, "application/rss+xml", headers)
                    return
                if len(parts) == 3 and parts[0] == "a" and parts[2].endswith(".html"):
                    source, n = int(parts[1][len("scale-") :]), int(parts[2][:-5])
                    with lock:
                        published = feeds[source].published[n]
                    etag = f'"a{source}-{n}"'
                    headers = {"ETag": etag, "Last-Modified": format_datetime(published, True)}
                    if _not_modified(self.headers, etag, published):
                        counts["page 304"] += 1
                        self._reply(304, b"", "", headers)
                        return
                    counts["page 200"] += 1
                    body = article_page(source, n, published, base)
                    self._reply(200, body, "text/html; charset=utf-8", headers)
                    return
            except (KeyError, IndexError, ValueError):
                pass
            counts["404"] += 1
            self._reply(404, b"not found\n", "text/plain", {})

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # a tick polls a thousand feeds at once

    servers = []
    for h in range(hosts):
        server = Server((f"127.0.0.{h + 2}", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    conn.send([s.server_address[:2] for s in servers])
    while True:
        command, arg = conn.recv()
        if command == "stop":
            break
        if command == "add":  # {source: new articles}
            stamp = datetime.now(UTC)
            with lock:
                for source, count in arg.items():
                    feeds[source].published.extend([stamp] * count)
                    feeds[source].changed = stamp
            conn.send(sum(arg.values()))
        elif command == "counts":
            conn.send(dict(counts))
            counts.clear()
    for server in servers:
        server.shutdown()


class ScaleSite:
    """The site in a child process; ``hosts`` are (address, port) pairs, one per host.

    Every feed starts with one article; ``shown`` is how many of a feed's newest articles it
    lists."""

    def __init__(self, sources: int, hosts: int = 10, shown: int = 20) -> None:
        parent, child = multiprocessing.Pipe()
        self._conn = parent
        self.sources, self.host_count = sources, hosts
        self._process = multiprocessing.get_context("spawn").Process(
            target=_site_process, args=(sources, hosts, shown, child), daemon=True
        )
        self._process.start()
        self.hosts: list[tuple[str, int]] = parent.recv()

    def feed_url(self, source: int) -> str:
        address, port = self.hosts[host_of(source, self.host_count)]
        return f"http://{address}:{port}/feeds/{source_name(source)}.xml"

    def add(self, new: dict[int, int]) -> int:
        """Publish ``new[source]`` more articles on each source; returns how many in all."""
        self._conn.send(("add", new))
        return self._conn.recv()

    def counts(self) -> dict[str, int]:
        """Requests served since the last call, by kind ("feed 304", "page 200" …)."""
        self._conn.send(("counts", None))
        return self._conn.recv()

    def stop(self) -> None:
        self._conn.send(("stop", None))
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
