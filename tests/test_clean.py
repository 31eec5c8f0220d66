# ruff: noqa: E501  (realistic test sentences read better unbroken)
"""Cleaning rules, one at a time, on text as extractors really emit it."""

from __future__ import annotations

import pytest

from newsflow.tasks.extract.clean import (
    clean_lines,
    drop_author_bio,
    drop_caption_lines,
    drop_chrome_lines,
    drop_credit_lines,
    drop_related_tail,
    drop_repeated_lines,
    drop_title_echo,
    is_chrome_line,
    is_credit_line,
    split_credit,
)
from newsflow.tasks.extract.clean_normalise import normalise_line

TITLE = "US, Türkiye Pledge to Deepen Their Defense Partnership"
CAPTION = (
    "US President Joe Biden and Turkish President Tayyip Erdogan pose for a photo as they attend a "
    "bilateral meeting, on the sidelines of the G20 leaders' summit in Rome, Italy October 31, 2021. (Reuters)"
)
BODY = [
    "The United States and Türkiye reaffirmed their strong cooperation as partners and NATO allies, "
    "pledging to further deepen and strengthen their defense partnership.",
    "The announcement was made during the third meeting of the US-Türkiye Strategic Mechanism Dialogue "
    "held in Washington on Thursday.",
]


# --- normalisation
# ---------------------------------------------------------------------------------------------


def test_normalise_folds_case_punctuation_unicode_forms() -> None:
    assert normalise_line("US, Türkiye Pledge | Site") == "us türkiye pledge site"
    assert normalise_line("“Quoted” — text") == normalise_line('"quoted" - TEXT')
    assert normalise_line("ＡＢＣ Straße") == "abc strasse"  # NFKC full-width, casefold ß
    assert (
        normalise_line("हिन्दी समाचार!") == "हिन्दी समाचार"
    )  # combining vowel signs stay in the word


# --- title echo
# ------------------------------------------------------------------------------------------------


def test_title_echo_exact_and_case_punctuation_variants() -> None:
    lines = [TITLE, "us türkiye pledge to deepen their defense partnership.", *BODY]
    assert drop_title_echo(lines, [TITLE]) == BODY


def test_title_echo_with_kicker_prefix_and_site_suffix() -> None:
    lines = [f"Politics: {TITLE}", *BODY, f"{TITLE} | Asharq Al-Awsat"]
    assert drop_title_echo(lines, [TITLE]) == BODY


def test_title_echo_when_the_page_title_carries_the_site_name() -> None:
    # The metadata title is "Title | Site"; the body repeats the bare headline.
    assert drop_title_echo([TITLE, *BODY], [f"{TITLE} | Asharq Al-Awsat"]) == BODY


def test_title_echo_near_match_one_word_changed() -> None:
    near = "US, Türkiye Pledge to Deepen Their Defence Partnership"
    assert drop_title_echo([near, *BODY], [TITLE]) == BODY


def test_title_echo_keeps_a_paragraph_that_merely_starts_like_the_title() -> None:
    para = (
        f"{TITLE} was the headline in Ankara on Friday, but officials in both capitals said the details "
        "of the arrangement would take months to settle."
    )
    assert drop_title_echo([para, *BODY], [TITLE]) == [para, *BODY]


def test_title_echo_short_title_only_exact() -> None:
    lines = ["Obituary", "Obituary notices are published on Fridays in the print edition."]
    assert drop_title_echo(lines, ["Obituary"]) == lines[1:]


# --- repeated lines
# --------------------------------------------------------------------------------------------


def test_repeated_paragraph_keeps_first_copy_with_normalised_comparison() -> None:
    copy = BODY[0].replace("Türkiye", "TÜRKIYE").replace(",", "")
    assert drop_repeated_lines([BODY[0], BODY[1], copy]) == BODY


