"""Data-quality alerts: one message when a check turns bad, one when it recovers.

The on-call person must get one clear, actionable message per problem and no storm, so:

* **State, not events, drives messages.** Each (suite, check, source) has a row in
  ``alert_state``: its current state (``failing`` / ``passing``) and the state last announced.
  An announcement is due while the two differ. A check failing on every scheduled tick is
  announced once; a check that fails and recovers before any announcement got through is
  never announced; a delivery that failed is simply still due on the next run (the retry across
  runs), while in-run retries are bounded.
* **One message per kind per run.** Checks that turned bad together (a site redesign trips
  the reject rate and the null rates at once) arrive as one message listing each check with its
  source, observed against expected, the count, up to five sample URLs, the run id and the
  Data Docs page.
* **Pure core, delivery at the edge.** ``advance``, ``pending_notices``, ``build_messages`` and
  ``mark_notified`` are pure functions over plain records; ``deliver`` (apprise), ``emit_events``
  (Prefect) and the ``alert_state`` / ``alert_log`` writes (``Warehouse`` methods,
  ``tasks/warehouse/alert_store.py``) sit at the edge and never raise, so a failed delivery can
  never fail or roll back a load.
* **One delivery path.** Every message, data-quality or not, goes out through
  :func:`send_alert`: apprise, the optional Prefect event, the ``alert_log`` row and the states
  it announced.

For other kinds of alert (say a source paused after consecutive failures) use
:func:`send_alert` with an :class:`AlertMessage`, or :func:`alert_source_paused`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsflow.run_log import run_logger

if TYPE_CHECKING:
    from newsflow.tasks.warehouse.warehouse import Warehouse

SAMPLE_URLS = 5
FAILING, PASSING = "failing", "passing"
EVENT_FAILED = "newsflow.dq.failed"
EVENT_RECOVERED = "newsflow.dq.recovered"
EVENT_SOURCE_PAUSED = "newsflow.source.paused"
ALL_SOURCES = ""  # alert_state.source for checks over every source (the row suite)

log = logging.getLogger("newsflow.alerts")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class CheckResult:
    """One check evaluated for one source (or for all sources) in one run.

    ``status`` is ``pass``, ``fail`` or ``skip`` (not enough data in this run to evaluate: no
    ``dq_results`` row and no change of alert state). ``observed`` is JSON-safe and carries what
    an alert needs: ``observed`` and ``expected`` in words, ``count`` and ``count_label``,
    ``sample_urls``.
    """

    suite: str
    check: str
    source: str | None
    severity: str
    status: str
    observed: dict[str, Any]
    count: int = 0

    @property
    def success(self) -> bool:
        return self.status != "fail"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.suite, self.check, self.source or ALL_SOURCES)

    @property
    def label(self) -> str:
        return label(self.check, self.source)

    def dq_row(self) -> dict[str, Any]:
        """The ``dq_results`` row (``Warehouse.save_dq_results`` input)."""
        return {
            "suite": self.suite,
            "check": self.check,
            "source": self.source,
            "severity": self.severity,
            "success": self.success,
            "observed": json.dumps(self.observed, sort_keys=True, default=str),
            "unexpected_count": self.count,
        }


def label(check: str, source: str | None) -> str:
    """``reject_rate [harbor-gazette]``, or just the check for checks over all sources."""
    return f"{check} [{source}]" if source else check


@dataclass(frozen=True)
class AlertState:
    """One ``alert_state`` row."""

    suite: str
    check: str
    source: str  # ALL_SOURCES for checks over every source
    severity: str
    state: str  # FAILING | PASSING
    since: datetime
    since_run_id: str
    last_run_id: str
    last_checked_at: datetime
    failing_runs: int
    observed: dict[str, Any] = field(default_factory=dict)
    notified_state: str | None = None
    notified_at: datetime | None = None
    notified_run_id: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.suite, self.check, self.source)

    @property
    def label(self) -> str:
        return label(self.check, self.source)


@dataclass(frozen=True)
class Notice:
    """An announcement that is due: ``kind`` is ``failed`` or ``recovered``."""

    kind: str
    state: AlertState


@dataclass(frozen=True)
class AlertMessage:
    """What goes out: apprise ``title``/``body``/``notify_type``; ``checks`` for the log."""

    kind: str
    title: str
    body: str
    notify_type: str  # apprise: info | success | warning | failure
    checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """One destination's outcome; ``destination`` has secrets redacted."""

    destination: str
    ok: bool
    attempts: int
    error: str | None = None


