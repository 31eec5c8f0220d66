"""Extraction-quality benchmark on both dev sets: plain trafilatura (default and best settings) vs
newsflow, in one run.

Usage (from the repository root, with the project installed):

    python benchmarks/extraction_quality.py [--dataset PATH] [--eval-dataset PATH] [--limit N]
        [--only ID[,ID...]] [--sweep] [--show-pages] [--show-losses N] [--no-ablation]
        [--json PATH]

Set 1, ``--dataset`` (default ``../shared/datasets/news-extraction-dev``: 80 English news pages with
gold bodies). Columns: 4-gram shingle P/R/F1 (AEB macro definition), ROUGE-LSum P/R/F1 ×100 (mean
over pages, ± std of F1), pages with a repeated line (a whitespace-normalised line of ≥ 30 chars
occurring more often than in the gold), pages with a title echo (an output line equal to the page's
headline: trafilatura's metadata title, og:title or the first ``<h1>``, after
NFKC/casefold/punctuation normalisation), and pages per second. "trafilatura best" is chosen *in
this run*: a grid of trafilatura settings (comments off, precision/recall favouring, tables on/off,
fast mode) is measured and the configuration with the best shingle F1 is "best"; ``--sweep`` prints
every grid row too.

Set 2, ``--eval-dataset`` (default ``../shared/datasets/trafilatura-eval``: 990 multilingual pages
with "with"/"without" snippets, trafilatura's own evaluation corpus). Columns: snippet-level micro
P/R/accuracy/F1 (trafilatura's ``tests/eval_common.py``), the raw counts, empty outputs, pages/s.
Rows: trafilatura default, the best configuration of set 1 (not re-chosen: a setting that only wins
where it was chosen is what this set is for), ``favor_precision=True`` alone, and newsflow.

Every system gets the same input: the page's raw bytes and its URL (trafilatura's own runner passes
no URL; on set 2 the URL changes no trafilatura output, measured). Pages/s: one process, extraction
only (scoring excluded); systems run interleaved page by page so machine load hits all alike; on set
1 the best of ``--repeat`` passes after a warm-up, on set 2 one pass. The closing "acceptance" block
holds newsflow against issue 15's bars: F1 above trafilatura best on each set, recall within 0.005
of trafilatura default on each set, time per page at most 1.2× trafilatura best's (set 1).

Then the ablation table: newsflow with one rule turned off at a time (``extract_article(disabled=
{rule})``, every rule of ``extract.RULES``), untimed, on every page of both sets, as the change in
P/R/F1 from newsflow with all rules on; a rule earns its place when turning it off lowers F1 on
both sets without a recall gain on either. It costs about four newsflow passes (the line rules
share one extraction per page); ``--no-ablation`` skips it. ``--only`` keeps the pages whose id
contains one of the given strings, on both sets, for iterating on a few pages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import trafilatura
from lxml.html import HtmlElement

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scoring import (  # noqa: E402
    LcsCache,
    SnippetCounts,
    best_rouge,
    best_shingle_match,
    count_snippets,
    metrics_from_tp_fp_fns,
    page_f1,
    self_check,
    snippet_hits,
)

from newsflow.tasks.extract.clean_lang import guess_language, normalise_language_tag  # noqa: E402
from newsflow.tasks.extract.clean_normalise import normalise_line  # noqa: E402
from newsflow.tasks.extract.extract import RULES, extract_article, extract_variants  # noqa: E402

_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DEFAULT_DATASET = _DATASETS / "news-extraction-dev"
DEFAULT_EVAL_DATASET = _DATASETS / "trafilatura-eval"

# Issue 15's bars for newsflow (see the module docstring).
RECALL_TOLERANCE = 0.005
MAX_TIME_RATIO = 1.2


@dataclass
class Page:
    id: str
    url: str
    html: bytes


@dataclass
class GoldPage(Page):
    """A set-1 page: its gold body (optional paragraphs in ``[...]``) and headline forms."""

    body: list[str]
    headlines: set[str] = field(default_factory=set)


@dataclass
class SnippetPage(Page):
    """A set-2 page: snippets that must be in the output (``with``) and must not (``without``)."""

    with_snippets: list[str]
    without_snippets: list[str]


System = Callable[[Page], str]


@dataclass
class Result:
    name: str
    options: dict[str, object] | None  # trafilatura's keyword arguments; None for newsflow
    outputs: dict[str, str]
    pages_per_s: float
    rows: dict[str, float] = field(default_factory=dict)
    per_page: dict[str, float] = field(default_factory=dict)


@dataclass
class SetRun:
    """One set's rows: trafilatura default, its best settings, newsflow, and every row measured."""

    name: str
    default: Result
    best: Result
    newsflow: Result
    measured: list[Result]
    pages: Sequence[Page] = ()


