"""Production scale: 1,000 sources, a warehouse grown to a given size, real ``newsflow run`` ticks.

    python benchmarks/scale.py                                   # 10,000 100,000 1,000,000
    python benchmarks/scale.py --sizes 10000 100000 --tmp /big/disk
    python benchmarks/scale.py --sizes 10000 --ticks idle new50
    python benchmarks/scale.py --capped 512MB     # the ticks again under [warehouse] memory_limit

What it does (issue 13, item 5):

1. Serves 1,000 synthetic sources from 10 loopback hosts (127.0.0.2–127.0.0.11, 100 feeds a
   host; ``benchmarks/scale_site.py``): feeds and news-like article pages from memory, ``304``
   for an unchanged feed, a ``robots.txt`` without a crawl delay. Every feed starts with one
   article.
2. Writes a config for them to the temp dir: ``allow_private`` names the ten ``host:port``
   services (the fetcher refuses loopback otherwise), ``per_host_delay_s = 0`` (the one
   politeness delay; robots.txt asks for none), ``max_workers = 10`` (one fetch thread a host).
   Everything else is the shipped default, DuckDB's ``memory_limit`` included.
3. For each size, grows the warehouse to that many articles through the warehouse's own write
   path (``Warehouse.load_articles``, batches of 5,000 generated articles: 150–300 words from a
   3,500-word Zipf vocabulary, a byline, ``published_at`` spread over two years, 3 % near-copies
   of another source's article), then runs one real tick to catch the full-text index, the
   story clusters and the snapshot up. That catch-up is setup, reported on its own line.
4. Then the measured ticks, each a ``newsflow run --config … --json`` subprocess, the command a
   user runs: ``idle`` (every feed unchanged), ``new50`` (50 new articles over 5 sources),
   ``wide`` (200 of the 1,000 sources with 5 new articles each) and ``alerts`` (10 new
   articles with ``freshness_hours = 0``, so that every source's freshness check fails at
   once: 1,000 new alert states; the check is a warning, so the run still exits 0).
   Each tick is verified: exit code 0, 1,000 ``feed_fetches`` rows for its run and the new
   articles that were served (``article_versions`` rows at version 1), read from the published
   snapshot read-only.

Per tick it reports the wall time of the process, the flow time and per-stage times the run's
``--json`` summary gives, and the peak RSS, sampled every 100 ms from /proc: of the run's
process alone, and of its process tree (the run, the temporary Prefect API server the CLI
starts, uvicorn, and the extraction workers). ``getrusage`` is not used: its children's
``ru_maxrss`` is the largest single process ever waited for, not a tree's sum.

``time`` columns are from one run on a shared machine; compare within a run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_site import ScaleSite, byline, near_copy, source_name, text_batch  # noqa: E402

from newsflow.tasks.extract.transform import content_hash, word_count  # noqa: E402
from newsflow.tasks.fetch.urls import article_id  # noqa: E402
from newsflow.tasks.warehouse import reader, search  # noqa: E402
from newsflow.tasks.warehouse import warehouse as warehouse_module  # noqa: E402
from newsflow.tasks.warehouse.warehouse import Warehouse  # noqa: E402

GROW_BATCH = 5000
NEAR_COPY_SHARE = 0.03
TICKS = ("idle", "new50", "wide", "alerts")


# --------------------------------------------------------------------------- growing


def grown_articles(start: int, stop: int, sources: int, now: datetime) -> list[dict[str, Any]]:
    """Generated ``articles`` rows ``start`` … ``stop - 1``: deterministic in their numbers."""
    rng = random.Random(start)
    texts = text_batch(start, stop - start)
    rows = []
    for offset, (title, text) in enumerate(texts):
        i = start + offset
        source = i % sources
        if rows and rng.random() < NEAR_COPY_SHARE:  # wire copy of an article another site ran
            original = rng.choice(rows)
            if original["source"] != source_name(source):
                text = near_copy(original["text"], rng)
                title = f"{original['title']} ({source})"
        published = now - timedelta(seconds=rng.uniform(3600, 730 * 86400))
        url = f"https://{source_name(source)}.example/{published:%Y/%m/%d}/story-{i}.html"
        rows.append(
            {
                "article_id": article_id(url),
                "url": url,
                "source": source_name(source),
                "title": title,
                "text": text,
                "authors": [byline(rng)],
                "published_at": published,
                "language": "en",
                "captions": [],
                "word_count": word_count(text),
                "content_hash": content_hash(title, text),
            }
        )
    return rows


#: The grown articles' history: first (and last) seen spread evenly over these days before now,
#: as a warehouse that size has grown over months of runs. Loaded within seconds instead, every
#: article would sit inside the story window and be "seen" by the previous refresh.
HISTORY_DAYS = 730


def grow(db: Path, start: int, stop: int, sources: int) -> float:
    """Load generated articles ``start`` … ``stop - 1`` into the working file; seconds taken.

    The warehouse's clock (``warehouse._now``) is set back for each batch, so that the batches'
    ``first_seen_at``/``last_seen_at`` spread over :data:`HISTORY_DAYS`, oldest first."""
    if stop <= start:
        return 0.0
    began = time.perf_counter()
    now = datetime.now(UTC)
    step = max(GROW_BATCH, (stop - start) // 10 // GROW_BATCH * GROW_BATCH)
    last, last_at = start, began
    batches = range(start, stop, GROW_BATCH)
    real_now = warehouse_module._now
    try:
        with Warehouse.open(db, lock_timeout_s=5) as warehouse:
            for n, lo in enumerate(batches):
                hi = min(lo + GROW_BATCH, stop)
                back = timedelta(days=HISTORY_DAYS) * (1 - n / len(batches)) + timedelta(hours=1)
                warehouse_module._now = lambda back=back: now - back
                warehouse.load_articles("grow", grown_articles(lo, hi, sources, now))
                if (hi - start) % step == 0 or hi == stop:
                    at = time.perf_counter()
                    rate = (hi - last) / (at - last_at)  # of this step: falls as the table grows
                    print(f"  grown to {hi:,} articles ({rate:,.0f}/s)", flush=True)
                    last, last_at = hi, at
    finally:
        warehouse_module._now = real_now
    return time.perf_counter() - began


def index_setup(db: Path, chunk: int) -> float:
    """Catch the working file's full-text index up with ``search.CHUNK = chunk`` (setup only)."""
    began = time.perf_counter()
    saved = search.CHUNK
    search.CHUNK = chunk
    try:
        with Warehouse.open(db, lock_timeout_s=5) as warehouse:
            search.sync_index(warehouse.con)
    finally:
        search.CHUNK = saved
    return time.perf_counter() - began


