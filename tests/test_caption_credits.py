"""Caption credits come without the parentheses that wrap them in the markup: the demo site's
Valley Courier writes ``<span class="caption-credit">(Ivo Brandt/Valley Courier)</span>``, and
its manifest (what a reader sees) says ``Ivo Brandt/Valley Courier``."""

from __future__ import annotations

import json

import pytest

from newsflow.demo.server import demo_site_root
from newsflow.tasks.extract.clean_captions import unwrap_parentheses
from newsflow.tasks.extract.extract import extract_article

SITE = demo_site_root()
BASE = "http://127.0.0.1:8765"
PAGES = [
    page
    for page in json.loads((SITE / "manifest.json").read_text())
    if page["kind"] in ("article", "wire_copy") and page["captions"]
]


def test_the_demo_has_credits_wrapped_in_parentheses():
    wrapped = [p for p in PAGES if '-credit">(' in (SITE / p["path"]).read_text("utf-8")]
    assert len(wrapped) >= 5  # the case this file is about is really on the site


@pytest.mark.parametrize("page", PAGES, ids=[p["path"] for p in PAGES])
def test_every_demo_credit_is_as_the_reader_sees_it(page):
    html = (SITE / page["path"]).read_text("utf-8").replace("{{BASE}}", BASE)
    article = extract_article(html, f"{BASE}/{page['path']}")
    assert [c.credit for c in article.captions] == [c["credit"] for c in page["captions"]]


@pytest.mark.parametrize(
    ("credit", "clean"),
    [
        ("(Harriet Quell/Valley Courier)", "Harriet Quell/Valley Courier"),
        ("[Photo desk]", "Photo desk"),
        ("Jane Doe (AP)", "Jane Doe (AP)"),  # only parentheses around all of it go
        ("(AP) Jane (Doe)", "(AP) Jane (Doe)"),
        ("(Reuters", "(Reuters"),
        ("((Double))", "(Double)"),
    ],
)
def test_unwrap_parentheses(credit, clean):
    assert unwrap_parentheses(credit) == clean
