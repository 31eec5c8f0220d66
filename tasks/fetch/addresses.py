"""Which IP addresses newsflow may connect to: the classifier behind the SSRF guard.

The HTTP client (``tasks/http``) asks this module about the address a socket is about to be
connected to, after DNS resolution, on every redirect hop. A URL can name a host that
resolves to the cloud metadata service, a router's admin page or a database on the loopback
interface; refusing non-global addresses is what stops a hostile feed from using newsflow to
reach them.

Python's ``ipaddress.is_global`` is not enough on its own (checked on Python 3.11.7):
``64:ff9b::7f00:1`` (NAT64), ``2002:7f00:1::`` (6to4), ``fec0::1`` (site-local), multicast
``ff02::1`` and IPv4-compatible ``::7f00:1`` all report ``is_global=True`` even though they
can reach loopback or private networks; ``::ffff:127.0.0.1`` must be unwrapped before it can
be judged. So the classifier checks those ranges explicitly and then falls back to
``not is_global`` for the remaining special-purpose ranges (documentation, benchmarking,
reserved...). Anything that does not parse as an address is refused: the guard fails closed.

Exceptions come from ``[fetch] allow_private``, parsed by ``schemas/allow_list.py`` (the one
parser, shared with the config validator): exact ``host:port`` strings as written in the URL or
networks. A ``host:port`` entry allows that one service and nothing else on the same machine.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from newsflow.schemas.allow_list import (
    AllowEntryError,
    AllowList,
    IPAddress,
    parse_allow_list,
    parse_ip,
)

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
# IPv6 ranges that embed or translate to IPv4 addresses and that Python calls global (or that
# we refuse wholesale because the embedded address cannot be trusted to be checked downstream).
_IPV6_REFUSED: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (ipaddress.IPv6Network("64:ff9b::/96"), "a NAT64 address (64:ff9b::/96)"),
    (ipaddress.IPv6Network("64:ff9b:1::/48"), "a local-use NAT64 address (64:ff9b:1::/48)"),
    (ipaddress.IPv6Network("2002::/16"), "a 6to4 address (2002::/16)"),
    (ipaddress.IPv6Network("2001::/32"), "a Teredo address (2001::/32)"),
    (ipaddress.IPv6Network("::/96"), "an IPv4-compatible address (::/96)"),
    (ipaddress.IPv6Network("::ffff:0:0:0/96"), "an IPv4-translated address (::ffff:0:0:0/96)"),
)


def _kind(addr: IPAddress) -> str | None:
    """A phrase naming why ``addr`` is refused ("a private address"), or None if it is global."""
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped
        if mapped is not None:
            inner = _kind(mapped)
            return None if inner is None else f"an IPv4-mapped form of {mapped}, {inner}"
    # Order matters: 127.0.0.1 and 169.254.x are also is_private; name the sharper category.
    if addr.is_unspecified:
        return "an unspecified address"
    if addr.is_loopback:
        return "a loopback address"
    if addr.is_link_local:
        return "a link-local address"
    if addr.is_multicast:
        return "a multicast address"
    if isinstance(addr, ipaddress.IPv4Address) and addr in _CGNAT:
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if isinstance(addr, ipaddress.IPv6Address):
        for net, phrase in _IPV6_REFUSED:
            if addr in net:
                return phrase
        if addr.is_site_local:
            return "a site-local address (fec0::/10)"
    if addr.is_reserved:
        return "a reserved address"
    if addr.is_private:
        return "a private address"
    if not addr.is_global:
        return "a non-global special-purpose address"
    return None


def describe(ip: str) -> str | None:
    """Like :func:`refusal_reason` but only the category phrase ("a loopback address"), so a
    caller can build its own sentence (e.g. "localhost resolves to 127.0.0.1, a loopback
    address")."""
    addr = parse_ip(ip)
    if addr is None:
        return "not an IP address"
    return _kind(addr)


def refusal_reason(ip: str) -> str | None:
    """Why newsflow must not connect to ``ip``, or None if it is a global address.

    >>> refusal_reason("10.0.0.5")
    '10.0.0.5 is a private address'
    >>> refusal_reason("8.8.8.8") is None
    True
    """
    kind = describe(ip)
    return None if kind is None else f"{ip} is {kind}"


def permits(allow: AllowList, host: str, port: int, ip: str) -> bool:
    """True if connecting to ``ip`` for the URL authority ``host:port`` is allowed: a global
    address, or one ``[fetch] allow_private`` names."""
    return refusal_reason(ip) is None or allow.lists(host, port, ip)


def parse_allow_private(entries: Iterable[str]) -> AllowList:
    """Parse ``[fetch] allow_private`` with the config's own parser (schemas/allow_list.py);
    raises ValueError naming the bad entry. The config validator refuses the same entries at
    load, so this only raises for a policy built by hand (tests, benchmarks)."""
    try:
        return parse_allow_list(entries)
    except AllowEntryError as e:
        raise ValueError(f"fetch.allow_private: {e}") from None
