"""Is this record an article at all? The row suite's critical ``not_an_article`` check.

The quarantine (``rejected_articles``) is for records that are not articles: the row suite's
warning checks only flag (``articles.quality_flags``), so a 30-word brief or a FAQ that repeats
its question is kept. What must not be kept is a page that was served with 200 but carries no
article: a "page not found" page, a paywall stub, a cookie-consent wall, a list or index page
of headlines. This module names such a page from what extraction left of it (URL, title,
body), with pure functions so each rule can be tested on a fragment.

Every wall is judged together with the body's length: a real article may end with "subscribe
to keep reading our coverage" or mention cookies, but a stub *is* little more than that
sentence. :data:`STUB_MAX_WORDS` is that limit; the phrases are the ones real walls use (in
English, German, French, Spanish and Dutch, the dev sets' commonest languages after English).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

#: A page of at most this many words can be a wall (paywall, consent, not found); a longer body
#: that mentions one is an article with a wall notice in it.
STUB_MAX_WORDS = 120

NOT_FOUND = "page not found"
PAYWALL = "paywall stub"
CONSENT = "consent wall"
INDEX = "list or index page"

_NOT_FOUND = re.compile(
    r"\b(?:page|article|story|content)s? (?:was |could )?not (?:be )?found\b"
    r"|^(?:error )?404\b"
    r"|\bno longer (?:available|exists)\b"
    r"|\b(?:page|article) (?:you (?:are|were) looking for|you requested) "
    r"(?:does not|doesn't|could not|can't|cannot|no longer)\b"
    r"|\bwe (?:can't|cannot|could not|couldn't) find (?:that|the|this) page\b"
    r"|\bseite (?:wurde )?nicht gefunden\b|\bpage (?:introuvable|non trouvée)\b"
    r"|\bpágina no encontrada\b|\bpagina niet gevonden\b",
    re.I | re.M,
)
_PAYWALL = re.compile(
    r"\bsubscribe (?:now |today )?to (?:continue|keep) reading\b"
    r"|\b(?:continue|keep) reading with (?:a |your )?subscription\b"
    r"|\b(?:this|the) (?:article|story|content) is (?:only )?(?:available|reserved|exclusive)"
    r" (?:to|for) (?:paying |our )?(?:subscribers|members)\b"
    r"|\bsubscribers? only\b|\balready a subscriber\b"
    r"|\bto (?:read|continue reading) (?:the full|this|the rest of this) (?:article|story)\b"
    r"|\b(?:log|sign) in (?:or subscribe )?to (?:continue|read)\b"
    r"|\bdieser artikel ist (?:nur )?für abonnenten\b|\bjetzt (?:weiter)?lesen mit\b"
    r"|\bréservé aux abonnés\b|\bcontenido (?:exclusivo )?para suscriptores\b",
    re.I,
)
_CONSENT = re.compile(
    r"\b(?:we|this (?:site|website)) uses? cookies\b"
    r"|\b(?:accept|reject) all(?: cookies)?\b|\bcookie (?:settings|preferences|policy)\b"
    r"|\bmanage (?:your )?(?:privacy |cookie )?(?:choices|preferences|consent)\b"
    r"|\bwe value your privacy\b|\byour privacy choices\b"
    r"|\bwir verwenden cookies\b|\bnous utilisons des cookies\b|\butilizamos cookies\b",
    re.I,
)
#: Path segments that name a listing rather than one story.
_INDEX_PATH = re.compile(
    r"^/(?:(?:tags?|topics?|category|categories|section|sections|authors?|archives?|search"
    r"|page)(?:/[^/]*)?/?|(?:index|default|home)(?:\.\w+)?|[^/]*/(?:page/\d+|index\.\w+))?$",
    re.I,
)
_SENTENCE_END = re.compile(r"[.!?…\"”’»)]$")


def _words(text: str) -> int:
    return len(text.split())


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def is_wall(pattern: re.Pattern[str], title: str, text: str) -> bool:
    """The title or the short body says what ``pattern`` describes (the body at most
    :data:`STUB_MAX_WORDS` words, so an article that merely mentions it is not a wall)."""
    if _words(text) > STUB_MAX_WORDS:
        return False
    return bool(pattern.search(title) or pattern.search(text))


def consent_share(text: str) -> float:
    """The share of the body's words in lines about cookies and consent: a consent wall is
    mostly that; a short brief with a stray banner line left in is not."""
    lines = _lines(text)
    total = sum(_words(line) for line in lines)
    wall = sum(_words(line) for line in lines if _CONSENT.search(line))
    return wall / total if total else 0.0


def looks_like_index(url: str, text: str) -> bool:
    """A page of headlines: its lines are titles (a few words, no sentence end), with no
    paragraph of prose among them; or a listing URL (the site's front page, a tag, section or
    page-2 path) whose body has no paragraph of prose."""
    lines = _lines(text)
    prose = [line for line in lines if _words(line) >= 20 and _SENTENCE_END.search(line)]
    parts = urlsplit(url or "")
    if parts.netloc and _INDEX_PATH.match(parts.path or "/") and not prose and lines:
        return True
    if len(lines) < 8 or prose:
        return False
    headlines = [ln for ln in lines if 2 <= _words(ln) <= 20 and not _SENTENCE_END.search(ln)]
    return len(headlines) >= 0.8 * len(lines)


def not_an_article(url: str | None, title: str | None, text: str | None) -> str | None:
    """What the record is when it is not an article (one of :data:`NOT_FOUND`,
    :data:`PAYWALL`, :data:`CONSENT`, :data:`INDEX`), else None. A record without a body is
    ``body_present``'s to reject, not this check's."""
    body = (text or "").strip()
    if not body:
        return None
    head = (title or "").strip()
    if is_wall(_NOT_FOUND, head, body):
        return NOT_FOUND
    if is_wall(_PAYWALL, "", body):
        return PAYWALL
    if is_wall(_CONSENT, "", body) and consent_share(body) >= 0.5:
        return CONSENT
    if looks_like_index(url or "", body):
        return INDEX
    return None
