"""The health report's charts: pure functions from ``schemas/health.py`` records to inline SVG,
drawn by matplotlib.

Why matplotlib's SVG: it is static (no JavaScript, no fonts or scripts to fetch), so the report
is one file that opens anywhere, offline, and can be mailed; text stays text
(``svg.fonttype = none``), so a browser's find, a screen reader or a test can read the source
names. Each figure gets its own id salt: several SVGs inline in one page must not share the
ids of their clip paths and markers. matplotlib is imported inside the functions (through
:func:`_figure`), so importing this module costs nothing for commands that never draw.

Each function returns None when it has nothing to draw, so the page says "nothing yet"
instead of showing empty axes. Large warehouses are kept readable, not just drawable: at most
:data:`MAX_SERIES` sources get their own line (the rest are summed as "other sources"), and
at most :data:`MAX_ROWS` rows of bars or check timelines are drawn, the worst first.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from newsflow.schemas.health import CheckEvaluation, DailyArticles, RunRecord, SourceHealth

MAX_SERIES = 8
MAX_ROWS = 40
OTHER = "other sources"

PASS_COLOUR = "#2e7d32"
FAIL_COLOUR = "#c62828"
WARN_COLOUR = "#ef6c00"
STATUS_COLOURS = {
    "completed": "#1565c0",
    "failed": FAIL_COLOUR,
    "crashed": "#616161",
    "running": "#9e9e9e",
}


@contextmanager
def _figure(name: str, width: float, height: float) -> Iterator[tuple[Any, Any, list[str]]]:
    """A matplotlib figure and axes whose SVG text lands in the returned list on exit."""
    import matplotlib
    from matplotlib.figure import Figure

    settings = {
        "svg.fonttype": "none",  # text as <text>, not outlines
        "svg.hashsalt": f"newsflow-{name}",  # ids unique per chart on the page
        "svg.id": f"svg-{name}",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
    with matplotlib.rc_context(settings):
        figure = Figure(figsize=(width, height), layout="constrained")
        axes = figure.add_subplot()
        out: list[str] = []
        yield figure, axes, out
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    out.append(text[text.index("<svg") :])  # no XML prolog or doctype inside HTML


def articles_per_day(daily: Sequence[DailyArticles]) -> str | None:
    """Articles per source per publication day: one line per source (the biggest
    :data:`MAX_SERIES`), the others summed."""
    if not daily:
        return None
    totals: dict[str, int] = defaultdict(int)
    for row in daily:
        totals[row.source] += row.articles
    named = sorted(totals, key=lambda s: (-totals[s], s))[:MAX_SERIES]
    series: dict[str, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
    for row in daily:
        series[row.source if row.source in named else OTHER][row.day] += row.articles
    days = sorted({row.day for row in daily})
    with _figure("articles", 9, 3.4) as (_figure_, axes, out):
        for source in [*named, OTHER] if OTHER in series else named:
            counts = series[source]
            (line,) = axes.plot(
                days, [counts.get(d, 0) for d in days], marker="o", linewidth=1.5, label=source
            )
            line.set_gid(f"series-{source}")
        axes.set_ylabel("articles")
        axes.set_ylim(bottom=0)
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.legend(
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            fontsize=8,
            frameon=False,
            ncols=min(5, len(named) + 1),
        )
        _date_axis(axes)
    return out[0]


def rates_per_source(sources: Sequence[SourceHealth]) -> str | None:
    """Page-error rate and reject rate per source over the last 7 days, as percentages; the
    worst :data:`MAX_ROWS` sources. Sources with neither rate (nothing fetched) are left out."""
    rows = [s for s in sources if s.page_error_rate_7d is not None or s.reject_rate_7d is not None]
    if not rows:
        return None
    rows.sort(key=lambda s: (-max(s.page_error_rate_7d or 0, s.reject_rate_7d or 0), s.source))
    rows = rows[:MAX_ROWS][::-1]  # barh draws bottom-up: the worst on top
    positions = range(len(rows))
    height = 0.38
    with _figure("rates", 9, 1.0 + 0.42 * len(rows)) as (_fig, axes, out):
        errors = axes.barh(
            [p + height / 2 for p in positions],
            [100 * (s.page_error_rate_7d or 0) for s in rows],
            height=height,
            color=FAIL_COLOUR,
            label="page-error rate",
        )
        rejects = axes.barh(
            [p - height / 2 for p in positions],
            [100 * (s.reject_rate_7d or 0) for s in rows],
            height=height,
            color=WARN_COLOUR,
            label="reject rate",
        )
        _tag(errors, "page-error-rate", [s.source for s in rows])
        _tag(rejects, "reject-rate", [s.source for s in rows])
        axes.bar_label(errors, fmt="%.1f%%", fontsize=7, padding=2)
        axes.bar_label(rejects, fmt="%.1f%%", fontsize=7, padding=2)
        axes.set_yticks(list(positions), [s.source for s in rows])
        axes.set_xlabel("% over the last 7 days")
        top = max(100 * max(s.page_error_rate_7d or 0, s.reject_rate_7d or 0) for s in rows)
        axes.set_xlim(0, max(5.0, top * 1.2))
        axes.legend(loc="lower right", fontsize=8, frameon=False)
    return out[0]


def check_timeline(evaluations: Sequence[CheckEvaluation]) -> str | None:
    """When each check passed (green) and failed (red), one row per check and source, the
    time between two evaluations coloured by the earlier one's outcome. Checks that failed in
    the window come first; at most :data:`MAX_ROWS` rows."""
    if not evaluations:
        return None
    by_label: dict[str, list[CheckEvaluation]] = defaultdict(list)
    for evaluation in evaluations:
        by_label[evaluation.label].append(evaluation)
    for rows in by_label.values():
        rows.sort(key=lambda e: e.checked_at)
    failed = {label for label, rows in by_label.items() if not all(e.success for e in rows)}
    labels = sorted(by_label, key=lambda label: (label not in failed, label))[:MAX_ROWS]
    labels = labels[::-1]  # the first label on top
    import matplotlib.dates as mdates
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    segments: dict[bool, list[Any]] = {True: [], False: []}
    points: dict[bool, list[tuple[float, int]]] = {True: [], False: []}
    for y, label in enumerate(labels):
        rows = by_label[label]
        times = mdates.date2num([e.checked_at for e in rows])
        for i, evaluation in enumerate(rows):
            points[evaluation.success].append((times[i], y))
            if i + 1 < len(rows):
                segments[evaluation.success].append([(times[i], y), (times[i + 1], y)])
    legend: list[Any] = []
    with _figure("checks", 9, 1.0 + 0.22 * len(labels)) as (_fig, axes, out):
        for success, colour in ((True, PASS_COLOUR), (False, FAIL_COLOUR)):
            kind = "passed" if success else "failed"
            if segments[success]:
                lines = LineCollection(segments[success], colors=colour, linewidths=3)
                lines.set_gid(f"{kind}-stretches")
                axes.add_collection(lines)
            marker, size = ("o", 14) if success else ("X", 30)
            if points[success]:
                xs = [x for x, _ in points[success]]
                ys = [y for _, y in points[success]]
                dots = axes.scatter(xs, ys, color=colour, marker=marker, s=size, zorder=3)
                dots.set_gid(f"{kind}-evaluations")
            legend.append(Line2D([], [], color=colour, marker=marker, ls="", label=kind))
        axes.xaxis_date(tz=UTC)
        axes.autoscale_view()
        axes.set_yticks(range(len(labels)), labels, fontsize=7)
        axes.set_ylim(-0.7, len(labels) - 0.3)
        axes.legend(
            handles=legend, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False
        )
        _date_axis(axes, with_time=True)
    return out[0]


def run_durations(runs: Sequence[RunRecord]) -> str | None:
    """Wall time of each run, oldest left, coloured by how it ended (a crashed run, which has
    no end, is a short grey stub)."""
    if not runs:
        return None
    durations = [r.duration_s for r in runs]
    known = [d for d in durations if d is not None]
    stub = (max(known) if known else 1.0) * 0.03
    with _figure("runs", 9, 3.0) as (_fig, axes, out):
        for status in sorted({r.status for r in runs}):
            picked = [i for i, r in enumerate(runs) if r.status == status]
            bars = axes.bar(
                picked,
                [durations[i] if durations[i] is not None else stub for i in picked],
                color=STATUS_COLOURS.get(status, "#9e9e9e"),
                label=status,
                width=0.8,
            )
            _tag(bars, f"run-{status}", [runs[i].run_id[:8] for i in picked])
        step = max(1, len(runs) // 8)
        ticks = list(range(0, len(runs), step))
        axes.set_xticks(
            ticks,
            [f"{runs[i].flow}\n{_utc(runs[i].started_at):%m-%d %H:%M}" for i in ticks],
            fontsize=7,
        )
        axes.set_xlim(-0.6, max(len(runs), 12) - 0.4)  # one run is a bar, not a wall
        axes.set_ylabel("seconds")
        axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=8, frameon=False, ncols=4)
    return out[0]


def last_success(sources: Sequence[SourceHealth], now: datetime) -> str | None:
    """Hours since each source's feed last answered (200 or 304), the stalest on top; red
    while the source's latest polls are failing."""
    rows = [s for s in sources if s.last_polled_at is not None]
    if not rows:
        return None

    def age_h(source: SourceHealth) -> float:
        if source.last_success_at is None:  # never answered: as old as its first poll at most
            return _hours(now, source.last_polled_at)
        return _hours(now, source.last_success_at)

    rows.sort(key=lambda s: (-age_h(s), s.source))
    rows = rows[:MAX_ROWS][::-1]
    with _figure("last-success", 9, 1.0 + 0.34 * len(rows)) as (_fig, axes, out):
        bars = axes.barh(
            range(len(rows)),
            [age_h(s) for s in rows],
            color=[FAIL_COLOUR if s.consecutive_errors else PASS_COLOUR for s in rows],
            height=0.6,
        )
        _tag(bars, "last-success", [s.source for s in rows])
        labels = ["never" if s.last_success_at is None else _age_words(age_h(s)) for s in rows]
        axes.bar_label(bars, labels=labels, fontsize=7, padding=2)
        axes.set_yticks(range(len(rows)), [s.source for s in rows])
        axes.set_xlabel("hours since the feed last answered")
        axes.set_xlim(0, max(1.0, max(age_h(s) for s in rows) * 1.25))
    return out[0]


def _tag(bars: Any, kind: str, names: Sequence[str]) -> None:
    """Name each bar in the SVG (``<g id="bar-KIND-NAME">``): what it shows stays findable."""
    for patch, name in zip(bars, names, strict=True):
        patch.set_gid(f"bar-{kind}-{name}")


def _date_axis(axes: Any, *, with_time: bool = False) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)
    if not with_time:
        formatter.formats[3:] = ["%b %d"] * 3  # days, never hours, for day data
    axes.xaxis.set_major_formatter(formatter)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _hours(now: datetime, then: datetime) -> float:
    return max(0.0, (now - then).total_seconds() / 3600)


def _age_words(hours: float) -> str:
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"
