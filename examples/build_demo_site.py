"""Render the bundled demo news site from ``examples/demo_content/`` into ``newsflow/demo/site/``.

Why this exists: ``newsflow demo`` and the integration tests need a site that looks like the
scraped news the pipeline meets in the wild (navigation, cookie banners, ``TT`` font toggles,
headlines repeated in hero blocks, every photo caption twice, related-article teasers, newsletter
promos) while still having an exact ground truth. The articles are data (one TOML file each);
this module holds the three site templates and writes, deterministically:

* ``demo_site/<source>/...html`` article pages, one template per source;
* the three feeds: RSS 2.0 (``harbor-gazette/rss.xml``), Atom (``valley-courier/atom.xml``) and
  RSS 1.0 / RDF (``north-star-wire/index.rdf``);
* a tiny valid PDF for the PDF feed entry;
* ``demo_site/manifest.json``: one object per feed entry, the ground truth tests rely on;
* ``demo_site_updated/<path>``: the one page whose edited variant simulates a changed article.

Every URL inside the files is written with the literal placeholder ``{{BASE}}``; whoever serves
the site substitutes ``http://127.0.0.1:PORT`` at serve time. Nothing depends on the build time,
so rebuilding reproduces the committed tree byte for byte.

Manifest conventions (so the ground truth is unambiguous):

* ``paragraph_count``, ``first_paragraph`` and ``last_paragraph`` count plain body paragraphs
  only (not ``<h2>`` subheadings, list items or block quotes, and not the newsletter promo).
* ``body_blocks`` lists every body block in order as ``{"kind": "p"|"h2"|"li"|"quote", "text"}``;
  ``"\\n".join`` of their texts is the ideal cleaned ``text``.
* ``captions`` are ``{"text", "credit", "image_url"}`` in page order; ``text`` excludes the credit.
* ``boilerplate_lines`` are the visible recurring lines of the source's template.

Run ``python examples/build_demo_site.py`` after editing the content and commit the result.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

BASE = "{{BASE}}"
HERE = Path(__file__).resolve().parent
CONTENT_DIR = HERE / "demo_content"
SITE_DIR = HERE.parent / "newsflow" / "demo" / "site"
UPDATED_DIR = HERE.parent / "newsflow" / "demo" / "site_updated"
KINDS = ("article", "caption_only", "missing", "pdf", "wire_copy", "cross_feed")
UTM_SUFFIX = "?utm_source=rss&utm_medium=feed"


# --------------------------------------------------------------------------------------------
# Content model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Photo:
    """One photo: ``caption`` never includes the ``credit``; templates join them per house style."""

    caption: str
    credit: str
    alt: str
    image: str  # site-relative path of the image
    after: int  # number of plain paragraphs rendered before the figure


@dataclass(frozen=True)
class Block:
    kind: str  # "p", "h2", "li", "quote"
    text: str


@dataclass
class Item:
    """One feed entry and, for page kinds, the page behind it."""

    source: str
    slug: str
    kind: str
    title: str
    summary: str
    section: str
    authors: list[str]
    published_at: datetime
    path: str
    blocks: list[Block] = field(default_factory=list)
    photos: list[Photo] = field(default_factory=list)
    wire_group: str | None = None
    pdf_lines: list[str] = field(default_factory=list)
    updated: dict[str, Any] | None = None

    @property
    def url(self) -> str:
        return f"{BASE}/{self.path}"

    @property
    def paragraphs(self) -> list[str]:
        return [b.text for b in self.blocks if b.kind == "p"]

    @property
    def has_page(self) -> bool:
        return self.kind in ("article", "caption_only", "wire_copy")


def parse_body(body: str) -> list[Block]:
    """Turn the light markup of the content files into blocks.

    Blocks are separated by blank lines; ``## `` starts a subheading, lines starting ``- `` form
    a list, lines starting ``> `` a block quote, anything else is a paragraph (wrapped lines are
    joined with a space).
    """
    blocks: list[Block] = []
    for chunk in body.strip().split("\n\n"):
        lines = [line.strip() for line in chunk.strip().splitlines() if line.strip()]
        if not lines:
            continue
        if lines[0].startswith("## "):
            blocks.append(Block("h2", " ".join(lines)[3:].strip()))
        elif all(line.startswith("- ") for line in lines):
            blocks.extend(Block("li", line[2:].strip()) for line in lines)
        elif all(line.startswith("> ") for line in lines):
            blocks.append(Block("quote", " ".join(line[2:].strip() for line in lines)))
        else:
            blocks.append(Block("p", " ".join(lines)))
    return blocks


def _path_for(source: dict[str, Any], slug: str, published: datetime) -> str:
    return source["article_path"].format(slug=slug, date=published.strftime("%Y-%m-%d"))


def load_item(source: dict[str, Any], file: Path) -> Item:
    data = tomllib.loads(file.read_text(encoding="utf-8"))
    slug = file.stem
    published = datetime.fromisoformat(data["published_at"]).astimezone(UTC)
    kind = data.get("kind", "article")
    if kind not in KINDS or kind == "cross_feed":
        raise ValueError(f"{file}: unknown kind {kind!r}")
    blocks = parse_body(data.get("body", ""))
    photos = []
    n_par = sum(1 for b in blocks if b.kind == "p")
    raw_photos = data.get("photos", [])
    for i, p in enumerate(raw_photos):
        default_after = [0, max(1, n_par // 2), max(2, n_par - 2)][min(i, 2)]
        photos.append(
            Photo(
                caption=p["caption"],
                credit=p["credit"],
                alt=p["alt"],
                image=f"{source['name']}/img/{slug}-{i + 1}.jpg",
                after=min(p.get("after", default_after), n_par),
            )
        )
    if [p.after for p in photos] != sorted(p.after for p in photos):
        raise ValueError(f"{file}: photos must be listed in page order")
    return Item(
        source=source["name"],
        slug=slug,
        kind=kind,
        title=data["title"],
        summary=data["summary"],
        section=data.get("section", "News"),
        authors=list(data["authors"]),
        published_at=published,
        path=data.get("path") or _path_for(source, slug, published),
        blocks=blocks,
        photos=photos,
        wire_group=data.get("wire_group"),
        pdf_lines=list(data.get("pdf_lines", [])),
    )


def load_content(content_dir: Path) -> tuple[list[dict[str, Any]], list[Item]]:
    """Read ``sources.toml`` plus every ``<source>/*.toml`` item and the ``updated/`` edits."""
    meta = tomllib.loads((content_dir / "sources.toml").read_text(encoding="utf-8"))
    sources = meta["sources"]
    items: list[Item] = []
    for source in sources:
        for file in sorted((content_dir / source["name"]).glob("*.toml")):
            items.append(load_item(source, file))
    by_key = {(i.source, i.slug): i for i in items}
    for file in sorted((content_dir / "updated").glob("*/*.toml")):
        edit = tomllib.loads(file.read_text(encoding="utf-8"))
        target = by_key[(file.parent.name, file.stem)]
        index = edit["paragraph_index"]
        if edit["previous_text"] != target.paragraphs[index]:
            raise ValueError(f"{file}: previous_text does not match paragraph {index}")
        target.updated = {"paragraph_index": index, "text": edit["text"]}
    return sources, items


