"""Article metadata the page declares: publication time, canonical URL, authors.

trafilatura's metadata is good for title, sitename and description, but its date comes from
htmldate, which keeps day granularity for common timestamp spellings ("2024-02-28T11:03:11+0000",
"…T11:00:34.622Z" both come back as midnight). News needs the minute, so the declared timestamps are
read here first, in order of trust: JSON-LD ``datePublished`` of the article object, then the
``article:published_time`` family of meta tags and ``itemprop="datePublished"`` on any element,
then ``<time datetime>`` marked as the publication date; htmldate is only the fallback. Each date
says where it came from (``articles.published_at_source``: json-ld, meta, visible-text, guessed),
so analysts can keep only the dates a page declared.

A timestamp without an offset is local time somewhere. When the page declares an offset on
another of its timestamps (``dateModified`` "…+08:00" beside a bare ``datePublished``), that
offset is the page's own and wins; only a page that declares none is read as UTC.

JSON-LD arrives parsed: the readers here take the page's article objects
(``clean_jsonld.jsonld_articles``), which the extractor reads once per page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

from dateutil import parser as dateparser
from lxml.html import HtmlElement

from newsflow.tasks.extract.clean_jsonld import schema_types

_META_DATE_NAMES = (
    "article:published_time",
    "article:published",
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


def parse_naive(value: str | None) -> datetime | None:
    """The timestamp as written: aware when it carries an offset, naive when it does not."""
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
    return dt


def _jsonld_dates(articles: Sequence[dict[str, Any]], key: str) -> list[str]:
    out = []
    for obj in articles:
        values = obj.get(key)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and value.strip():
                out.append(value)
    return out


def _jsonld_published(articles: Sequence[dict[str, Any]]) -> str | None:
    found = _jsonld_dates(articles, "datePublished")
    return found[0] if found else None


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


def _tokens(value: str | None) -> list[str]:
    """An attribute's names: ``itemprop="datePublished dateCreated"`` holds two."""
    return (value or "").strip().lower().split()


def _meta_published(tree: HtmlElement) -> str | None:
    """The publication time declared by a meta tag (property, name or itemprop, each possibly
    listing several names) or by ``itemprop="datePublished"`` on any element (its ``content``
    or ``datetime``)."""
    found: dict[str, str] = {}
    for el in tree.xpath("//meta[@content][@property or @name or @itemprop]"):
        for attr in ("property", "name", "itemprop"):
            for key in _tokens(el.get(attr)):
                if key in _META_DATE_NAMES and key not in found:
                    found[key] = el.get("content") or ""
    for name in _META_DATE_NAMES:
        if found.get(name):
            return found[name]
    for el in tree.xpath("//*[not(self::meta)][@itemprop][@content or @datetime]"):
        if "datepublished" in _tokens(el.get("itemprop")):
            value = el.get("datetime") or el.get("content")
            if value and value.strip():
                return value
    return None


def _visible_published(tree: HtmlElement) -> str | None:
    """A ``<time datetime>`` the reader sees, marked as the publication time (``pubdate`` or a
    class naming it)."""
    for el in tree.xpath(
        "//time[@datetime][@pubdate or contains(@class, 'publish') or contains(@class, 'posted')]"
    ):
        return el.get("datetime")
    return None


def declared_offset(tree: HtmlElement, articles: Sequence[dict[str, Any]]) -> tzinfo | None:
    """The UTC offset the page declares on any of its own timestamps (JSON-LD dates, date meta
    tags, ``<time datetime>``), the first found; None when every timestamp is bare."""
    values = [
        *(
            v
            for key in ("datePublished", "dateModified", "dateCreated", "uploadDate")
            for v in _jsonld_dates(articles, key)
        ),
        *(
            el.get("content")
            for el in tree.xpath(
                "//meta[@content][contains(@property, 'time') or contains(@name, 'date')"
                " or contains(@itemprop, 'date') or contains(@property, 'date')]"
            )
        ),
        *(el.get("datetime") for el in tree.xpath("//time[@datetime]")),
    ]
    for value in values:
        parsed = parse_naive(value)
        if parsed is not None and parsed.tzinfo is not None:
            return parsed.tzinfo
    return None


