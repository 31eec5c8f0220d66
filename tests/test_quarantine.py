"""The quarantine keeps real articles: only a failed critical check (no URL, no body, not an
article) sends a record to ``rejected_articles``; a failed warning loads it with the check's
name in ``quality_flags``. Pure rules first, then a real run (loopback site, Prefect flow,
Great Expectations, DuckDB) of tests/quarantine_site.py."""

from __future__ import annotations

import json

import duckdb
import pytest

from newsflow.flows.ingest import ingest
from newsflow.schemas.config import Config, FetchConfig, SourceConfig, WarehouseConfig
from newsflow.tasks.extract.clean import drop_repeated_lines
from newsflow.tasks.extract.repeats import count_lines, drop_copies
from newsflow.tasks.quality import page_kind
from newsflow.tasks.quality.validate import body_of, paragraph_repeats
from tests.quarantine_site import BRIEF, NOT_ARTICLES, QUESTION, serve
from tests.servers import LoopbackServer

# --------------------------------------------------------------------------- one repeat rule

LONG = "The harbour board said the new timetable would be reviewed after the first month."


def test_the_cleaner_drops_copies_and_keeps_short_repeats_further_on():
    lines = ["Intro line of the story.", QUESTION, "An answer.", LONG, QUESTION, LONG, "End."]
    kept = drop_copies(lines)
    assert kept == ["Intro line of the story.", QUESTION, "An answer.", LONG, QUESTION, "End."]
    assert drop_repeated_lines(lines) == kept  # clean.py's name for the same rule
    # a short line doubled in place is a copy too; keys under eight characters never are
    assert drop_copies(["Read more here", "READ MORE HERE!", "Q:", "x", "Q:"]) == [
        "Read more here",
        "Q:",
        "x",
        "Q:",
    ]


def test_the_check_sees_exactly_the_repeats_the_cleaner_keeps():
    body = drop_copies([QUESTION, "An answer of some length.", QUESTION, LONG, LONG])
    assert [(line, n) for line, n in count_lines(body) if n > 1] == [(QUESTION, 2)]
    assert paragraph_repeats("\n".join(body), 30) == (2, QUESTION)
    assert paragraph_repeats("\n".join(body), 60) == (1, None)  # min_paragraph_chars still tunes


# --------------------------------------------------------------------------- not an article

ARTICLE = (
    "The harbour board approved its budget on Tuesday night after a four-hour debate, with "
    "spending on the outer channel doubled and the fish market's new cold store paid for in "
    "full. Members said the vote came late because the ferry operator's figures arrived on "
    "the day of the meeting."
)


@pytest.mark.parametrize(
    ("title", "text", "kind"),
    [
        ("404 Not Found", "The requested URL was not found on this server.", page_kind.NOT_FOUND),
        ("Oops", "We can't find that page. It may have moved.", page_kind.NOT_FOUND),
        ("Seite nicht gefunden", "Die Seite existiert nicht mehr.", page_kind.NOT_FOUND),
        (
            "Dredging deal",
            "A Rotterdam firm wins the contract.\nSubscribe to continue reading.",
            page_kind.PAYWALL,
        ),
        (
            "Ferry",
            "To read the full article, log in or subscribe.\nAlready a subscriber? Sign in.",
            page_kind.PAYWALL,
        ),
        (
            "Harbour Post",
            "We value your privacy\nWe and our partners use cookies.\nAccept all\nReject all",
            page_kind.CONSENT,
        ),
        ("Route 404 reopens", "Route 404 reopens on Monday after repairs, the council said.", None),
        ("Budget", ARTICLE, None),
        # an article that ends with a wall notice is an article (a teaser and the notice: a stub)
        ("Budget", f"{ARTICLE}\n{ARTICLE}\n{ARTICLE}\nSubscribe to continue reading.", None),
        # a brief with a stray cookie line left in is a brief
        ("Fares", f"{BRIEF}\nWe use cookies.", None),
    ],
)
def test_walls_are_named_and_articles_are_not(title, text, kind):
    assert page_kind.not_an_article("https://news.example.org/a/b.html", title, text) == kind


HEADLINES = "\n".join(
    [
        "Ferry fares frozen for winter",
        "Harbour budget approved after late-night vote",
        "Dredging contract goes to Dutch firm",
        "Lifeboat crew named volunteers of the year",
        "Old pier to close for repairs in spring",
        "Fish market opens new cold store",
        "School roof repairs finished early",
        "Rowing club wins coastal regatta",
    ]
)