# --------------------------------------------------------------------------------------------------
# Loading


def _wanted(page_id: str, only: Sequence[str]) -> bool:
    """``--only``: a page is scored when its id contains one of the given strings."""
    return not only or any(part in page_id for part in only)


def load_gold_pages(dataset: Path, limit: int | None, only: Sequence[str] = ()) -> list[GoldPage]:
    pages = []
    with (dataset / "ground_truth.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if not _wanted(rec["id"], only):
                continue
            html = gzip.decompress((dataset / rec["file"]).read_bytes())
            pages.append(GoldPage(rec["id"], rec["url"], html, rec["body"]))
            if limit and len(pages) >= limit:
                break
    for page in pages:
        page.headlines = _headlines(page)
    return pages


def _headlines(page: GoldPage) -> set[str]:
    """The page's headline forms, independent of any system's output."""
    from trafilatura.metadata import extract_metadata
    from trafilatura.utils import load_html

    tree = load_html(page.html)
    out: set[str] = set()
    if isinstance(tree, HtmlElement):
        meta = extract_metadata(tree, page.url)
        if meta.title:
            out.add(meta.title)
        for el in tree.xpath("//meta[@property='og:title']"):
            out.add(el.get("content") or "")
        h1 = tree.xpath("//h1")
        if h1:
            out.add(" ".join(" ".join(h1[0].itertext()).split()))
    return {k for k in (normalise_line(t) for t in out) if k}


def load_snippet_pages(
    dataset: Path, limit: int | None, only: Sequence[str] = ()
) -> list[SnippetPage]:
    """Pages of ``evaldata.json`` in file order; the page id is its file name (unique in the set),
    the bytes are ``html/<file>.gz`` decompressed and otherwise untouched, as trafilatura's runner
    reads them."""
    evaldata = json.loads((dataset / "evaldata.json").read_text(encoding="utf-8"))
    pages = []
    for url, item in evaldata.items():
        if not _wanted(item["file"], only):
            continue
        html = gzip.decompress((dataset / "html" / f"{item['file']}.gz").read_bytes())
        pages.append(SnippetPage(item["file"], url, html, item["with"], item["without"]))
        if limit and len(pages) >= limit:
            break
    return pages


# --------------------------------------------------------------------------------------------------
# Systems


def trafilatura_system(**options: object) -> System:
    def run(page: Page) -> str:
        return trafilatura.extract(page.html, url=page.url, **options) or ""

    return run


class NewsflowSystem:
    """``extract_article(html, url).text``, keeping the error of pages it returns empty so the loss
    report can say why (an empty text is scored like any other output)."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def __call__(self, page: Page) -> str:
        article = extract_article(page.html, page.url)
        if article.error:
            self.errors[page.id] = article.error
        return article.text


TRAFILATURA_DEFAULT = "trafilatura default"
NEWSFLOW = "newsflow extract_article"
TRAFILATURA_GRID: dict[str, dict[str, object]] = {
    "comments off": {"include_comments": False},
    "comments off, tables off": {"include_comments": False, "include_tables": False},
    "precision": {"favor_precision": True},
    "precision, comments off": {"favor_precision": True, "include_comments": False},
    "precision, comments off, tables off": {
        "favor_precision": True,
        "include_comments": False,
        "include_tables": False,
    },
    "recall, comments off": {"favor_recall": True, "include_comments": False},
    "fast, comments off": {"fast": True, "include_comments": False},
}


def run_systems(
    systems: dict[str, tuple[System, dict[str, object] | None]],
    pages: Sequence[Page],
    repeat: int,
) -> list[Result]:
    """Run every system on every page, interleaved page by page, so that load from other processes
    on a shared machine slows all systems alike; pages/s is the best of ``repeat`` passes."""
    for fn, _ in systems.values():  # warm-up: imports, regex compilation, caches
        for page in pages[:3]:
            fn(page)
    outputs: dict[str, dict[str, str]] = {name: {} for name in systems}
    best = dict.fromkeys(systems, float("inf"))
    for _ in range(max(1, repeat)):
        elapsed = dict.fromkeys(systems, 0.0)
        for page in pages:
            for name, (fn, _) in systems.items():
                start = time.perf_counter()
                outputs[name][page.id] = fn(page)
                elapsed[name] += time.perf_counter() - start
        best = {name: min(best[name], elapsed[name]) for name in systems}
    return [
        Result(
            name,
            options,
            outputs[name],
            len(pages) / best[name] if best[name] > 0 else float("inf"),
        )
        for name, (_, options) in systems.items()
    ]


def as_best(result: Result) -> Result:
    """The chosen grid row under the name the tables and the acceptance block use."""
    label = result.name.removeprefix("trafilatura ")
    return Result(
        f"trafilatura best ({label})",
        result.options,
        result.outputs,
        result.pages_per_s,
        result.rows,
        result.per_page,
    )


# --------------------------------------------------------------------------------------------------
# Set 1: gold bodies


def _lines(text: str) -> list[str]:
    return [" ".join(ln.split()) for ln in text.split("\n") if ln.strip()]


def has_unmatched_repeat(output: str, body: list[str]) -> bool:
    gold = Counter(" ".join(p.strip("[]").split()) for p in body)
    counts = Counter(ln for ln in _lines(output) if len(ln) >= 30)
    return any(c >= 2 and c > gold.get(ln, 0) for ln, c in counts.items())


def has_title_echo(output: str, headlines: set[str]) -> bool:
    return any(normalise_line(ln) in headlines for ln in _lines(output))


_LCS_CACHES: dict[str, LcsCache] = {}


def score_gold(result: Result, pages: list[GoldPage]) -> None:
    tp_fp_fns = []
    rouge_p, rouge_r, rouge_f = [], [], []
    repeats = echoes = empty = 0
    for page in pages:
        out = result.outputs[page.id]
        x = best_shingle_match(page.body, out)
        tp_fp_fns.append(x)
        result.per_page[page.id] = page_f1(x)
        r = best_rouge(page.body, out, _LCS_CACHES.setdefault(page.id, LcsCache()))
        rouge_p.append(r.precision)
        rouge_r.append(r.recall)
        rouge_f.append(r.f1)
        repeats += has_unmatched_repeat(out, page.body)
        echoes += has_title_echo(out, page.headlines)
        empty += not out.strip()
    m = metrics_from_tp_fp_fns(tp_fp_fns)
    result.rows = {
        "P": m["precision"],
        "R": m["recall"],
        "F1": m["f1"],
        "RL_P": 100 * statistics.mean(rouge_p),
        "RL_R": 100 * statistics.mean(rouge_r),
        "RL_F1": 100 * statistics.mean(rouge_f),
        "RL_std": 100 * statistics.pstdev(rouge_f),
        "repeats": repeats,
        "echoes": echoes,
        "empty": empty,
    }


def _name_width(results: list[Result]) -> int:
    return max(len("system"), *(len(r.name) for r in results))


def print_gold_table(results: list[Result], n_pages: int) -> None:
    w = _name_width(results)
    header = (
        f"{'system':<{w}} {'shingle P':>9} {'R':>6} {'F1':>6}   {'ROUGE-LSum P':>12} {'R':>6} "
        f"{'F1 ± std':>14}   {'repeated':>8} {'title echo':>10} {'empty':>5} {'pages/s':>8}"
    )
    print(header)
    print("-" * len(header))
    for res in results:
        r = res.rows
        print(
            f"{res.name:<{w}} {r['P']:>9.3f} {r['R']:>6.3f} {r['F1']:>6.3f}   "
            f"{r['RL_P']:>12.2f} {r['RL_R']:>6.2f} {r['RL_F1']:>6.2f} ± {r['RL_std']:>5.2f}   "
            f"{r['repeats']:>8d} {r['echoes']:>10d} {r['empty']:>5d} {res.pages_per_s:>8.1f}"
        )
    print(f"({n_pages} pages; repeated/title echo/empty = number of pages)")


def run_gold_set(pages: list[GoldPage], repeat: int, newsflow: System) -> list[Result]:
    """Default, every grid row and newsflow, interleaved and scored; newsflow last."""
    systems: dict[str, tuple[System, dict[str, object] | None]] = {
        TRAFILATURA_DEFAULT: (trafilatura_system(), {})
    }
    for label, options in TRAFILATURA_GRID.items():
        systems[f"trafilatura {label}"] = (trafilatura_system(**options), options)
    systems[NEWSFLOW] = (newsflow, None)
    results = run_systems(systems, pages, repeat)
    for res in results:
        score_gold(res, pages)
    return results


# --------------------------------------------------------------------------------------------------
# Set 2: snippets


def score_snippets(result: Result, pages: list[SnippetPage]) -> SnippetCounts:
    total = SnippetCounts()
    empty = 0
    for page in pages:
        out = result.outputs[page.id]
        counts = count_snippets(page.with_snippets, page.without_snippets, out)
        total.add(counts)
        result.per_page[page.id] = counts.tp
        empty += not out.strip()
    result.rows = {
        "P": total.precision,
        "R": total.recall,
        "Acc": total.accuracy,
        "F1": total.f1,
        **asdict(total),
        "empty": empty,
    }
    return total


def print_snippet_table(results: list[Result], n_pages: int) -> None:
    w = _name_width(results)
    header = (
        f"{'system':<{w}} {'snippet P':>9} {'R':>6} {'Acc':>6} {'F1':>6}   "
        f"{'TP':>5} {'FP':>5} {'FN':>5} {'TN':>5}   {'empty':>5} {'pages/s':>8}"
    )
    print(header)
    print("-" * len(header))
    for res in results:
        r = res.rows
        print(
            f"{res.name:<{w}} {r['P']:>9.3f} {r['R']:>6.3f} {r['Acc']:>6.3f} {r['F1']:>6.3f}   "
            f"{r['tp']:>5d} {r['fp']:>5d} {r['fn']:>5d} {r['tn']:>5d}   "
            f"{r['empty']:>5d} {res.pages_per_s:>8.1f}"
        )
    n_with = results[0].rows["tp"] + results[0].rows["fn"]
    n_without = results[0].rows["fp"] + results[0].rows["tn"]
    print(f"({n_pages} pages, {n_with} 'with' and {n_without} 'without' snippets; micro-averaged)")


def run_snippet_set(
    pages: list[SnippetPage], best_options: dict[str, object], newsflow: System
) -> list[Result]:
    """Default, set 1's best configuration, favor_precision alone and newsflow; one interleaved
    pass (quality is what this set is for; set 1 holds the timing that counts)."""
    settings = ", ".join(f"{k}={v}" for k, v in best_options.items())
    precision = {"favor_precision": True}
    systems: dict[str, tuple[System, dict[str, object] | None]] = {
        TRAFILATURA_DEFAULT: (trafilatura_system(), {}),
        f"trafilatura best of set 1 ({settings})": (
            trafilatura_system(**best_options),
            best_options,
        ),
        "trafilatura favor_precision=True": (trafilatura_system(**precision), precision),
        NEWSFLOW: (newsflow, None),
    }
    results = run_systems(systems, pages, repeat=1)
    for res in results:
        score_snippets(res, pages)
    return results


# --------------------------------------------------------------------------------------------------
# Set 2 diagnostics: where newsflow loses "with" snippets that trafilatura default finds

_HTML_LANG = re.compile(
    rb"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)?)", re.I
)


def page_language(page: Page, reference_text: str) -> str:
    """The page's declared ``<html lang>``, else a stop-word guess on a reference output; only a
    label for the loss report, so it must not depend on the system being diagnosed."""
    match = _HTML_LANG.search(page.html[:20_000])
    declared = normalise_language_tag(match.group(1).decode("ascii")) if match else None
    return declared or guess_language(reference_text) or "?"


@dataclass
class Loss:
    page: SnippetPage
    lost: list[str]  # found by trafilatura default, missed by newsflow
    also_missed_by_best: list[bool]  # per lost snippet: did trafilatura best miss it too?


def find_losses(
    pages: list[SnippetPage], default: Result, best: Result, newsflow: Result
) -> list[Loss]:
    """Pages where newsflow misses "with" snippets trafilatura default finds, most lost first."""
    losses = []
    for page in pages:
        snippets = page.with_snippets
        by_default = snippet_hits(snippets, default.outputs[page.id])
        by_newsflow = snippet_hits(snippets, newsflow.outputs[page.id])
        by_best = snippet_hits(snippets, best.outputs[page.id])
        lost = [i for i in range(len(snippets)) if by_default[i] and not by_newsflow[i]]
        if lost:
            losses.append(Loss(page, [snippets[i] for i in lost], [not by_best[i] for i in lost]))
    losses.sort(key=lambda loss: (-len(loss.lost), loss.page.id))
    return losses


def print_losses(
    losses: list[Loss], n: int, default: Result, newsflow: Result, errors: dict[str, str]
) -> None:
    """The ``n`` worst pages, then how all lost snippets split between the trafilatura settings
    newsflow runs with (best misses them too) and newsflow's own pruning/cleaning (best keeps them).
    """
    lost_total = sum(len(loss.lost) for loss in losses)
    by_settings = sum(sum(loss.also_missed_by_best) for loss in losses)
    print(
        f"\nnewsflow loses {lost_total} 'with' snippets that trafilatura default finds, on "
        f"{len(losses)} pages: {by_settings} are missed by trafilatura best too (the settings), "
        f"{lost_total - by_settings} are kept by trafilatura best (newsflow's pruning, decoding, "
        "cleaning or JSON-LD body)"
    )
    for loss in losses[:n]:
        page = loss.page
        out = newsflow.outputs[page.id]
        lang = page_language(page, default.outputs[page.id])
        found = int(newsflow.per_page[page.id])
        print(
            f"\n{page.id}  [{lang}]  lost {len(loss.lost)}; 'with' found: newsflow {found}, "
            f"default {int(default.per_page[page.id])} of {len(page.with_snippets)}"
        )
        print(f"  {page.url}")
        for snippet, settings in zip(loss.lost, loss.also_missed_by_best, strict=True):
            where = "best misses it too" if settings else "best keeps it"
            print(f"  - missed ({where}): {snippet[:160]!r}")
        if page.id in errors:
            print(f"  newsflow error: {errors[page.id]}")
        head = " ".join(out.split())[:200]
        print(f"  newsflow output ({len(out)} chars): {head!r}")


# --------------------------------------------------------------------------------------------------
# Ablation: what turning each rule off changes on each set


@dataclass
class Ablation:
    rule: str
    deltas: dict[str, dict[str, float]]  # set name → {"P", "R", "F1"}: rule off minus newsflow


def _shingle_rows(outputs: dict[str, str], pages: Sequence[GoldPage]) -> dict[str, float]:
    m = metrics_from_tp_fp_fns([best_shingle_match(p.body, outputs[p.id]) for p in pages])
    return {"P": m["precision"], "R": m["recall"], "F1": m["f1"]}


def _snippet_rows(outputs: dict[str, str], pages: Sequence[SnippetPage]) -> dict[str, float]:
    total = SnippetCounts()
    for page in pages:
        total.add(count_snippets(page.with_snippets, page.without_snippets, outputs[page.id]))
    return {"P": total.precision, "R": total.recall, "F1": total.f1}


def run_ablation(runs: Sequence[SetRun], rules: Sequence[str] = RULES) -> list[Ablation]:
    """newsflow with one rule off at a time (``extract_article(disabled={rule})``), on every page
    of each set, untimed; each row is scored like newsflow's own row (set 1 by shingles only) and
    given as the change from newsflow with every rule on. The line rules share one extraction per
    page (``extract_variants``), so the table costs about four newsflow passes, not one per rule."""
    variants = [frozenset({rule}) for rule in rules]
    deltas: dict[str, dict[str, dict[str, float]]] = {rule: {} for rule in rules}
    for run in runs:
        gold = isinstance(run.pages[0], GoldPage) if run.pages else False
        outputs: dict[str, dict[str, str]] = {rule: {} for rule in rules}
        for page in run.pages:
            for rule, art in zip(
                rules, extract_variants(page.html, page.url, variants), strict=True
            ):
                outputs[rule][page.id] = art.text
        score = _shingle_rows if gold else _snippet_rows
        base = score(run.newsflow.outputs, run.pages)  # type: ignore[arg-type]
        for rule in rules:
            off = score(outputs[rule], run.pages)  # type: ignore[arg-type]
            deltas[rule][run.name] = {k: off[k] - base[k] for k in base}
    return [Ablation(rule, deltas[rule]) for rule in rules]


_ABLATION_EPS = 0.00005


def print_ablation(rows: Sequence[Ablation], set_names: Sequence[str]) -> None:
    """One line per rule: the change in P/R/F1 on each set when the rule is off. A rule earns its
    place when turning it off lowers F1 on both sets (negative ΔF1) without a recall gain on
    either; "costs recall" marks a rule whose removal raises recall on that set."""
    print("\nablation: change when one rule is turned off (rule off − newsflow), both sets")
    head = "".join(f"   {name[:24]:<24}{'ΔP':>5} {'ΔR':>7} {'ΔF1':>7}" for name in set_names)
    print(f"{'rule':<16}{head}   verdict")
    for row in rows:
        cells = ""
        for name in set_names:
            d = row.deltas[name]
            cells += f"   {'':<22}{d['P']:>+7.4f} {d['R']:>+7.4f} {d['F1']:>+7.4f}"
        # Changes below half the last printed digit are noise in the verdict as in the table.
        f1_gain = [row.deltas[n]["F1"] > _ABLATION_EPS for n in set_names]
        recall = [n for n in set_names if row.deltas[n]["R"] > _ABLATION_EPS]
        if any(f1_gain):
            verdict = "hurts F1 on " + ", ".join(
                n for n, g in zip(set_names, f1_gain, strict=True) if g
            )
        elif recall:
            verdict = "costs recall on " + ", ".join(recall)
        elif all(row.deltas[n]["F1"] < -_ABLATION_EPS for n in set_names):
            verdict = "earns its place"
        else:
            verdict = "no effect on one set"
        print(f"{row.rule:<16}{cells}   {verdict}")


# --------------------------------------------------------------------------------------------------
# Acceptance


@dataclass
class Check:
    set_name: str
    what: str
    newsflow: float
    reference: float
    passed: bool


def acceptance_checks(run: SetRun, time_ratio: float | None = None) -> list[Check]:
    """Issue 15's bars on one set: F1 above trafilatura best, recall no more than
    ``RECALL_TOLERANCE`` below trafilatura default, and (set 1) the time ratio."""
    set_name, nf, best, default = run.name, run.newsflow, run.best, run.default
    checks = [
        Check(
            set_name,
            "F1 > trafilatura best F1",
            nf.rows["F1"],
            best.rows["F1"],
            nf.rows["F1"] > best.rows["F1"],
        ),
        Check(
            set_name,
            f"recall ≥ trafilatura default recall − {RECALL_TOLERANCE}",
            nf.rows["R"],
            default.rows["R"],
            nf.rows["R"] >= default.rows["R"] - RECALL_TOLERANCE,
        ),
    ]
    if time_ratio is not None:
        checks.append(
            Check(
                set_name,
                f"time per page ≤ {MAX_TIME_RATIO}× trafilatura best",
                time_ratio,
                MAX_TIME_RATIO,
                time_ratio <= MAX_TIME_RATIO,
            )
        )
    return checks


def print_acceptance(checks: list[Check]) -> None:
    print("\nacceptance (issue 15)")
    print(f"{'set':<22} {'check':<48} {'newsflow':>9} {'reference':>9}   verdict")
    for c in checks:
        verdict = "PASS" if c.passed else "FAIL"
        print(f"{c.set_name:<22} {c.what:<48} {c.newsflow:>9.4f} {c.reference:>9.4f}   {verdict}")


# --------------------------------------------------------------------------------------------------
# CLI


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="set 1 (gold)")
    parser.add_argument(
        "--eval-dataset", type=Path, default=DEFAULT_EVAL_DATASET, help="set 2 (snippets)"
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages of each")
    parser.add_argument(
        "--repeat", type=int, default=2, help="timed passes per system on set 1 (best is reported)"
    )
    parser.add_argument("--sweep", action="store_true", help="print every trafilatura grid row")
    parser.add_argument(
        "--show-pages", action="store_true", help="set 1: per-page shingle F1, newsflow vs best"
    )
    parser.add_argument(
        "--show-losses",
        type=int,
        default=0,
        metavar="N",
        help="set 2: the N pages where newsflow loses most 'with' snippets vs trafilatura default",
    )
    parser.add_argument(
        "--only",
        type=lambda v: [x for x in v.split(",") if x],
        default=[],
        metavar="ID[,ID...]",
        help="only pages whose id contains one of these strings (both sets)",
    )
    parser.add_argument(
        "--no-ablation", action="store_true", help="skip the per-rule ablation table"
    )
    parser.add_argument("--json", type=Path, default=None, help="write every figure to this file")
    return parser.parse_args(argv)


def _print_page_changes(pages: list[GoldPage], best: Result, newsflow: Result) -> None:
    print("\nper page shingle F1 (best trafilatura → newsflow), largest changes first")
    for page in sorted(pages, key=lambda p: newsflow.per_page[p.id] - best.per_page[p.id]):
        a, b = best.per_page[page.id], newsflow.per_page[page.id]
        if abs(a - b) > 0.001:
            print(f"  {page.id:<22} {a:.3f} → {b:.3f}")


def _figures(results: list[Result]) -> dict[str, dict[str, object]]:
    return {r.name: {"options": r.options, "pages_per_s": r.pages_per_s, **r.rows} for r in results}


def gold_set(args: argparse.Namespace, newsflow: System) -> tuple[SetRun, float]:
    """Set 1: tables, optional per-page changes, and newsflow's time per page over best's."""
    pages = load_gold_pages(args.dataset, args.limit, args.only)
    default, *grid, nf = run_gold_set(pages, args.repeat, newsflow)
    best = as_best(max(grid, key=lambda r: r.rows["F1"]))
    print(f"Set 1: {args.dataset.name} (trafilatura {trafilatura.__version__})\n")
    print_gold_table([default, *(grid if args.sweep else []), best, nf], len(pages))
    if args.show_pages:
        _print_page_changes(pages, best, nf)
    ratio = best.pages_per_s / nf.pages_per_s
    print(
        f"\nspeed (interleaved, best of {max(1, args.repeat)} passes): newsflow "
        f"{nf.pages_per_s:.1f} pages/s, trafilatura best {best.pages_per_s:.1f} pages/s "
        f"→ newsflow takes {ratio:.2f}× trafilatura best's time per page"
    )
    run = SetRun(args.dataset.name, default, best, nf, [default, *grid, best, nf], pages)
    return run, ratio


def snippet_set(
    args: argparse.Namespace, best_options: dict[str, object], newsflow: NewsflowSystem
) -> SetRun:
    """Set 2 with set 1's best settings: table and optional loss report."""
    pages = load_snippet_pages(args.eval_dataset, args.limit, args.only)
    results = run_snippet_set(pages, best_options, newsflow)
    default, best, _, nf = results
    print(f"\nSet 2: {args.eval_dataset.name} (best settings taken from set 1)\n")
    print_snippet_table(results, len(pages))
    if args.show_losses:
        losses = find_losses(pages, default, best, nf)
        print_losses(losses, args.show_losses, default, nf, newsflow.errors)
    return SetRun(args.eval_dataset.name, default, best, nf, results, pages)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    self_check()
    newsflow = NewsflowSystem()
    set1, time_ratio = gold_set(args, newsflow)
    assert set1.best.options is not None
    set2 = snippet_set(args, set1.best.options, newsflow)
    checks = acceptance_checks(set1, time_ratio) + acceptance_checks(set2)
    print_acceptance(checks)  # before the ablation, which takes about four newsflow passes
    ablation = [] if args.no_ablation else run_ablation([set1, set2])
    if ablation:
        print_ablation(ablation, [set1.name, set2.name])
    if args.json:
        figures = {
            "trafilatura": trafilatura.__version__,
            "limit": args.limit,
            set1.name: _figures(set1.measured),
            set2.name: _figures(set2.measured),
            "time_ratio": time_ratio,
            "acceptance": [asdict(c) for c in checks],
            "ablation": [asdict(a) for a in ablation],
        }
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
