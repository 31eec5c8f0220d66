"""Writing the health report: read the snapshot, render, replace the file atomically.

The only I/O of the report stage; ``render.py`` and ``charts.py`` are pure. The file is
written to a temporary name beside it and renamed over the old one, so a browser (or a web
server publishing the Data Docs folder) never sees a half-written page.

After a run the report is a by-product, not a stage: :func:`write_after_run` turns any
failure into one warning line (a run whose articles are loaded and published must not end
Failed because a chart could not be drawn). On demand (``newsflow report``) failures are
the caller's to report.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from newsflow.run_log import run_logger
from newsflow.schemas.config import Config
from newsflow.tasks.quality.gate import data_docs_dir
from newsflow.tasks.quality.gx_context import docs_index_path
from newsflow.tasks.report.render import render_report
from newsflow.tasks.warehouse.health import load_health

REPORT_NAME = "report.html"

logger = logging.getLogger("newsflow.report")


def default_report_path(config: Config, db: str | Path) -> Path:
    """Where the report of warehouse ``db`` goes: beside the Data Docs index, in their folder."""
    return data_docs_dir(config, db) / REPORT_NAME


def write_report(db: str | Path, output: str | Path, *, data_docs: Path | None = None) -> Path:
    """Render the health report of the snapshot ``db`` to ``output``; returns the path.
    ``data_docs``: the Data Docs folder, linked from the page when its index exists."""
    output = Path(output).expanduser().resolve()
    link = None
    if data_docs is not None and docs_index_path(data_docs).is_file():
        link = Path(os.path.relpath(docs_index_path(data_docs), output.parent)).as_posix()
    html = render_report(load_health(db), data_docs=link)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(html)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide it from a web server
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return output


def write_after_run(config: Config, db: str | Path) -> Path | None:
    """The report beside the run's Data Docs; None (and one warning) if it could not be
    written. Never raises an ``Exception``."""
    try:
        return write_report(
            db, default_report_path(config, db), data_docs=data_docs_dir(config, db)
        )
    except Exception as exc:  # noqa: BLE001 - a by-product must not fail the run
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        run_logger(logger).warning("health report not written: %s", cause)
        return None
