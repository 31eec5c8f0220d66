# ruff: noqa: E501  (realistic test sentences read better unbroken)
"""extract_article on realistic pages written for newsflow (tests/fixtures/html)."""

from __future__ import annotations

import gzip
import pickle
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsflow.tasks.extract.boilerplate import learn_boilerplate, line_hash
from newsflow.tasks.extract.clean_normalise import normalise_line
from newsflow.tasks.extract.extract import extract_article

FIXTURES = Path(__file__).parent / "fixtures" / "html"
URL = "https://www.harbourpost.example/news/2024/03/island-ferry-reopens?utm_source=rss"


def _page(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def ferry():
    return extract_article(_page("ferry_hero_lightbox.html"), URL)


@pytest.fixture(scope="module")
def wire():
    return extract_article(
        _page("wire_credits_alt_lead.html"), "https://worldnewsdaily.example/e/1"
    )


def _lines(text: str) -> list[str]:
    return text.split("\n")


def test_metadata_fields(ferry) -> None:
    assert ferry.error is None
    assert ferry.title == "Island Ferry Route to Reopen After Two-Year Closure"
    assert ferry.authors == ["Maria Lindqvist", "Tom Okafor"]
    assert ferry.published_at == datetime(2024, 3, 1, 7, 45, tzinfo=timezone(timedelta(hours=1)))
    assert ferry.language == "en"
    assert (
        ferry.canonical_url == "https://www.harbourpost.example/news/2024/03/island-ferry-reopens"
    )
    assert ferry.sitename == "The Harbour Post"
    assert ferry.description.startswith("The council confirmed the northern crossing")


def test_body_has_no_title_echo_captions_chrome_or_repeats(ferry) -> None:
    lines = _lines(ferry.text)
    assert lines[0].startswith("The northern ferry crossing between Holm and the mainland")
    assert lines[-1].startswith("The council said a decision on buying a permanent vessel")
    assert len(lines) == 6
    title_key = normalise_line(ferry.title)
    assert all(title_key not in normalise_line(ln) for ln in lines)
    for cap in ferry.captions:
        assert normalise_line(cap.text) not in normalise_line(ferry.text)
    for chrome in ("TT", "Share", "Advertisement", "Accept all", "Related stories"):
        assert chrome not in lines
    assert not any(ln.startswith(("Read more", "Sign up", "By Maria")) for ln in lines)
    assert len(set(lines)) == len(lines)


def test_captions_deduplicated_with_credit_and_image(ferry) -> None:
    assert [(c.text, c.credit) for c in ferry.captions] == [
        (
            "The hybrid ferry Solvik moored at the northern quay on Thursday, February 29, 2024.",
            "Jonas Berg / Harbour Post",
        ),
        ("Workers repair the loading ramp at Holm quay in January.", "Reuters"),
    ]
    assert ferry.captions[0].image_url == "https://www.harbourpost.example/img/ferry-quay.jpg"


def test_uncollected_caption_credit_line_bio_and_related_block_are_removed(wire) -> None:
    lines = _lines(wire.text)
    assert wire.error is None
    assert not any("REUTERS/" in ln or ln.startswith("Photo:") for ln in lines)
    assert not any("is a correspondent" in ln for ln in lines)
    assert not any(ln.startswith(("More from", "Prices rise again")) for ln in lines)
    assert wire.captions[0].credit == "REUTERS/Johanna Geron"
    assert (
        wire.captions[0].image_url
        == "https://cdn.worldnewsdaily.example/photos/zelenskiy-brussels.jpg"
    )


def test_lead_paragraph_reused_as_image_alt_stays_in_the_body(wire) -> None:
    assert "Zelenskiy said allies needed to know what Ukraine can bring" in wire.text


def test_wire_page_metadata_from_json_ld_and_content_language(wire) -> None:
    assert wire.published_at == datetime(2024, 12, 22, 16, 5, 31, 120000, tzinfo=UTC)
    assert wire.authors == ["Olena Petrenko"]
    assert wire.language == "en"
    assert (
        wire.canonical_url == "https://worldnewsdaily.example/europe/zelenskiy-alliance-achievable"
    )
    assert wire.title == "Zelenskiy says alliance membership is 'achievable'"


def test_live_blog_body_declared_only_in_json_ld() -> None:
    art = extract_article(_page("liveblog_jsonld_only.html"), "https://sport.example/live/1")
    assert art.error is None
    assert art.title == "Harbour City 2 Rovers 3: as it happened"
    lines = _lines(art.text)
    assert lines[0] == "Full time: Harbour City 2 Rovers 3"
    assert "Half time: Harbour City 0 Rovers 2" in lines
    assert art.authors == ["Sam Whitley"]
    assert art.published_at == datetime(2024, 3, 2, 17, 30, tzinfo=UTC)


def test_caption_only_page_is_an_error_with_its_caption_kept() -> None:
    art = extract_article(
        _page("caption_only.html"), "https://www.harbourpost.example/pictures/snow"
    )
    assert art.text == ""
    assert art.error and "no article text" in art.error
    assert art.captions and art.captions[0].credit == "Lena Sund / Harbour Post"
    assert art.published_at is None  # no declared date: nothing guessed from "© 2024"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        (bytes(range(256)) * 8, "binary"),
        (gzip.compress(b"<html><body><p>compressed twice</p></body></html>", mtime=0), "gzip"),
        (b"<html><head><title>x</title></head><body></body></html>", "no article text"),
    ],
)
def test_junk_gives_an_error_record_never_an_exception(content: bytes, reason: str) -> None:
    art = extract_article(content, "https://example.org/x")
    assert art.url == "https://example.org/x"
    assert art.error and reason in art.error
    assert art.text == ""


