"""One writing run at a time on a warehouse, across processes and machines.

DuckDB lets one process write a file. Three guards keep newsflow's runs from colliding on the
working file, outermost first:

1. the deployment's own ``concurrency_limit: 1`` (``deploy/prefect.yaml``, ``newsflow serve``)
   keeps two runs of one deployment from starting together;
2. a Prefect global concurrency limit per warehouse, :func:`writer_limit_name` (one slot,
   named from the working file's path), held around the run's writes whenever a Prefect
   server is configured (``PREFECT_API_URL``). It also serialises *different* flows that write
   the same warehouse (ingest, reprocess) and workers on other machines, and it queues them in
   Prefect, where the UI shows who waits for whom; runs into different warehouses never wait
   for each other;
3. DuckDB's own file lock, which :meth:`Warehouse.open` waits on: the last line of defence, and
   the only one without a real server (``newsflow run`` on a laptop).

Whichever guard makes a run wait, the run waits at most ``warehouse.lock_timeout_s`` in total
and then fails with :class:`WarehouseLocked`, naming the file and the holder, before it has
written anything.

The limit is skipped without a real server on purpose, and the temporary API server a CLI
command starts for itself (``NEWSFLOW_TEMPORARY_API`` names it) is not one: it runs no
background services, so a slot leaked by a killed process would never be reclaimed, and every
later run would wait out its timeout.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

from newsflow.run_log import run_logger
from newsflow.tasks.warehouse.connection import WarehouseLocked
from newsflow.tasks.warehouse.lake_connection import LakeTarget
from newsflow.tasks.warehouse.warehouse import Warehouse, working_path

#: Names the temporary API server the CLI started for the command it runs
#: (``newsflow.ops.prefect_server.temporary_api`` sets it; the writer guard reads it).
TEMPORARY_API_ENV = "NEWSFLOW_TEMPORARY_API"

#: Seconds a slot survives without renewal: a killed run's slot comes back after this long
#: (the server's lease service reclaims it). Prefect renews it in the background while held.
LEASE_S = 120.0

logger = logging.getLogger("newsflow.writer")


@contextmanager
def open_for_writing(
    db: str | os.PathLike[str],
    *,
    lock_timeout_s: float,
    memory_limit: str | None = None,
    lake: LakeTarget | None = None,
) -> Iterator[Warehouse]:
    """The warehouse, open for writing, with every guard held; released on exit. With
    ``lake``, every publish also merges the runs into that DuckLake (``lake.py``).

    The first run into a new location also publishes an empty snapshot straight away, so that
    analysts can connect (and see the tables) from the start instead of meeting a missing file.
    """
    deadline = time.monotonic() + lock_timeout_s
    published = Path(db).expanduser().resolve()
    with writer_slot(working_path(published), timeout_s=lock_timeout_s):
        remaining = max(deadline - time.monotonic(), 0.0)
        with Warehouse.open(
            published, lock_timeout_s=remaining, memory_limit=memory_limit
        ) as warehouse:
            warehouse.lake = lake
            if not warehouse.published.exists():
                warehouse.publish()
            yield warehouse


def prefect_api_configured() -> bool:
    """True when runs report to a real Prefect server named by ``PREFECT_API_URL`` (not the
    temporary one a CLI command starts for itself)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return bool(url) and url != os.environ.get(TEMPORARY_API_ENV)


def writer_limit_name(target: Path) -> str:
    """The Prefect concurrency limit of the warehouse whose working file is ``target``:
    readable (the file's stem) and unique (a hash of its absolute path), so that runs into
    different warehouses on one Prefect server never wait for each other."""
    path = str(Path(target).expanduser().resolve())
    stem = re.sub(r"[^a-z0-9]+", "-", Path(path).stem.lower()).strip("-")[:40] or "warehouse"
    return f"newsflow-writer-{stem}-{hashlib.sha256(path.encode()).hexdigest()[:10]}"


