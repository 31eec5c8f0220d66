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

Exceptions come from ``[fetch] allow_private``: exact ``host:port`` strings as written in the
URL (``127.0.0.1:8080``, ``localhost:8080``, ``[::1]:8080``) or CIDRs (``10.0.0.0/8``; a bare
IP means that single address). A ``host:port`` entry allows that one service and nothing else
on the same machine, which is what the demo and the tests need.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

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


def _parse_ip(ip: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(ip.strip().strip("[]"))
    except ValueError:
        return None


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
    addr = _parse_ip(ip)
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


@dataclass(frozen=True)
class AllowList:
    """Parsed ``[fetch] allow_private``: exact (host, port) pairs and networks."""

    host_ports: frozenset[tuple[str, int]] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    def lists(self, host: str, port: int, ip: str) -> bool:
        """True if the service ``host:port`` or the address ``ip`` is named explicitly."""
        if (normalise_host(host), port) in self.host_ports:
            return True
        addr = _parse_ip(ip)
        if addr is None:
            return False
        candidates: list[IPAddress] = [addr]
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            candidates.append(addr.ipv4_mapped)
        if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
            candidates.append(ipaddress.IPv6Address(str(addr).split("%", 1)[0]))
        return any(a.version == n.version and a in n for a in candidates for n in self.networks)

    def permits(self, host: str, port: int, ip: str) -> bool:
        """True if connecting to ``ip`` for the URL authority ``host:port`` is allowed."""
        return refusal_reason(ip) is None or self.lists(host, port, ip)


def normalise_host(host: str) -> str:
    """Hosts compare case-insensitively, without IPv6 brackets or a trailing FQDN dot."""
    return host.strip().strip("[]").rstrip(".").lower()


def _parse_entry(entry: str) -> tuple[tuple[str, int] | None, IPNetwork | None]:
    text = entry.strip()
    error = ValueError(
        f"fetch.allow_private: {entry!r} is neither 'host:port' nor a CIDR "
        "(examples: '127.0.0.1:8080', '[::1]:8080', 'localhost:8080', '10.0.0.0/8')"
    )
    if not text:
        raise error
    if "/" in text:
        try:
            return None, ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise error from None
    if _parse_ip(text) is not None and not text.startswith("["):
        return None, ipaddress.ip_network(text)  # a bare IP is a one-address network
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise error
    if ":" in host.strip("[]") and not (host.startswith("[") and host.endswith("]")):
        raise error  # unbracketed IPv6 with a port is ambiguous
    return (normalise_host(host), int(port_text)), None


@lru_cache(maxsize=64)
def _parse_cached(entries: tuple[str, ...]) -> AllowList:
    pairs: set[tuple[str, int]] = set()
    nets: list[IPNetwork] = []
    for entry in entries:
        pair, net = _parse_entry(entry)
        if pair is not None:
            pairs.add(pair)
        if net is not None:
            nets.append(net)
    return AllowList(frozenset(pairs), tuple(nets))


def parse_allow_private(entries: Iterable[str]) -> AllowList:
    """Parse ``[fetch] allow_private``; raises ValueError naming the bad entry, so that a
    config mistake fails at start-up rather than as a blocked fetch at 3 a.m."""
    return _parse_cached(tuple(entries))
