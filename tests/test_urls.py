"""URL identity: the same article reached in different ways is one key."""

import pytest

from newsflow.tasks.fetch.urls import article_id, canonical_url, normalise_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "HTTPS://www.Example.se:443/nyheter/a/?utm_source=rss&id=5#comments",
            "https://www.example.se/nyheter/a/?id=5",
        ),
        ("http://example.org:80/a?b=2&a=1", "http://example.org/a?a=1&b=2"),
        ("http://example.org/a?fbclid=x&gclid=y&mc_cid=z", "http://example.org/a"),
        ("http://127.0.0.1:8765/x.html?utm_medium=feed", "http://127.0.0.1:8765/x.html"),
        ("http://example.org", "http://example.org/"),
    ],
)
def test_normalise(raw, expected):
    assert normalise_url(raw) == expected


def test_same_site_canonical_wins():
    assert (
        canonical_url(
            "https://example.org/amp/story-1?utm_source=x", "https://www.example.org/story-1"
        )
        == "https://www.example.org/story-1"
    )


def test_relative_canonical_is_resolved():
    assert canonical_url("https://example.org/a/b.html", "/a/b") == "https://example.org/a/b"


@pytest.mark.parametrize(
    "declared",
    ["https://partner.example.com/story-1", "https://example.org/", "javascript:alert(1)", ""],
)
def test_foreign_home_or_bogus_canonical_is_ignored(declared):
    assert canonical_url("https://example.org/story-1", declared) == "https://example.org/story-1"


def test_article_id_is_stable_and_short():
    first = article_id("https://example.org/story-1")
    assert first == article_id("https://example.org/story-1")
    assert len(first) == 16 and first != article_id("https://example.org/story-2")
