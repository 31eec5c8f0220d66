"""The health report and the Data Docs, opened as a person would: in headless Chromium, with
no network (every request Chromium makes goes to a loopback proxy that records it and answers
502), over the demo warehouse's two real ingest runs.

What is checked is what is on the rendered page: the report's charts hold plotted bars, lines
and points and name the demo's sources; the Data Docs index lists the validations (GX builds
that list with JavaScript from CDN hosts unless newsflow's offline views render it); and
neither page asks the network for anything.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest
from lxml import html as lxml_html

from newsflow.cli.main import main
from newsflow.demo.config import demo_config
from newsflow.demo.server import start_demo_site
from newsflow.flows.ingest import ingest
from newsflow.schemas.health import RunRecord, SourceHealth, WarehouseHealth
from newsflow.tasks.quality.gate import data_docs_dir
from newsflow.tasks.quality.gx_offline import offline_source
from newsflow.tasks.report.render import render_report
from newsflow.tasks.report.write import REPORT_NAME
from newsflow.tasks.warehouse.warehouse import Warehouse
from tests.warehouse_demo import demo_warehouse

DEMO_SOURCES = ("harbor-gazette", "north-star-wire", "valley-courier")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Hosts headless Chromium asks on its own, whatever the page (update checks, its clock, sign-in).
BROWSER_OWN = {"update.googleapis.com", "clients2.google.com", "accounts.google.com"}


@pytest.fixture(scope="module")
def demo(prefect_harness, tmp_path_factory):
    return demo_warehouse(tmp_path_factory)


# -- headless Chromium, no network ---------------------------------------------------------


class _RecordingProxy(BaseHTTPRequestHandler):
    """Any request (a CONNECT for https, a GET for http) is recorded and refused."""

    def _refuse(self) -> None:
        self.server.seen.append(f"{self.command} {self.path}")  # type: ignore[attr-defined]
        self.send_response(502)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = _refuse

    def log_message(self, *_args: object) -> None:
        pass


def page_requests(proxy: ThreadingHTTPServer) -> list[str]:
    """What the proxy was asked for on the pages' behalf (the browser's own chatter left out)."""
    asked = []
    for line in proxy.seen:  # type: ignore[attr-defined]
        method, target = line.split(" ", 1)
        host = target.split(":")[0] if method == "CONNECT" else urlsplit(target).hostname
        if host not in BROWSER_OWN:
            asked.append(line)
    return asked


@pytest.fixture
def proxy() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RecordingProxy)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def chromium(page: Path, proxy: ThreadingHTTPServer, tmp_path: Path, *extra: str) -> str:
    """``page`` opened by headless Chromium with every request sent to ``proxy``; the DOM
    after its scripts ran (``--dump-dom``)."""
    assert Path(CHROMIUM).exists(), "chromium is missing: apt-get install chromium (.ci/run does)"
    port = proxy.server_address[1]
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--proxy-server=127.0.0.1:{port}",
        "--proxy-bypass-list=<-loopback>",  # loopback through the proxy too: nothing escapes
        *extra,
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _ids(node: lxml_html.HtmlElement, prefix: str) -> list[str]:
    return [e.get("id") for e in node.iter() if (e.get("id") or "").startswith(prefix)]


# -- the report ------------------------------------------------------------------------------


def test_each_run_writes_the_report_beside_the_data_docs(demo):
    docs = data_docs_dir(demo.config, demo.db)
    report = docs / REPORT_NAME
    assert (docs / "index.html").is_file()
    assert report.is_file()
    page = lxml_html.fromstring(report.read_text(encoding="utf-8"))
    # Written after the second run had published: both runs are in it.
    runs = page.get_element_by_id("table-runs").findall(".//tr")[1:]
    assert len(runs) == 2
    assert page.xpath("//a[text()='Data Docs']/@href") == ["index.html"]


def test_report_shows_charts_with_data_in_chromium_offline(demo, proxy, tmp_path):
    out = tmp_path / "health.html"
    assert main(["report", "--db", str(demo.db), "--output", str(out)]) == 0

    dom = lxml_html.fromstring(chromium(out, proxy, tmp_path))

    assert page_requests(proxy) == []  # the page asked the network for nothing
    figures = {f.get("id"): f for f in dom.xpath("//figure[@class='chart']")}
    assert set(figures) == {
        "chart-articles",
        "chart-rates",
        "chart-checks",
        "chart-runs",
        "chart-last-success",
    }
    for figure in figures.values():
        assert len(figure.xpath(".//*[local-name()='svg']")) == 1, figure.get("id")

    def plotted(name: str, prefix: str) -> list[str]:
        return _ids(figures[name], prefix)

    def texts(name: str) -> str:
        return " ".join(figures[name].xpath(".//*[local-name()='text']//text()"))

    # Lines of articles per day, one per source, each with plotted points.
    for source in DEMO_SOURCES:
        (line,) = figures["chart-articles"].xpath(f".//*[@id='series-{source}']")
        assert line.xpath(".//*[local-name()='path']"), source
        assert source in texts("chart-articles")
    # Bars per source: page-error and reject rates, and the age of the last success.
    for source in DEMO_SOURCES:
        assert f"bar-page-error-rate-{source}" in plotted("chart-rates", "bar-")
        assert f"bar-reject-rate-{source}" in plotted("chart-rates", "bar-")
        assert f"bar-last-success-{source}" in plotted("chart-last-success", "bar-")
        assert source in texts("chart-rates")
        assert source in texts("chart-last-success")
    # The demo loses one page per gazette and wire, and rejects one courier record.
    assert "7.7%" in texts("chart-rates")
    assert "8.3%" in texts("chart-rates")
    # Both runs completed: two bars.
    assert len(plotted("chart-runs", "bar-run-completed-")) == 2
    # Every check evaluated in both runs passed: points, and green stretches between them.
    assert plotted("chart-checks", "passed-evaluations")
    assert plotted("chart-checks", "passed-stretches")
    assert not plotted("chart-checks", "failed-")
    assert "freshness [valley-courier]" in texts("chart-checks")


def test_data_docs_index_lists_the_validations_in_chromium_offline(demo, proxy, tmp_path):
    docs = data_docs_dir(demo.config, demo.db)
    source = (docs / "index.html").read_text(encoding="utf-8")
    assert "cdn." not in source and "unpkg.com" not in source

    dom = lxml_html.fromstring(chromium(docs / "index.html", proxy, tmp_path))

    assert page_requests(proxy) == []
    links = dom.xpath("//table[contains(@class, 'newsflow-static-table')]//a/@href")
    validations = sorted({link for link in links if link.startswith("validations/")})
    suites = {link.split("/")[1] for link in validations}
    assert suites == {"articles_row", "articles_table"}
    for link in validations:
        assert (docs / link).is_file(), link
    assert {"expectations/articles_row.html", "expectations/articles_table.html"} <= set(links)
    # A validation page opens offline too, and shows its expectations.
    page_dom = lxml_html.fromstring(chromium(docs / validations[0], proxy, tmp_path))
    assert page_requests(proxy) == []
    assert "Expectation" in page_dom.text_content()


# -- expected failures and the empty warehouse ---------------------------------------------


@pytest.mark.parametrize("kind", ["no tables", "migrated, never run"])
def test_an_empty_warehouse_gives_a_page_that_says_so(tmp_path, capsys, kind):
    db = tmp_path / "empty.duckdb"
    if kind == "no tables":
        duckdb.connect(str(db)).close()
    else:
        with Warehouse.open(db, lock_timeout_s=5) as warehouse:
            warehouse.publish()
    out = tmp_path / "report.html"
    assert main(["report", "--db", str(db), "--output", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert 'id="empty"' in page and "no runs recorded" in page
    assert "<svg" not in page
    assert str(out) in capsys.readouterr().out


def test_no_warehouse_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["report", "--db", str(tmp_path / "missing.duckdb")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such warehouse file" in err[0]


def test_a_file_duckdb_cannot_read_is_one_line_and_exit_2(tmp_path, capsys):
    db = tmp_path / "notes.duckdb"
    db.write_text("not a database\n" * 100)
    assert main(["report", "--db", str(db), "--output", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read the warehouse" in err[0]
    assert not (tmp_path / "r.html").exists()


def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(demo, tmp_path, capsys):
    assert main(["report", "--db", str(demo.db), "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write the report" in err[0]


def test_a_report_that_cannot_be_written_is_a_warning_not_a_failed_run(
    prefect_harness, tmp_path, caplog
):
    db = tmp_path / "news.duckdb"
    site = start_demo_site(0)
    try:
        config = demo_config(site.base_url, db=str(db))
        blocked = data_docs_dir(config, db) / REPORT_NAME
        blocked.mkdir(parents=True)  # a folder where the report file should go
        with caplog.at_level(logging.WARNING):
            summary = ingest(config=config, db=str(db))
    finally:
        site.stop()
    assert summary.status == "completed"
    assert summary.loaded.new > 0
    assert any("health report not written" in r.getMessage() for r in caplog.records)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status FROM pipeline_runs").fetchall() == [("completed",)]


# -- pure parts ------------------------------------------------------------------------------


def test_offline_source_drops_web_assets_and_keeps_local_ones():
    source = (
        '<link rel="stylesheet" href="https://cdn.example/b.css"/>\n'
        '<link rel="shortcut icon" href="./static/images/favicon.ico">\n'
        '<script src="https://code.example/jquery.js"></script>\n'
        '<script src="//cdn.example/x.js" integrity="sha" crossorigin="anonymous"></script>\n'
        "<script>var inline = 1;</script>\n"
        ".logo { background: url('https://assets.example/logo.png') 0 0 no-repeat; }\n"
        '{% set static_images_dir = "https://assets.example/" -%}\n'
        '<a href="https://greatexpectations.io">GX</a>'
    )
    offline = offline_source(source)
    assert "cdn.example" not in offline
    assert "code.example" not in offline
    assert "assets.example" not in offline
    assert './static/images/favicon.ico"' in offline
    assert "<script>var inline = 1;</script>" in offline
    assert "background: none 0 0 no-repeat" in offline
    assert '{% set static_images_dir = "static/images/" %}' in offline
    assert '<a href="https://greatexpectations.io">GX</a>' in offline  # a link, not a load


def test_the_report_escapes_what_the_warehouse_holds():
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    name = '<img src=x onerror="alert(1)">'
    health = WarehouseHealth(
        db="w.duckdb",
        generated_at=now,
        window_days=30,
        runs=[RunRecord("r1", "ingest", now, now, "completed", 1, 0, 0, 0)],
        sources=[SourceHealth(name, now, now, 0, 3, 0.0, 0.5, 1)],
    )
    page = render_report(health)
    assert name not in page
    assert "&lt;img src=x" in page
    assert 'id="chart-rates"' in page
