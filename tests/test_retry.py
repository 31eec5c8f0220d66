"""Retries with backoff (tasks/fetch/retry.py) against a real loopback server and real client."""

from __future__ import annotations

import pytest

from newsflow.schemas.records import FetchResult
from newsflow.tasks.fetch.http import FetchPolicy, HttpClient
from newsflow.tasks.fetch.retry import (
    RetryPolicy,
    backoff_delay,
    fetch_with_retries,
    is_transient,
)
from tests.servers import LoopbackServer, Response, loopback_server_fixture  # noqa: F401

FAST = RetryPolicy(retries=2, backoff_s=0.01)


def _client(srv: LoopbackServer) -> HttpClient:
    return HttpClient(FetchPolicy(allow_private=(srv.host_port,), deadline_s=2.0))


def test_flapping_503_succeeds_on_retry(loopback_server: LoopbackServer):
    srv = loopback_server.sequence("/flap", [Response(503), Response(503), Response(200, "ok")])
    waits: list[float] = []
    with _client(srv) as client:
        result, attempts = fetch_with_retries(
            lambda: client.get(srv.url("/flap")), FAST, sleep=waits.append
        )
    assert (result.status, result.content, attempts) == (200, b"ok", 3)
    assert srv.hits("/flap") == 3
    assert len(waits) == 2 and waits[1] >= waits[0] / 2  # exponential, with jitter


def test_404_is_requested_once(loopback_server: LoopbackServer):
    srv = loopback_server  # unknown paths answer 404
    with _client(srv) as client:
        result, attempts = fetch_with_retries(
            lambda: client.get(srv.url("/missing")), FAST, sleep=lambda _s: None
        )
    assert (result.status, attempts, srv.hits("/missing")) == (404, 1, 1)


@pytest.mark.parametrize("status", [400, 401, 403, 410, 429])
def test_no_4xx_is_retried(loopback_server: LoopbackServer, status: int):
    srv = loopback_server.add("/x", status=status)
    with _client(srv) as client:
        _, attempts = fetch_with_retries(
            lambda: client.get(srv.url("/x")), FAST, sleep=lambda _s: None
        )
    assert attempts == 1 and srv.hits("/x") == 1


def test_503_with_retry_after_is_left_to_the_lifecycle(loopback_server: LoopbackServer):
    srv = loopback_server.add("/busy", status=503, headers={"Retry-After": "120"})
    with _client(srv) as client:
        result, attempts = fetch_with_retries(
            lambda: client.get(srv.url("/busy")), FAST, sleep=lambda _s: None
        )
    assert (result.status, attempts, srv.hits("/busy")) == (503, 1, 1)


def test_persistent_500_gives_up_after_the_retries(loopback_server: LoopbackServer):
    srv = loopback_server.add("/down", status=500)
    with _client(srv) as client:
        result, attempts = fetch_with_retries(
            lambda: client.get(srv.url("/down")), FAST, sleep=lambda _s: None
        )
    assert (result.status, attempts, srv.hits("/down")) == (500, 3, 3)


def test_refused_connection_is_retried(free_port: int):
    client = HttpClient(FetchPolicy(allow_private=(f"127.0.0.1:{free_port}",)))
    with client:
        result, attempts = fetch_with_retries(
            lambda: client.get(f"http://127.0.0.1:{free_port}/"), FAST, sleep=lambda _s: None
        )
    assert result.error.startswith("connection:") and attempts == 3


def test_deadline_and_own_limits_are_not_retried(loopback_server: LoopbackServer):
    srv = loopback_server.drip("/drip", interval_s=0.05)
    srv.endless("/endless")
    policy = FetchPolicy(allow_private=(srv.host_port,), deadline_s=0.5, max_bytes=1 << 20)
    with HttpClient(policy) as client:
        slow, slow_attempts = fetch_with_retries(
            lambda: client.get(srv.url("/drip")), FAST, sleep=lambda _s: None
        )
        big, big_attempts = fetch_with_retries(
            lambda: client.get(srv.url("/endless")), FAST, sleep=lambda _s: None
        )
    assert slow.error.startswith("deadline:") and slow_attempts == 1
    assert big.error.startswith("too_large:") and big_attempts == 1


def _result(status: int | None = None, error: str | None = None, **headers: str) -> FetchResult:
    return FetchResult(url="u", final_url="u", status=status, error=error, headers=headers)


def test_is_transient_classification():
    assert is_transient(_result(error="timeout: no response within 15 s"))
    assert is_transient(_result(error="connection: body broken off (Connection reset by peer)"))
    for status in (500, 502, 503, 504):
        assert is_transient(_result(status))
    assert not is_transient(_result(503, **{"retry-after": "5"}))
    for error in ("deadline: x", "too_large: x", "blocked: x", "redirect_loop: x", "dns: x"):
        assert not is_transient(_result(error=error))
    for status in (200, 304, 404, 408, 429, 501):
        assert not is_transient(_result(status))


def test_backoff_is_exponential_jittered_capped_and_at_least_the_host_delay():
    policy = RetryPolicy(backoff_s=1.0, max_backoff_s=3.0)
    assert backoff_delay(0, policy, lambda: 0.0) == 0.5
    assert backoff_delay(0, policy, lambda: 1.0) == 1.0
    assert backoff_delay(1, policy, lambda: 1.0) == 2.0
    assert backoff_delay(5, policy, lambda: 1.0) == 3.0  # capped
    polite = RetryPolicy(backoff_s=0.1, min_wait_s=2.0)
    assert backoff_delay(0, polite, lambda: 0.5) == 2.0
