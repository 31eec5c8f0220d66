"""Registrable domains: what sources on one site share for politeness.

``news.example.co.uk`` and ``feeds.example.co.uk`` are one publisher's servers, so pacing and a
``Retry-After`` apply to ``example.co.uk`` as a whole (the Public Suffix List says where the
registrable part starts: ``publicsuffixlist`` ships a copy, no network). A name the list does
not know (``localhost``) is its own domain; an IP address with its port is its own site.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """The registrable domain of ``host`` (lower-cased), or ``host`` itself for an IP address,
    a public suffix or a single label."""
    name = host.strip("[]").rstrip(".").lower()
    try:
        ipaddress.ip_address(name)
        return name
    except ValueError:
        pass
    return _psl().privatesuffix(name) or name


def site_key(host: str, port: int | None) -> str:
    """What shares pacing and ``Retry-After``: a name's registrable domain (any port), or an
    IP address with its port (two servers on one address are told apart by their ports only;
    a name's port rarely means another publisher)."""
    domain = registrable_domain(host)
    try:
        ipaddress.ip_address(domain)
    except ValueError:
        return domain
    return f"{domain}:{port}" if port else domain


def domain_of(url: str) -> str | None:
    """``site_key`` of ``url``'s host; None when it has none (not a URL)."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return site_key(host, port or default)
