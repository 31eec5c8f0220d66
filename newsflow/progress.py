"""Progress of long work: flows report it here, whoever listens draws it.

Flows and stages never print (that is the CLI's job); they say how far they are through
:func:`progress`. The CLI installs a reporter that draws a bar on a terminal; scheduled runs,
tests and pipes install none, so they stay quiet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Bar(Protocol):
    def advance(self, amount: int = 1) -> None: ...


class _NoBar:
    def advance(self, amount: int = 1) -> None:
        return None


Reporter = Callable[[str, int], AbstractContextManager[Bar]]
_reporter: Reporter | None = None


def set_reporter(reporter: Reporter | None) -> None:
    """Install (or, with None, remove) what draws progress for this process."""
    global _reporter
    _reporter = reporter


@contextmanager
def progress(description: str, total: int) -> Iterator[Bar]:
    """A bar for ``total`` steps of ``description``; a silent one when nobody listens."""
    if _reporter is None or total <= 0:
        yield _NoBar()
        return
    with _reporter(description, total) as bar:
        yield bar
