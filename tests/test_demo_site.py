"""Checks that the bundled demo site is internally consistent and that its manifest is exact.

The manifest is the ground truth for the pipeline's tests (what the cleaned text, captions,
authors and dates of each page should be), so these tests re-derive as much of it as possible
from the rendered files themselves instead of trusting the builder.
"""

from __future__ import annotations

import difflib
import html
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest

from examples.build_demo_site import build_site

DEMO = Path(__file__).resolve().parent.parent / "newsflow" / "demo"
SITE = DEMO / "site"
UPDATED = DEMO / "site_updated"
BASE = "{{BASE}}"
HOST = "http://127.0.0.1:8000"
FEEDS = {
    "harbor-gazette": ("harbor-gazette/rss.xml", "rss20"),
    "valley-courier": ("valley-courier/atom.xml", "atom10"),
    "north-star-wire": ("north-star-wire/index.rdf", "rss10"),
}
PAGE_KINDS = {"article", "wire_copy", "caption_only"}
REAL_KINDS = {"article", "wire_copy"}
BODY_CONTAINERS = {"story-body", "story-text", "entry-content"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


def load_manifest() -> list[dict]:
    return json.loads((SITE / "manifest.json").read_text(encoding="utf-8"))


MANIFEST = load_manifest()


def page_entries(kinds: set[str]) -> list[dict]:
    return [e for e in MANIFEST if e["kind"] in kinds]


def read_page(entry: dict) -> str:
    return (SITE / entry["path"]).read_text(encoding="utf-8")


class BodyParagraphs(HTMLParser):
    """Collects the plain ``<p>`` paragraphs (no class, not in a block quote) of the story body
    container, plus every tag's attributes, so the manifest can be checked against the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.paragraphs: list[str] = []
        self._buf: list[str] | None = None
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def _in_body(self) -> bool:
        return any(
            set((a.get("class") or "").split()) & BODY_CONTAINERS for _, a in self.stack
        ) and not any(t == "blockquote" for t, _ in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "p" and self._in_body() and not a.get("class"):
            self._buf = []
        if tag not in VOID:
            self.stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self._buf is not None:
            self.paragraphs.append("".join(self._buf))
            self._buf = None
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._buf is not None:
            self._buf.append(data)


def parse_page(text: str) -> BodyParagraphs:
    parser = BodyParagraphs()
    parser.feed(text)
    parser.close()
    return parser


def test_rebuild_reproduces_committed_tree(tmp_path: Path) -> None:
    build_site(tmp_path / "site", tmp_path / "updated")
    for committed, rebuilt in ((SITE, tmp_path / "site"), (UPDATED, tmp_path / "updated")):
        old = {p.relative_to(committed): p for p in committed.rglob("*") if p.is_file()}
        new = {p.relative_to(rebuilt): p for p in rebuilt.rglob("*") if p.is_file()}
        assert sorted(old) == sorted(new)
        changed = [str(rel) for rel in old if old[rel].read_bytes() != new[rel].read_bytes()]
        assert changed == [], "rerun python examples/build_demo_site.py and commit the result"


def test_manifest_paths_exist_except_missing() -> None:
    for entry in MANIFEST:
        exists = (SITE / entry["path"]).is_file()
        assert exists is (entry["kind"] != "missing"), entry["path"]


def test_manifest_fields_are_complete() -> None:
    keys = {
        "path",
        "url",
        "canonical_url",
        "source",
        "kind",
        "title",
        "authors",
        "published_at",
        "captions",
        "first_paragraph",
        "last_paragraph",
        "paragraph_count",
        "boilerplate_lines",
    }
    for entry in MANIFEST:
        assert keys <= entry.keys(), entry["path"]
        assert entry["kind"] in {
            "article",
            "caption_only",
            "missing",
            "pdf",
            "wire_copy",
            "cross_feed",
        }
        assert entry["url"].startswith(BASE + "/") and entry["canonical_url"].startswith(BASE)
        assert entry["authors"] and all(isinstance(a, str) and a for a in entry["authors"])
        published = datetime.fromisoformat(entry["published_at"])
        assert published.utcoffset().total_seconds() == 0
        assert datetime(2026, 11, 20, tzinfo=UTC) <= published < datetime(2026, 11, 28, tzinfo=UTC)
        for caption in entry["captions"]:
            assert caption["text"] and caption["credit"]
            assert caption["credit"] not in caption["text"]


@pytest.mark.parametrize("source", sorted(FEEDS))
def test_feed_parses_and_matches_manifest(source: str) -> None:
    feed_path, version = FEEDS[source]
    raw = (SITE / feed_path).read_bytes().replace(BASE.encode(), HOST.encode())
    parsed = feedparser.parse(raw)
    assert parsed.version == version
    assert not parsed.bozo or isinstance(
        parsed.bozo_exception, feedparser.CharacterEncodingOverride
    ), parsed.get("bozo_exception")
    expected = {e["url"].replace(BASE, HOST): e for e in MANIFEST if e["source"] == source}
    links = [entry.link for entry in parsed.entries]
    assert len(links) == len(set(links))
    assert sorted(links) == sorted(expected), "feed entries and manifest disagree"
    for entry in parsed.entries:
        item = expected[entry.link]
        assert entry.title == item["title"]
        assert [a["name"] for a in entry.authors] == item["authors"]
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        assert datetime(*stamp[:6], tzinfo=UTC) == datetime.fromisoformat(item["published_at"])


def test_enough_real_articles_per_source() -> None:
    articles = Counter(e["source"] for e in MANIFEST if e["kind"] == "article")
    assert sum(articles.values()) >= 33
    assert all(articles[s] >= 11 for s in FEEDS), articles


@pytest.mark.parametrize("entry", page_entries(REAL_KINDS), ids=lambda e: e["path"])
def test_real_article_matches_its_page(entry: dict) -> None:
    raw = read_page(entry)
    text = html.unescape(raw)
    page = parse_page(raw)
    paragraphs = [b["text"] for b in entry["body_blocks"] if b["kind"] == "p"]
    # The manifest's paragraphs are exactly the page's plain body paragraphs.
    assert page.paragraphs == paragraphs
    assert entry["paragraph_count"] == len(paragraphs)
    assert 5 <= len(paragraphs) <= 14
    assert entry["first_paragraph"] == paragraphs[0]
    assert entry["last_paragraph"] == paragraphs[-1]
    assert 350 <= entry["word_count"] <= 900
    for block in entry["body_blocks"]:
        assert text.count(block["text"]) == 1, block["text"][:60]
    # The artifacts the pipeline must clean: the title and every caption at least twice.
    assert text.count(entry["title"]) >= 2
    assert 1 <= len(entry["captions"]) <= 3
    for caption in entry["captions"]:
        assert text.count(caption["text"]) >= 2, caption["text"]
        assert text.count(caption["credit"]) >= 2
    assert re.search(r">\s*TT\s*<", raw), "font-size toggle missing"
    for line in entry["boilerplate_lines"]:
        assert line in text, line


@pytest.mark.parametrize("entry", page_entries(PAGE_KINDS), ids=lambda e: e["path"])
def test_page_metadata(entry: dict) -> None:
    raw = read_page(entry)
    tags = parse_page(raw).tags
    site_name = entry["boilerplate_lines"][1]

    def meta(key: str, value: str) -> list[str | None]:
        return [a.get("content") for t, a in tags if t == "meta" and a.get(key) == value]

    assert raw.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert f"<title>{html.escape(entry['title'], quote=False)} | {site_name}</title>" in raw
    assert meta("property", "og:title") == [entry["title"]]
    assert meta("name", "author") == [" and ".join(entry["authors"])] or len(entry["authors"]) > 2
    assert meta("property", "article:published_time") == [entry["published_at"]]
    canonical = [a.get("href") for t, a in tags if t == "link" and a.get("rel") == "canonical"]
    assert canonical == [entry["canonical_url"]]
    for _tag, attrs in tags:
        for key in ("href", "src"):
            value = attrs.get(key)
            if value is not None:
                assert value.startswith((BASE + "/", "#", "mailto:")), value
    assert "127.0.0.1" not in raw and "http://" not in raw.replace("https://schema.org", "")


def test_valley_courier_carries_json_ld() -> None:
    for entry in page_entries(PAGE_KINDS):
        raw = read_page(entry)
        blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', raw, re.S)
        if entry["source"] != "valley-courier":
            assert blocks == []
            continue
        (data,) = [json.loads(b) for b in blocks]
        assert data["@type"] == "NewsArticle"
        assert data["headline"] == entry["title"]
        assert [a["name"] for a in data["author"]] == entry["authors"]
        assert data["datePublished"] == entry["published_at"]


def test_no_paragraph_shared_between_articles_except_wire_copies() -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for entry in page_entries(REAL_KINDS):
        group = entry.get("wire_group") or entry["path"]
        for block in entry["body_blocks"]:
            if len(block["text"]) >= 30:
                owners[block["text"]].add(group)
    shared = {text[:60]: groups for text, groups in owners.items() if len(groups) > 1}
    assert shared == {}


def test_wire_story_is_a_light_edit_on_two_sources() -> None:
    copies = page_entries({"wire_copy"})
    assert sorted(e["source"] for e in copies) == ["harbor-gazette", "north-star-wire"]
    assert len({e["wire_group"] for e in copies}) == 1
    original, edited = sorted(copies, key=lambda e: e["source"] != "north-star-wire")
    assert original["title"] != edited["title"]
    a = [b["text"] for b in original["body_blocks"]]
    b = [b["text"] for b in edited["body_blocks"]]
    assert a[0].startswith("NORTHGATE (North Star Wire) —") and b[0] == a[0]
    same = sum(1 for x in b if x in a)
    assert len(a) - 2 <= same < len(a), "expected one or two edited paragraphs, not more"
    ratio = difflib.SequenceMatcher(None, " ".join(a), " ".join(b)).ratio()
    assert 0.85 <= ratio < 1.0
    assert 450 <= original["word_count"] <= 600


def test_special_entries() -> None:
    kinds = Counter(e["kind"] for e in MANIFEST)
    for kind in ("caption_only", "missing", "pdf", "cross_feed"):
        assert kinds[kind] == 1, kind

    (caption_only,) = page_entries({"caption_only"})
    assert caption_only["paragraph_count"] == 0 and caption_only["body_blocks"] == []
    assert parse_page(read_page(caption_only)).paragraphs == []
    assert len(caption_only["captions"]) == 1
    assert html.unescape(read_page(caption_only)).count(caption_only["captions"][0]["text"]) == 2

    (missing,) = page_entries({"missing"})
    assert missing["path"].endswith(".html") and not (SITE / missing["path"]).exists()

    (pdf,) = page_entries({"pdf"})
    data = (SITE / pdf["path"]).read_bytes()
    assert (
        pdf["path"].endswith(".pdf") and data.startswith(b"%PDF-1.4") and data.endswith(b"%%EOF\n")
    )
    startxref = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert data[startxref:].startswith(b"xref\n")
    offsets = re.findall(rb"(\d{10}) 00000 n ", data)
    for n, off in enumerate(offsets, start=1):
        assert data[int(off) :].startswith(f"{n} 0 obj".encode())

    (cross,) = page_entries({"cross_feed"})
    assert cross["source"] == "valley-courier" and cross["path"].startswith("harbor-gazette/")
    assert cross["url"] == cross["canonical_url"] + "?utm_source=rss&utm_medium=feed"
    (original,) = [e for e in page_entries({"article"}) if e["path"] == cross["path"]]
    same = ("title", "authors", "published_at", "captions", "first_paragraph", "body_blocks")
    assert all(cross[k] == original[k] for k in same)


def test_updated_variant_edits_exactly_one_paragraph() -> None:
    variants = [e for e in MANIFEST if "updated_variant" in e]
    assert len(variants) == 1
    entry = variants[0]
    info = entry["updated_variant"]
    files = [p.relative_to(UPDATED).as_posix() for p in UPDATED.rglob("*") if p.is_file()]
    assert files == [entry["path"]] == [info["path"]]
    before = parse_page(read_page(entry)).paragraphs
    after = parse_page((UPDATED / info["path"]).read_text(encoding="utf-8")).paragraphs
    assert len(before) == len(after)
    diff = [i for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y]
    assert diff == [info["paragraph_index"]]
    assert before[diff[0]] == info["previous_text"] and after[diff[0]] == info["text"]
    # Nothing else on the page moves: the edit is the only changed line.
    old_lines = read_page(entry).splitlines()
    new_lines = (UPDATED / info["path"]).read_text(encoding="utf-8").splitlines()
    changed = [n for n, (x, y) in enumerate(zip(old_lines, new_lines, strict=True)) if x != y]
    assert len(changed) == 1


def test_caption_duplication_mechanisms_differ_per_source() -> None:
    mechanisms = {
        "harbor-gazette": 'class="photo-text"',  # visible hero photo strip
        "valley-courier": '<div class="lightbox" hidden>',  # hidden lightbox
        "north-star-wire": 'class="gallery-caption"',  # visible gallery after the body
    }
    for entry in page_entries(REAL_KINDS):
        raw = read_page(entry)
        for source, marker in mechanisms.items():
            assert (marker in raw) is (entry["source"] == source), (entry["path"], marker)
        assert raw.count("<figcaption>") == len(entry["captions"])


def test_content_has_the_requested_variety() -> None:
    kinds = Counter(b["kind"] for e in page_entries(REAL_KINDS) for b in e["body_blocks"])
    with_h2 = [
        e for e in page_entries(REAL_KINDS) if any(b["kind"] == "h2" for b in e["body_blocks"])
    ]
    with_list = {e["path"] for e in MANIFEST for b in e["body_blocks"] if b["kind"] == "li"}
    with_quote = {e["path"] for e in MANIFEST for b in e["body_blocks"] if b["kind"] == "quote"}
    assert len(with_h2) >= 3 and kinds["h2"] >= 6
    assert len(with_list) == 1 and len(with_quote) == 1
    assert len({e["title"] for e in page_entries(PAGE_KINDS)}) == len(page_entries(PAGE_KINDS))
