"""Shared fixtures: one Prefect test server for the session, the demo site on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

import newsflow  # noqa: F401  (telemetry off before Prefect is imported)
from tests.lake_servers import lake_env, postgres, s3  # noqa: F401  (DuckLake's real parts)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A real Prefect API (temporary SQLite database) for every flow run in the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_site():
    from newsflow.demo.server import start_demo_site

    site = start_demo_site(0)
    yield site
    site.stop()
