"""What a person at a terminal sees while a flow works: a progress bar on stderr.

Flows report progress through :mod:`newsflow.progress`; :func:`enable` installs this bar as
its reporter only when stderr is a terminal, so scheduled runs, tests and pipes stay quiet.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

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
