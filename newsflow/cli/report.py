"""``newsflow report``: the health report, on demand (runs also write it after they publish).

The work is in ``tasks/report/`` (render) and ``tasks/warehouse/health.py`` (the reads); this
module parses the arguments, picks the paths and turns expected failures into one line and
exit code 2 (no warehouse, a file DuckDB cannot read, an output path that cannot be written).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from newsflow.cli.output import EXIT_BAD_CONFIG, EXIT_OK, add_config_and_db, error


def add_commands(sub: Any) -> None:
    """Register ``report`` on the CLI's subparsers."""
    report = sub.add_parser(
        "report",
        help="write the health report: one offline HTML page of charts from the warehouse",
        description=(
            "Write one self-contained HTML page (no network needed to open it) with charts "
            "from the published snapshot: articles per source per day, page-error and reject "
            "rates per source, data-quality checks over time, run durations and the last "
            "successful poll per source. Default: report.html in the Data Docs folder, "
            "where every run also writes it."
        ),
    )
    add_config_and_db(report)
    report.add_argument(
        "--output",
        metavar="PATH",
        help="the HTML file to write (default: report.html in the Data Docs folder)",
    )
    report.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace) -> int:
    from newsflow.schemas.config import load_config
    from newsflow.tasks.quality.gate import data_docs_dir
    from newsflow.tasks.report.write import default_report_path, write_report
    from newsflow.tasks.warehouse.health import HealthUnreadable

    config = load_config(args.config)
    db = args.db or config.warehouse.path
    if not Path(db).is_file():
        error(f"{db}: no such warehouse file (run `newsflow demo` or `newsflow run` first)")
        return EXIT_BAD_CONFIG
    output = Path(args.output) if args.output else default_report_path(config, db)
    try:
        written = write_report(db, output, data_docs=data_docs_dir(config, db))
    except HealthUnreadable as exc:
        error(str(exc))
        return EXIT_BAD_CONFIG
    except OSError as exc:
        error(f"{output}: cannot write the report: {exc.strerror or exc}")
        return EXIT_BAD_CONFIG
    print(f"wrote the health report to {written}")
    return EXIT_OK