# --------------------------------------------------------------------------- ticks


def write_config(
    path: Path,
    site: ScaleSite,
    db: Path,
    *,
    freshness_hours: float | None,
    memory_limit: str | None = None,
) -> None:
    lines = [
        "[warehouse]",
        f"path = {json.dumps(str(db))}",
        *([f"memory_limit = {json.dumps(memory_limit)}"] if memory_limit else []),
        "[fetch]",
        f"allow_private = {json.dumps([f'{a}:{p}' for a, p in site.hosts])}",
        "per_host_delay_s = 0.0",
        f"max_workers = {len(site.hosts)}",
        # every tick polls every feed: the worst case of a schedule (adaptive polling would
        # skip the feeds that are not due, and the ticks come seconds apart)
        'polling = "fixed"',
    ]
    if freshness_hours is not None:
        lines += ["[checks]", f"freshness_hours = {freshness_hours}"]
    for s in range(site.sources):
        lines += [
            "[[sources]]",
            f'name = "{source_name(s)}"',
            f'feed = "{site.feed_url(s)}"',
            'language = "en"',
        ]
    path.write_text("\n".join(lines) + "\n")


def _tree_rss_kb(root: int) -> tuple[int, int]:
    """(RSS of ``root``, RSS of ``root`` and all its descendants), in KiB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as f:
                rss[int(entry)] = int(f.read().split()[1]) * page_kb
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return rss.get(root, 0), total


@dataclass
class Tick:
    name: str
    exit_code: int
    wall_s: float
    rss_mb: float  # the run's process
    tree_rss_mb: float  # with the API server and extraction workers
    summary: dict[str, Any] = field(default_factory=dict)
    stderr: str = ""
    checks: list[str] = field(default_factory=list)  # verification failures

    @property
    def flow_s(self) -> float:
        return float(self.summary.get("elapsed_s") or 0.0)

    def stage(self, name: str) -> float:
        return float((self.summary.get("stage_s") or {}).get(name, 0.0))


def newsflow_command() -> list[str]:
    """The installed ``newsflow`` script beside this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("newsflow")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "newsflow.cli.main"]


