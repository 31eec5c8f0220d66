"""The data-quality gate after a load: table checks, alert state, alerts, run outcome.

Both the ingest flow and the ``checks`` flow end the same way, while they hold the warehouse
lock (so two runs never write one Data Docs folder at once):

1. :func:`run_checks` (a Prefect task): the table suite over DuckDB query results, its results
   into ``dq_results``, the row suite's batch results folded into one result per check for the
   run, and every result advanced into ``alert_state``, in one transaction. Data Docs are built
   into ``[alerts] data_docs_dir``.
2. :func:`announce` (a Prefect task): the messages due (checks that turned bad, checks that
   recovered, deliveries that failed last time) go out through apprise, and each state change
   becomes a Prefect event. Valid rows are loaded and rejects recorded (committed) before; it
   never raises, so delivery can neither fail nor roll back a load. Bounded retries keep it
   short (``[alerts] delivery_attempts``, ``retry_delay_s``).
3. The caller finishes the run record and publishes the snapshot, so analysts see this run's
   ``dq_results`` and ``alert_state`` (with what was announced) together.
4. The flow ends Failed when a critical check failed (``QualityReport.failure_message``;
   flows/scaffold.py builds the state): a direct call (the CLI) raises
   ``CriticalChecksFailed`` carrying the summary, which the CLI prints before exiting 1.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsflow.schemas.config import Config
from newsflow.schemas.suites import TABLE_SUITE
from newsflow.tasks.quality import alerts
from newsflow.tasks.quality.alerts import SAMPLE_URLS, AlertMessage, AlertState, CheckResult
from newsflow.tasks.warehouse.warehouse import Warehouse


def data_docs_dir(config: Config, published: Path | str) -> Path:
    """``[alerts] data_docs_dir``, else ``<warehouse stem>-data-docs/`` beside the warehouse."""
    if config.alerts.data_docs_dir:
        return Path(config.alerts.data_docs_dir).expanduser().resolve()
    published = Path(published).expanduser().resolve()
    return published.with_name(f"{published.stem}-data-docs")


# --------------------------------------------------------------------------- row-suite tally


def tally_row_results(tally: dict[str, dict[str, Any]], results: Sequence[dict[str, Any]]) -> None:
    """Fold one batch's row-suite results into the run's tally, one entry per check.

    A run validates in batches; the run-level view (for the summary and alerts) is: failed if
    any batch failed, counts summed, the first sample URLs kept.
    """
    for result in results:
        seen = json.loads(result.get("observed") or "{}")
        entry = tally.setdefault(
            result["check"],
            {
                "suite": result["suite"],
                "severity": result["severity"],
                "batches": 0,
                "failed_batches": 0,
                "element_count": 0,
                "unexpected_count": 0,
                "max_unexpected_percent": seen.get("max_unexpected_percent"),
                "rule": seen.get("rule"),
                "sample_urls": [],
                "by_source": {},
                "example": None,
            },
        )
        entry["batches"] += 1
        entry["failed_batches"] += 0 if result["success"] else 1
        entry["element_count"] += int(seen.get("element_count") or 0)
        entry["unexpected_count"] += int(result.get("unexpected_count") or 0)
        room = SAMPLE_URLS - len(entry["sample_urls"])
        entry["sample_urls"].extend((seen.get("sample_urls") or [])[: max(0, room)])
        entry["by_source"] = dict(
            Counter(entry["by_source"]) + Counter(seen.get("by_source") or {})
        )
        if entry["example"] is None and seen.get("example"):
            entry["example"] = seen["example"]


def row_check_results(tally: Mapping[str, Mapping[str, Any]]) -> list[CheckResult]:
    """The run's row-suite tally as one result per check (over all sources)."""
    out = []
    for check, entry in tally.items():
        total, bad = entry["element_count"], entry["unexpected_count"]
        percent = 100.0 * bad / total if total else 0.0
        observed = {
            "observed": f"{bad} of {total} records failed ({percent:.1f}%)"
            + (
                f"; over the limit in {entry['failed_batches']} of {entry['batches']} batches"
                if entry["failed_batches"]
                else ""
            ),
            "expected": f"at most {entry['max_unexpected_percent']}% of a batch failing",
            "count": bad,
            # a failed critical check rejects the record; a failed warning only flags it
            "count_label": "records rejected for this check"
            if entry["severity"] == "critical"
            else "records loaded with this check in quality_flags",
            "sample_urls": entry["sample_urls"][:SAMPLE_URLS],
            "by_source": entry["by_source"],
            "rule": entry["rule"],
            "example": entry["example"],
        }
        out.append(
            CheckResult(
                suite=entry["suite"],
                check=check,
                source=None,
                severity=entry["severity"],
                status="fail" if entry["failed_batches"] else "pass",
                observed=observed,
                count=bad,
            )
        )
    return out


