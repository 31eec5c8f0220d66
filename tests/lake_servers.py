"""The real parts a DuckLake warehouse needs, started on loopback by the tests themselves.

* **PostgreSQL** (the lake's catalog) from the binaries of the ``pgserver`` pip package: a
  fresh cluster in a temporary folder, listening on 127.0.0.1 with password authentication
  (scram-sha-256) for TCP, so a test shows the password really comes from ``PGPASSWORD`` and
  not from the connection string. PostgreSQL refuses to run as root; as root (a container) the
  cluster runs as the system user ``pgserver``, created the way the ``pgserver`` package
  itself does it.
* **S3** (the lake's Parquet files) from ``moto[server]``: the real S3 HTTP API on a loopback
  port, one bucket per session.

Import the fixtures in ``tests/conftest.py``; ``lake_env`` sets the environment a run reads
(``PGUSER``, ``PGPASSWORD``, ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, …). Benchmarks use
:func:`running_postgres` and :func:`running_s3` directly.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_USER = "newsflow"
PG_PASSWORD = "lake-test-secret"
S3_KEY_ID = "newsflow-test"
S3_SECRET = "newsflow-test-secret"
S3_REGION = "us-east-1"


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL: its address, and the user the catalog connects as."""

    host: str
    port: int
    user: str
    password: str

    def catalog(self, dbname: str) -> str:
        """A libpq connection string without credentials other than the user name."""
        return f"host={self.host} port={self.port} dbname={dbname}"

    def create_database(self, dbname: str) -> None:
        """A fresh database (one lake catalog per test)."""
        _psql(self, f'CREATE DATABASE "{dbname}"')


@dataclass(frozen=True)
class S3:
    """A running S3 API (moto): its endpoint and a bucket."""

    endpoint: str
    bucket: str
    key_id: str = S3_KEY_ID
    secret: str = S3_SECRET
    region: str = S3_REGION

    def keys(self, prefix: str = "") -> list[str]:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            region_name=self.region,
        )
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bin() -> Path:
    with warnings.catch_warnings():  # platformdirs on a machine without XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def _run_as() -> str | None:
    """The system user PostgreSQL runs as: ourselves, or ``pgserver`` when we are root."""
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_folder_permissions, ensure_user_exists

    ensure_user_exists("pgserver")
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(_bin(), readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(_bin().parent / "lib", readable)
    return "pgserver"


def _psql(pg: Postgres, sql: str) -> None:
    env = {**os.environ, "PGPASSWORD": pg.password}
    subprocess.run(
        [
            str(_bin() / "psql"),
            "-h",
            pg.host,
            "-p",
            str(pg.port),
            "-U",
            pg.user,
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=30,
    )


@contextmanager
def running_postgres() -> Iterator[Postgres]:
    """A fresh PostgreSQL cluster, password auth over TCP on 127.0.0.1, removed after."""
    _bin()  # imports pgserver first, quietly
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="newsflow-pg-"))
    data = root / "data"
    data.mkdir()
    pwfile = root / "pw"
    pwfile.write_text(PG_PASSWORD + "\n")
    if user:
        import pwd

        from pgserver.utils import ensure_prefix_permissions

        entry = pwd.getpwnam(user)
        ensure_prefix_permissions(data)
        for path in (root, data, pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    subprocess.run(
        [str(_bin() / "initdb"), "-D", str(data), "-U", PG_USER, f"--pwfile={pwfile}",
         "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "utf8", "--no-sync"],
        check=True, capture_output=True, user=user, timeout=120,
    )  # fmt: skip
    pwfile.unlink()
    port = _free_port()
    ctl = [str(_bin() / "pg_ctl"), "-D", str(data)]
    options = f"-h 127.0.0.1 -p {port} -k {data} -c fsync=off -c max_connections=50"
    started = subprocess.run(
        [*ctl, "-w", "-t", "60", "-l", str(data / "log"), "-o", options, "start"],
        capture_output=True, text=True, user=user, timeout=90,
    )  # fmt: skip
    if started.returncode != 0:
        log = (data / "log").read_text() if (data / "log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{log}")
    try:
        yield Postgres("127.0.0.1", port, PG_USER, PG_PASSWORD)
    finally:
        subprocess.run(
            [*ctl, "-m", "fast", "-w", "stop"], capture_output=True, user=user, timeout=60
        )
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def running_s3() -> Iterator[S3]:
    """moto's S3 API on a loopback port, with one bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per S3 request
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
            region_name=S3_REGION,
        ).create_bucket(Bucket="newsflow-lake")
        yield S3(endpoint, "newsflow-lake")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL cluster for the session."""
    with running_postgres() as pg:
        yield pg


@pytest.fixture(scope="session")
def s3() -> Iterator[S3]:
    """An S3 API for the session."""
    with running_s3() as api:
        yield api


@dataclass(frozen=True)
class Lake:
    """One fresh lake for a test: its catalog database and data path, the environment set."""

    catalog: str
    data_path: str
    postgres: Postgres
    s3: S3


@pytest.fixture
def lake_env(postgres: Postgres, s3: S3, monkeypatch: pytest.MonkeyPatch) -> Lake:
    """A fresh catalog database and S3 prefix, with the credentials in the environment only
    (as a deployment would have them)."""
    name = f"lake_{uuid.uuid4().hex[:10]}"
    postgres.create_database(name)
    monkeypatch.setenv("PGUSER", postgres.user)
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret)
    monkeypatch.setenv("AWS_REGION", s3.region)
    return Lake(postgres.catalog(name), f"s3://{s3.bucket}/{name}/", postgres, s3)