def test_a_page_of_headlines_is_an_index_and_a_listicle_with_prose_is_not():
    story = "https://news.example.org/2026/11/story.html"
    assert page_kind.not_an_article(story, "Latest", HEADLINES) == page_kind.INDEX
    assert page_kind.not_an_article(story, "Ten things", f"{HEADLINES}\n{ARTICLE}") is None
    # a listing URL with a line or two and no paragraph of prose
    tag = "https://news.example.org/tag/ferries/"
    assert page_kind.not_an_article(tag, "Ferries", "Ferry fares frozen\nNew timetable") == (
        page_kind.INDEX
    )
    assert page_kind.not_an_article(tag, "Ferries", ARTICLE) is None
    assert page_kind.not_an_article(None, "x", "Ferry fares frozen") is None  # url_http's job


def test_a_picture_and_its_summary_have_no_body():
    summary = "A photograph of the season's first hard frost on the orchards above Lindenford."
    caption = [{"text": "Frost coats the orchard", "credit": None, "image_url": None}]
    assert body_of(summary, summary, caption) is None
    assert body_of(summary, summary, []) == summary  # a brief without a picture is real
    assert body_of(f"{summary}\nThe frost lasted all day.", summary, caption)
    assert body_of("  \n", None, None) is None


# --------------------------------------------------------------------------- a real run


@pytest.fixture(scope="module")
def run(prefect_harness, tmp_path_factory):
    db = str(tmp_path_factory.mktemp("quarantine") / "news.duckdb")
    with LoopbackServer() as server:
        config = Config(
            warehouse=WarehouseConfig(path=db),
            fetch=FetchConfig(allow_private=[server.host_port], per_host_delay_s=0.0, retries=0),
            sources=[SourceConfig(name="harbour-post", feed=serve(server))],
        )
        summary = ingest(config=config, db=db)
    with duckdb.connect(db, read_only=True) as con:
        articles = {
            url.split("/", 3)[3]: (flags, words, text)
            for url, flags, words, text in con.execute(
                "SELECT url, quality_flags, word_count, text FROM articles"
            ).fetchall()
        }
        rejected = {
            url.split("/", 3)[3]: (checks, json.loads(details))
            for url, checks, details in con.execute(
                "SELECT url, failed_checks, details FROM rejected_articles"
            ).fetchall()
        }
        errors = con.execute("SELECT url, error FROM raw_pages WHERE error IS NOT NULL").fetchall()
        dq = con.execute(
            'SELECT "check", severity, unexpected_count FROM dq_results '
            "WHERE suite = 'articles_row' AND unexpected_count > 0 ORDER BY 1"
        ).fetchall()
    return {
        "summary": summary,
        "articles": articles,
        "rejected": rejected,
        "errors": errors,
        "dq": dq,
    }


def test_a_30_word_brief_is_loaded_with_a_flag(run):
    flags, words, text = run["articles"]["news/ferry-fares-frozen.html"]
    assert (words, text) == (30, BRIEF)
    assert flags == ["body_min_length"]


def test_a_faq_that_repeats_its_question_is_loaded_with_a_flag(run):
    flags, _, text = run["articles"]["news/winter-timetable-faq.html"]
    assert text.split("\n").count(QUESTION) == 2  # the cleaner kept it: it is content
    assert flags == ["no_repeated_paragraph"]


def test_ordinary_stories_are_clean(run):
    stories = {
        p: a for p, a in run["articles"].items() if p.endswith(("-plan.html", "budget.html"))
    }
    assert len(stories) == 15
    assert all(flags == [] and words > 80 for flags, words, _ in stories.values())


def test_only_what_is_not_an_article_is_rejected(run):
    assert set(run["rejected"]) == {path.lstrip("/") for path in NOT_ARTICLES}
    for path, kind in NOT_ARTICLES.items():
        checks, details = run["rejected"][path.lstrip("/")]
        if path == "/news/" and checks[0] == "body_present":  # no text kept: no body at all
            continue
        assert checks[0] == "not_an_article", path
        assert details["not_an_article"]["observed"]["page_kind"] == kind
    assert not set(run["rejected"]) & set(run["articles"])
    assert run["errors"] == []  # every page answered HTML: nothing is only a page error
    summary = run["summary"]
    assert summary.status == "completed"
    assert summary.loaded.new == 17 and len(summary.rejected) == 4


def test_dq_results_count_flags_and_rejects_as_before(run):
    counts = {check: (severity, n) for check, severity, n in run["dq"]}
    rejected = counts.pop("not_an_article")[1] + counts.pop("body_present", ("", 0))[1]
    assert rejected == 4
    assert counts.pop("no_repeated_paragraph") == ("warning", 1)
    severity, short = counts.pop("body_min_length")
    assert severity == "warning" and short >= 4  # the brief, and the stubs that are short too
    assert counts == {}
