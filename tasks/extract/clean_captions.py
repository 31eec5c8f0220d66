"""Photo captions from the page's HTML: collected into ``captions`` and used to keep them out of the
body.

Pages declare captions in many ways: ``<figcaption>``, ``itemprop="caption"``, elements whose class
or id says "caption" (``wp-caption-text``, ``image-caption``, ``bildtext``, ``legende``), and the
``alt`` text of images. Lightbox and gallery widgets often carry a second copy in a ``hidden``
element that extractors happily emit, so hidden copies are collected too (deduplication folds them
into the visible one).

Two outputs: ``captions`` (what the article's pictures show, with the credit split off and the image
URL) and ``match_strings`` (every caption-like string on the page, including image alts, for
removing body lines). ``page_prose`` tells which of those strings the page also shows as an ordinary
paragraph: those are article text (a lead paragraph reused as the hero caption or alt) and must stay
in the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin

from lxml.html import HtmlElement

from newsflow.schemas.records import Caption
from newsflow.tasks.extract.clean import split_credit
from newsflow.tasks.extract.clean_normalise import normalise_line

_CAPTION_CLASS = re.compile(r"caption|bildtext|bildtekst|legende|image-?desc|photo-?desc", re.I)
_CREDIT_CLASS = re.compile(
    r"credit|copyright|attribution|photographer|byline|source|courtesy|rights|image-?author", re.I
)
# Captions in these regions belong to other stories (teasers) or to site furniture.
_OUTSIDE_ARTICLE = {"nav", "footer", "aside"}
_MAX_CAPTION_CHARS = 800
_IMG_ATTRS = ("src", "data-src", "data-lazy-src", "data-original", "data-srcset", "srcset")


def _attr_text(el: HtmlElement) -> str:
    return f"{el.get('class', '')} {el.get('id', '')}"


def _is_caption_element(el: HtmlElement) -> bool:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag == "figcaption":
        return True
    if el.get("itemprop", "").lower() == "caption":
        return True
    if tag in {"div", "p", "span", "small", "em", "section", "cite", "dd", "dt", "li", "i"}:
        return bool(_CAPTION_CLASS.search(_attr_text(el)))
    return False


def _in_furniture(el: HtmlElement) -> bool:
    return any(isinstance(a.tag, str) and a.tag in _OUTSIDE_ARTICLE for a in el.iterancestors())


def _image_scopes(el: HtmlElement) -> list[HtmlElement]:
    """Where a caption's picture lives: the enclosing ``figure``, else parent and grandparent."""
    figures = [a for a in el.iterancestors() if a.tag == "figure"][:1]
    if figures:
        return figures
    parent = el.getparent()
    scopes = [parent] if parent is not None else []
    if parent is not None and parent.getparent() is not None:
        scopes.append(parent.getparent())
    return scopes


def _has_image(el: HtmlElement) -> bool:
    for scope in _image_scopes(el):
        if scope.tag == "figure":
            return True
        if next(scope.iter("img", "picture", "video", "source", "iframe"), None) is not None:
            return True
    return False


def _image_url(el: HtmlElement, base_url: str) -> str | None:
    """The picture a caption belongs to: inside the same ``figure``, else in the caption's
    parent/grandparent."""
    for scope in _image_scopes(el):
        for img in scope.iter("img", "source"):
            for attr in _IMG_ATTRS:
                value = (img.get(attr) or "").strip()
                if value and not value.startswith("data:"):
                    first = value.split(",")[0].strip().split(" ")[0]
                    if first:
                        return urljoin(base_url, first)
    return None


_HIDDEN_TEXT_CLASS = re.compile(r"sr-only|visually-?hidden|screen-reader", re.I)


def _text(el: HtmlElement) -> str:
    """Visible text of an element: screen-reader-only labels ("opens new tab") left out."""
    parts: list[str] = []

    def walk(node: HtmlElement) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str) and not _HIDDEN_TEXT_CLASS.search(child.get("class", "")):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return " ".join(" ".join(parts).split())


_PROSE_TAGS = ("p", "li", "blockquote", "h2", "h3", "h4", "h5", "h6")
# Containers whose paragraphs are picture furniture, not article prose (lightbox/gallery/modal
# copies).
_FURNITURE_CLASS = re.compile(
    r"caption|lightbox|gallery|modal|carousel|slideshow|(?:^|\s)hidden(?:\s|$)|sr-only|visually-?hidden|"
    r"photo-?credit|image-?credit",
    re.I,
)


def _is_furniture_container(el: HtmlElement) -> bool:
    if el.tag in ("figure", "figcaption") or el.get("hidden") is not None:
        return True
    if el.get("aria-hidden", "").lower() == "true" or _is_caption_element(el):
        return True
    if "display:none" in el.get("style", "").replace(" ", "").lower():
        return True
    return bool(_FURNITURE_CLASS.search(_attr_text(el)))


def page_prose(tree: HtmlElement) -> set[str]:
    """Normalised texts of visible prose elements outside figures, captions, hidden and
    lightbox/gallery containers.

    A caption-like string that the page *also* shows as such a paragraph is article text: sites put
    the lead paragraph into the hero image's caption or alt, and removing it from the body would cut
    the article. One top-down walk, so each element's container test runs once.
    """
    out: set[str] = set()
    stack: list[tuple[HtmlElement, bool]] = [(tree, False)]
    while stack:
        el, inside = stack.pop()
        if not isinstance(el.tag, str):
            continue
        inside = inside or _is_furniture_container(el)
        if inside:
            continue  # nothing below a furniture container counts as prose
        if el.tag in _PROSE_TAGS:
            key = normalise_line(" ".join(el.itertext()))
            if key:
                out.add(key)
        stack.extend((child, False) for child in el)
    return out


