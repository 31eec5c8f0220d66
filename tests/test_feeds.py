"""Feed parsing: the three formats, broken feeds, hostile prologs, GUID reuse."""

from datetime import UTC, datetime

from newsflow.schemas.records import FetchResult
from newsflow.tasks.fetch.feeds import feed_headers, parse_feed, poll_result

RSS2 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Gazette</title><link>https://gazette.example/</link>
<item><title>Ferry strike ends</title><link>https://gazette.example/ferry.html</link>
<guid isPermaLink="false">gz-1</guid><pubDate>Fri, 27 Nov 2026 10:00:00 +0100</pubDate></item>
<item><title>Council votes</title><link>https://gazette.example/council.html</link>
<guid isPermaLink="false">gz-2</guid></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Courier</title><id>urn:courier</id>
<updated>2026-11-27T10:00:00Z</updated>
<entry><title>Bridge reopens</title><id>urn:courier:1</id>
<link rel="alternate" href="https://courier.example/bridge.html"/>
<published>2026-11-26T08:30:00-05:00</published><updated>2026-11-26T09:00:00Z</updated></entry>
</feed>"""

RDF = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://wire.example/"><title>Wire</title><link>https://wire.example/</link>
<items><rdf:Seq><rdf:li rdf:resource="https://wire.example/a.html"/></rdf:Seq></items></channel>
<item rdf:about="https://wire.example/a.html"><title>Storm warning</title>
<link>https://wire.example/a.html</link><dc:date>2026-11-25T12:00:00+00:00</dc:date></item>
</rdf:RDF>"""


def test_rss2_entries_with_utc_dates():
    parsed = parse_feed(RSS2, "gazette", url="https://gazette.example/rss.xml")
    assert parsed.error is None and parsed.warning is None
    assert [e.entry_id for e in parsed.entries] == ["gz-1", "gz-2"]
    assert parsed.entries[0].published_at == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert parsed.entries[1].published_at is None
    assert parsed.entries[0].title == "Ferry strike ends"


def test_atom_entry():
    (entry,) = parse_feed(ATOM, "courier", url="https://courier.example/atom.xml").entries
    assert entry.url == "https://courier.example/bridge.html"
    assert entry.entry_id == "urn:courier:1"
    assert entry.published_at == datetime(2026, 11, 26, 13, 30, tzinfo=UTC)


def test_rss1_rdf_entry():
    (entry,) = parse_feed(RDF, "wire", url="https://wire.example/index.rdf").entries
    assert entry.url == "https://wire.example/a.html"
    assert entry.published_at == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_entity_declaration_is_refused_before_parsing():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        + RSS2[39:]
    )
    parsed = parse_feed(bomb, "s", url="https://x.example/rss")
    assert parsed.entries == []
    assert parsed.error.startswith("entities:")


def test_malformed_feed_with_entries_is_used_with_a_warning():
    broken = RSS2.replace(b"</channel></rss>", b"<item><title>A & B</title>")
    parsed = parse_feed(broken, "s", url="https://gazette.example/rss.xml")
    assert len(parsed.entries) >= 2
    assert parsed.error is None
    assert parsed.warning.startswith("malformed but usable")


def test_malformed_feed_without_entries_is_an_error():
    parsed = parse_feed(b"<rss><channel><title>x &", "s", url="https://x.example/rss")
    assert parsed.entries == [] and parsed.error.startswith(("malformed", "not_a_feed"))


def test_feed_cut_off_inside_its_first_item_is_an_error():
    # feedparser's loose parser returns one entry without a link: nothing usable, so an error.
    cut = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>Cut'
    parsed = parse_feed(cut, "s", url="https://x.example/rss")
    assert parsed.entries == []
    assert parsed.error.startswith("malformed:") and "no entry with a link" in parsed.error


def test_html_instead_of_a_feed():
    parsed = parse_feed(
        b"<!doctype html><html><body><p>Hi</p></body></html>", "s", url="https://x/"
    )
    assert parsed.error.startswith("not_a_feed")