def published(
    tree: HtmlElement, articles: Sequence[dict[str, Any]], fallback: str | None = None
) -> tuple[datetime | None, str | None]:
    """(publication time, where it came from): JSON-LD ``articles`` (``json-ld``), then meta
    tags and ``itemprop`` (``meta``), then a marked ``<time>`` (``visible-text``), then
    ``fallback``, htmldate's answer from the URL or the page's text (``guessed``); the first that
    parses. A bare timestamp takes the offset the page declares elsewhere, else UTC."""
    candidates = (
        ("json-ld", _jsonld_published(articles)),
        ("meta", _meta_published(tree)),
        ("visible-text", _visible_published(tree)),
        ("guessed", fallback),
    )
    offset: tzinfo | None = None
    for source, candidate in candidates:
        naive = parse_naive(candidate)
        if naive is None:
            continue
        if naive.tzinfo is None:
            if offset is None:
                offset = declared_offset(tree, articles) or UTC
            naive = naive.replace(tzinfo=offset)
        return naive, source
    return None, None


def published_fields(
    tree: HtmlElement, articles: Sequence[dict[str, Any]], fallback: str | None = None
) -> dict[str, Any]:
    """:func:`published` as the ``ExtractedArticle`` fields ``published_at`` and
    ``published_at_source``."""
    when, source = published(tree, articles, fallback)
    return {"published_at": when, "published_at_source": source}


def published_at(
    tree: HtmlElement, articles: Sequence[dict[str, Any]], fallback: str | None = None
) -> datetime | None:
    """The publication time alone (see :func:`published`)."""
    return published(tree, articles, fallback)[0]


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


# Bylines arrive with furniture around the names, in many languages: "By", "Text:", "Von",
# "Par", "Por", "Door" in front; a job title, a date or "is a reporter for …" behind.
_BY_PREFIX = re.compile(
    r"^\s*(?:(?:(?:written|reported|reporting|words|story|photos?|text)\s+)?by\b|von\b|par\b"
    r"|por\b|door\b)\s*[:\-]?\s*"
    r"|^\s*(?:text|texte|texto|testo|tekst|words|author|autor|autorin|auteur|reporting|"
    r"redacción|redaktion|written by)\s*[:：]\s*",
    re.I,
)
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|\||\band\b|&|\bund\b|\bet\b|\by\b|\ben\b)\s*", re.I)
_NOT_A_NAME = re.compile(
    r"https?:|www\.|\.(?:com|org|net|co\.uk)\b|@|\d{3,}|^www\s|\s(?:com|org|net|co\s+uk)$", re.I
)
_URL_TAIL = re.compile(r"\s+(?:https?|www)\b.*$", re.I)
# "Phil Helsel is a reporter for NBC News", "Jane Doe, who covers the courts"
_SENTENCE_TAIL = re.compile(r"(?:,\s*|\s+)(?:is|was|has been|who|covers)\b.*$", re.I)
_WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
# A date written after the name: "Malcolm Owen Monday", "Jane Doe Nov. 27, 2024", "… Updated 3pm"
_DATE_TAIL = re.compile(
    rf"(?:,\s*|\s+)(?:{_WEEKDAY}\b|{_MONTH}\.?\s+\d|\d{{1,2}}\.?\s+{_MONTH}\b"
    r"|(?:updated|published|posted)\b|\d{1,2}[:.]\d{2}\b).*$",
    re.I,
)
_DATE_ONLY = re.compile(rf"^(?:{_WEEKDAY}|{_MONTH})\.?(?:\s+\d.*)?$", re.I)
_ROLE = (
    r"(?:writer|reporter|correspondent|editor|columnist|contributor|journalist|photographer"
    r"|producer|analyst|critic|author)s?"
)
_ROLE_WORDS = (
    r"(?:senior|chief|staff|deputy|associate|assistant|contributing|special|political|politics"
    r"|business|sports?|auto|motoring|science|health|foreign|economics?|education|technology"
    r"|tech|legal|investigative|national|international|local|news|managing|executive|digital"
    r"|data|video|royal|global|world|entertainment|arts?|culture|food|travel|climate"
    r"|environment|energy|markets?|finance|money|crime|courts?|features?|opinion|breaking"
    r"|graduate|trainee|freelance|ap|afp|upi|dpa|reuters)"
)
# ", Senior Reporter" after a comma; " Staff Writer" (a role word, then the role) without one
_ROLE_TAIL = re.compile(
    rf"(?:\s*,\s*(?:{_ROLE_WORDS}\s+)*{_ROLE}|\s+(?:{_ROLE_WORDS}\s+)+{_ROLE})$", re.I
)
_ROLE_ONLY = re.compile(rf"^(?:(?:{_ROLE_WORDS}|the)\s+)*(?:{_ROLE}|{_ROLE_WORDS})$", re.I)
# A byline for a desk, not a person: "Guardian staff", "Telegraph Reporters", "CNBC.com staff"
_COLLECTIVE = re.compile(
    r"\b(?:staff|team|desk|newsroom|bureau|reporters|writers|editors|correspondents)$", re.I
)