def test_str_input_gives_the_same_record_as_bytes() -> None:
    raw = _page("ferry_hero_lightbox.html")
    assert extract_article(raw.decode("utf-8"), URL) == extract_article(raw, URL)


def test_deterministic_across_calls_and_call_order() -> None:
    names = ["ferry_hero_lightbox.html", "wire_credits_alt_lead.html", "liveblog_jsonld_only.html"]
    first = [extract_article(_page(n), URL) for n in names]
    for _ in range(3):  # more than trafilatura's dedup threshold, were it on
        again = [extract_article(_page(n), URL) for n in reversed(names)][::-1]
        assert again == first


def test_boilerplate_removes_learnt_lines_but_line_hashes_are_taken_before() -> None:
    art = extract_article(_page("ferry_hero_lightbox.html"), URL)
    assert art.line_hashes == [line_hash(ln) for ln in _lines(art.text)]
    last = _lines(art.text)[-1]
    stripped = extract_article(
        _page("ferry_hero_lightbox.html"), URL, boilerplate=frozenset({line_hash(last)})
    )
    assert _lines(stripped.text) == _lines(art.text)[:-1]
    assert stripped.line_hashes == art.line_hashes
    # Learnt from a source's stored articles, the chrome line goes and reporting stays.
    docs = [art.line_hashes[-1:] + [f"{i:016x}"] for i in range(10)]
    assert learn_boilerplate(docs) == {line_hash(last)}


def test_runs_in_a_process_pool() -> None:
    page = _page("wire_credits_alt_lead.html")
    pickle.dumps(extract_article)
    with ProcessPoolExecutor(max_workers=1) as pool:
        remote = pool.submit(extract_article, page, "https://worldnewsdaily.example/e/1").result(
            timeout=120
        )
    assert remote == extract_article(page, "https://worldnewsdaily.example/e/1")


def test_collapsed_and_tab_content_stays_while_hidden_copies_go() -> None:
    art = extract_article(_page("tabs_hidden_panels.html"), "https://harbourpost.example/ferry")
    assert art.error is None
    # Tab panel and collapsed answer hidden until clicked: article text, kept.
    assert "At weekends boats sail every forty minutes" in art.text
    assert "Season tickets bought before Monday stay valid" in art.text
    # The hidden lightbox copy of the visible caption, and the caption itself, are not body text.
    assert "The Island Star leaving the north pier" not in art.text
    assert [c.text for c in art.captions] == [
        "The Island Star leaving the north pier on Friday morning."
    ]


def test_a_table_wrapped_in_a_figure_is_article_content() -> None:
    html = (
        b"<html><head><title>Coinbase vs Coinbase Pro</title></head><body><article>"
        b"<h1>Coinbase vs Coinbase Pro</h1>"
        b"<p>Coinbase and Coinbase Pro are two of the most popular cryptocurrency exchanges, "
        b"run by the same company but aimed at different kinds of traders and investors.</p>"
        b"<figure class='comparison-table'><table><tr><th>Fee</th><th>Coinbase</th></tr>"
        b"<tr><td>SEPA withdrawal</td><td>1 GBP withdrawal fee for every transfer</td></tr>"
        b"</table></figure>"
        b"<figure><img src='/a.jpg'><figcaption>The Coinbase app on a phone screen.</figcaption>"
        b"</figure>"
        b"<p>Both platforms let users buy, sell and store digital currencies, but their fees "
        b"differ considerably depending on the amount and the payment method chosen.</p>"
        b"</article></body></html>"
    )
    art = extract_article(html, "https://money.example/coinbase")
    assert "1 GBP withdrawal fee for every transfer" in art.text
    assert "The Coinbase app on a phone screen" not in art.text


def test_text_comes_back_in_nfc() -> None:
    # U+09DF (Bengali YYA) is a composition exclusion: NFC spells it U+09AF U+09BC.
    para = "\u0995\u09c1\u09b7\u09cd\u099f\u09bf\u09df\u09be " * 30
    html = f"<html><body><article><p>{para}</p><p>{para}</p></article></body></html>"
    art = extract_article(html.encode("utf-8"), "https://bd.example/a")
    assert art.text and "\u09df" not in art.text
    assert "\u09af\u09bc" in art.text
