"""Boilerplate learnt for every source at once from counts the warehouse makes in SQL, and kept
as it was for sources with nothing new: the same sets the pure ``learn_boilerplate`` gives
over the same articles, on a real DuckDB file."""

from __future__ import annotations

import random

import pytest

from newsflow.tasks.extract.boilerplate import learn_boilerplate
from newsflow.tasks.extract.tasks import source_boilerplate
from newsflow.tasks.warehouse.warehouse import Warehouse

CHROME = ["Sign up for our newsletter", "Share this story", "Most read today"]


def _article(source: str, i: int, rng: random.Random) -> tuple[dict, list[str]]:
    lines = [f"{source} story {i} paragraph {p} {rng.random()}" for p in range(4)]
    lines += [c for c in CHROME if rng.random() < {"daily": 0.9, "weekly": 0.2, "new": 1.0}[source]]
    text = "\n".join(lines)
    row = {
        "article_id": f"{source}-{i}",
        "url": f"https://{source}.example/{i}",
        "source": source,
        "title": f"Story {i}",
        "text": text,
        "authors": [],
        "published_at": None,
        "language": "en",
        "captions": [],
        "word_count": len(text.split()),
        "content_hash": f"{source}-{i}-{len(text)}",
    }
    return row, [f"h:{line.split(' 0.')[0]}" for line in lines]


@pytest.fixture
def warehouse(tmp_path):
    with Warehouse.open(tmp_path / "news.duckdb", lock_timeout_s=5) as wh:
        yield wh


def test_sql_counts_learn_what_the_pure_function_learns(warehouse):
    rng = random.Random(7)
    hashes: dict[str, list[list[str]]] = {"daily": [], "weekly": [], "new": []}
    for source, n in (("daily", 40), ("weekly", 30), ("new", 2)):
        for i in range(n):
            row, line_hashes = _article(source, i, rng)
            warehouse.load_articles("r1", [row], {row["article_id"]: line_hashes})
            hashes[source].append(line_hashes)
    learnt = source_boilerplate(warehouse, ["daily", "weekly", "new", "empty"])
    assert learnt == {name: learn_boilerplate(hashes.get(name, [])) for name in learnt}
    assert learnt["daily"] == {f"h:{c}" for c in CHROME}  # the chrome, and nothing else
    assert learnt["new"] == learnt["empty"] == frozenset()


def test_a_source_with_nothing_new_keeps_the_set_its_last_run_applied(warehouse):
    rng = random.Random(3)
    for i in range(20):
        row, line_hashes = _article("daily", i, rng)
        warehouse.load_articles("r0", [row], {row["article_id"]: line_hashes})
    warehouse.start_run("r1", "ingest")
    first = source_boilerplate(warehouse, ["daily"])
    warehouse.save_run_boilerplate("r1", first)
    assert warehouse.unchanged_boilerplate(["daily"]) == first
    row, line_hashes = _article("daily", 99, rng)
    warehouse.load_articles("r1", [row], {row["article_id"]: line_hashes})
    assert warehouse.unchanged_boilerplate(["daily"]) == {}  # an article since: learn again
