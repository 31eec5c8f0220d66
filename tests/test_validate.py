"""The row-level data-quality gate, with real Great Expectations runs (no mocks).

Every check gets a crafted row that fails it and nothing else, so a check that stops firing,
or one that starts firing on a neighbour's input, shows up here by name. A failed critical check
rejects the row; a failed warning keeps it, with the check's name in ``quality_flags``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from newsflow.schemas.suites import ROW_SUITE, check_thresholds, load_suite
from newsflow.tasks.extract.clean import drop_repeated_lines, drop_title_echo
from newsflow.tasks.quality import gx_context
from newsflow.tasks.quality.validate import (
    ValidationOutcome,
    is_title_echo,
    language_matches,
    paragraph_repeats,
    validate_articles,
)

NOW = datetime.now(UTC)
#: Each check's severity as the suite declares it: results must carry their check's severity,
#: and tuning a severity in the suite JSON needs no edit here.
CHECKS = {e["meta"]["check"]: e["severity"] for e in load_suite(ROW_SUITE)["expectations"]}
WARNINGS = {check for check, severity in CHECKS.items() if severity == "warning"}
RESULT_KEYS = {"suite", "check", "severity", "success", "observed", "unexpected_count"}


def body(words: int, topic: str = "harbour") -> str:
    """Distinct paragraphs of ten words each, so only the checks under test can fail."""
    paragraphs = [
        f"Paragraph {i} on the {topic} plan adds detail {i} here." for i in range(words // 10)
    ]
    return "\n".join(paragraphs)


def make_row(**overrides) -> dict:
    text = overrides.pop("text", body(120))
    row = {
        "article_id": "id-1",
        "url": "https://news.example.org/2025/harbour-plan",
        "source": "alpha",
        "title": "City approves the new harbour plan",
        "text": text,
        "authors": ["Jo Reporter"],
        "published_at": NOW - timedelta(hours=3),
        "language": "en",
        "captions": [{"text": "The harbour at dawn", "credit": "J. Doe", "image_url": None}],
        "word_count": len(text.split()),
        "content_hash": "abc",
        "fetched_at": NOW,
    }
    row.update(overrides)
    return row


def results_by_check(outcome: ValidationOutcome) -> dict[str, dict]:
    return {r["check"]: r for r in outcome.results}


def loaded(row: dict, *flags: str) -> dict:
    """``row`` as validation hands it to the loader: with the warning checks it failed."""
    return {**row, "quality_flags": list(flags)}


# --------------------------------------------------------------------------- pure helpers


def test_title_echo_is_normalised_and_word_bounded():
    assert is_title_echo("City approves plan", "CITY approves   plan!\nMore text follows.")
    assert is_title_echo("“Quoted” title", '"quoted" Title: and then the story')
    assert not is_title_echo("City approves plan", "The city approves plans every year.")
    assert not is_title_echo("Rain", "Rainfall records were broken.")  # word boundary
    assert not is_title_echo(None, "Anything")
    assert not is_title_echo("  ", "Anything")


def test_paragraph_repeats_ignores_short_lines_and_normalises():
    para = "The council met on Tuesday to discuss the harbour."
    text = f"{para}\nAdvertisement\nAdvertisement\n  {para.upper()}  \nSomething else, long enough."
    assert paragraph_repeats(text, 30) == (2, para)
    assert paragraph_repeats("Advertisement\nAdvertisement", 30) == (0, None)
    assert paragraph_repeats("", 30) == (0, None)


# Scripts written with combining marks: Devanagari vowel signs, Thai tone marks, Yoruba tone
# accents (no precomposed form). A normaliser that drops the marks splits words ("राम" → "र म")
# and merges different words ("ข่าว" news, "ข้าว" rice); the cleaner keeps them.
ECHOES = [  # (title, first body line, is it the headline again?)
    ("राम", "रामायण की कथा आज भी सुनाई जाती है", False),  # "Ram" / "the Ramayana is still told"
    ("राम की कथा", "राम की  कथा!", True),
    ("ข่าว", "ข้าว ราคาแพงขึ้นทุกวัน", False),  # "news" / "rice gets dearer every day"
    ("ข่าวเช้า", "ข่าวเช้า!", True),
    ("Ọkọ", "Ọkọ̀ náà dé sí ọjà ní àárọ̀ ànà", False),  # "husband" / "the vehicle arrived …"
    ("Ọkọ̀ náà dé", "ỌKỌ̀ NÁÀ DÉ.", True),
]
REPEATS = [  # (a paragraph, the next one, the same paragraph again?)
    ("राम ने कल शाम को किताब पढ़ी और फिर सो गया।", "राम ने कल शाम को किताब पढ़ा और फिर सो गया।", False),
    (
        "राम ने कल शाम को किताब पढ़ी और फिर सो गया।",
        " राम ने कल शाम को किताब पढ़ी, और फिर सो गया ",
        True,
    ),
    ("ราคาข้าวในตลาดสูงขึ้นมากในสัปดาห์นี้", "ราคาข่าวในตลาดสูงขึ้นมากในสัปดาห์นี้", False),
    ("ราคาข้าวในตลาดสูงขึ้นมากในสัปดาห์นี้", "  ราคาข้าวในตลาดสูงขึ้นมากในสัปดาห์นี้!", True),
    ("Ọkọ̀ náà dé sí ọjà ní àárọ̀ ànà, wọ́n sọ.", "Ọkọ náà dé sí ọjà ní àárọ̀ ànà, wọ́n sọ.", False),
    ("Ọkọ̀ náà dé sí ọjà ní àárọ̀ ànà, wọ́n sọ.", "ọkọ̀ náà dé sí ọjà ní àárọ̀ ànà – wọ́n sọ", True),
]


@pytest.mark.parametrize(("title", "line", "echo"), ECHOES)
def test_title_echo_check_agrees_with_the_cleaner_on_combining_marks(title, line, echo):
    assert (drop_title_echo([line], [title]) == []) == echo  # the cleaner drops the echo
    assert is_title_echo(title, line) == echo  # the row check flags what the cleaner drops


@pytest.mark.parametrize(("first", "second", "same"), REPEATS)
def test_repeated_paragraph_check_agrees_with_the_cleaner_on_combining_marks(first, second, same):
    assert (len(drop_repeated_lines([first, second])) == 1) == same
    assert paragraph_repeats(f"{first}\n{second}", 30)[0] == (2 if same else 1)


def test_language_match_uses_primary_subtag_and_tolerates_unknowns():
    assert language_matches("en-GB", "en")
    assert language_matches("EN_us", "en-GB")
    assert not language_matches("de", "en")
    assert language_matches("de", None)  # source without an expected language
    assert language_matches(None, "en")  # language not detected: cannot be called wrong


def test_suite_json_names_every_check_with_a_severity():
    suite = load_suite(ROW_SUITE)
    assert suite["name"] == "articles_row"
    # every check has a crafted row that fails it (body_present: its own test below)
    assert set(CHECKS) == {*FAILING_ROWS, "body_present"}
    assert set(CHECKS.values()) <= {"critical", "warning"}
    # the quarantine is for what is not an article; everything else only flags
    assert {c for c, severity in CHECKS.items() if severity == "critical"} == {
        "url_http",
        "body_present",
        "not_an_article",
    }


# --------------------------------------------------------------------------- real GX runs


def test_empty_input_gives_empty_outcome_without_running_gx(tmp_path):
    docs = tmp_path / "docs"
    outcome = validate_articles([], data_docs_dir=docs)
    assert outcome == ValidationOutcome(valid=[], rejected=[], results=[])
    assert not docs.exists()  # no context was created, so GX never ran


def test_good_row_passes_every_check():
    row = make_row()
    outcome = validate_articles([row], expected_language={"alpha": "en"})
    assert outcome.valid == [loaded(row)]
    assert outcome.rejected == []
    assert {r["check"]: r["severity"] for r in outcome.results} == CHECKS
    for result in outcome.results:
        assert set(result) == RESULT_KEYS
        assert result["suite"] == "articles_row"
        assert result["success"] is True, result
        assert result["unexpected_count"] == 0
        assert json.loads(result["observed"])["element_count"] == 1


FAILING_ROWS = {
    "url_http": (
        {"url": "ftp://news.example.org/harbour"},
        {"url": "ftp://news.example.org/harbour"},
    ),
    "title_present": ({"title": "   "}, {"title": "   "}),
    "body_min_length": ({"text": body(40)}, {"word_count": 40}),
    "no_title_echo": (
        {"text": "CITY APPROVES the new harbour plan!\n" + body(120)},
        {"title": "City approves the new harbour plan"},
    ),
    "no_repeated_paragraph": (
        {
            "text": body(120)
            + "\nThe mayor said the harbour plan would be finished by spring."
            + "\n  the MAYOR said the harbour plan would be finished by spring  "
        },
        {
            "max_paragraph_repeats": 2,
            "repeated_paragraph": "The mayor said the harbour plan would be finished by spring.",
        },
    ),
    "published_at_not_in_future": (
        {"published_at": NOW + timedelta(days=3)},
        {"published_at": (NOW + timedelta(days=3)).isoformat()},
    ),
    "published_at_not_too_old": (
        {"published_at": datetime(1990, 5, 1, tzinfo=UTC)},
        {"published_at": "1990-05-01T00:00:00+00:00"},
    ),
    "language_as_configured": ({"language": "de"}, {"language": "de"}),
    "not_an_article": (
        {
            "title": "Page not found",
            "text": "Sorry, the page you were looking for does not exist. Try the search.",
        },
        {"page_kind": "page not found", "title": "Page not found"},
    ),
}


@pytest.mark.parametrize("check", sorted(FAILING_ROWS))
def test_each_check_fails_alone_for_its_crafted_row(check):
    overrides, observed = FAILING_ROWS[check]
    if check == "not_an_article":  # a stub is short by nature: only the wall is under test
        overrides = {**overrides, "word_count": 80}
    good, bad = make_row(url="https://news.example.org/good"), make_row(**overrides)
    outcome = validate_articles([good, bad], expected_language={"alpha": "en"})

    results = results_by_check(outcome)
    assert results[check]["unexpected_count"] == 1
    assert {c for c, r in results.items() if r["unexpected_count"]} == {check}
    seen = json.loads(results[check]["observed"])
    assert seen["sample_urls"] == [bad["url"]]
    assert seen["by_source"] == {"alpha": 1}
    if check in WARNINGS:  # kept, flagged: nothing real is thrown away
        assert outcome.valid == [loaded(good), loaded(bad, check)]
        assert outcome.rejected == []
        return
    assert outcome.valid == [loaded(good)]
    [rejection] = outcome.rejected
    assert rejection.record is bad
    assert rejection.failed_checks == [check]
    for column, value in observed.items():
        assert rejection.details[check]["observed"][column] == value
    assert rejection.details[check]["expected"]
    json.dumps(rejection.details)  # JSON-serialisable, as rejected_articles stores it


def test_a_rejected_row_lists_its_warnings_too():
    bad = make_row(url="ftp://news.example.org/x", text=body(40))
    outcome = validate_articles([bad])
    [rejection] = outcome.rejected
    assert rejection.failed_checks == ["url_http", "body_min_length"]
    assert rejection.details["body_min_length"]["observed"] == {"word_count": 40}
    assert outcome.valid == []


def test_body_present_fails_alone_when_length_threshold_is_zero():
    bad = make_row(text="  \n ", word_count=0)
    outcome = validate_articles([make_row(), bad], thresholds={"min_words": 0})
    [rejection] = outcome.rejected
    assert rejection.failed_checks == ["body_present"]
    assert rejection.details["body_present"]["observed"] == {"body_chars": 0}


def test_missing_url_is_rejected_as_not_http():
    outcome = validate_articles([make_row(url=None)])
    [rejection] = outcome.rejected
    assert rejection.failed_checks == ["url_http"]
    assert rejection.details["url_http"]["observed"] == {"url": None}


def test_missing_published_at_and_language_are_allowed():
    row = make_row(published_at=None, language=None)
    outcome = validate_articles([row], expected_language={"alpha": "en"})
    assert outcome.valid == [loaded(row)]


def test_row_failing_two_warnings_is_loaded_with_both_flags():
    short = make_row(text=body(30), published_at=NOW + timedelta(days=2))
    outcome = validate_articles([short])
    assert outcome.rejected == []
    assert outcome.valid == [loaded(short, "body_min_length", "published_at_not_in_future")]
    results = results_by_check(outcome)
    assert results["body_min_length"]["unexpected_count"] == 1
    example = json.loads(results["body_min_length"]["observed"])["example"]
    assert example["observed"] == {"word_count": 30}
    assert example["expected"] == "at least 80 words"
    future = json.loads(results["published_at_not_in_future"]["observed"])["example"]
    assert future["observed"]["published_at"] == short["published_at"].isoformat()
    assert future["expected"].startswith(f"published_at <= {(NOW + timedelta(days=1)).isoformat()}")


def test_one_batch_maps_every_failing_row_to_its_own_check():
    """All crafted rows in one GX run: indices must map back to the right records."""
    bad_rows = {
        check: make_row(url=f"https://news.example.org/{check}", **over)
        for check, (over, _) in FAILING_ROWS.items()
        if check != "url_http"
    }
    good = [make_row(url=f"https://news.example.org/good-{i}") for i in range(3)]
    rows = good[:1] + list(bad_rows.values()) + good[1:]
    outcome = validate_articles(rows, expected_language={"alpha": "en"})
    flagged = {c: r for c, r in bad_rows.items() if c in WARNINGS}
    assert outcome.valid == [
        loaded(good[0]),
        *(loaded(row, check) for check, row in flagged.items()),
        *(loaded(row) for row in good[1:]),
    ]
    # the wall is short too: rejected for not being an article, its length listed as well
    assert {r.record["url"]: r.failed_checks for r in outcome.rejected} == {
        bad_rows["not_an_article"]["url"]: ["not_an_article", "body_min_length"]
    }


def test_per_source_threshold_override():
    alpha = make_row(source="alpha", url="https://a.example.org/1", text=body(50))
    beta = make_row(source="beta", url="https://b.example.org/1", text=body(50))
    outcome = validate_articles([alpha, beta], source_thresholds={"beta": {"min_words": 40}})
    assert outcome.valid == [loaded(alpha, "body_min_length"), loaded(beta)]
    example = json.loads(results_by_check(outcome)["body_min_length"]["observed"])["example"]
    assert example["url"] == alpha["url"] and example["expected"] == "at least 80 words"

    # A global threshold applies to every source; a per-source one still wins over it.
    outcome = validate_articles(
        [alpha, beta], thresholds={"min_words": 45}, source_thresholds={"beta": {"min_words": 60}}
    )
    assert outcome.valid == [loaded(alpha), loaded(beta, "body_min_length")]
    example = json.loads(results_by_check(outcome)["body_min_length"]["observed"])["example"]
    assert example["url"] == beta["url"] and example["expected"] == "at least 60 words"


def test_unknown_threshold_is_a_config_error():
    with pytest.raises(ValueError, match="min_wrods"):
        validate_articles([make_row()], source_thresholds={"alpha": {"min_wrods": 10}})
    with pytest.raises(ValueError, match="min_words"):
        validate_articles([make_row()], thresholds={"min_words": "many"})
    # The same check, for the config loader to call at start-up.
    assert check_thresholds({"min_words": 40, "earliest_published": "2000-01-01"}) == {
        "min_words": 40,
        "earliest_published": pd.Timestamp("2000-01-01", tz="UTC"),
    }
    with pytest.raises(ValueError, match=r"sources\[0\]\.checks.*max_future_days"):
        check_thresholds({"max_future_days": -1}, where="sources[0].checks")


def test_language_mismatch_only_for_the_source_that_expects_a_language():
    alpha = make_row(source="alpha", url="https://a.example.org/1", language="de")
    beta = make_row(source="beta", url="https://b.example.org/1", language="de")
    gamma = make_row(source="gamma", url="https://c.example.org/1", language="en-GB")
    outcome = validate_articles(
        [alpha, beta, gamma], expected_language={"alpha": "en", "beta": None, "gamma": "en"}
    )
    assert outcome.rejected == []
    assert outcome.valid == [loaded(alpha, "language_as_configured"), loaded(beta), loaded(gamma)]
    example = json.loads(results_by_check(outcome)["language_as_configured"]["observed"])["example"]
    assert example == {
        "url": alpha["url"],
        "observed": {"language": "de"},
        "expected": "language en",
    }


def test_mostly_decides_batch_success_but_every_failing_row_is_rejected():
    """Severity applies to the batch: one empty page in ten is rejected without failing the
    critical body_present check; half the batch empty fails it."""

    def batch(empty: int) -> list[dict]:
        return [
            make_row(url=f"https://news.example.org/{i}", text="" if i < empty else body(120))
            for i in range(10)
        ]

    one = validate_articles(batch(1))
    assert len(one.rejected) == 1
    assert results_by_check(one)["body_present"]["success"] is True
    assert results_by_check(one)["body_present"]["unexpected_count"] == 1

    half = validate_articles(batch(5))
    assert len(half.rejected) == 5
    body_present = results_by_check(half)["body_present"]
    assert (body_present["success"], body_present["severity"]) == (False, CHECKS["body_present"])
    observed = json.loads(body_present["observed"])
    assert observed["unexpected_percent"] == 50.0
    assert observed["max_unexpected_percent"] == 20.0
    assert len(observed["sample_urls"]) == 5


def test_data_docs_site_is_built_and_shows_the_latest_run(tmp_path, monkeypatch):
    monkeypatch.setattr(gx_context, "KEEP_VALIDATIONS", 2)
    docs = tmp_path / "docs"
    rows = [make_row(), make_row(url="ftp://bad.example.org/x")]
    pages = []
    for run in ("run-1", "run-2", "run-3"):
        outcome = validate_articles(rows, data_docs_dir=docs, run_id=run)
        assert [r.failed_checks for r in outcome.rejected] == [["url_http"]]
        pages.append(outcome.data_docs_page)

    index = (docs / "index.html").read_text("utf-8")
    assert "run-3" in index and "run-2" in index
    assert pages[-1].is_file() and pages[-1].is_relative_to(docs.resolve())
    assert "url_text" in pages[-1].read_text("utf-8")  # the rendered validation of the row suite
    # Only the newest KEEP_VALIDATIONS results are kept, and their pages with them.
    assert "run-1" not in index
    assert not pages[0].exists()
    assert len(list((docs / "gx" / "uncommitted" / "validations").rglob("*.json"))) == 2
