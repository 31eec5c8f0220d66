"""A small news site on loopback for the quarantine tests: real articles that the warning
checks flag (a 30-word brief, a FAQ that repeats its question) beside pages that are not
articles (a paywall stub, a cookie wall, a "page not found" served with 200, a page of
headlines) and one ordinary story. The pages are hand-written in the shape such pages take
on news sites: the wording of the walls is what real ones say."""

from __future__ import annotations

from tests.hostile_site import english_paragraphs, rss
from tests.servers import LoopbackServer

PUBLISHED = "2026-11-30T08:00:00+00:00"

BRIEF = (
    "Island ferry fares will stay at this year's prices until March, the harbour board said on "
    "Monday, after councillors warned that a rise would hit commuters facing reduced winter "
    "sailings."
)
QUESTION = "Will the early sailing still run on Sundays?"
FAQ = [
    "The winter timetable starts on 1 December. These are the questions readers asked most.",
    QUESTION,
    "Can I still bring a bicycle on board the small boat?",
    "Yes. The 7.10 sailing runs every Sunday until the end of February, but it leaves from "
    "the north pier while the main slipway is repaired, and it no longer calls at Skerry.",
    "Bicycles are carried free on every sailing, but the small boat has room for four, so "
    "the operator asks cyclists to book a place in the app or at the kiosk the day before.",
    "Readers also asked again about the first boat of the week:",
    QUESTION,
    "It does, though on the first two Sundays of January the crossing will be made by the "
    "relief vessel, which is slower, so the harbour board expects arrivals ten minutes late.",
]

#: path -> (title, body HTML): the pages the feed lists.
PAGES: dict[str, tuple[str, str]] = {
    "/news/ferry-fares-frozen.html": (
        "Ferry fares frozen for winter",
        f"<article><h1>Ferry fares frozen for winter</h1><p>{BRIEF}</p></article>",
    ),
    "/news/winter-timetable-faq.html": (
        "Winter ferry timetable: your questions answered",
        "<article><h1>Winter ferry timetable: your questions answered</h1>"
        + "".join(f"<p>{p}</p>" for p in FAQ)
        + "</article>",
    ),
    "/news/harbour-budget.html": (
        "Harbour budget approved after late-night vote",
        "<article><h1>Harbour budget approved after late-night vote</h1>"
        + "".join(f"<p>{p}</p>" for p in english_paragraphs("harbour budget"))
        + "</article>",
    ),
    "/news/dredging-contract.html": (
        "Dredging contract goes to Dutch firm",
        "<article><h1>Dredging contract goes to Dutch firm</h1>"
        "<p>The harbour board has chosen a Rotterdam company to deepen the outer channel.</p>"
        '<div class="paywall"><p>This article is only available to subscribers.</p>'
        "<p>Subscribe to continue reading. Already a subscriber? Log in.</p></div></article>",
    ),
    "/news/lifeboat-appeal.html": (
        "Harbour Post",
        '<div class="consent"><p>We use cookies to keep the Harbour Post free to read and to '
        "measure how it is read. With your consent we and our partners also personalise "
        "advertising.</p><p>Accept all</p><p>Manage your choices</p></div>",
    ),
    "/news/old-pier-closure.html": (
        "Page not found",
        "<article><h1>Page not found</h1><p>Sorry, the page you were looking for does not "
        "exist or has been moved. Try searching the site or start again from the front "
        "page.</p></article>",
    ),
    "/news/": (
        "Latest news",
        "<h1>Latest news</h1><ul>"
        + "".join(
            f'<li><h2><a href="/news/story-{i}.html">{headline}</a></h2></li>'
            for i, headline in enumerate(
                [
                    "Ferry fares frozen for winter",
                    "Harbour budget approved after late-night vote",
                    "Dredging contract goes to Dutch firm",
                    "Lifeboat crew named volunteers of the year",
                    "Old pier to close for repairs in spring",
                    "Fish market opens new cold store",
                    "School roof repairs finished early",
                    "Rowing club wins coastal regatta",
                    "Night buses to run until the new year",
                ]
            )
        )
        + "</ul>",
    ),
}

#: Ordinary stories around them, in the proportion a news feed has: a run whose pages are
#: mostly not articles fails its critical checks as a batch (``mostly`` in the suite).
TOPICS = [
    "harbour wall",
    "bandstand",
    "car park",
    "allotment",
    "ferry",
    "school roof",
    "fish market",
    "night bus",
    "rowing club",
    "lifeboat",
    "cold store",
    "lighthouse",
    "regatta",
    "clinic hours",
]
for _topic in TOPICS:
    _title = f"Council debates the {_topic} plan"
    PAGES[f"/news/{_topic.replace(' ', '-')}-plan.html"] = (
        _title,
        f"<article><h1>{_title}</h1>"
        + "".join(f"<p>{p}</p>" for p in english_paragraphs(_topic))
        + "</article>",
    )

#: The records that are not articles, and what ``not_an_article`` calls each. The page of
#: headlines is rejected either way: as a list page, or for ``body_present`` when extraction
#: keeps none of its links.
NOT_ARTICLES = {
    "/news/dredging-contract.html": "paywall stub",
    "/news/lifeboat-appeal.html": "consent wall",
    "/news/old-pier-closure.html": "page not found",
    "/news/": "list or index page",
}


def page_html(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} | Harbour Post</title>"
        f'<meta property="article:published_time" content="{PUBLISHED}"></head>'
        '<body><header><nav><a href="/">Home</a> <a href="/news/">News</a></nav></header>'
        f"<main>{body}</main><footer>Contact the newsroom</footer></body></html>"
    )


def serve(server: LoopbackServer) -> str:
    """Route the pages and their feed on ``server``; returns the feed's URL."""
    for path, (title, body) in PAGES.items():
        server.add(path, page_html(title, body))
    links = [(title, server.url(path)) for path, (title, _) in PAGES.items()]
    server.add("/news.xml", rss("Harbour Post", links), content_type="application/rss+xml")
    return server.url("/news.xml")
