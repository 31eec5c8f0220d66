"""Evidence from the page's DOM for line rules that cannot decide from a line's words alone.

A heading such as "Read more", "Related" or "More from The Nation" is sometimes the start of a
block of other stories appended after the article and sometimes a teaser box in the middle of it,
after which the article goes on in short paragraphs. Word counts cannot tell the two apart; the
page can: a block of other stories sits in a container of its own (the heading and its teasers are
children of a ``section``/``aside``/``div`` that does not hold the article's paragraphs), or its
lines are link texts (teaser headlines link to the stories).

``TailEvidence`` answers those two questions for ``clean.drop_related_tail``. It indexes the tree
lazily, only when a rule asks (most pages never have a related heading in their second half).
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml.html import HtmlElement

from newsflow.tasks.extract.clean_normalise import normalise_line

# Elements a body line comes from (trafilatura emits one line per block element).
_BLOCK_TAGS = (
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "div",
    "span",
    "a",
    "strong",
    "b",
    "em",
    "dt",
    "dd",
    "td",
    "th",
    "blockquote",
    "header",
    "section",
)


class TailEvidence:
    """Where body lines sit in the page, answered from one lazily built index of the tree."""

    def __init__(self, tree: HtmlElement) -> None:
        self._tree = tree
        self._by_key: dict[str, list[HtmlElement]] | None = None
        self._links: set[str] | None = None

    def _index(self) -> dict[str, list[HtmlElement]]:
        """Normalised text → the outermost elements showing exactly that text, in document order
        (an ``<h2><span>Related</span></h2>`` is found as the ``h2``)."""
        if self._by_key is None:
            by_key: dict[str, list[HtmlElement]] = {}
            for el in self._tree.iter(*_BLOCK_TAGS):
                key = normalise_line(el.text_content())
                if not key or len(key) > 2000:
                    continue
                found = by_key.setdefault(key, [])
                parent = el.getparent()
                if found and parent is not None and found[-1] is parent:
                    continue  # the same text one level down: keep the outer element
                found.append(el)
            self._by_key = by_key
        return self._by_key

    def link_texts(self) -> set[str]:
        """Normalised texts of the page's links (teaser headlines are links to their stories)."""
        if self._links is None:
            self._links = {
                k for a in self._tree.iter("a") if (k := normalise_line(a.text_content()))
            }
        return self._links

    def _element(self, line: str, last: bool) -> HtmlElement | None:
        found = self._index().get(normalise_line(line))
        if not found:
            return None
        return found[-1] if last else found[0]

    def separate_block(self, heading: str, tail: Sequence[str], body: Sequence[str]) -> bool:
        """True when the heading and every line after it that the page shows sit inside one
        container that does not hold the article's opening lines: a block of its own after the
        article. False when the heading is not found, when a tail line is found outside its
        container (the article goes on after a teaser box), or when the container also holds the
        opening (a heading among the article's own paragraphs)."""
        head = self._element(heading, last=True)
        if head is None:
            return False
        box = head.getparent()
        if box is None:
            return False
        opening = next(
            (el for ln in body[:3] if (el := self._element(ln, last=False)) is not None), None
        )
        if opening is None or _contains(box, opening):
            return False
        for line in tail:
            el = self._element(line, last=True)
            if el is not None and not _contains(box, el):
                return False
        return True

    def mostly_links(self, tail: Sequence[str]) -> bool:
        """At least half of the lines are the text of a link on the page."""
        if not tail:
            return False
        links = self.link_texts()
        return 2 * sum(normalise_line(ln) in links for ln in tail) >= len(tail)


def _contains(ancestor: HtmlElement, el: HtmlElement) -> bool:
    return el is ancestor or any(a is ancestor for a in el.iterancestors())