# --------------------------------------------------------------------------- pure: state


def advance(
    previous: AlertState | None, result: CheckResult, run_id: str, now: datetime
) -> AlertState | None:
    """The check's state after this run's ``result``; a skipped result changes nothing."""
    if result.status == "skip":
        return previous
    state = PASSING if result.success else FAILING
    if previous is None or previous.state != state:
        since, since_run = now, run_id
    else:
        since, since_run = previous.since, previous.since_run_id
    failing_runs = 0 if state == PASSING else (previous.failing_runs if previous else 0) + 1
    suite, check, source = result.key
    return AlertState(
        suite=suite,
        check=check,
        source=source,
        severity=result.severity,
        state=state,
        since=since,
        since_run_id=since_run,
        last_run_id=run_id,
        last_checked_at=now,
        failing_runs=failing_runs,
        observed=dict(result.observed),
        notified_state=previous.notified_state if previous else None,
        notified_at=previous.notified_at if previous else None,
        notified_run_id=previous.notified_run_id if previous else None,
    )


def transition(previous: AlertState | None, current: AlertState | None) -> str | None:
    """``failed`` / ``recovered`` when this run changed the check's state (for events)."""
    if current is None:
        return None
    before = previous.state if previous else PASSING
    if before == current.state:
        return None
    return "failed" if current.state == FAILING else "recovered"


def pending_notices(states: Iterable[AlertState]) -> list[Notice]:
    """Announcements due: state differs from what was last announced.

    A check never announced counts as announced passing, so a check that has only ever passed
    says nothing.
    """
    notices = []
    for state in states:
        announced = state.notified_state or PASSING
        if state.state == announced:
            continue
        notices.append(Notice("failed" if state.state == FAILING else "recovered", state))
    return sorted(notices, key=_notice_order)


def _notice_order(notice: Notice) -> tuple[int, str, str, str]:
    critical_first = 0 if notice.state.severity == "critical" else 1
    return (critical_first, notice.state.source, notice.state.suite, notice.state.check)


def mark_notified(state: AlertState, run_id: str, now: datetime) -> AlertState:
    """The state once its announcement got through."""
    return replace(state, notified_state=state.state, notified_at=now, notified_run_id=run_id)


# --------------------------------------------------------------------------- pure: messages


def build_messages(
    notices: Sequence[Notice],
    *,
    run_id: str,
    data_docs_page: Path | str | None = None,
    data_docs_index: Path | str | None = None,
) -> list[AlertMessage]:
    """At most two messages: every check that turned bad, every check that recovered."""
    messages = []
    failed = [n for n in notices if n.kind == "failed"]
    recovered = [n for n in notices if n.kind == "recovered"]
    footer = _footer(run_id, data_docs_page, data_docs_index)
    if failed:
        critical = sum(1 for n in failed if n.state.severity == "critical")
        what = _plural(len(failed), "data-quality check")
        severity = f"{critical} critical" if critical else "warning"
        where = _sources_phrase([n.state for n in failed])
        title = f"newsflow: {what} failed ({severity}){where}"
        body = "\n\n".join([*(_failed_section(n.state) for n in failed), footer])
        messages.append(
            AlertMessage(
                kind="failed",
                title=title,
                body=body,
                notify_type="failure" if critical else "warning",
                checks=tuple(n.state.label for n in failed),
            )
        )
    if recovered:
        what = _plural(len(recovered), "data-quality check")
        where = _sources_phrase([n.state for n in recovered])
        title = f"newsflow: {what} recovered{where}"
        body = "\n\n".join([*(_recovered_section(n.state) for n in recovered), footer])
        messages.append(
            AlertMessage(
                kind="recovered",
                title=title,
                body=body,
                notify_type="success",
                checks=tuple(n.state.label for n in recovered),
            )
        )
    return messages


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _sources_phrase(states: Sequence[AlertState]) -> str:
    sources = sorted({s.source for s in states if s.source})
    if not sources:
        return ""
    if len(sources) <= 3:
        return " — " + ", ".join(sources)
    return f" — {len(sources)} sources"