def _publisher_key(name: str) -> str:
    key = " ".join(re.sub(r"[^\w\s]", " ", name.casefold()).split())
    return key.removeprefix("the ").strip()


def clean_author(candidate: str, publishers: set[str] = frozenset()) -> str | None:  # type: ignore[assignment]
    """One byline candidate as a person's name, or None when it is not one.

    Takes off what surrounds names in bylines (a "By" / "Text:" prefix, a job title after the
    name, a date or a sentence about the author after it, a trailing URL) and refuses what is no
    person: a job title alone ("Staff Writer", "AP Auto Writer"), a desk ("Telegraph
    Reporters"), a weekday or month, a web address, the publisher itself (``publishers``: keys
    from :func:`_publisher_key`). A name in capitals is written in title case."""
    name = _BY_PREFIX.sub("", candidate).strip()
    for tail in (_URL_TAIL, _SENTENCE_TAIL, _DATE_TAIL, _ROLE_TAIL):
        name = tail.sub("", name).strip(" ,.;:-–—|")
    if not name or not any(ch.isalpha() for ch in name) or _NOT_A_NAME.search(name):
        return None
    if _DATE_ONLY.match(name) or _ROLE_ONLY.match(name) or _COLLECTIVE.search(name):
        return None
    if _publisher_key(name) in publishers:
        return None
    if name.isupper() and len(name) > 3:
        name = name.title()
    return name


def split_authors(raw: str | None, *, publisher_names: tuple[str | None, ...] = ()) -> list[str]:
    """ "By Jane Doe and John Roe; Ann Poe" → ["Jane Doe", "John Roe", "Ann Poe"].

    Comma lists split when each part is a multi-word name. Each candidate is cleaned by
    :func:`clean_author` (prefixes, job titles, dates, sentences about the author, desks, web
    addresses and the publisher itself go: ``publisher_names``, the sitename and such, which
    CMSs often put in the author field); duplicates go, order is kept.
    """
    if not raw:
        return []
    raw = html.unescape(raw)
    publishers = {_publisher_key(p) for p in publisher_names if p}
    names: list[str] = []
    for part in _AUTHOR_SPLIT.split(raw):
        part = _BY_PREFIX.sub("", part).strip()
        pieces = [p.strip() for p in part.split(",")]
        if len(pieces) > 1 and all(len(p.split()) >= 2 for p in pieces if p):
            candidates = pieces
        else:
            candidates = [part]
        for cand in candidates:
            name = clean_author(cand, publishers)
            if name and name not in names:
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
