"""``newsflow extract``: the demo site's real HTML pages to JSON records on stdout, offline,
given as files or through a manifest; a page that fails is a record with ``error``, a manifest
that is not there is one error line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsflow.cli.main import main
from newsflow.demo.server import demo_site_root

SITE = demo_site_root()
MANIFEST = {entry["path"]: entry for entry in json.loads((SITE / "manifest.json").read_text())}
#: The documented keys of every record, in order (README, `newsflow extract`).
KEYS = [
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
]
PAGES = [
    "harbor-gazette/2026/11/boatyard-diesel-fine.html",
    "north-star-wire/wire/skylark-regional-routes.html",
    "valley-courier/stories/2026-11-24-cold-ash-reservoir-level.html",
]
BASE = "https://news.example"


def _extract(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = main(["extract", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def _assert_matches_the_site(record: dict, page: str) -> None:
    expected = MANIFEST[page]
    assert list(record) == KEYS
    assert record["error"] is None
    assert record["title"] == expected["title"]
    assert record["authors"] == expected["authors"]
    assert record["published_at"] == expected["published_at"]
    assert record["language"] == "en"
    assert record["text"].startswith(expected["first_paragraph"])
    assert expected["last_paragraph"] in record["text"]
    assert [c["text"] for c in record["captions"]] == [c["text"] for c in expected["captions"]]


def test_files_give_one_record_each_in_order(capsys):
    files = [str(SITE / page) for page in PAGES]
    code, records, err = _extract(capsys, *files)
    assert (code, err) == (0, "")
    assert [r["path"] for r in records] == files
    for record, page in zip(records, PAGES, strict=True):
        _assert_matches_the_site(record, page)
        assert record["url"] == (SITE / page).resolve().as_uri()  # no URL given: the file's


def test_a_manifest_gives_each_page_its_url(tmp_path, capsys):
    """The site as a crawler saved it (``{{BASE}}`` filled in), listed with its URLs; paths
    are relative to the manifest."""
    lines = []
    for page in PAGES:
        saved = tmp_path / "saved" / page
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text((SITE / page).read_text("utf-8").replace("{{BASE}}", BASE), "utf-8")
        lines.append(json.dumps({"path": f"saved/{page}", "url": f"{BASE}/{page}"}))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join([*lines, "", "not json"]) + "\n", encoding="utf-8")

    code, records, err = _extract(capsys, "--manifest", str(manifest))
    assert (code, err) == (0, "")
    *pages, bad_line = records
    for record, page in zip(pages, PAGES, strict=True):
        _assert_matches_the_site(record, page)
        assert record["path"] == str(tmp_path / "saved" / page)
        assert record["url"] == f"{BASE}/{page}"
        assert record["canonical_url"] == MANIFEST[page]["canonical_url"].replace("{{BASE}}", BASE)
        assert [c["image_url"] for c in record["captions"]] == [
            c["image_url"].replace("{{BASE}}", BASE) for c in MANIFEST[page]["captions"]
        ]
    assert list(bad_line) == KEYS  # an error record has every key a good one has
    assert bad_line["path"] == f"{manifest}:5" and bad_line["error"].startswith("unreadable")


def test_a_page_that_fails_is_a_record_with_its_error(tmp_path, capsys):
    pdf = SITE / "harbor-gazette/documents/harbour-budget-summary-2027.pdf"
    missing = tmp_path / "gone.html"
    good = SITE / PAGES[0]
    code, records, err = _extract(capsys, str(pdf), str(missing), str(good))
    assert (code, err) == (0, "")
    not_html, gone, page = records
    assert [list(r) for r in records] == [KEYS] * 3  # the same keys, errors or not
    assert not_html["error"] and not_html["title"] is None and not_html["text"] == ""
    assert gone["error"].startswith("unreadable: ") and gone["path"] == str(missing)
    _assert_matches_the_site(page, PAGES[0])  # the others still come out


def test_a_missing_manifest_is_one_line_and_exit_2(tmp_path, capsys):
    missing = tmp_path / "none.jsonl"
    code, records, err = _extract(capsys, "--manifest", str(missing))
    assert (code, records) == (2, [])
    (line,) = err.splitlines()
    assert line.startswith(f"newsflow: error: {missing}: cannot read the manifest")


@pytest.mark.parametrize("args", [[], ["--manifest", "empty.jsonl"]])
def test_nothing_to_extract_is_exit_2(tmp_path, monkeypatch, capsys, args):
    monkeypatch.chdir(tmp_path)
    Path("empty.jsonl").write_text("\n", encoding="utf-8")
    code, records, err = _extract(capsys, *args)
    assert (code, records) == (2, [])
    assert err == "newsflow: error: give HTML files or --manifest M.jsonl\n"