@contextmanager
def writer_slot(target: Path, *, timeout_s: float) -> Iterator[None]:
    """Hold the warehouse's writer slot (:func:`writer_limit_name`), waiting up to
    ``timeout_s``; a no-op without a real Prefect server, or while an operator has disabled
    the limit."""
    name = writer_limit_name(target)
    if not prefect_api_configured() or not ensure_writer_limit(name).active:
        yield
        return
    from prefect.concurrency.sync import concurrency

    holder = _lease_holder()
    deadline = time.monotonic() + timeout_s
    delay = 0.5
    warned = False
    with ExitStack() as stack:
        while True:
            # Wait by reading the limit, and ask for the slot only when it looks free: a refused
            # request is logged as an error by Prefect, a wait is not an error.
            if _slot_free(name):
                try:
                    stack.enter_context(
                        concurrency(
                            name,
                            occupy=1,
                            max_retries=0,  # we wait ourselves, to keep to our own deadline
                            lease_duration=LEASE_S,
                            strict=True,  # a deleted limit must not silently mean "no limit"
                            holder=holder,
                            raise_on_lease_renewal_failure=False,  # DuckDB's lock still guards
                        )
                    )
                    break
                except Exception as exc:
                    if not _slot_taken(exc):  # only a lost race is a reason to keep waiting
                        raise
            now = time.monotonic()
            if now >= deadline:
                raise WarehouseLocked(
                    f"{target} is locked by another run: the Prefect concurrency limit "
                    f"{name!r} stayed full for {timeout_s:g} s (warehouse.lock_timeout_s); "
                    f"held by {describe_writers()}, writing {target}."
                )
            if not warned:
                warned = True
                _warn(
                    f"{describe_writers()} is writing {target}; waiting up to {timeout_s:g} s "
                    f"for the {name!r} slot"
                )
            time.sleep(min(delay, max(deadline - now, 0.0)))
            delay = min(delay * 1.5, 5.0)
        yield


def ensure_writer_limit(name: str) -> Any:
    """The writer limit ``name``, created with one slot unless it exists (Prefect no longer
    creates limits on first use). Keep it at 1: ``prefect gcl inspect NAME`` shows who holds
    it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            pass
        with suppress(ObjectAlreadyExists):  # another run created it a moment ago
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
        return client.read_global_concurrency_limit_by_name(name)


def _slot_free(name: str) -> bool:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(name)
    return limit.active_slots < limit.limit


def describe_writers() -> str:
    """Running newsflow flow runs other than this one: who most likely holds the slot."""
    try:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType
        from prefect.runtime import flow_run

        me = str(flow_run.get_id() or "")
        running = FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING]))
        )
        found = []
        with get_client(sync_client=True) as client:
            for run in client.read_flow_runs(flow_run_filter=running, limit=20):
                if str(run.id) == me:
                    continue
                flow_name = client.read_flow(run.flow_id).name
                if not flow_name.startswith("newsflow"):
                    continue
                since = (
                    f", running since {run.start_time:%Y-%m-%d %H:%M:%S %Z}"
                    if run.start_time
                    else ""
                )
                found.append(f"flow run {run.name!r} of {flow_name} (id {run.id}{since})")
        return "; ".join(found) or "a run that is no longer reported as running"
    except Exception as exc:  # the description is a courtesy; never fail because of it
        return f"a run this process could not identify ({type(exc).__name__})"


def _slot_taken(exc: BaseException) -> bool:
    cause = exc.__cause__
    response = getattr(cause, "response", None)
    return getattr(response, "status_code", None) == 423


def _lease_holder() -> Any:
    """This flow run as the lease holder, so the Prefect UI can show who holds the slot."""
    from prefect.client.schemas.objects import ConcurrencyLeaseHolder
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    return ConcurrencyLeaseHolder(type="flow_run", id=run_id) if run_id else None


def _warn(message: str) -> None:
    run_logger(logger).warning(message)
