"""The address classifier behind the SSRF guard, on strings only: nothing here connects."""

from __future__ import annotations

import pytest

from newsflow.tasks.fetch.addresses import describe, parse_allow_private, permits, refusal_reason

REFUSED = {
    "169.254.169.254": "link-local",  # cloud metadata service
    "10.0.0.1": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "carrier-grade NAT",
    "127.0.0.1": "loopback",
    "0.0.0.0": "unspecified",
    "224.0.0.1": "multicast",
    "240.0.0.1": "reserved",
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fe80::1%eth0": "link-local",
    "fc00::1": "private",
    "fec0::1": "site-local",  # Python: is_global=True
    "ff02::1": "multicast",  # Python: is_global=True
    "::ffff:127.0.0.1": "IPv4-mapped form of 127.0.0.1, a loopback",
    "::ffff:10.1.2.3": "IPv4-mapped form of 10.1.2.3, a private",
    "64:ff9b::7f00:1": "NAT64",  # Python: is_global=True, embeds 127.0.0.1
    "64:ff9b::808:808": "NAT64",  # refused wholesale, even around a global IPv4
    "2002:7f00:1::": "6to4",  # Python: is_global=True, embeds 127.0.0.1
    "2001::1": "Teredo",
    "::7f00:1": "IPv4-compatible",  # Python: is_global=True
    "2001:db8::1": "private",  # documentation range
}


def is_allowed(host: str, port: int, ip: str, allow_private: list[str]) -> bool:
    """The fetcher's question, asked the fetcher's way: parse ``[fetch] allow_private`` once,
    then ``permits`` each resolved address for the URL authority ``host:port``."""
    return permits(parse_allow_private(allow_private), host, port, ip)


@pytest.mark.parametrize(("ip", "words"), sorted(REFUSED.items()))
def test_non_global_addresses_are_refused_with_their_category(ip: str, words: str) -> None:
    reason = refusal_reason(ip)
    assert reason is not None
    assert reason.startswith(f"{ip} is ")
    assert words in reason


@pytest.mark.parametrize("ip", ["8.8.8.8", "2606:4700::1111", "1.1.1.1", "::ffff:8.8.8.8"])
def test_global_addresses_are_fine(ip: str) -> None:
    assert refusal_reason(ip) is None
    assert describe(ip) is None


@pytest.mark.parametrize("text", ["not-an-ip", "", "127.0.0.1:80", "256.1.1.1", "localhost"])
def test_anything_that_is_not_an_address_is_refused(text: str) -> None:
    """Fail closed: the guard never lets through what it cannot classify."""
    assert refusal_reason(text) is not None


def test_exact_host_port_allows_that_service_only() -> None:
    allow = ["127.0.0.1:8080"]
    assert is_allowed("127.0.0.1", 8080, "127.0.0.1", allow)
    assert not is_allowed("127.0.0.1", 8081, "127.0.0.1", allow)  # another port
    assert not is_allowed("127.0.0.2", 8080, "127.0.0.2", allow)  # another loopback address
    # "as written in the URL": a name that resolves to the same address is another service
    assert not is_allowed("localhost", 8080, "127.0.0.1", allow)


def test_host_port_entries_match_names_ipv6_and_case() -> None:
    allow = ["LocalHost:8080", "[::1]:9000"]
    assert is_allowed("localhost", 8080, "127.0.0.1", allow)
    assert is_allowed("localhost.", 8080, "::1", allow)
    assert is_allowed("::1", 9000, "::1", allow)
    assert is_allowed("[::1]", 9000, "::1", allow)
    assert not is_allowed("::1", 9001, "::1", allow)


def test_cidr_entries_allow_every_address_inside_on_any_port() -> None:
    allow = ["10.0.0.0/8", "127.0.0.0/8", "fd00::/8", "192.168.1.7"]
    assert is_allowed("intranet.example", 443, "10.20.30.40", allow)
    assert is_allowed("127.0.0.2", 1234, "127.0.0.2", allow)
    assert is_allowed("x", 80, "::ffff:127.0.0.1", allow)  # mapped form is unwrapped
    assert is_allowed("x", 80, "fd12::1", allow)
    assert is_allowed("x", 80, "192.168.1.7", allow)  # a bare IP is a one-address network
    assert not is_allowed("x", 80, "192.168.1.8", allow)
    assert not is_allowed("x", 80, "169.254.169.254", allow)
    assert not is_allowed("x", 80, "::1", allow)


def test_global_addresses_need_no_entry() -> None:
    assert is_allowed("example.org", 443, "93.184.216.34", [])
    assert not is_allowed("example.org", 443, "10.0.0.1", [])


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "localhost",
        "127.0.0.1:",
        "127.0.0.1:99999",
        ":80",
        "::1:8080x",
        "10.0.0.0/33",
        "fe80::zz:80",
        "a:b:80",
        "[not-ipv6]:80",
    ],
)
def test_malformed_entries_are_config_errors(entry: str) -> None:
    with pytest.raises(ValueError, match="allow_private"):
        parse_allow_private([entry])
