"""``newsflow extract``: local HTML files to cleaned JSON records on stdout, offline.

The work is :mod:`newsflow.tasks.extract.files` (the pipeline's own extract and clean path);
this module reads the arguments and writes one JSON object a line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from newsflow.cli.output import EXIT_BAD_CONFIG, EXIT_OK, error


def add_commands(sub: Any) -> None:
    """Register ``extract`` on the CLI's subparsers."""
    extract = sub.add_parser(
        "extract", help="HTML files to cleaned JSON records on stdout (offline)"
    )
    extract.add_argument("files", nargs="*", type=Path, help="HTML files")
    extract.add_argument("--manifest", type=Path, help='JSONL lines of {"path": ..., "url": ...}')
    extract.set_defaults(handler=extract_command)


def extract_command(args: argparse.Namespace) -> int:
    """One record per file, in order; a page that fails gives a record with ``error`` (exit 0),
    a manifest that cannot be read is an error (exit 2)."""
    from newsflow.tasks.extract.files import extract_files, read_manifest

    items: list[tuple[Path, str | None]] = [(p, None) for p in args.files]
    if args.manifest:
        try:
            items.extend(read_manifest(args.manifest))
        except OSError as exc:
            error(f"{args.manifest}: cannot read the manifest ({exc.strerror or exc})")
            return EXIT_BAD_CONFIG
    if not items:
        error("give HTML files or --manifest M.jsonl")
        return EXIT_BAD_CONFIG
    for record in extract_files(items):
        sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return EXIT_OK
