"""The related-stories tail is cut on DOM evidence, not on word counts alone (issue 15).

Shaped on pages where the old rule lost the article's end: a "SEE MORE: …" teaser heading or a
bare "Read more" heading in the second half of the body, followed by the article's own short
paragraphs.
"""

from __future__ import annotations

from pathlib import Path

from lxml.html import fromstring

from newsflow.tasks.extract.clean import drop_related_tail
from newsflow.tasks.extract.clean_dom import TailEvidence
from newsflow.tasks.extract.extract import extract_article

FIXTURES = Path(__file__).parent / "fixtures" / "html"
OPENING = [
    "The city council voted on Tuesday evening to build protected cycle lanes along the harbour.",
    "The plan passed by 31 votes to 12 after a four-hour debate in the council chamber.",
    "Work is due to begin in March, the council's transport office said.",
]


def _evidence(body: str) -> TailEvidence:
    return TailEvidence(fromstring(f"<html><body>{body}</body></html>"))


def _paras(lines: list[str]) -> str:
    return "".join(f"<p>{ln}</p>" for ln in lines)


def test_read_more_heading_among_the_articles_paragraphs_keeps_what_follows() -> None:
    tail = ["Cyclists' groups welcomed the vote.", "A consultation opens next week."]
    lines = [*OPENING, "Read more", *tail]
    dom = _evidence(f"<div class='body'>{_paras(OPENING)}<h3>Read more</h3>{_paras(tail)}</div>")
    assert drop_related_tail(lines, dom) == lines
    # Without the page the word-count test alone would have cut it.
    assert drop_related_tail(lines) == OPENING


def test_related_block_in_a_container_of_its_own_is_cut() -> None:
    teasers = ["Ferry timetable changes from Monday", "Fish market reopens after renovation"]
    lines = [*OPENING, "More from Harbour Post", *teasers]
    dom = _evidence(
        f"<article>{_paras(OPENING)}</article>"
        f"<section><h2>More from Harbour Post</h2>{_paras(teasers)}</section>"
    )
    assert drop_related_tail(lines, dom) == OPENING


def test_teaser_links_after_a_related_heading_are_cut_even_inside_the_body() -> None:
    teasers = ["Ferry timetable changes from Monday", "Fish market reopens after renovation"]
    lines = [*OPENING, "Related", *teasers]
    links = "".join(f"<p><a href='/x{i}'>{t}</a></p>" for i, t in enumerate(teasers))
    dom = _evidence(f"<div>{_paras(OPENING)}<h4>Related</h4>{links}</div>")
    assert drop_related_tail(lines, dom) == OPENING


def test_teaser_box_mid_article_with_the_article_going_on_after_it_stays() -> None:
    # The box is a container of its own, but the lines after the heading are found outside it.
    rest = ["Shop owners had warned that fewer spaces would cost them trade.", "Cyclists agreed."]
    lines = [*OPENING, "Related", "Parking plan splits residents", *rest]
    dom = _evidence(
        f"<div>{_paras(OPENING)}<aside><h4>Related</h4><p>Parking plan splits residents</p>"
        f"</aside>{_paras(rest)}</div>"
    )
    assert drop_related_tail(lines, dom) == lines


def test_page_with_mid_article_teasers_keeps_its_end_and_loses_the_more_block() -> None:
    art = extract_article(
        (FIXTURES / "teaser_mid_article.html").read_bytes(), "https://harbourpost.example/a/1"
    )
    assert art.error is None
    assert "A public consultation on the crossings opens next week." in art.text
    assert "Cyclists' groups welcomed the vote." in art.text
    assert "SEE MORE" not in art.text  # the teaser line itself is chrome
    assert "Ferry timetable changes from Monday" not in art.text