def run_tick(name: str, config: Path) -> Tick:
    """One ``newsflow run --config … --json`` with its process tree's RSS sampled."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*newsflow_command(), "run", "--config", str(config), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0, 0]

    def sample() -> None:
        while proc.poll() is None:
            own, tree = _tree_rss_kb(proc.pid)
            peak[0], peak[1] = max(peak[0], own), max(peak[1], tree)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    summary: dict[str, Any] = {}
    for line in reversed(out.strip().splitlines()):
        try:
            summary = json.loads(line)
            break
        except ValueError:
            continue
    return Tick(name, proc.returncode, wall, peak[0] / 1024, peak[1] / 1024, summary, err)


def _scalar(db: Path, sql: str) -> Any:
    rows = list(reader.query_rows(db, sql))
    return rows[1][0] if len(rows) > 1 else None


def verify(tick: Tick, db: Path, *, sources: int, new: int, alert_states: int | None) -> None:
    """Exit 0, every poll recorded, the served articles loaded: read from the snapshot."""
    if tick.exit_code != 0:
        tail = tick.stderr.strip().splitlines()[-3:]
        tick.checks.append(f"exit {tick.exit_code}: {' | '.join(tail)}")
        return
    run_id = tick.summary["run_id"]
    assert all(c in "0123456789abcdef-" for c in run_id), run_id
    polls = _scalar(db, f"SELECT count(*) FROM feed_fetches WHERE run_id = '{run_id}'")
    if polls != sources:
        tick.checks.append(f"{polls} feed_fetches rows, expected {sources}")
    loaded = _scalar(
        db, f"SELECT count(*) FROM article_versions WHERE run_id = '{run_id}' AND version = 1"
    )
    if loaded != new or tick.summary["loaded"]["new"] != new:
        tick.checks.append(
            f"{loaded} new articles in the snapshot, {tick.summary['loaded']['new']} in the "
            f"summary, {new} served"
        )
    if alert_states is not None:
        opened = _scalar(
            db,
            "SELECT count(*) FROM alert_state WHERE since_run_id = "
            f"'{run_id}' AND lower(state) = 'failing'",
        )
        tick.summary["new_alert_states"] = opened
        if opened < alert_states:
            tick.checks.append(f"{opened} new failing alert states, expected {alert_states}")


def tick_plan(name: str, sources: int, rng: random.Random) -> tuple[dict[int, int], float | None]:
    """What the site publishes before tick ``name``, and the freshness threshold it runs with."""
    if name == "idle":
        return {}, None
    if name == "new50":
        return dict.fromkeys(rng.sample(range(sources), 5), 10), None
    if name == "wide":
        return dict.fromkeys(rng.sample(range(sources), 200), 5), None
    if name == "alerts":
        return dict.fromkeys(rng.sample(range(sources), 2), 5), 0.0
    raise ValueError(name)


# --------------------------------------------------------------------------- report

#: The --capped memory limit, once given (for the table's labels).
CAPPED: list[str] = []


@dataclass
class SizeResult:
    size: int
    grow_s: float
    index_s: float | None
    catch_up: Tick
    ticks: dict[str, Tick]
    file_mb: float
    articles: int
    capped: dict[str, Tick] = field(default_factory=dict)  # the ticks again, under --capped


def _cell(tick: Tick | None) -> str:
    if tick is None:
        return "—"
    bad = " ✗" if tick.checks else ""
    return f"{tick.wall_s:.1f} s / {tick.flow_s:.1f} s / {tick.rss_mb:.0f} MB{bad}"


def table(results: list[SizeResult]) -> str:
    head = (
        "| articles | idle tick | +50 tick | 200×5 tick | 1,000 alert states | "
        "published file | publish (idle / +50 / 200×5) | catch-up tick (setup) |"
    )
    lines = [head, "| " + " | ".join(["---:"] * 8) + " |"]
    for r in results:
        setup = f"{r.catch_up.wall_s:.0f} s (grow {r.grow_s:.0f} s"
        setup += f", index {r.index_s:.0f} s)" if r.index_s is not None else ")"
        rows = [(f"{r.articles:,}", r.ticks, setup)]
        if r.capped:
            rows.append((f"{r.articles:,}, memory_limit {CAPPED[0]}", r.capped, "—"))
        for label, t, prep in rows:
            publish = " / ".join(
                f"{t[n].stage('publish'):.1f} s" if n in t else "—"
                for n in ("idle", "new50", "wide")
            )
            lines.append(
                f"| {label} | {_cell(t.get('idle'))} | {_cell(t.get('new50'))} | "
                f"{_cell(t.get('wide'))} | {_cell(t.get('alerts'))} | {r.file_mb:.1f} MB | "
                f"{publish} | {prep} |"
            )
    return "\n".join(lines)


def stage_lines(results: list[SizeResult]) -> str:
    out = []
    for r in results:
        for tick in (r.catch_up, *r.ticks.values(), *r.capped.values()):
            stages = tick.summary.get("stage_s") or {}
            named = sum(stages.values())
            parts = [f"{k} {v:.1f}" for k, v in sorted(stages.items(), key=lambda kv: -kv[1])]
            parts.append(f"unstaged {max(0.0, tick.flow_s - named):.1f}")
            rss = f"tree {tick.tree_rss_mb:.0f} MB"
            out.append(f"- {r.articles:,} {tick.name}: {', '.join(parts)} s; {rss}")
            out.extend(f"  - ✗ {c}" for c in tick.checks)
    return "\n".join(out)


def ratios(results: list[SizeResult]) -> str:
    if len(results) < 2:
        return ""
    lo, hi = results[0], results[-1]
    out = [f"Growth {hi.articles:,} / {lo.articles:,} articles:"]
    for name, label in (("new50", "+50 tick"), ("idle", "idle tick"), ("wide", "200×5 tick")):
        a, b = lo.ticks.get(name), hi.ticks.get(name)
        if a and b:
            out.append(
                f"- {label}: wall {b.wall_s / a.wall_s:.2f}×, flow {b.flow_s / a.flow_s:.2f}×, "
                f"RSS {b.rss_mb / a.rss_mb:.2f}× (tree {b.tree_rss_mb / a.tree_rss_mb:.2f}×)"
            )
    idle = hi.ticks.get("idle")
    if idle:
        out.append(f"- idle tick flow time at {hi.articles:,}: {idle.flow_s:.1f} s (bar: < 10 s)")
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--ticks", nargs="+", choices=TICKS, default=list(TICKS))
    parser.add_argument("--tmp", help="directory for the warehouse (default: a new temp dir)")
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument(
        "--index-chunk",
        type=int,
        help="catch the full-text index up in the benchmark's process before the catch-up "
        "tick, with search.CHUNK raised to this (setup only; default: the tick does it "
        "with the shipped CHUNK)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument(
        "--capped",
        metavar="MEMORY_LIMIT",
        help="after the ticks, run them again with [warehouse] memory_limit set to this",
    )
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="newsflow-scale-", dir=args.tmp))
    db, config, alert_config = tmp / "scale.duckdb", tmp / "scale.toml", tmp / "alerts.toml"
    rng = random.Random(13)
    site = ScaleSite(args.sources, args.hosts)
    results: list[SizeResult] = []
    print(
        f"{args.sources} sources on {args.hosts} loopback hosts; warehouse in {tmp}; "
        f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores",
        flush=True,
    )
    try:
        write_config(config, site, db, freshness_hours=None)
        write_config(alert_config, site, db, freshness_hours=0.0)
        capped = {
            False: (config, alert_config),
            True: (tmp / "capped.toml", tmp / "capped-alerts.toml"),
        }
        if args.capped:
            CAPPED[:] = [args.capped]
            write_config(capped[True][0], site, db, freshness_hours=None, memory_limit=args.capped)
            write_config(capped[True][1], site, db, freshness_hours=0.0, memory_limit=args.capped)
        grown, served = 0, args.sources  # every feed starts with one article
        for size in sorted(args.sizes):
            print(f"size {size:,}:", flush=True)
            target = max(grown, size - served)
            grow_s = grow(db, grown, target, args.sources)
            grown = target
            index_s = index_setup(db, args.index_chunk) if args.index_chunk else None
            catch_up = run_tick("catch-up", config)
            if catch_up.exit_code != 0:
                raise SystemExit(f"catch-up tick exited {catch_up.exit_code}:\n{catch_up.stderr}")
            print(f"  catch-up tick: {catch_up.wall_s:.1f} s", flush=True)
            site.counts()
            ticks: dict[str, Tick] = {}
            capped_ticks: dict[str, Tick] = {}
            for cap in (False, True) if args.capped else (False,):
                plain, alerting = capped[cap]
                for name in args.ticks:
                    new, freshness = tick_plan(name, args.sources, rng)
                    added = site.add(new) if new else 0
                    served += added
                    label = f"{name}@{args.capped}" if cap else name
                    tick = run_tick(label, alerting if freshness is not None else plain)
                    verify(
                        tick,
                        db,
                        sources=args.sources,
                        new=added,
                        alert_states=args.sources if name == "alerts" else None,
                    )
                    tick.summary["requests"] = site.counts()
                    (capped_ticks if cap else ticks)[name] = tick
                    state = "ok" if not tick.checks else "; ".join(tick.checks)
                    print(
                        f"  {label}: {tick.wall_s:.1f} s wall, {tick.flow_s:.1f} s flow, "
                        f"RSS {tick.rss_mb:.0f} MB (tree {tick.tree_rss_mb:.0f} MB), "
                        f"{added} new; {state}; requests {tick.summary['requests']}",
                        flush=True,
                    )
            articles = _scalar(db, "SELECT count(*) FROM articles")
            results.append(
                SizeResult(
                    size,
                    grow_s,
                    index_s,
                    catch_up,
                    ticks,
                    db.stat().st_size / 1e6,
                    articles,
                    capped_ticks,
                )
            )
    finally:
        site.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(table(results))
    print()
    print("Cells: process wall / flow time (the run's --json elapsed_s) / peak RSS of the run's")
    print("process. Stage times (flow seconds) and the process tree's peak RSS:")
    print(stage_lines(results))
    print()
    print(ratios(results))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "size": r.size,
                        "articles": r.articles,
                        "grow_s": r.grow_s,
                        "index_s": r.index_s,
                        "file_mb": r.file_mb,
                        "ticks": {
                            t.name: {**t.__dict__, "stderr": t.stderr[-2000:]}
                            for t in (r.catch_up, *r.ticks.values(), *r.capped.values())
                        },
                    }
                    for r in results
                ],
                default=str,
                indent=1,
            )
        )
    failed = any(t.checks for r in results for t in (*r.ticks.values(), *r.capped.values()))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
