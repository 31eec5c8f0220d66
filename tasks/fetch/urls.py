"""URL identity: one article, one key, however it was reached.

The same story arrives with ``utm_*`` tails, through two feeds, as an AMP page or with a
``#comments`` fragment. Analysts need one row for it, so every article is keyed by a canonical
URL: the page's own ``rel=canonical`` when it points at the same site, else the fetched URL,
in both cases normalised (scheme and host lower-cased, default port and fragment dropped,
tracking parameters stripped, remaining query parameters sorted).
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

# Parameters that identify a campaign or a click, never the content (Miniflux's list, trimmed).
_TRACKING_EXACT = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "igshid",
        "twclid",
        "li_fat_id",
        "ocid",
        "cmpid",
        "ncid",
        "spm",
        "_ga",
        "_gl",
        "ito",
    }
)
_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "itm_", "at_", "ns_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_EXACT or lowered.startswith(_TRACKING_PREFIXES)


def url_problem(url: str) -> str | None:
    """Why ``url`` can never be fetched, or None: the one check shared by the feed parser
    (which prefers a usable link), the page stage (which records the reason instead of
    fetching) and the HTTP client (which refuses before any traffic).

    Parsing is where a feed's typo bites: ``urlsplit(...).port`` raises on a port out of range
    and ``urlsplit`` on a broken IPv6 literal, so the reason is kept as data, never raised.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as e:
        return f"invalid_url: {e}"
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        got = parts.scheme or "no scheme"
        return f"scheme: only http and https are fetched (got {got!r})"
    if "@" in parts.netloc:
        return "userinfo: URLs with credentials (user:password@) are refused"
    if not parts.hostname:
        return "invalid_url: no host in URL"
    return None


#: (scheme, host, port) of a URL: the unit of politeness (tasks/fetch/pages.py, one request at
#: a time) and of robots.txt (tasks/fetch/robots.py).
HostKey = tuple[str, str, int]


def host_key(url: str) -> HostKey | None:
    """The host ``url`` is fetched from, scheme and host lower-cased and the default port made
    explicit, so ``http://a.example/`` and ``HTTP://A.example:80/`` are one host; None for what
    newsflow never fetches (not http(s), no host, a URL that does not parse).

    One key for both uses: with two, a host spelled two ways was asked two requests at a time
    and robots.txt was cached under a key the page queues did not share.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def normalise_url(url: str) -> str:
    """The comparable form of an http(s) URL; other strings, and URLs that do not parse (a
    port out of range, a broken IPv6 literal), are returned stripped: they are their own key,
    so one bad link in a feed is recorded as that link's failure instead of failing the run."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path or "/"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k)
    ]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def _site(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("amp.")
    return host, parts.port


def canonical_url(fetched_url: str, declared: str | None) -> str:
    """The key URL of a page: its declared canonical if same-site and not a home page.

    A canonical pointing at another site (syndication partners do that) or at the site's front
    page (a common CMS mistake) is ignored, so two different articles never collapse into one.
    """
    fetched = normalise_url(fetched_url)
    if declared:
        candidate = normalise_url(urljoin(fetched_url, declared.strip()))
        if (
            candidate.startswith(("http://", "https://"))
            and _site(candidate) == _site(fetched)
            and urlsplit(candidate).path not in ("", "/")
        ):
            return candidate
    return fetched


def article_id(canonical: str) -> str:
    """A stable 16-hex-digit id for a canonical URL."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