def _split_element_credit(el: HtmlElement) -> tuple[str, str | None]:
    """Caption text and credit, using credit-classed child elements when the markup has them."""
    credit_parts: list[str] = []
    for child in el.iterdescendants():
        if isinstance(child.tag, str) and _CREDIT_CLASS.search(_attr_text(child)):
            t = _text(child)
            if t and not any(t in part for part in credit_parts):
                credit_parts.append(t)
    full = _text(el)
    if credit_parts:
        text = full
        for part in credit_parts:
            text = text.replace(part, " ")
        credit_parts = [unwrap_parentheses(part) for part in credit_parts]
        text, more = split_credit(" ".join(text.split()))
        credit = "; ".join(credit_parts + ([more] if more else []))
        credit = _CREDIT_LABEL.sub("", credit).strip()
        return text, credit or None
    return split_credit(full)


def unwrap_parentheses(credit: str) -> str:
    """A credit without the parentheses or brackets that wrap all of it: "(Ivo Brandt/Valley
    Courier)" → "Ivo Brandt/Valley Courier", as :func:`split_credit` gives for a credit in the
    caption's text. Parentheses inside ("Jane Doe (AP)") or around a part only stay."""
    stripped = credit.strip()
    pairs = {"(": ")", "[": "]"}
    if len(stripped) < 2 or pairs.get(stripped[0]) != stripped[-1]:
        return stripped
    depth = 0
    for i, char in enumerate(stripped):
        depth += (char == stripped[0]) - (char == stripped[-1])
        if depth == 0 and i < len(stripped) - 1:
            return stripped  # "(AP) Jane (Doe)": the first pair closes before the end
    return stripped[1:-1].strip()


_CREDIT_LABEL = re.compile(r"^(?:Photo(?:graph)?|Image|Credit|Picture|Foto|Bild)\s*:\s*", re.I)


@dataclass
class PageCaptions:
    captions: list[Caption] = field(default_factory=list)
    match_strings: list[str] = field(default_factory=list)


# One cheap scan pre-selects every element that the caption collector or the extractor's pruning
# may care about; the regexes of each reader decide. Done once per page and shared, because this
# scan is one of the costlier steps. A Python walk with one class regex is about 4× faster
# than the XPath of a dozen ``contains()`` tests it replaces (dev set: same elements found).
_CANDIDATE_CLASS = re.compile(r"idden|sr-only|screen-reader|aption|APTION|ildte|egende|redit|esc")
_CANDIDATE_ID = re.compile(r"aption")
_CANDIDATE_TAGS = ("figure", "figcaption")


def candidate_elements(tree: HtmlElement) -> list[HtmlElement]:
    """Elements that may be captions, credits or hidden copies, in document order: ``hidden``,
    figures, ``itemprop="caption"``, and classes or ids with caption/credit/hidden fragments."""
    out: list[HtmlElement] = []
    for el in tree.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue  # comments, processing instructions
        attrs = el.attrib
        if tag in _CANDIDATE_TAGS or (
            attrs
            and (
                "hidden" in attrs
                or attrs.get("itemprop") == "caption"
                or _CANDIDATE_CLASS.search(attrs.get("class", ""))
                or _CANDIDATE_ID.search(attrs.get("id", ""))
            )
        ):
            out.append(el)
    return out


def _iter_caption_elements(candidates: list[HtmlElement]) -> Iterator[HtmlElement]:
    """Caption elements in document order, outermost only (a credit span inside a figcaption is part
    of it)."""
    kept: list[HtmlElement] = []
    kept_set: set[HtmlElement] = set()
    for el in candidates:
        if not isinstance(el.tag, str) or not _is_caption_element(el):
            continue
        if any(a in kept_set for a in el.iterancestors()):
            continue
        kept.append(el)
        kept_set.add(el)
        yield el


def collect_captions(
    tree: HtmlElement, base_url: str, candidates: list[HtmlElement] | None = None
) -> PageCaptions:
    """Captions of the page (deduplicated by normalised text, the first kept, credit/URL filled from
    copies) and every caption-like string (captions, credits, image alts) for body-line matching."""
    out = PageCaptions()
    by_key: dict[str, Caption] = {}
    match: dict[str, None] = {}
    if candidates is None:
        candidates = candidate_elements(tree)
    for el in _iter_caption_elements(candidates):
        full = _text(el)
        if not full or len(full) > _MAX_CAPTION_CHARS:
            continue
        text, credit = _split_element_credit(el)
        match[full] = None
        if text:
            match[text] = None
        if credit:
            match[credit] = None
        key = normalise_line(text)
        if not key or _in_furniture(el):
            continue
        if (
            el.tag != "figcaption"
            and el.get("itemprop", "").lower() != "caption"
            and not _has_image(el)
        ):
            # "caption" as a typography class (form hints, menu items, ad labels), not a picture
            continue
        image_url = _image_url(el, base_url)
        existing = by_key.get(key)
        if existing is None:
            # Another caption that is a prefix/extension of this one (alt vs fuller figcaption):
            # keep one.
            cap = Caption(text=text, credit=credit, image_url=image_url)
            by_key[key] = cap
            out.captions.append(cap)
        else:
            if existing.credit is None and credit:
                existing.credit = credit
            if existing.image_url is None and image_url:
                existing.image_url = image_url
    for img in tree.iter("img"):
        for attr in ("alt", "title"):
            alt = " ".join((img.get(attr) or "").split())
            if alt:
                match[alt] = None
    out.match_strings = list(match)
    return out
