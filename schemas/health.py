"""What the health report shows, as typed records: read from the warehouse by
``tasks/warehouse/health.py`` and drawn by ``tasks/report/`` (which never sees SQL or DuckDB).

Each record is one row of a view or table the warehouse already documents
(``docs/warehouse.md``): nothing here is computed that an analyst could not query too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class DailyArticles:
    """``daily_articles_by_source``: articles a source published on one UTC day."""

    day: date
    source: str
    articles: int


@dataclass(frozen=True)
class SourceHealth:
    """``source_health``: one polled source, its rates over the last 7 days."""

    source: str
    last_polled_at: datetime | None
    last_success_at: datetime | None
    consecutive_errors: int
    pages_7d: int
    page_error_rate_7d: float | None  # None: no page requested in the window
    reject_rate_7d: float | None  # None: nothing extracted in the window
    articles_total: int


@dataclass(frozen=True)
class CheckEvaluation:
    """``dq_results``: one evaluation of a check (for one source, or over all of them)."""

    check: str
    source: str | None
    severity: str
    success: bool
    checked_at: datetime

    @property
    def label(self) -> str:
        """``check [source]``, as alerts name a check."""
        return f"{self.check} [{self.source}]" if self.source else self.check


@dataclass(frozen=True)
class CheckState:
    """``alert_state``: a check's current state and since when."""

    check: str
    source: str
    severity: str
    state: str  # failing | passing
    since: datetime | None
    failing_runs: int


@dataclass(frozen=True)
class AlertEvent:
    """``alert_log``: one alert message (a check failed, recovered, a source paused …)."""

    kind: str
    title: str
    checks: tuple[str, ...]
    delivered: bool
    created_at: datetime


@dataclass(frozen=True)
class RunRecord:
    """``pipeline_runs``: one flow run."""

    run_id: str
    flow: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    articles_new: int
    page_errors: int
    rejected: int
    checks_failed: int

    @property
    def duration_s(self) -> float | None:
        """Wall time of the run; None while running or when it crashed."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class WarehouseHealth:
    """Everything one health report shows, read from one snapshot in one go."""

    db: str
    generated_at: datetime
    window_days: int
    runs: list[RunRecord] = field(default_factory=list)  # oldest first
    daily: list[DailyArticles] = field(default_factory=list)
    sources: list[SourceHealth] = field(default_factory=list)
    evaluations: list[CheckEvaluation] = field(default_factory=list)  # oldest first
    states: list[CheckState] = field(default_factory=list)
    alerts: list[AlertEvent] = field(default_factory=list)  # newest first

    @property
    def empty(self) -> bool:
        """No run recorded yet: the report says so instead of drawing empty axes."""
        return not self.runs
