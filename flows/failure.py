"""How a run ends failed: a stage raised (:class:`RunFailed`, the CLI's exit code 3), or every
stage ran and the run still failed, with its summary (:class:`RunEndedFailed`: a critical check
failed, exit 1; nothing worked, exit 4).

Kept free of Prefect and DuckDB imports so that the CLI can catch these without loading either.
"""

from __future__ import annotations

import errno
import logging
from typing import Any

#: The stage names a summary times (``FlowSummary.timed``), as a person reads them.
STAGE_NAMES = {
    "fetch": "fetch pages",
    "archive": "archive pages",
    "extract": "extract",
    "validate": "validate",
    "load": "load",
    "clusters": "story clusters",
    "checks": "table checks",
    "alerts": "alerts",
    "publish": "publish",
}

#: Longest cause kept: DuckDB and OS messages are one sentence; a bug's repr can be huge.
_MAX_CAUSE = 700


class RunFailed(RuntimeError):
    """A stage of a run failed; the message is one line naming the stage and the cause.

    The run is recorded as failed in ``pipeline_runs`` and its Prefect state is Failed; what
    the earlier batches loaded stays loaded, and the next run publishes it."""

    def __init__(self, stage: str, cause: str) -> None:
        self.stage = stage
        self.cause = cause
        super().__init__(f"the run failed at {stage}: {cause}")

    def __reduce__(self) -> tuple[object, ...]:  # Prefect may pickle a state's data
        return (type(self), (self.stage, self.cause))


class RunEndedFailed(Exception):
    """Every stage ran, its data is loaded and published, and the run is still Failed;
    ``summary`` is the run's summary, which a direct call of the flow (the CLI) prints.

    It is the data of the run's Failed state (``scaffold.failed_state``): Prefect records the
    run as Failed without a traceback, and calling the flow directly raises it."""

    def __init__(self, summary: Any, message: str) -> None:
        self.summary = summary
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:  # Prefect may pickle a state's data
        return (type(self), (self.summary, str(self)))


class CriticalChecksFailed(RunEndedFailed):
    """A critical data-quality check failed; the valid rows are loaded (exit 1)."""

    def __init__(self, summary: Any, message: str | None = None) -> None:
        super().__init__(summary, message or "critical data-quality checks failed")


class NothingWorked(RunEndedFailed):
    """A run completed but every polled feed or every fetched page failed (exit 4;
    flows/outcome.py says when)."""


def stage_name(stage: str) -> str:
    """``"fetch"`` → ``"fetch pages"``; names without a gloss are kept as they are."""
    return STAGE_NAMES.get(stage, stage)


def one_line(exc: BaseException) -> str:
    """The exception as one short line: its type and its message, whitespace collapsed.

    DuckDB's messages run over several lines (a hint, a stack of contexts); an OSError already
    names the errno, the reason and the file. A full disk is said in words first, with what
    to do: the cause's own text (which names the file) follows."""
    text = " ".join(str(exc).split()) or "no message"
    kind = type(exc).__name__
    line = text if text.startswith(kind) else f"{kind}: {text}"
    if is_disk_full(exc) and "free some space" not in line:  # (the check at open says it)
        line = f"the disk is full ({line}); free some space and run again: {DISK_FULL_ADVICE}"
    return line if len(line) <= _MAX_CAUSE else line[: _MAX_CAUSE - 1] + "…"


#: What a user may rely on after a run failed on a full disk: every batch is one transaction,
#: a publish replaces the snapshot only once it is whole, so the next run goes on from there.
DISK_FULL_ADVICE = "what earlier batches stored is kept and the snapshot is the last whole one"

#: How the OS's ENOSPC reads in DuckDB's messages ("Could not write file …: No space left on
#: device"), which carry no errno.
_DISK_FULL_WORDS = "no space left on device"


def is_disk_full(exc: BaseException | None) -> bool:
    """Did ``exc`` come from a full disk (an OSError with ENOSPC, or DuckDB passing one on)?"""
    if exc is None:
        return False
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    return _DISK_FULL_WORDS in str(exc).lower()


class DiskFullTaskLogs(logging.Filter):
    """Drops Prefect's task-run error records about a full disk ("Task run failed with
    exception", with its traceback, and "Finished in state Failed"): the run ends with its
    own one line naming the stage and the cause, and a traceback there reads like a bug in
    newsflow when it is the machine's disk. The task run's state still says Failed, with the
    cause, in Prefect."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        exc = record.exc_info[1] if record.exc_info else None
        return not (is_disk_full(exc) or _DISK_FULL_WORDS in record.getMessage().lower())


_TASK_RUN_LOGGER = "prefect.task_runs"


def quiet_disk_full_task_logs() -> None:
    """Install :class:`DiskFullTaskLogs` on Prefect's task-run logger, once per process."""
    logger = logging.getLogger(_TASK_RUN_LOGGER)
    if not any(isinstance(f, DiskFullTaskLogs) for f in logger.filters):
        logger.addFilter(DiskFullTaskLogs())