def test_empty_body():
    assert parse_feed(b"  \n", "s", url="https://x/").error.startswith("empty")


def test_reused_guid_keeps_entries_apart():
    reused = RSS2.replace(b"gz-2", b"gz-1")
    ids = [e.entry_id for e in parse_feed(reused, "s", url="https://gazette.example/rss").entries]
    assert len(set(ids)) == 2


def test_missing_guid_falls_back_to_link():
    no_guid = RSS2.replace(b'<guid isPermaLink="false">gz-1</guid>', b"")
    first = parse_feed(no_guid, "s", url="https://gazette.example/rss").entries[0]
    assert first.entry_id == "https://gazette.example/ferry.html"


def test_a_malformed_link_gives_way_to_a_usable_alternate():
    atom = ATOM.replace(
        b'<link rel="alternate" href="https://courier.example/bridge.html"/>',
        b'<link rel="alternate" href="https://courier.example/bridge.html"/>'
        b'<link rel="alternate" hreflang="sv" href="http://courier.example:99999/bro.html"/>',
    )  # feedparser's ``link`` is the last alternate: here the malformed one
    (entry,) = parse_feed(atom, "s", url="https://courier.example/atom").entries
    assert entry.url == "https://courier.example/bridge.html"


def test_an_entry_whose_only_link_is_malformed_is_kept_as_listed():
    """Kept, not dropped: its page is then recorded with the reason (tasks/fetch/pages.py), so
    the entry is accounted for once instead of vanishing from every run."""
    bad = RSS2.replace(b"https://gazette.example/ferry.html", b"http://gazette.example:99999/f")
    parsed = parse_feed(bad, "s", url="https://gazette.example/rss")
    assert [e.url for e in parsed.entries] == [
        "http://gazette.example:99999/f",
        "https://gazette.example/council.html",
    ]
    assert parsed.error is None and parsed.warning is None


def test_an_entry_left_without_a_link_is_counted_in_the_warning():
    """feedparser blanks a link it cannot resolve (a broken IPv6 literal): the entry cannot be
    kept, so the poll says how many were skipped."""
    bad = RSS2.replace(b"https://gazette.example/ferry.html", b"http://[::1/ferry.html")
    parsed = parse_feed(bad, "s", url="https://gazette.example/rss")
    assert [e.url for e in parsed.entries] == ["https://gazette.example/council.html"]
    assert parsed.error is None
    assert parsed.warning == "no_link: 1 of 2 entries skipped, without a usable http(s) link"


def test_feed_headers():
    assert feed_headers(None, None).keys() == {"Accept"}
    headers = feed_headers('"abc"', "Fri, 27 Nov 2026 10:00:00 GMT")
    assert headers["If-None-Match"] == '"abc"'
    assert headers["If-Modified-Since"] == "Fri, 27 Nov 2026 10:00:00 GMT"


def _answer(status, content=b"", error=None, headers=None):
    return FetchResult(
        url="https://g.example/rss",
        final_url="https://g.example/rss",
        status=status,
        content=content,
        error=error,
        headers=headers or {},
    )


def test_poll_result_304_is_success_with_no_entries():
    poll = poll_result("g", "https://g.example/rss", _answer(304), datetime.now(UTC))
    assert poll.succeeded and poll.entries == [] and poll.error is None


def test_poll_result_http_error_and_network_error():
    now = datetime.now(UTC)
    assert poll_result("g", "u", _answer(500), now).error.startswith("http_500")
    failed = poll_result("g", "u", _answer(None, error="timeout: no response"), now)
    assert not failed.succeeded and failed.error.startswith("timeout")


def test_poll_result_keeps_validators():
    poll = poll_result(
        "g",
        "u",
        _answer(200, RSS2, headers={"etag": '"v1"', "last-modified": "x"}),
        datetime.now(UTC),
    )
    assert (poll.etag, poll.last_modified, len(poll.entries), poll.bytes) == (
        '"v1"',
        "x",
        2,
        len(RSS2),
    )
