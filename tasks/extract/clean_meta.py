"""Article metadata the page declares: publication time, canonical URL, authors.

trafilatura's metadata is good for title, sitename and description, but its date comes from
htmldate, which keeps day granularity for common timestamp spellings ("2024-02-28T11:03:11+0000",
"…T11:00:34.622Z" both come back as midnight). News needs the minute, so the declared timestamps are
read here first, in order of trust: JSON-LD ``datePublished`` of the article object, then the
``article:published_time`` family of meta tags, then ``<time datetime>`` marked as the publication
date; htmldate is only the fallback.

JSON-LD arrives parsed: the readers here take the page's article objects
(``clean_jsonld.jsonld_articles``), which the extractor reads once per page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from dateutil import parser as dateparser
from lxml.html import HtmlElement

from newsflow.tasks.extract.clean_jsonld import schema_types

_META_DATE_NAMES = (
    "article:published_time",
    "og:article:published_time",
    "published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "article.published",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "dcterms.date",
    "date",
)
# A plausible year range: anything else is a parsing accident (a product number read as a year).
_MIN_YEAR, _MAX_YEAR = 1990, 2100


def parse_timestamp(value: str | None) -> datetime | None:
    """ISO 8601 and common variants → aware datetime; UTC when the value carries no offset."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if not re.search(r"\d{4}", value):
        return None
    try:
        dt = dateparser.isoparse(value)
    except (ValueError, OverflowError):
        try:
            dt = dateparser.parse(value, fuzzy=False)
        except (ValueError, OverflowError, TypeError):
            return None
    if not (_MIN_YEAR <= dt.year <= _MAX_YEAR):
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _jsonld_published(articles: Sequence[dict[str, Any]]) -> str | None:
    for obj in articles:
        value = obj.get("datePublished")
        if isinstance(value, str) and value.strip():
            return value
    return None


def jsonld_authors(articles: Sequence[dict[str, Any]]) -> str | None:
    """Author names of the first JSON-LD article that declares any, joined with "; " (or None)."""
    for obj in articles:
        value = obj.get("author")
        items = value if isinstance(value, list) else [value]
        names = []
        for item in items:
            if isinstance(item, str):
                names.append(item)
            elif (
                isinstance(item, dict)
                and isinstance(item.get("name"), str)
                and "organization" not in schema_types(item)
            ):
                names.append(item["name"])
        names = [n.strip() for n in names if n and n.strip()]
        if names:
            return "; ".join(names)
    return None


def _meta_published(tree: HtmlElement) -> str | None:
    found: dict[str, str] = {}
    for el in tree.xpath("//meta[@content][@property or @name or @itemprop]"):
        for attr in ("property", "name", "itemprop"):
            key = (el.get(attr) or "").strip().lower()
            if key in _META_DATE_NAMES and key not in found:
                found[key] = el.get("content") or ""
    for name in _META_DATE_NAMES:
        if found.get(name):
            return found[name]
    for el in tree.xpath(
        "//time[@datetime][@itemprop='datePublished' or @pubdate or contains(@class, 'publish')]"
    ):
        return el.get("datetime")
    return None


def published_at(
    tree: HtmlElement, articles: Sequence[dict[str, Any]], fallback: str | None = None
) -> datetime | None:
    """Publication time: JSON-LD ``articles``, then meta tags, then ``fallback`` (htmldate's
    answer); first that parses."""
    for candidate in (_jsonld_published(articles), _meta_published(tree), fallback):
        dt = parse_timestamp(candidate)
        if dt is not None:
            return dt
    return None


def meta_content(tree: HtmlElement, *names: str) -> str | None:
    """First non-empty ``content`` of a meta tag named (property, name or itemprop) as one of
    ``names``."""
    for name in names:
        for el in tree.xpath(f"//meta[@property='{name}' or @name='{name}' or @itemprop='{name}']"):
            value = " ".join((el.get("content") or "").split())
            if value:
                return value
    return None


def canonical_url(tree: HtmlElement, url: str) -> str | None:
    """rel=canonical, else og:url, as the page declares it, made absolute against ``url``; http(s)
    only.

    Whether it may replace the fetched URL (same site, not the home page) is the caller's decision.
    """
    candidates = [
        el.get("href")
        for el in tree.xpath("//link[@href][@rel]")
        if "canonical" in (el.get("rel") or "").lower().split()
    ]
    og = meta_content(tree, "og:url")
    if og:
        candidates.append(og)
    for href in candidates:
        href = (href or "").strip()
        if not href:
            continue
        absolute = urljoin(url, href)
        if urlsplit(absolute).scheme in {"http", "https"} and urlsplit(absolute).netloc:
            return absolute
    return None


_BY_PREFIX = re.compile(
    r"^\s*(?:(?:written|reported|reporting|words|text|story)\s+)?by\s*[:\-]?\s+", re.I
)
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|\||\band\b|&)\s*", re.I)
_NOT_A_NAME = re.compile(r"https?:|www\.|\.(?:com|org|net|co\.uk)\b|@|\d{3,}", re.I)


def split_authors(raw: str | None, *, publisher_names: tuple[str | None, ...] = ()) -> list[str]:
    """ "By Jane Doe and John Roe; Ann Poe" → ["Jane Doe", "John Roe", "Ann Poe"].

    Comma lists split when each part is a multi-word name. URLs, e-mail addresses and the publisher
    itself (sitename, "The New Yorker", which CMSs often put in the author field) are not people;
    duplicates go, order is kept.
    """
    if not raw:
        return []
    publishers = {p.casefold().removeprefix("the ").strip() for p in publisher_names if p}
    names: list[str] = []
    for part in _AUTHOR_SPLIT.split(raw):
        pieces = [p.strip() for p in part.split(",")]
        if len(pieces) > 1 and all(len(p.split()) >= 2 for p in pieces if p):
            candidates = pieces
        else:
            candidates = [part]
        for cand in candidates:
            name = _BY_PREFIX.sub("", cand).strip(" ,.;:-–—")
            if not name or not any(ch.isalpha() for ch in name) or _NOT_A_NAME.search(name):
                continue
            if name.casefold().removeprefix("the ").strip() in publishers:
                continue
            if name not in names:
                names.append(name)
    return names


def declared_sections(tree: HtmlElement, articles: Sequence[dict[str, Any]]) -> list[str]:
    """Section names the page declares: ``article:section`` meta tags and the JSON-LD
    ``articles``' ``articleSection``."""
    out: list[str] = []
    for el in tree.xpath(
        "//meta[@property='article:section' or @name='article:section'][@content]"
    ):
        out.append(el.get("content"))
    for obj in articles:
        value = obj.get("articleSection")
        out.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
    return [" ".join(x.split()) for x in out if x and x.strip()]
