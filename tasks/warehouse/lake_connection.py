"""How newsflow reaches a DuckLake: the three extensions, the object store's secret, the ATTACH,
and DuckLake's commit conflicts.

Nothing is downloaded at run time: the ``ducklake``, ``postgres`` and ``httpfs`` extensions come
from their pip packages (``duckdb-extension-*``, the same version as ``duckdb``) and are loaded
by path. The ``postgres`` package ships its file as ``postgres.duckdb_extension`` while DuckDB
expects the extension inside to be named after its file (``postgres_scanner``), so it is loaded
through a link of that name in a private folder.

Credentials never come from the config file: the catalog's password is libpq's (``PGPASSWORD``,
``PGPASSFILE``, ``PGUSER`` …, read by the ``postgres`` extension's libpq), and the object
store's endpoint and keys come from ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY`` and ``AWS_REGION``, turned into a DuckDB S3 secret that lives only in
the connection.
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import duckdb

from newsflow.schemas.config import WarehouseConfig
from newsflow.tasks.warehouse.connection import OFFLINE

#: The name the lake is attached under, in the pipeline's connection and a reader's.
ALIAS = "lake"

#: (pip package module, file stem in the package, extension name DuckDB expects).
_EXTENSIONS = (
    ("duckdb_extension_ducklake", "ducklake", "ducklake"),
    ("duckdb_extension_postgres", "postgres", "postgres_scanner"),
    ("duckdb_extension_httpfs", "httpfs", "httpfs"),
)

T = TypeVar("T")


class LakeUnavailable(RuntimeError):
    """The lake cannot be reached or used (an extension missing, the catalog refusing the
    connection, the object store's credentials absent); the message says which."""


class LakeMissing(LakeUnavailable):
    """A reader's catalog holds no DuckLake yet (no run has published into it)."""


@dataclass(frozen=True)
class LakeTarget:
    """Where a DuckLake warehouse lives: its PostgreSQL catalog (a libpq connection string
    without a password) and its data path (a local folder or ``s3://bucket/prefix/``)."""

    catalog: str
    data_path: str

    @classmethod
    def of(cls, config: WarehouseConfig) -> LakeTarget | None:
        """The lake ``[warehouse]`` configures; None for the DuckDB-file warehouse."""
        if config.kind != "ducklake" or not config.catalog or not config.data_path:
            return None
        return cls(config.catalog, config.data_path)

    @property
    def on_s3(self) -> bool:
        return self.data_path.startswith("s3://")

    def data_folder(self) -> str:
        """The data path as DuckLake takes it: an absolute folder, or the S3 prefix, with a
        trailing slash."""
        path = self.data_path if self.on_s3 else str(Path(self.data_path).expanduser().resolve())
        return path if path.endswith("/") else path + "/"


def extension_file(module: str, stem: str) -> Path:
    """``<stem>.duckdb_extension`` in the pip package ``module`` for the running DuckDB."""
    try:
        package = __import__(module)
    except ImportError as exc:
        pip = module.replace("_", "-")
        raise LakeUnavailable(
            f"the {pip} package is not installed (pip install '{pip}=={duckdb.__version__}')"
        ) from exc
    path = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    found = path / f"{stem}.duckdb_extension"
    if not found.is_file():
        raise LakeUnavailable(f"{found} is missing: reinstall {module} {duckdb.__version__}")
    return found


@cache
def _link_folder() -> Path:
    """A private folder for this process's extension links, removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="newsflow-ext-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def extension_paths() -> list[Path]:
    """The files to ``LOAD``, each under the name DuckDB expects of it."""
    paths = []
    for module, stem, name in _EXTENSIONS:
        found = extension_file(module, stem)
        if stem == name:
            paths.append(found)
            continue
        link = _link_folder() / f"{name}.duckdb_extension"
        if not link.exists():
            link.symlink_to(found)
        paths.append(link)
    return paths


def load_extensions(con: duckdb.DuckDBPyConnection) -> None:
    """Load ``ducklake``, ``postgres`` and ``httpfs`` from their pip packages (offline)."""
    for path in extension_paths():
        con.execute(f"LOAD '{_sql_str(str(path))}'")


def create_s3_secret(con: duckdb.DuckDBPyConnection) -> None:
    """A temporary DuckDB S3 secret from the ``AWS_*`` environment (endpoint optional: AWS
    itself when absent). Raises :class:`LakeUnavailable` without the keys."""
    key_id = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        raise LakeUnavailable(
            "warehouse.data_path is on S3 but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are "
            "not set (the keys come from the environment, never the config file)"
        )
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    parts = [f"KEY_ID '{_sql_str(key_id)}'", f"SECRET '{_sql_str(secret)}'"]
    parts.append(f"REGION '{_sql_str(region)}'")
    if token := os.environ.get("AWS_SESSION_TOKEN"):
        parts.append(f"SESSION_TOKEN '{_sql_str(token)}'")
    if endpoint := os.environ.get("AWS_ENDPOINT_URL"):
        split = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        parts.append(f"ENDPOINT '{_sql_str(split.netloc)}'")
        parts.append(f"USE_SSL {'false' if split.scheme == 'http' else 'true'}")
        parts.append("URL_STYLE 'path'")  # MinIO, moto, Ceph: buckets as paths, not hosts
    con.execute(f"CREATE OR REPLACE SECRET newsflow_lake_s3 (TYPE s3, {', '.join(parts)})")


def attach(
    con: duckdb.DuckDBPyConnection,
    target: LakeTarget,
    *,
    read_only: bool = False,
    snapshot_version: int | None = None,
) -> None:
    """Attach the lake to ``con`` as :data:`ALIAS` (extensions loaded, S3 secret made first);
    ``snapshot_version`` pins every table to that DuckLake snapshot (read-only)."""
    load_extensions(con)
    if target.on_s3:
        create_s3_secret(con)
    options = [f"DATA_PATH '{_sql_str(target.data_folder())}'"]
    if read_only or snapshot_version is not None:
        options.append("READ_ONLY")
    if snapshot_version is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot_version)}")
    sql = f"ATTACH 'ducklake:postgres:{_sql_str(target.catalog)}' AS {ALIAS} ({', '.join(options)})"
    for attempt in range(1, _INIT_ATTEMPTS + 1):
        try:
            con.execute(sql)
            return
        except duckdb.Error as exc:
            if _is_init_race(exc) and attempt < _INIT_ATTEMPTS:
                time.sleep(0.2 * attempt * (0.5 + random.random()))
                continue  # another process created the catalog meanwhile: attach to it
            if "creating a new ducklake is explicitly disabled" in str(exc).lower():
                raise LakeMissing(
                    f"there is no DuckLake in the catalog {target.catalog!r} yet: the first "
                    "run's publish creates it"
                ) from None
            reason = " ".join(str(exc).split())[:300]
            hint = ""
            if "password" in reason.lower() or "authentication" in reason.lower():
                hint = "; the password comes from PGPASSWORD or ~/.pgpass, PGUSER names the user"
            raise LakeUnavailable(
                f"cannot attach the DuckLake catalog {target.catalog!r} ({reason}){hint}"
            ) from None


#: Attempts at attaching while other processes are creating the same new catalog.
_INIT_ATTEMPTS = 6


def _is_init_race(exc: BaseException) -> bool:
    """The first ATTACH of several processes to a new catalog: each creates DuckLake's
    metadata tables, and PostgreSQL refuses all but one (a duplicate type or table name)."""
    message = str(exc).lower()
    return "failed to initialize ducklake" in message and (
        "duplicate key" in message or "already exists" in message
    )


def connect(
    target: LakeTarget, *, read_only: bool = False, snapshot_version: int | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake attached and in use (``USE lake``), so
    queries name its tables as they would in the DuckDB-file warehouse."""
    con = duckdb.connect(config=OFFLINE)
    try:
        attach(con, target, read_only=read_only, snapshot_version=snapshot_version)
        con.execute(f"USE {ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def is_commit_conflict(exc: BaseException) -> bool:
    """Is ``exc`` DuckLake refusing a commit because another writer's snapshot got there first
    with a change that conflicts (after its own retries)? Then the whole transaction, redone
    against the newer snapshot, may succeed."""
    message = str(exc).lower()
    return isinstance(exc, duckdb.Error) and (
        # "Failed to commit DuckLake transaction. Transaction conflict - attempting to insert
        # into table … but another transaction has deleted inlined data from it"
        "transaction conflict" in message
        # its own retries of a snapshot id another writer took, used up
        or "exceeded the maximum retry count" in message
    )


def with_conflict_retry(
    con: duckdb.DuckDBPyConnection,
    work: Callable[[], T],
    *,
    attempts: int = 30,
    first_wait_s: float = 0.05,
) -> T:
    """Run ``work`` in a transaction of its own on ``con`` and commit it; on a DuckLake commit
    conflict roll back and run it all again (it then reads what the winner wrote), waiting a
    little longer each time, with jitter so the losers do not collide again in step."""
    wait = first_wait_s
    for attempt in range(1, attempts + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            result = work()
            con.execute("COMMIT")
            return result
        except BaseException as exc:
            with suppress(duckdb.Error):  # a failed COMMIT has already ended the transaction
                con.execute("ROLLBACK")
            if not is_commit_conflict(exc) or attempt == attempts:
                raise
        time.sleep(wait * (0.5 + random.random()))
        wait = min(wait * 1.6, 2.0)
    raise AssertionError("unreachable")  # pragma: no cover


def _sql_str(value: str) -> str:
    return value.replace("'", "''")