def _cross_feed_items(sources: list[dict[str, Any]], items: list[Item]) -> list[Item]:
    """Entries a source's feed carries for another source's article (URL carries UTM tags)."""
    by_key = {(i.source, i.slug): i for i in items}
    extra = []
    for source in sources:
        for ref in source.get("cross_feed", []):
            other_source, slug = ref.split("/")
            art = by_key[(other_source, slug)]
            extra.append(
                Item(
                    source=source["name"],
                    slug=art.slug,
                    kind="cross_feed",
                    title=art.title,
                    summary=art.summary,
                    section=art.section,
                    authors=art.authors,
                    published_at=art.published_at,
                    path=art.path,
                    blocks=art.blocks,
                    photos=art.photos,
                )
            )
    return extra


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def attr(text: str) -> str:
    return html.escape(text, quote=True)


def anchor(label: str) -> str:
    """``"Weather & Tides"`` -> ``"weather-tides"``: a fragment that needs no escaping."""
    return "-".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def iso_z(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def join_names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


_MONTHS = "January February March April May June July August September October November December"
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday"


def human_date_harbor(dt: datetime) -> str:
    return (
        f"{_DAYS.split()[dt.weekday()]} {dt.day} {_MONTHS.split()[dt.month - 1]} {dt.year}, "
        f"{dt:%H:%M} GMT"
    )


def human_date_valley(dt: datetime) -> str:
    hour = dt.hour % 12 or 12
    ampm = "a.m." if dt.hour < 12 else "p.m."
    return f"Nov. {dt.day}, {dt.year} at {hour}:{dt:%M} {ampm} UTC"


def human_date_wire(dt: datetime) -> str:
    return f"{dt:%Y-%m-%d %H:%M} UTC"


def related_for(item: Item, pages: list[Item], n: int = 4) -> list[Item]:
    """Teasers of other articles of the same source, newest first, cycling past this one."""
    same = [p for p in pages if p.source == item.source and p.kind in ("article", "wire_copy")]
    paths = [p.path for p in same]
    if item.path not in paths:
        return same[:n]
    i = paths.index(item.path)
    ordered = same[i + 1 :] + same[:i]
    return ordered[:n]


def render_blocks(
    item: Item,
    figure: Callable[[Photo], str],
    ad_html: str,
    ad_after: int | None,
) -> str:
    """Body blocks with figures and an ad slot inserted after the given paragraph counts.

    A figure whose ``after`` is N goes right before paragraph N+1 (or at the end of the body).
    """
    out: list[str] = []
    placed: set[int] = set()
    state = {"count": 0, "ad_done": ad_after is None}

    def flush() -> None:
        for n, photo in enumerate(item.photos):
            if n not in placed and photo.after == state["count"]:
                out.append(figure(photo))
                placed.add(n)
        if not state["ad_done"] and state["count"] == ad_after:
            out.append(ad_html)
            state["ad_done"] = True

    in_list = False
    for block in item.blocks:
        if block.kind != "li" and in_list:
            out.append("</ul>")
            in_list = False
        if block.kind == "p":
            flush()  # figures and the ad go just before the next paragraph, never mid-list
            out.append(f"<p>{esc(block.text)}</p>")
            state["count"] += 1
        elif block.kind == "h2":
            out.append(f"<h2>{esc(block.text)}</h2>")
        elif block.kind == "li":
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{esc(block.text)}</li>")
        elif block.kind == "quote":
            out.append(f"<blockquote><p>{esc(block.text)}</p></blockquote>")
    if in_list:
        out.append("</ul>")
    for n, photo in enumerate(item.photos):
        if n not in placed:
            out.append(figure(photo))
    return "\n".join(line for line in out if line)


def nav_html(source: dict[str, Any], css: str) -> str:
    links = "".join(
        f'<li><a href="{BASE}/{source["name"]}/index.html#{anchor(label)}">{esc(label)}</a></li>'
        for label in source["nav"]
    )
    return f'<nav class="{css}" aria-label="Sections"><ul>{links}</ul></nav>'


def footer_links(source: dict[str, Any]) -> str:
    return "".join(
        f'<li><a href="{BASE}/{source["name"]}/index.html#{anchor(label)}">{esc(label)}</a></li>'
        for label in source["footer_links"]
    )


def share_widget(source: dict[str, Any], item: Item, css: str, tt_inside: bool = True) -> str:
    """Share links plus the font-size toggle whose visible text is just ``TT``.

    With ``tt_inside=False`` the toggle is a sibling ``<p>`` after the share bar, which is the
    shape that makes a lone "TT" line survive trafilatura (as in the scraped sample)."""
    tt = '<button type="button" class="font-size-toggle" aria-label="Change text size">TT</button>'
    if not tt_inside:
        tt = ""
    html_out = (
        f'<div class="{css}">'
        '<span class="share-label">Share</span>'
        f'<a class="share-fb" href="{BASE}/share?service=facebook&amp;u={attr(item.url)}">'
        "Facebook</a>"
        f'<a class="share-x" href="{BASE}/share?service=x&amp;u={attr(item.url)}">X</a>'
        f'<a class="share-mail" href="mailto:?subject={attr(item.title)}">Email</a>'
        f"{tt}</div>"
    )
    if not tt_inside:
        html_out += '\n<p class="text-size" role="button" aria-label="Change text size">TT</p>'
    return html_out


# --------------------------------------------------------------------------------------------
# Templates, one per source
# --------------------------------------------------------------------------------------------


def time_tag(dt: datetime, human: str) -> str:
    return f'<time datetime="{iso(dt)}">{human}</time>'


def _alternate(source: dict[str, Any], mime: str) -> str:
    return (
        f'<link rel="alternate" type="{mime}" title="{attr(source["site_name"])}" '
        f'href="{BASE}/{source["feed_path"]}">'
    )


def _head_common(source: dict[str, Any], item: Item) -> str:
    first_img = f"{BASE}/{item.photos[0].image}" if item.photos else ""
    authors = join_names(item.authors)
    return (
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(item.title)} | {esc(source['site_name'])}</title>\n"
        f'<meta name="description" content="{attr(item.summary)}">\n'
        f'<meta name="author" content="{attr(authors)}">\n'
        '<meta property="og:type" content="article">\n'
        f'<meta property="og:site_name" content="{attr(source["site_name"])}">\n'
        f'<meta property="og:title" content="{attr(item.title)}">\n'
        f'<meta property="og:description" content="{attr(item.summary)}">\n'
        f'<meta property="og:url" content="{attr(item.url)}">\n'
        + (f'<meta property="og:image" content="{attr(first_img)}">\n' if first_img else "")
        + f'<meta property="article:published_time" content="{iso(item.published_at)}">\n'
        f'<meta property="article:section" content="{attr(item.section)}">\n'
        f'<link rel="canonical" href="{attr(item.url)}">\n'
    )