def test_short_repeated_fields_of_a_listicle_are_kept_unless_adjacent() -> None:
    lines = [
        "Ashridge Estate, Hertfordshire",
        "Easter adventure trail 23 March–7 April. nationaltrust.org.uk",
        "Belton House, Lincolnshire",
        "Easter adventure trail 23 March–7 April. nationaltrust.org.uk",
        "Belton House, Lincolnshire",
        "Belton House, Lincolnshire",
    ]
    assert drop_repeated_lines(lines) == lines[:5]


# --- captions and credits
# --------------------------------------------------------------------------------------


def test_caption_lines_from_the_sample_are_removed_with_and_without_credit() -> None:
    caption_text = CAPTION.removesuffix(" (Reuters)")
    lines = [CAPTION, CAPTION, caption_text, *BODY]
    assert drop_caption_lines(lines, [caption_text]) == BODY
    assert drop_caption_lines(lines, [CAPTION]) == BODY


def test_caption_line_that_is_also_page_prose_stays() -> None:
    lead = BODY[0]
    assert (
        drop_caption_lines([lead, BODY[1]], [lead], page_prose=lambda: {normalise_line(lead)})
        == BODY
    )
    assert drop_caption_lines([lead, BODY[1]], [lead], page_prose=lambda: set()) == [BODY[1]]


def test_short_alt_texts_do_not_remove_subheadings() -> None:
    lines = ["Background", *BODY]
    assert drop_caption_lines(lines, ["Background", "Logo"]) == lines


@pytest.mark.parametrize(
    ("caption", "text", "credit"),
    [
        (CAPTION, CAPTION.removesuffix(" (Reuters)"), "Reuters"),
        (
            "Ukraine's President Volodymyr Zelenskiy speaks in Brussels, December 19, 2024. REUTERS/Johanna Geron",
            "Ukraine's President Volodymyr Zelenskiy speaks in Brussels, December 19, 2024.",
            "REUTERS/Johanna Geron",
        ),
        (
            "Crowds on the quay at dawn. Photo: Jane Doe / AFP",
            "Crowds on the quay at dawn.",
            "Jane Doe / AFP",
        ),
        (
            "Protesters outside parliament. Photograph: Sam Lee/PA",
            "Protesters outside parliament.",
            "Sam Lee/PA",
        ),
        (
            "Flags outside the embassy (AP Photo/Mark Schiefelbein)",
            "Flags outside the embassy",
            "AP Photo/Mark Schiefelbein",
        ),
        ("The harbour at night. Credit: Harbour Post", "The harbour at night.", "Harbour Post"),
        ("A voter casts her ballot. Getty Images", "A voter casts her ballot.", "Getty Images"),
        (
            "A voter casts her ballot. John Smith/Getty Images",
            "A voter casts her ballot.",
            "John Smith/Getty Images",
        ),
        ("A quiet street in the old town.", "A quiet street in the old town.", None),
    ],
)
def test_split_credit(caption: str, text: str, credit: str | None) -> None:
    assert split_credit(caption) == (text, credit)


def test_credit_split_does_not_eat_reporting() -> None:
    sentence = "In this video, Mayor London Breed flat out denies that theft was a problem."
    assert split_credit(sentence) == (sentence, None)
    sentence = "The figures were first reported by Reuters."
    assert split_credit(sentence) == (sentence, None)


def test_credit_lines_and_uncollected_captions_with_photographer_credit_are_dropped() -> None:
    lines = [
        "Photo: Jonas Berg / Harbour Post",
        "REUTERS/Johanna Geron",
        "(Getty Images)",
        "Ukraine's President speaks at a summit in Brussels, December 19, 2024. REUTERS/Johanna Geron",
        *BODY,
        "Credit: Jed Cullen/Dave Benett/Getty",
    ]
    assert drop_credit_lines(lines) == BODY
    assert is_credit_line("Photo by Jane Doe on Unsplash")
    assert not is_credit_line("Reuters reported the deal on Monday.")


