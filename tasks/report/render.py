"""The health report page: a pure function from :class:`WarehouseHealth` to one HTML document.

One self-contained file on purpose: the charts are inline SVG (``charts.py``), the style is
one inline ``<style>``, and nothing is loaded from anywhere, so the page opens offline, from a
mail attachment or a CI artefact, exactly as written. Every value from the warehouse (source
names, check names, alert titles) is HTML-escaped: a source's name comes from a config file,
an alert title from a check's observed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from newsflow.schemas.health import WarehouseHealth
from newsflow.tasks.report import charts

RECENT_RUNS = 20

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
  max-width: 70rem; padding: 1rem 2rem 3rem; color: #212121; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.meta { color: #555; margin-top: 0; }
.tiles { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; }
.tile { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .9rem; min-width: 9rem; }
.tile b { display: block; font-size: 1.4rem; }
.bad { color: #c62828; } .good { color: #2e7d32; }
figure { margin: 1rem 0; } figcaption { color: #555; font-size: .9rem; }
figure svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .55rem; text-align: left; }
th { background: #f5f5f5; } td.num { text-align: right; }
.nodata { color: #777; font-style: italic; }
"""


def render_report(health: WarehouseHealth, *, data_docs: str | None = None) -> str:
    """The report page. ``data_docs``: a link (relative to the page) to the Data Docs index."""
    body = _empty() if health.empty else _sections(health)
    docs = f' · <a href="{escape(data_docs)}">Data Docs</a>' if data_docs else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>newsflow health report</title>
<style>{STYLE}</style>
</head>
<body>
<h1>newsflow health report</h1>
<p class="meta">Warehouse <code>{escape(health.db)}</code> · generated
{_when(health.generated_at)}{docs}</p>
{body}
</body>
</html>
"""


def _empty() -> str:
    return (
        '<p id="empty" class="nodata">Nothing to show yet: this warehouse has no runs recorded. '
        "Run <code>newsflow run</code> (or <code>newsflow demo</code>) and the report fills "
        "in.</p>"
    )


def _sections(health: WarehouseHealth) -> str:
    last = health.runs[-1]
    failing = [s for s in health.states if s.state == "failing"]
    stale = [s for s in health.sources if s.consecutive_errors]
    tiles = [
        ("last run", f"{escape(last.status)}", last.status == "completed"),
        (f"runs in {health.window_days} days", str(len(health.runs)), None),
        ("checks failing now", str(len(failing)), not failing),
        ("sources failing to poll", f"{len(stale)} of {len(health.sources)}", not stale),
    ]
    parts = ['<div class="tiles">']
    for label, value, good in tiles:
        tone = "" if good is None else (' class="good"' if good else ' class="bad"')
        parts.append(f'<div class="tile"><b{tone}>{value}</b>{escape(label)}</div>')
    parts.append("</div>")
    window = f"the last {health.window_days} days of data"
    parts += [
        _chart(
            "articles",
            "Articles per source per day",
            charts.articles_per_day(health.daily),
            f"Publication day (UTC), {window} (daily_articles_by_source).",
        ),
        _chart(
            "rates",
            "Page-error and reject rates per source",
            charts.rates_per_source(health.sources),
            "Pages that gave no article, and extracted records that failed a row check, "
            "over the last 7 days (source_health).",
        ),
        _chart(
            "checks",
            "Data-quality checks over time",
            charts.check_timeline(health.evaluations),
            f"Each evaluation of each check, {window}: a red stretch is a check failing until "
            "it recovers (dq_results).",
        ),
        _chart(
            "runs",
            "Run durations",
            charts.run_durations(health.runs),
            f"Wall time of each flow run, {window}, coloured by how it ended (pipeline_runs).",
        ),
        _chart(
            "last-success",
            "Last successful poll per source",
            charts.last_success(health.sources, health.generated_at),
            "Red: the source's latest polls failed (source_health.consecutive_errors).",
        ),
        _sources_table(health),
        _failing_table(health),
        _alerts_table(health),
        _runs_table(health),
    ]
    return "\n".join(parts)


def _chart(name: str, title: str, svg: str | None, caption: str) -> str:
    drawn = svg if svg is not None else '<p class="nodata">Nothing recorded yet.</p>'
    return (
        f'<h2>{escape(title)}</h2>\n<figure class="chart" id="chart-{name}">\n{drawn}\n'
        f"<figcaption>{escape(caption)}</figcaption>\n</figure>"
    )


def _sources_table(health: WarehouseHealth) -> str:
    rows = [
        [
            escape(s.source),
            _when(s.last_polled_at),
            _when(s.last_success_at),
            _num(s.consecutive_errors),
            _num(s.pages_7d),
            _num(_percent(s.page_error_rate_7d)),
            _num(_percent(s.reject_rate_7d)),
            _num(s.articles_total),
        ]
        for s in health.sources
    ]
    head = [
        "source",
        "last polled",
        "last success",
        "failed polls in a row",
        "pages (7 d)",
        "page errors",
        "rejects",
        "articles",
    ]
    return "<h2>Sources</h2>\n" + _table("sources", head, rows, "No source polled yet.")


def _failing_table(health: WarehouseHealth) -> str:
    rows = [
        [
            escape(s.check),
            escape(s.source or "all sources"),
            escape(s.severity),
            _when(s.since),
            _num(s.failing_runs),
        ]
        for s in health.states
        if s.state == "failing"
    ]
    head = ["check", "source", "severity", "failing since", "failed runs in a row"]
    return "<h2>Checks failing now</h2>\n" + _table("failing", head, rows, "Every check passes.")


def _alerts_table(health: WarehouseHealth) -> str:
    rows = [
        [
            _when(a.created_at),
            escape(a.kind),
            escape(a.title),
            escape(", ".join(a.checks)),
            "yes" if a.delivered else '<span class="bad">no</span>',
        ]
        for a in health.alerts
    ]
    head = ["when", "kind", "title", "checks", "delivered"]
    return "<h2>Recent alerts</h2>\n" + _table("alerts", head, rows, "No alert sent yet.")


def _runs_table(health: WarehouseHealth) -> str:
    rows = [
        [
            _when(r.started_at),
            escape(r.flow),
            escape(r.status),
            _num("-" if r.duration_s is None else f"{r.duration_s:.1f} s"),
            _num(r.articles_new),
            _num(r.page_errors),
            _num(r.rejected),
            _num(r.checks_failed),
            f"<code>{escape(r.run_id[:8])}</code>",
        ]
        for r in health.runs[::-1][:RECENT_RUNS]
    ]
    head = ["started", "flow", "status", "took", "new", "page errors", "rejected", "checks failed"]
    return "<h2>Recent runs</h2>\n" + _table("runs", [*head, "run"], rows, "No run yet.")


def _table(name: str, head: Sequence[str], rows: Sequence[Sequence[str]], none: str) -> str:
    if not rows:
        return f'<p class="nodata" id="table-{name}">{escape(none)}</p>'
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "\n".join("<tr>" + "".join(map(_cell, cells)) + "</tr>" for cells in rows)
    return f'<table id="table-{name}">\n<tr>{header}</tr>\n{body}\n</table>'


def _cell(html: str) -> str:
    return html if html.startswith("<td") else f"<td>{html}</td>"


def _num(value: object) -> str:
    return f'<td class="num">{escape(str(value))}</td>'


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f} %"
