"""Regenerate the data dictionary of docs/warehouse.md after a schema change::

    python -m newsflow.cli.dictionary docs/warehouse.md          # rewrite the section
    python -m newsflow.cli.dictionary docs/warehouse.md --check  # exit 1 if it is stale

A developer's command, so not a ``newsflow`` subcommand. The rendering, from a throwaway
warehouse built by this version, is :mod:`newsflow.tasks.warehouse.dictionary`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_STALE = 1


def main(argv: Sequence[str] | None = None) -> int:
    from newsflow.tasks.warehouse.dictionary import generate, replace_section

    parser = argparse.ArgumentParser(
        prog="python -m newsflow.cli.dictionary",
        description="Regenerate the data dictionary in a Markdown file.",
    )
    parser.add_argument("doc", type=Path, help="e.g. docs/warehouse.md (has the markers)")
    parser.add_argument("--check", action="store_true", help="only report whether it is current")
    args = parser.parse_args(argv)
    document = args.doc.read_text(encoding="utf-8")
    updated = replace_section(document, generate())
    if args.check:
        if updated != document:
            print(f"{args.doc}: data dictionary is out of date", file=sys.stderr)
            return EXIT_STALE
        return 0
    if updated != document:
        args.doc.write_text(updated, encoding="utf-8")
        print(f"{args.doc}: data dictionary updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
