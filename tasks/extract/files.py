"""``newsflow extract``: local HTML files to cleaned records, with no network and no database.

It runs exactly the extract and clean function the ingest flow runs on each page
(``extract_article``, with no learnt boilerplate and no header charset: a file has neither), so
what a user sees here is what the pipeline would load.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from newsflow.tasks.extract.extract import extract_article

#: Fields every output line has, a page that failed included, in this order.
FIELDS = (
    "path",
    "url",
    "title",
    "text",
    "authors",
    "published_at",
    "language",
    "captions",
    "canonical_url",
    "description",
    "error",
)


def read_manifest(path: Path) -> list[tuple[Path, str | None]]:
    """``{"path": ..., "url": ...}`` per line; relative paths are relative to the manifest."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            file = Path(entry["path"])
        except (ValueError, KeyError, TypeError):
            items.append((Path(f"{path}:{number}"), None))
            continue
        items.append((file if file.is_absolute() else path.parent / file, entry.get("url")))
    return items


def extract_files(items: Iterable[tuple[Path, str | None]]) -> Iterator[dict[str, Any]]:
    """One record per file, in order; a file that fails gives a record with ``error``."""
    for path, url in items:
        page_url = url or path.resolve().as_uri()
        try:
            content = path.read_bytes()
        except OSError as exc:
            yield _record(path, page_url, error=f"unreadable: {exc.strerror or exc}")
            continue
        article = extract_article(content, page_url)
        if article.error:
            yield _record(path, page_url, error=article.error)
            continue
        record = {
            "path": str(path),
            "url": page_url,
            "title": article.title,
            "text": article.text,
            "authors": article.authors,
            "published_at": article.published_at.isoformat() if article.published_at else None,
            "language": article.language,
            "captions": [c.model_dump() for c in article.captions],
            "canonical_url": article.canonical_url,
            "description": article.description,
            "error": None,
        }
        yield {key: record[key] for key in FIELDS}


def _record(path: Path, url: str, *, error: str) -> dict[str, Any]:
    record: dict[str, Any] = dict.fromkeys(FIELDS)
    record.update(path=str(path), url=url, authors=[], captions=[], text="", error=error)
    return record
