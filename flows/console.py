"""What a person at a terminal sees: a progress bar while pages are fetched, nothing else.

Flows report progress through :func:`progress`; it draws only when the CLI turned it on and
stderr is a terminal, so scheduled runs, tests and pipes stay quiet.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_enabled = False
err_console = Console(stderr=True)


def enable(on: bool = True) -> None:
    global _enabled
    _enabled = on and sys.stderr.isatty()


class _Bar:
    def __init__(self, progress: Progress | None, task_id: int | None) -> None:
        self._progress = progress
        self._task_id = task_id

    def advance(self, amount: int = 1) -> None:
        if self._progress is not None and self._task_id is not None:
            self._progress.advance(self._task_id, amount)


@contextmanager
def progress(description: str, total: int) -> Iterator[_Bar]:
    if not _enabled or total <= 0:
        yield _Bar(None, None)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        yield _Bar(bar, bar.add_task(description, total=total))