# --------------------------------------------------------------------------- the gate


@dataclass
class QualityReport:
    """The data-quality outcome of one run."""

    run_id: str
    results: list[CheckResult] = field(default_factory=list)
    changes: list[tuple[str, AlertState]] = field(default_factory=list)  # (kind, new state)
    data_docs_page: Path | None = None
    data_docs_index: Path | None = None
    alerts: list[alerts.AlertReport] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)

    @property
    def checks_failed(self) -> list[str]:
        """Each failing check once, as ``check`` or ``check [source]``; critical first."""
        failed = [r for r in self.results if r.status == "fail"]
        failed.sort(key=lambda r: (r.severity != "critical", r.suite, r.check, r.source or ""))
        return list(dict.fromkeys(r.label for r in failed))

    @property
    def critical_checks(self) -> list[str]:
        return [r.label for r in self.results if r.status == "fail" and r.severity == "critical"]

    @property
    def checks_passed(self) -> int:
        return sum(1 for r in self.results if r.status == "pass")

    @property
    def critical_failed(self) -> bool:
        return bool(self.critical_checks)

    @property
    def failure_message(self) -> str | None:
        if not self.critical_failed:
            return None
        return "critical data-quality checks failed: " + ", ".join(self.critical_checks)


def checked_sources(config: Config, warehouse: Warehouse) -> list[str]:
    """Enabled configured sources; with none configured, every source the warehouse knows."""
    names = [s.name for s in config.sources if s.enabled]
    return names or warehouse.known_sources()


def alert_summaries(report: QualityReport) -> list[dict[str, Any]]:
    """The alerts of a run as plain dicts (for run summaries and ``--json``)."""
    return [
        {
            "kind": a.message.kind,
            "title": a.message.title,
            "body": a.message.body,
            "destinations": a.destinations,
            "delivered": a.delivered,
            "errors": [d.error for d in a.deliveries if not d.ok],
        }
        for a in report.alerts
    ]


def standing_report(warehouse: Warehouse, run_id: str) -> QualityReport:
    """An idle tick's verdict: the table checks as they stood after their last evaluation.

    When every feed answered 304 no article changed, so evaluating the table suite again would
    only repeat its verdict (at the cost of starting Great Expectations). The standing states
    keep the run's summary and exit code honest, and since no state changes, nothing is sent.
    """
    results = [
        alerts.CheckResult(
            suite=state.suite,
            check=state.check,
            source=state.source or None,
            severity=state.severity,
            status="fail" if state.state == alerts.FAILING else "pass",
            observed=state.observed,
        )
        for state in warehouse.load_alert_states().values()
        if state.suite == TABLE_SUITE
    ]
    return QualityReport(run_id=run_id, results=results)


def apply_to_summary(report: QualityReport, summary: Any) -> None:
    """Copy the run-level data-quality outcome onto a run summary (ingest or checks)."""
    summary.checks_passed = report.checks_passed
    summary.checks_failed = report.checks_failed
    summary.critical_failed = report.critical_failed
    if report.critical_failed:
        summary.status = "failed"
    summary.data_docs = str(report.data_docs_page or report.data_docs_index or "") or None


def render_alert(alert: Mapping[str, Any]) -> str:
    """An alert summary dict as text for a terminal."""
    return alerts.render(
        AlertMessage(kind=alert["kind"], title=alert["title"], body=alert["body"], notify_type="")
    )