# --- chrome
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "TT",
        "Share",
        "Advertisement",
        "Read more",
        "Read more: Council approves budget for harbour dredging",
        "Sign up for our morning briefing and get the day's local news in your inbox.",
        "Follow us on Twitter and Facebook",
        "Facebook Twitter Email",
        "Skip Advertisement",
        "Story continues below advertisement",
        "•",
        "Swipe →",
    ],
)
def test_chrome_lines(line: str) -> None:
    assert is_chrome_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "Share prices fell 3 per cent on Monday after the results.",
        "Advertisement revenue rose for the first time in five years, the company said.",
        "Read the full report on the council's website before the meeting on Thursday, officials urged.",
        "Follow-up inspections are planned for the spring.",
        "No.",
    ],
)
def test_sentences_are_not_chrome(line: str) -> None:
    assert not is_chrome_line(line)


def test_drop_chrome_lines_keeps_order() -> None:
    assert drop_chrome_lines(["TT", BODY[0], "Share", BODY[1], "Advertisement"]) == BODY


# --- related tail and author bio
# -------------------------------------------------------------------------------


def test_related_block_after_the_article_is_cut() -> None:
    lines = [
        *BODY,
        "Officials said the next round of talks would take place in Ankara in the spring.",
        "More from Asharq Al-Awsat",
        "Prices rise again as winter heating costs bite across the region.",
        "Opposition leaders call for early elections after the budget vote.",
    ]
    assert drop_related_tail(lines) == lines[:3]


def test_related_heading_followed_by_long_paragraphs_is_the_article_going_on() -> None:
    long_para = " ".join(
        ["The delegations discussed energy supply and grain shipments in detail."] * 6
    )
    lines = [*BODY, "Popular", long_para]
    assert drop_related_tail(lines) == lines


def test_author_bio_at_the_end_is_dropped() -> None:
    bio = "Chris Doe is a writer for Harbour Post Digital. Send tips to chris.doe@example.org."
    assert drop_author_bio([*BODY, bio]) == BODY
    own = "Jane Roe covers energy and transport for the Post from Oslo."
    assert drop_author_bio([*BODY, own], ["Jane Roe"]) == BODY
    # Far from the end, the same shape is reporting about someone.
    assert drop_author_bio([bio, *BODY, *BODY, *BODY]) == [bio, *BODY, *BODY, *BODY]


# --- the sample file's artifacts, all rules together
# -----------------------------------------------------------


def test_sample_artifacts_title_twice_captions_twice_and_tt() -> None:
    extracted = [TITLE, "", CAPTION, CAPTION, "TT", "", TITLE, "", CAPTION, CAPTION, "", *BODY]
    cleaned = clean_lines(extracted, titles=[TITLE], captions=[CAPTION.removesuffix(" (Reuters)")])
    assert cleaned == BODY


def test_clean_lines_is_idempotent() -> None:
    extracted = [TITLE, CAPTION, "TT", *BODY, "Share", BODY[0]]
    once = clean_lines(extracted, titles=[TITLE], captions=[CAPTION])
    assert clean_lines(once, titles=[TITLE], captions=[CAPTION]) == once == BODY


def test_a_one_word_quoted_reply_is_not_chrome() -> None:
    # An interview's answer in German quotes ("– „Ok.“"): a sentence, however short.
    assert not is_chrome_line("– „Ok.“")
    assert not is_chrome_line("“No.”")
    assert is_chrome_line("TT")


def test_a_table_layout_line_ending_in_the_site_copyright_is_not_a_caption() -> None:
    # A table-layout blog post: the extractor gives one line holding the whole post, closed by
    # the site's copyright notice.
    line = (
        "Zusammenarbeit Shuji ./. Walter April 2018 I Posted 11. April 2018 by Walter von Aachen "
        "Standorte Shuji: Japan. Walter: Deutschland. Filmmaterial Fuji X-TRA 400. Kameras Shuji: "
        "Widelux. Walter: PENTAX Z-1 p. Belichtungsfolge Shuji. Walter. Copyright © 2018. All "
        "Rights Reserved."
    )
    assert drop_credit_lines([line]) == [line]
    # A caption that closes with a photographer's copyright still goes.
    assert drop_credit_lines(["Boats in the harbour at dawn. © Jane Doe/Harbour Post"]) == []