def render_harbor(source: dict[str, Any], item: Item, pages: list[Item]) -> str:
    """Harbor Gazette: the caption copy is a *visible* hero photo strip (``<p class="photo-text">``)
    inside the ``<article>``, above the story, like the scraped sample: headline, captions, ``TT``,
    then the headline again as ``<h2 class="article-title">``, then figcaptions in the body."""

    def figure(photo: Photo) -> str:
        return (
            f'<figure class="inline-photo"><img src="{BASE}/{photo.image}" alt="{attr(photo.alt)}" '
            f'loading="lazy"><figcaption>{esc(photo.caption)} Photo: {esc(photo.credit)}'
            "</figcaption></figure>"
        )

    slides = "\n".join(
        f'<div class="hero-photo"><img src="{BASE}/{p.image}" alt="{attr(p.alt)}">'
        f'<p class="photo-text">{esc(p.caption)} Photo: {esc(p.credit)}</p></div>'
        for p in item.photos
    )
    ad = (
        '<div class="ad-slot ad-inline" data-slot="story-mid"><span class="ad-label">'
        "Advertisement</span></div>"
    )
    body = render_blocks(item, figure, ad, 3 if len(item.paragraphs) > 4 else None)
    byline = " and ".join(
        f'<a rel="author" href="{BASE}/harbor-gazette/index.html#staff">{esc(a)}</a>'
        for a in item.authors
    )
    related = "\n".join(
        f'<li><a href="{attr(r.url)}">{esc(r.title)}</a></li>' for r in related_for(item, pages)
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
{_head_common(source, item)}{_alternate(source, "application/rss+xml")}
<link rel="stylesheet" href="{BASE}/harbor-gazette/static/site.css">
</head>
<body class="article-page section-{anchor(item.section)}">
<div id="cookie-consent" class="cookie-banner" role="dialog" aria-label="Cookie consent">
<p>{esc(source["cookie_text"])}</p>
<button type="button">Accept all</button> <button type="button">Manage preferences</button>
</div>
<header class="site-header">
<a class="logo" href="{BASE}/harbor-gazette/index.html">{esc(source["site_name"])}</a>
<p class="tagline">{esc(source["tagline"])}</p>
{nav_html(source, "main-nav")}
</header>
<div class="ad-slot ad-leaderboard" data-slot="top">
<span class="ad-label">Advertisement</span></div>
<main id="content">
<article class="story">
<section class="hero">
<p class="kicker">{esc(item.section)}</p>
<h1>{esc(item.title)}</h1>
<div class="hero-photos">
{slides}
</div>
{share_widget(source, item, "share-bar", tt_inside=False)}
</section>
<h2 class="article-title">{esc(item.title)}</h2>
<p class="byline">By {byline}</p>
<p class="dateline">{time_tag(item.published_at, human_date_harbor(item.published_at))}</p>
<div class="story-body">
{body}
<p class="promo">{esc(source["newsletter_line"])}</p>
</div>
</article>
<aside class="related" aria-label="Related articles">
<h3>{esc(source["related_heading"])}</h3>
<ul>
{related}
</ul>
</aside>
</main>
<footer class="site-footer">
<p class="follow">{esc(source["follow_line"])}</p>
<ul class="footer-links">{footer_links(source)}</ul>
<p class="copyright">{esc(source["copyright"])}</p>
</footer>
</body>
</html>
"""


def render_valley(source: dict[str, Any], item: Item, pages: list[Item]) -> str:
    """Valley Courier: the caption copy sits in a lightbox ``<div class="lightbox" hidden>`` at
    the end of the ``<article>`` (hidden to a browser, not to every text extractor); the headline
    repeats as ``<p class="headline">``; JSON-LD NewsArticle metadata."""

    def figure(photo: Photo) -> str:
        return (
            f'<figure class="story-figure"><img src="{BASE}/{photo.image}" alt="{attr(photo.alt)}" '
            f'data-lightbox="gallery"><figcaption><span class="caption-text">{esc(photo.caption)}'
            f'</span> <span class="caption-credit">({esc(photo.credit)})</span></figcaption>'
            "</figure>"
        )

    lightbox = "\n".join(
        f'<div class="lightbox-item"><img src="{BASE}/{p.image}" alt="{attr(p.alt)}">'
        f'<p class="lightbox-text">{esc(p.caption)} ({esc(p.credit)})</p></div>'
        for p in item.photos
    )
    body = render_blocks(item, figure, "", None)
    jsonld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": item.title,
        "description": item.summary,
        "datePublished": iso(item.published_at),
        "dateModified": iso(item.published_at),
        "author": [{"@type": "Person", "name": a} for a in item.authors],
        "publisher": {"@type": "Organization", "name": source["site_name"]},
        "mainEntityOfPage": item.url,
        "image": [f"{BASE}/{p.image}" for p in item.photos],
        "articleSection": item.section,
        "inLanguage": "en",
    }
    jsonld_text = json.dumps(jsonld, ensure_ascii=False, indent=1).replace("</", "<\\/")
    authors = ", ".join(f'<span class="author-name">{esc(a)}</span>' for a in item.authors)
    related = "\n".join(
        f'<li class="teaser"><a href="{attr(r.url)}"><span class="teaser-title">{esc(r.title)}'
        f"</span></a></li>"
        for r in related_for(item, pages, 3)
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
{_head_common(source, item)}{_alternate(source, "application/atom+xml")}
<script type="application/ld+json">
{jsonld_text}
</script>
</head>
<body>
<div class="masthead">
<div class="masthead-inner">
<a class="brand" href="{BASE}/valley-courier/index.html">{esc(source["site_name"])}</a>
<span class="edition">{esc(source["tagline"])}</span>
<a class="subscribe" href="{BASE}/valley-courier/index.html#subscribe">Subscribe</a></div>
{nav_html(source, "topnav")}
</div>
<div class="page">
<div class="story-hero">
<p class="section-label">{esc(item.section)}</p>
<h1 class="hero-title">{esc(item.title)}</h1>
<p class="hero-standfirst">{esc(item.summary)}</p>
</div>
<div class="toolbar">
{share_widget(source, item, "share-tools")}
</div>
<article class="story">
<p class="headline">{esc(item.title)}</p>
<div class="meta"><span class="by">By</span> {authors} <span class="sep">|</span>
{time_tag(item.published_at, human_date_valley(item.published_at))}</div>
<div class="story-text">
{body}
</div>
<div class="lightbox" hidden>
{lightbox}
</div>
</article>
<aside class="newsletter-promo"><p>{esc(source["newsletter_line"])}</p></aside>
<div class="ad-slot" data-slot="below-story"><p>Advertisement</p></div>
<section class="more-stories">
<h3>{esc(source["related_heading"])}</h3>
<ul>
{related}
</ul>
</section>
</div>
<footer id="footer">
<p class="social">{esc(source["follow_line"])}</p>
<ul>{footer_links(source)}</ul>
<p class="legal">{esc(source["copyright"])}</p>
</footer>
<div class="consent-bar" role="region" aria-label="Privacy">
<p>{esc(source["cookie_text"])}</p>
<button type="button">I agree</button> <button type="button">Settings</button>
</div>
</body>
</html>
"""


def render_wire(source: dict[str, Any], item: Item, pages: list[Item]) -> str:
    """North Star Wire: the caption copy is a *visible* photo gallery after the story
    (``<div class="gallery-caption">``), the title also appears in the breadcrumb."""

    def figure(photo: Photo) -> str:
        return (
            f'<figure><img src="{BASE}/{photo.image}" alt="{attr(photo.alt)}">'
            f"<figcaption>{esc(photo.caption)} Credit: {esc(photo.credit)}</figcaption></figure>"
        )

    gallery = "\n".join(
        f'<div class="gallery-item"><img src="{BASE}/{p.image}" alt="{attr(p.alt)}">'
        f'<div class="gallery-caption">{esc(p.caption)} Credit: {esc(p.credit)}</div></div>'
        for p in item.photos
    )
    ad = '<aside class="advert"><p class="advert-label">Advertisement</p></aside>'
    body = render_blocks(item, figure, ad, 2 if len(item.paragraphs) > 3 else None)
    creators = "".join(f'<li class="creator">{esc(a)}</li>' for a in item.authors)
    home = f"{BASE}/north-star-wire/index.html"
    crumbs = (
        f'<a href="{home}">Home</a> › '
        f'<a href="{home}#{anchor(item.section)}">{esc(item.section)}</a> › '
        f"<span>{esc(item.title)}</span>"
    )
    related = "\n".join(
        f'<li><a href="{attr(r.url)}">{esc(r.title)}</a> '
        f'<span class="when">{human_date_wire(r.published_at)}</span></li>'
        for r in related_for(item, pages, 4)
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
{_head_common(source, item)}<meta name="dc.creator" content="{attr(join_names(item.authors))}">
{_alternate(source, "application/rdf+xml")}
</head>
<body class="wire">
<aside class="gdpr-notice" role="dialog">
<p>{esc(source["cookie_text"])}</p>
<a class="btn" href="#accept">Accept</a> <a class="btn" href="#reject">Reject non-essential</a>
</aside>
<header class="wire-header">
<div class="wordmark">
<a href="{BASE}/north-star-wire/index.html">{esc(source["site_name"])}</a></div>
<p class="strap">{esc(source["tagline"])}</p>
{nav_html(source, "wire-nav")}
</header>
<nav class="breadcrumb" aria-label="Breadcrumb">{crumbs}</nav>
<main>
<header class="entry-header">
<h1 class="entry-title">{esc(item.title)}</h1>
<ul class="creators">{creators}</ul>
<p class="posted">{time_tag(item.published_at, human_date_wire(item.published_at))}</p>
{share_widget(source, item, "share-row")}
</header>
<div class="entry-content">
{body}
<p class="digest-promo"><em>{esc(source["newsletter_line"])}</em></p>
</div>
<section class="photo-gallery" aria-label="Photos">
{gallery}
</section>
<section class="latest">
<h3>{esc(source["related_heading"])}</h3>
<ol>
{related}
</ol>
</section>
</main>
<footer class="wire-footer">
<p>{esc(source["follow_line"])}</p>
<ul>{footer_links(source)}</ul>
<p>{esc(source["copyright"])}</p>
</footer>
</body>
</html>
"""


TEMPLATES = {"harbor": render_harbor, "valley": render_valley, "wire": render_wire}


def boilerplate_lines(source: dict[str, Any]) -> list[str]:
    """The visible recurring text of a source's template, in page order."""
    lines = [source["cookie_text"], source["site_name"], source["tagline"], *source["nav"]]
    lines += ["Share", "Facebook", "X", "Email", "TT", source["newsletter_line"]]
    lines += ["Advertisement", source["related_heading"], source["follow_line"]]
    lines += [*source["footer_links"], source["copyright"]]
    return lines


# --------------------------------------------------------------------------------------------
# Feeds
# --------------------------------------------------------------------------------------------


def feed_link(item: Item) -> str:
    return item.url + (UTM_SUFFIX if item.kind == "cross_feed" else "")


def render_rss2(source: dict[str, Any], entries: list[Item]) -> str:
    items = []
    for e in entries:
        creators = "".join(f"\n<dc:creator>{esc(a)}</dc:creator>" for a in e.authors)
        items.append(
            f"""<item>
<title>{esc(e.title)}</title>
<link>{esc(feed_link(e))}</link>
<guid isPermaLink="false">{esc(source["guid_prefix"])}{esc(e.slug)}</guid>
<pubDate>{format_datetime(e.published_at)}</pubDate>{creators}
<category>{esc(e.section)}</category>
<description>{esc(e.summary)}</description>
</item>"""
        )
    newest = max(e.published_at for e in entries)
    body = "\n".join(items)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{esc(source["site_name"])}</title>
<link>{BASE}/{source["name"]}/index.html</link>
<atom:link href="{BASE}/{source["feed_path"]}" rel="self" type="application/rss+xml"/>
<description>{esc(source["tagline"])}</description>
<language>en-gb</language>
<lastBuildDate>{format_datetime(newest)}</lastBuildDate>
<ttl>30</ttl>
{body}
</channel>
</rss>
"""


def render_atom(source: dict[str, Any], entries: list[Item]) -> str:
    items = []
    for e in entries:
        authors = "".join(f"\n<author><name>{esc(a)}</name></author>" for a in e.authors)
        prefix = "partner-" if e.kind == "cross_feed" else "story-"
        items.append(
            f"""<entry>
<title>{esc(e.title)}</title>
<link rel="alternate" type="text/html" href="{attr(feed_link(e))}"/>
<id>{esc(source["guid_prefix"])}{prefix}{esc(e.slug)}</id>
<published>{iso_z(e.published_at)}</published>
<updated>{iso_z(e.published_at)}</updated>{authors}
<category term="{attr(e.section)}"/>
<summary type="text">{esc(e.summary)}</summary>
</entry>"""
        )
    newest = max(e.published_at for e in entries)
    body = "\n".join(items)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
<title>{esc(source["site_name"])}</title>
<subtitle>{esc(source["tagline"])}</subtitle>
<id>{esc(source["guid_prefix"])}feed</id>
<link rel="self" type="application/atom+xml" href="{BASE}/{source["feed_path"]}"/>
<link rel="alternate" type="text/html" href="{BASE}/{source["name"]}/index.html"/>
<updated>{iso_z(newest)}</updated>
<generator>newsflow demo builder</generator>
{body}
</feed>
"""


def render_rdf(source: dict[str, Any], entries: list[Item]) -> str:
    seq = "\n".join(f'<rdf:li rdf:resource="{attr(feed_link(e))}"/>' for e in entries)
    items = []
    for e in entries:
        creators = "".join(f"\n<dc:creator>{esc(a)}</dc:creator>" for a in e.authors)
        items.append(
            f"""<item rdf:about="{attr(feed_link(e))}">
<title>{esc(e.title)}</title>
<link>{esc(feed_link(e))}</link>
<description>{esc(e.summary)}</description>
<dc:date>{iso(e.published_at)}</dc:date>{creators}
<dc:subject>{esc(e.section)}</dc:subject>
</item>"""
        )
    newest = max(e.published_at for e in entries)
    body = "\n".join(items)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="{BASE}/{source["feed_path"]}">
<title>{esc(source["site_name"])}</title>
<link>{BASE}/{source["name"]}/index.html</link>
<description>{esc(source["tagline"])}</description>
<dc:language>en</dc:language>
<dc:date>{iso(newest)}</dc:date>
<items>
<rdf:Seq>
{seq}
</rdf:Seq>
</items>
</channel>
{body}
</rdf:RDF>
"""


FEEDS = {"rss2": render_rss2, "atom": render_atom, "rdf": render_rdf}


# --------------------------------------------------------------------------------------------
# PDF, index pages, manifest
# --------------------------------------------------------------------------------------------


def tiny_pdf(lines: list[str]) -> bytes:
    """A minimal, valid one-page PDF (correct xref offsets, no dates, Helvetica text)."""

    def pdf_str(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text_ops = ["BT", "/F1 12 Tf", "72 760 Td", "16 TL"]
    for line in lines:
        text_ops.append(f"({pdf_str(line)}) Tj T*")
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def render_index(source: dict[str, Any], entries: list[Item]) -> str:
    rows = "\n".join(
        f'<li><a href="{attr(e.url)}">{esc(e.title)}</a></li>'
        for e in entries
        if e.kind in ("article", "wire_copy", "caption_only") and e.source == source["name"]
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(source["site_name"])}</title>
</head>
<body>
<h1>{esc(source["site_name"])}</h1>
<p>{esc(source["tagline"])}</p>
<ul>
{rows}
</ul>
</body>
</html>
"""


def render_root(sources: list[dict[str, Any]]) -> str:
    rows = "\n".join(
        f'<li><a href="{BASE}/{s["name"]}/index.html">{esc(s["site_name"])}</a> '
        f'(<a href="{BASE}/{s["feed_path"]}">feed</a>)</li>'
        for s in sources
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>newsflow demo sites</title>
</head>
<body>
<h1>newsflow demo sites</h1>
<p>Three fictional news sources written for the newsflow demo. Every story is invented.</p>
<ul>
{rows}
</ul>
</body>
</html>
"""


def manifest_entry(item: Item, source: dict[str, Any]) -> dict[str, Any]:
    paragraphs = item.paragraphs if item.has_page or item.kind == "cross_feed" else []
    entry: dict[str, Any] = {
        "path": item.path,
        "url": feed_link(item),
        "canonical_url": item.url,
        "source": item.source,
        "kind": item.kind,
        "title": item.title,
        "authors": item.authors,
        "published_at": iso(item.published_at),
        "section": item.section,
        "captions": [
            {"text": p.caption, "credit": p.credit, "image_url": f"{BASE}/{p.image}"}
            for p in item.photos
        ],
        "first_paragraph": paragraphs[0] if paragraphs else None,
        "last_paragraph": paragraphs[-1] if paragraphs else None,
        "paragraph_count": len(paragraphs),
        "word_count": sum(len(b.text.split()) for b in item.blocks),
        "body_blocks": [{"kind": b.kind, "text": b.text} for b in item.blocks],
        "boilerplate_lines": boilerplate_lines(source),
    }
    if item.wire_group:
        entry["wire_group"] = item.wire_group
    if item.updated:
        entry["updated_variant"] = {
            "path": item.path,
            "paragraph_index": item.updated["paragraph_index"],
            "previous_text": paragraphs[item.updated["paragraph_index"]],
            "text": item.updated["text"],
        }
    return entry


def render_page(source: dict[str, Any], item: Item, pages: list[Item]) -> str:
    return TEMPLATES[source["template"]](source, item, pages)


def build_files(content_dir: Path = CONTENT_DIR) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Everything the site and its updated variant hold, as ``{relative path: bytes}``."""
    sources, items = load_content(content_dir)
    by_name = {s["name"]: s for s in sources}
    newest_first = sorted(items, key=lambda i: (-i.published_at.timestamp(), i.source, i.slug))
    pages = [i for i in newest_first if i.has_page]
    entries_by_source: dict[str, list[Item]] = {s["name"]: [] for s in sources}
    for item in newest_first:
        entries_by_source[item.source].append(item)
    for extra in _cross_feed_items(sources, items):
        entries_by_source[extra.source].append(extra)
    for entries in entries_by_source.values():
        entries.sort(key=lambda i: (-i.published_at.timestamp(), i.kind, i.slug))

    site: dict[str, bytes] = {}
    updated: dict[str, bytes] = {}
    for item in pages:
        source = by_name[item.source]
        site[item.path] = render_page(source, item, pages).encode("utf-8")
        if item.updated:
            edited = list(item.blocks)
            p_positions = [n for n, b in enumerate(edited) if b.kind == "p"]
            pos = p_positions[item.updated["paragraph_index"]]
            edited[pos] = Block("p", item.updated["text"])
            variant = Item(**{**item.__dict__, "blocks": edited, "updated": None})
            updated[item.path] = render_page(source, variant, pages).encode("utf-8")
    for item in items:
        if item.kind == "pdf":
            site[item.path] = tiny_pdf(item.pdf_lines)
    manifest = []
    for source in sources:
        entries = entries_by_source[source["name"]]
        site[source["feed_path"]] = FEEDS[source["feed"]](source, entries).encode("utf-8")
        site[f"{source['name']}/index.html"] = render_index(source, entries).encode("utf-8")
        manifest.extend(manifest_entry(e, source) for e in entries)
    site["index.html"] = render_root(sources).encode("utf-8")
    site["robots.txt"] = b"User-agent: *\nDisallow: /search\n"
    manifest.sort(key=lambda e: (e["source"], e["path"], e["kind"]))
    site["manifest.json"] = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
    return site, updated


def _write_tree(out_dir: Path, files: dict[str, bytes], marker: str | None) -> None:
    """Replace ``out_dir`` with exactly ``files``; refuse to wipe a directory we did not make."""
    if out_dir.exists() and any(out_dir.iterdir()):
        ours = (
            (out_dir / marker).exists()
            if marker
            else all(p.suffix == ".html" for p in out_dir.rglob("*") if p.is_file())
        )
        if not ours:
            raise SystemExit(f"refusing to overwrite {out_dir}: it is not a demo-site build")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for rel, data in sorted(files.items()):
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def build_site(
    out_dir: Path = SITE_DIR,
    updated_dir: Path = UPDATED_DIR,
    content_dir: Path = CONTENT_DIR,
) -> list[dict[str, Any]]:
    """Render the demo site into ``out_dir`` (and the edited page into ``updated_dir``);
    return the manifest."""
    site, updated = build_files(content_dir)
    _write_tree(Path(out_dir), site, "manifest.json")
    _write_tree(Path(updated_dir), updated, None)
    return json.loads(site["manifest.json"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SITE_DIR)
    parser.add_argument("--updated-out", type=Path, default=UPDATED_DIR)
    parser.add_argument("--content", type=Path, default=CONTENT_DIR)
    args = parser.parse_args(argv)
    manifest = build_site(args.out, args.updated_out, args.content)
    kinds: dict[str, int] = {}
    for entry in manifest:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    summary = ", ".join(f"{k}={v}" for k, v in sorted(kinds.items()))
    print(f"wrote {args.out} ({len(manifest)} feed entries: {summary})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
