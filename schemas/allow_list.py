"""``[fetch] allow_private``, parsed once: the exceptions to the address guard.

One parser for the one format, used by the config validator (``schemas/config.py``), so a bad
entry is a config error at load (exit 2), and by the guard itself (``tasks/fetch/addresses.py``),
so the two can never disagree about what an entry means. It needs only ``ipaddress``.

Entries are exact ``host:port`` strings as written in the URL (``127.0.0.1:8080``,
``localhost:8080``, ``[::1]:8080``: IPv6 hosts in brackets) or networks (``10.0.0.0/8``; a bare
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

EXAMPLES = "'127.0.0.1:8080', '[::1]:8080', 'localhost:8080', '10.0.0.0/8'"


class AllowEntryError(ValueError):
    """An ``allow_private`` entry in none of the accepted forms; the message names it."""

    def __init__(self, entry: str) -> None:
        super().__init__(f"{entry!r} is neither 'host:port' nor a CIDR (examples: {EXAMPLES})")


def parse_ip(text: str) -> IPAddress | None:
    """``text`` as an address (brackets around IPv6 allowed), or None."""
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def normalise_host(host: str) -> str:
    """Hosts compare case-insensitively, without IPv6 brackets or a trailing FQDN dot."""
    return host.strip().strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class AllowList:
    """Parsed ``[fetch] allow_private``: exact (host, port) pairs and networks."""

    host_ports: frozenset[tuple[str, int]] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    def lists(self, host: str, port: int, ip: str) -> bool:
        """True if the service ``host:port`` or the address ``ip`` is named explicitly."""
        if (normalise_host(host), port) in self.host_ports:
            return True
        addr = parse_ip(ip)
        if addr is None:
            return False
        candidates: list[IPAddress] = [addr]
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            candidates.append(addr.ipv4_mapped)
        if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
            candidates.append(ipaddress.IPv6Address(str(addr).split("%", 1)[0]))
        return any(a.version == n.version and a in n for a in candidates for n in self.networks)


def parse_entry(entry: str) -> tuple[str, int] | IPNetwork:
    """One entry: a (host, port) pair or a network; :class:`AllowEntryError` otherwise."""
    text = entry.strip()
    if not text:
        raise AllowEntryError(entry)
    if "/" in text:
        try:
            return ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise AllowEntryError(entry) from None
    if parse_ip(text) is not None and not text.startswith("["):
        return ipaddress.ip_network(text)  # a bare IP is a one-address network
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise AllowEntryError(entry)
    if ":" in host.strip("[]") and not (host.startswith("[") and host.endswith("]")):
        raise AllowEntryError(entry)  # unbracketed IPv6 (or junk) with a port is ambiguous
    if host.startswith("[") and parse_ip(host) is None:
        raise AllowEntryError(entry)  # brackets hold an IPv6 address, nothing else
    return normalise_host(host), int(port_text)


def parse_allow_list(entries: Iterable[str]) -> AllowList:
    """All entries; raises :class:`AllowEntryError` naming the first bad one."""
    return _parse_cached(tuple(entries))


@lru_cache(maxsize=64)
def _parse_cached(entries: tuple[str, ...]) -> AllowList:
    pairs: set[tuple[str, int]] = set()
    nets: list[IPNetwork] = []
    for entry in entries:
        parsed = parse_entry(entry)
        if isinstance(parsed, tuple):
            pairs.add(parsed)
        else:
            nets.append(parsed)
    return AllowList(frozenset(pairs), tuple(nets))