def _source_line(state: AlertState) -> str:
    if state.source:
        return f"source {state.source}"
    by_source = (state.observed or {}).get("by_source") or {}
    if by_source:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(by_source.items()))
        return f"all sources (failing records by source: {parts})"
    return "all sources"


def _failed_section(state: AlertState) -> str:
    seen = state.observed or {}
    lines = [
        f"[{state.severity.upper()}] {state.check} — {_source_line(state)}",
        f"  observed: {seen.get('observed') or 'see Data Docs'}",
        f"  expected: {seen.get('expected') or 'see Data Docs'}",
        f"  count: {seen.get('count', 0)}"
        + (f" {seen['count_label']}" if seen.get("count_label") else ""),
        f"  failing since {state.since.isoformat(timespec='seconds')} "
        f"(run {state.since_run_id}, {_plural(state.failing_runs, 'run')} in a row)",
    ]
    urls = list(seen.get("sample_urls") or [])[:SAMPLE_URLS]
    if urls:
        lines.append("  sample URLs:")
        lines.extend(f"    {url}" for url in urls)
    if seen.get("rule"):
        lines.append(f"  rule: {seen['rule']}")
    return "\n".join(lines)


def _recovered_section(state: AlertState) -> str:
    seen = state.observed or {}
    failed_since = state.notified_at.isoformat(timespec="seconds") if state.notified_at else "?"
    return "\n".join(
        [
            f"[RECOVERED] {state.check} — {_source_line(state)}",
            f"  observed now: {seen.get('observed') or 'passing'}",
            f"  expected: {seen.get('expected') or 'see Data Docs'}",
            f"  passing since {state.since.isoformat(timespec='seconds')} (run "
            f"{state.since_run_id}); the failure was announced at {failed_since}",
        ]
    )


def _footer(run_id: str, page: Path | str | None, index: Path | str | None) -> str:
    lines = [f"run: {run_id}"]
    if page:
        lines.append(f"Data Docs: {page}")
    if index:
        lines.append(f"Data Docs site: {index}")
    lines.append(
        "Details: SELECT * FROM dq_results WHERE run_id = '"
        + run_id
        + "' AND NOT success; rejected rows are in rejected_articles."
    )
    return "\n".join(lines)


def source_paused_message(
    *,
    source: str,
    consecutive_failures: int,
    reason: str | None,
    run_id: str,
    feed_url: str | None = None,
    resume_hint: str | None = None,
) -> AlertMessage:
    """The message for a source paused after ``consecutive_failures`` failed runs."""
    lines = [
        f"[PAUSED] source {source}",
        f"  failed {_plural(consecutive_failures, 'time')} in a row; newsflow stopped polling it.",
    ]
    if feed_url:
        lines.append(f"  feed: {feed_url}")
    if reason:
        lines.append(f"  last error: {reason}")
    if resume_hint:
        lines.append(f"  to resume: {resume_hint}")
    lines.append(f"run: {run_id}")
    return AlertMessage(
        kind="source_paused",
        title=f"newsflow: source {source} paused after {_plural(consecutive_failures, 'failure')}",
        body="\n".join(lines),
        notify_type="failure",
        checks=(label("source_paused", source),),
    )


def render(message: AlertMessage) -> str:
    """A message as a person reads it in a terminal or a log."""
    return f"{message.title}\n\n{message.body}"


# --------------------------------------------------------------------------- edge: delivery


