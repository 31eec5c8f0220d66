"""What a person at a terminal sees while a flow works: a progress bar on stderr.

Flows report progress through :mod:`newsflow.progress`; :func:`enable` installs this bar as
its reporter only when stderr is a terminal, so scheduled runs, tests and pipes stay quiet.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from newsflow import progress

err_console = Console(stderr=True)


def enable(on: bool = True) -> None:
    progress.set_reporter(_bar if on and sys.stderr.isatty() else None)


class _Bar:
    def __init__(self, bar: Progress, task_id: int) -> None:
        self._bar = bar
        self._task_id = task_id

    def advance(self, amount: int = 1) -> None:
        self._bar.advance(self._task_id, amount)


@contextmanager
def _bar(description: str, total: int) -> Iterator[_Bar]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        yield _Bar(bar, bar.add_task(description, total=total))


_status: list[Any] = []  # the spinner shown now, if any


@contextmanager
def waiting(description: str) -> Iterator[None]:
    """A spinner naming what the command waits for (a terminal only; elsewhere nothing), so a
    one-off command is never silent while Prefect loads or a server starts. Ends before a
    flow's progress bars start (one live display at a time)."""
    if not sys.stderr.isatty():
        yield
        return
    with err_console.status(f"newsflow: {description}…") as status:
        _status.append(status)
        try:
            yield
        finally:
            _status.remove(status)


def waiting_on(description: str) -> None:
    """Change what the spinner says (no-op without one)."""
    for status in _status:
        status.update(f"newsflow: {description}…")


def note(message: str) -> None:
    """A ``newsflow:`` line on stderr that a spinner, if one is shown, moves below."""
    err_console.print(f"newsflow: {message}", markup=False, highlight=False, soft_wrap=True)
