"""URL identity: the same article reached in different ways is one key."""

import pytest

from newsflow.tasks.fetch.urls import (
    article_id,
    canonical_url,
    host_key,
    normalise_url,
    url_problem,
)


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


@pytest.mark.parametrize(
    "raw",
    [
        "http://a.example:99999/x",  # port out of range
        "http://a.example:abc/x",  # port not a number
        "http://[::1/x",  # unclosed IPv6 literal
        "http://[fe80::zz]/x",  # not an IPv6 address
    ],
)
def test_a_malformed_url_is_its_own_key_not_an_error(raw):
    """One bad link in a feed must not fail the run at "poll feeds": it keys as itself."""
    assert normalise_url(f"  {raw} ") == raw
    assert url_problem(raw) is not None and url_problem(raw).startswith("invalid_url: ")


def test_url_problem_says_what_is_wrong():
    assert url_problem("https://a.example/x") is None
    assert url_problem("http://a.example:99999/x") == "invalid_url: Port out of range 0-65535"
    assert url_problem("ftp://a.example/x").startswith("scheme: ")
    assert url_problem("http://user:pw@a.example/").startswith("userinfo: ")
    assert url_problem("http:///x") == "invalid_url: no host in URL"


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


def test_one_host_key_however_the_host_is_spelled():
    """Politeness (one request at a time per host) and robots.txt share this key, so spellings
    of one origin must not count as two hosts."""
    key = ("http", "a.example", 80)
    for url in ("http://a.example/x", "HTTP://A.Example:80/y", "http://a.example:80"):
        assert host_key(url) == key
    assert host_key("https://a.example/") == ("https", "a.example", 443)
    assert host_key("https://a.example:8443/") == ("https", "a.example", 8443)
    assert host_key("http://[::1]:8080/") == ("http", "::1", 8080)


@pytest.mark.parametrize(
    "url", ["http://a.example:99999/x", "http://[::1/x", "ftp://a.example/", "http:///x", "x"]
)
def test_no_host_key_for_what_is_never_fetched(url):
    assert host_key(url) is None