def deliver(
    message: AlertMessage,
    urls: Sequence[str],
    *,
    attempts: int = 3,
    retry_delay_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Send ``message`` to each apprise URL, retrying each up to ``attempts`` times.

    Each URL is tried on its own, so a retry never repeats a message to a destination that
    already accepted it. Never raises: failures are logged and returned.
    """
    try:
        import apprise
    except ImportError as exc:  # pragma: no cover - apprise is a dependency
        log.error("alert not sent: apprise is not installed (%s)", exc)
        return [Delivery(url, False, 0, "apprise is not installed") for url in urls]

    out = []
    for url in urls:
        notifier = apprise.Apprise()
        try:
            added = notifier.add(url)
        except Exception as exc:  # noqa: BLE001 - a bad URL must not break the run
            added, error = False, f"{type(exc).__name__}: {exc}"
        else:
            error = "not a valid apprise URL"
        if not added:
            shown = _redact(url)
            log.error("alert not sent to %s: %s", shown, error)
            out.append(Delivery(shown, False, 0, error))
            continue
        shown = notifier[0].url(privacy=True)
        delay, tries, ok, error = retry_delay_s, 0, False, None
        for attempt in range(1, max(1, attempts) + 1):
            tries = attempt
            try:
                result = notifier.notify(
                    body=message.body, title=message.title, notify_type=message.notify_type
                )
                ok = bool(result)
                if not ok:
                    error = _apprise_error(result) or "the service did not accept the message"
            except Exception as exc:  # noqa: BLE001 - delivery must never fail the run
                ok, error = False, f"{type(exc).__name__}: {exc}"
            if ok:
                error = None
                break
            log.warning(
                "alert delivery to %s failed (attempt %d of %d): %s",
                shown,
                attempt,
                attempts,
                error,
            )
            if attempt < attempts:
                sleep(delay)
                delay *= 2
        if not ok:
            log.error("alert %r not delivered to %s: %s", message.title, shown, error)
        out.append(Delivery(shown, ok, tries, error))
    return out


def _apprise_error(result: Any) -> str | None:
    try:
        entries = [str(getattr(e, "message", e)) for e in result.logs()]
    except Exception:  # noqa: BLE001 - older apprise: a plain bool
        return None
    return entries[-1] if entries else None


def _redact(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://…" if sep else "(unparseable URL)"


def delivered(deliveries: Sequence[Delivery]) -> bool:
    """No destination configured (the log was the delivery) or at least one accepted it."""
    return not deliveries or any(d.ok for d in deliveries)


def emit_events(
    changes: Sequence[tuple[str, AlertState]],
    *,
    run_id: str,
    data_docs_page: Path | str | None = None,
) -> list[Any]:
    """One Prefect event per state change (``newsflow.dq.failed`` / ``newsflow.dq.recovered``),
    for automations on a Prefect server. Never raises; returns the events emitted."""
    emitted = []
    for kind, state in changes:
        event = EVENT_FAILED if kind == "failed" else EVENT_RECOVERED
        resource = {
            "prefect.resource.id": f"newsflow.dq.{state.suite}.{state.check}"
            + (f".{state.source}" if state.source else ""),
            "prefect.resource.name": state.label,
            "newsflow.suite": state.suite,
            "newsflow.check": state.check,
            "newsflow.source": state.source,
            "newsflow.severity": state.severity,
        }
        payload = {
            "run_id": run_id,
            "state": state.state,
            "since": state.since.isoformat(),
            "observed": state.observed,
            "data_docs": str(data_docs_page) if data_docs_page else None,
        }
        sent = _emit(event, resource, payload, run_id)
        if sent is not None:
            emitted.append(sent)
    return emitted


def _events_reachable() -> bool:
    """A Prefect API to send events to: inside a flow or task run, or a configured server.

    Outside both, ``emit_event`` would start a temporary API server (seconds) for an event no
    automation can see, so none is sent.
    """
    from prefect.context import FlowRunContext, TaskRunContext
    from prefect.settings import get_current_settings

    in_run = FlowRunContext.get() is not None or TaskRunContext.get() is not None
    return in_run or bool(get_current_settings().api.url)


def _emit(event: str, resource: dict[str, str], payload: dict[str, Any], run_id: str) -> Any:
    try:
        if not _events_reachable():
            return None
        from prefect.events import emit_event

        related = []
        if _looks_like_uuid(run_id):
            related.append(
                {
                    "prefect.resource.id": f"prefect.flow-run.{run_id}",
                    "prefect.resource.role": "flow-run",
                }
            )
        return emit_event(
            event=event,
            resource=resource,
            related=related or None,
            payload=json.loads(json.dumps(payload, default=str)),
        )
    except Exception as exc:  # noqa: BLE001 - an event is a courtesy, never a failure
        log.warning("Prefect event %s not emitted: %s", event, exc)
        return None


def _looks_like_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- API for other alerts


@dataclass
class AlertReport:
    """What happened to one message: for summaries, logs and tests."""

    message: AlertMessage
    deliveries: list[Delivery]
    events: list[Any] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return delivered(self.deliveries)

    @property
    def destinations(self) -> int:
        return len(self.deliveries)


def send_alert(
    message: AlertMessage,
    urls: Sequence[str],
    *,
    run_id: str,
    warehouse: Warehouse | None = None,
    announces: Sequence[AlertState] = (),
    attempts: int = 3,
    retry_delay_s: float = 1.0,
    event: str | None = None,
    resource: Mapping[str, str] | None = None,
    payload: Mapping[str, Any] | None = None,
) -> AlertReport:
    """Deliver any alert message now: the one delivery path of every alert.

    Apprise to ``urls`` (logged when there are none), a Prefect ``event`` about ``resource``
    if given, and with a ``warehouse`` an ``alert_log`` row. ``announces`` are the alert states
    the message announces: once it is delivered they are marked notified, in the same
    transaction as the log row; undelivered, they stay due for the next run. Never raises;
    delivery problems are logged and in the report.
    """
    if not urls:
        run_logger(log).warning(
            "alert not sent (no [alerts] urls or NEWSFLOW_ALERT_URLS), only logged:\n%s",
            render(message),
        )
    deliveries = deliver(message, urls, attempts=attempts, retry_delay_s=retry_delay_s)
    events = []
    if event:
        sent = _emit(
            event,
            dict(resource or {"prefect.resource.id": f"newsflow.alert.{message.kind}"}),
            {"title": message.title, "body": message.body, "run_id": run_id, **(payload or {})},
            run_id,
        )
        if sent is not None:
            events.append(sent)
    if warehouse is not None:
        now = datetime.now(UTC)
        done = delivered(deliveries)
        notified = [mark_notified(s, run_id, now) for s in announces] if done else []
        try:
            warehouse.log_alert(run_id, message, deliveries, now, notified=notified)
        except Exception as exc:  # noqa: BLE001 - the log is a record, not a gate
            log.warning("alert_log not written: %s", exc)
    return AlertReport(message=message, deliveries=deliveries, events=events)


def alert_source_paused(
    urls: Sequence[str],
    *,
    source: str,
    consecutive_failures: int,
    run_id: str,
    reason: str | None = None,
    feed_url: str | None = None,
    resume_hint: str | None = None,
    warehouse: Warehouse | None = None,
    attempts: int = 3,
    retry_delay_s: float = 1.0,
) -> AlertReport:
    """Announce that ``source`` was paused: one apprise message and a
    ``newsflow.source.paused`` Prefect event. Call it once, when the pause happens."""
    message = source_paused_message(
        source=source,
        consecutive_failures=consecutive_failures,
        reason=reason,
        run_id=run_id,
        feed_url=feed_url,
        resume_hint=resume_hint,
    )
    return send_alert(
        message,
        urls,
        run_id=run_id,
        warehouse=warehouse,
        attempts=attempts,
        retry_delay_s=retry_delay_s,
        event=EVENT_SOURCE_PAUSED,
        resource={
            "prefect.resource.id": f"newsflow.source.{source}",
            "prefect.resource.name": source,
            "newsflow.source": source,
        },
        payload={"consecutive_failures": consecutive_failures, "reason": reason},
    )
