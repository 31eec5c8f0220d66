"""How the story-cluster threshold was chosen: similarity of same-story pairs vs different-story
pairs, for the measure newsflow uses (Jaccard of word 3-shingles, tasks/stories/clusters.py) and
for the SimHash alternatives it was compared with.

Usage (from the repository root, with the project installed):

    python benchmarks/cluster_threshold.py [--dataset PATH]

Positives: the demo site's wire story and its rewritten copy (extracted from the bundled HTML with
the pipeline's own extractor), and lightly / more heavily edited copies of each dev-set body.
Negatives: every pair of different demo articles, and every pair of the dev set's 80 different
articles (gold bodies). ``--dataset`` defaults to ``../shared/datasets/news-extraction-dev``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import statistics
from pathlib import Path

from trafilatura.deduplication import Simhash

from newsflow.demo.server import demo_site_root
from newsflow.tasks.extract.extract import extract_article
from newsflow.tasks.stories.clusters import THRESHOLD, candidate_pairs, jaccard, shingles, signature


def simhash64(text: str) -> int:
    """64-bit Charikar SimHash over the same word 3-shingles (the SimHash alternative)."""
    weights = [0] * 64
    for s in shingles(text):
        h = int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big")
        for i in range(64):
            weights[i] += 1 if h >> i & 1 else -1
    return sum(1 << i for i in range(64) if weights[i] > 0)


def demo_texts() -> dict[str, tuple[str, str]]:
    """path → (kind, extracted text) of the demo's real article pages."""
    root = demo_site_root()
    manifest = json.loads((root / "manifest.json").read_text())
    base = "http://127.0.0.1:8765"
    out = {}
    for page in manifest:
        if page["kind"] not in ("article", "wire_copy", "cross_feed"):
            continue
        html = (root / page["path"]).read_bytes().replace(b"{{BASE}}", base.encode())
        article = extract_article(html, page["url"].replace("{{BASE}}", base))
        out[page["path"]] = (page["kind"], article.text)
    return out


def light_edit(paragraphs: list[str]) -> str:
    """A dateline added, the last paragraph dropped: what a subscriber typically does."""
    p = list(paragraphs)
    if len(p) > 3:
        p = p[:-1]
    p[0] = "LONDON (Agency) - " + p[0]
    return "\n".join(p)


def heavy_edit(paragraphs: list[str], rng: random.Random) -> str:
    """The last two paragraphs dropped and one word in twenty changed."""
    p = list(paragraphs)
    if len(p) > 5:
        p = p[:-2]
    words = " \n ".join(p).split(" ")
    for i in rng.sample(range(len(words)), len(words) // 20):
        words[i] = "x" + words[i]
    return " ".join(words)


def summary(name: str, values: list[float], threshold: float | None = None) -> None:
    values = sorted(values)
    line = (
        f"  {name:<46} n={len(values):>5}  min={values[0]:.3f}  "
        f"median={statistics.median(values):.3f}  max={values[-1]:.3f}"
    )
    if threshold is not None:
        line += f"  >= threshold: {sum(v >= threshold for v in values)}"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[2] / "shared/datasets/news-extraction-dev"
    parser.add_argument("--dataset", type=Path, default=default)
    args = parser.parse_args()

    demo = demo_texts()
    wire = [text for kind, text in demo.values() if kind == "wire_copy"]
    others = [(path, text) for path, (kind, text) in demo.items() if kind != "wire_copy"]
    all_demo = [text for _, text in demo.values()]
    wire_pair = (shingles(wire[0]), shingles(wire[1]))
    unrelated = [
        (a, b) for a, b in itertools.combinations(all_demo, 2) if not (a in wire and b in wire)
    ]

    gold = [json.loads(line) for line in (args.dataset / "ground_truth.jsonl").open()]
    bodies = {g["id"]: "\n".join(g["body"]) for g in gold}
    rng = random.Random(1)

    print(f"Measure: Jaccard of word 3-shingles (newsflow threshold {THRESHOLD})")
    print(f"  demo wire pair                               {jaccard(*wire_pair):.3f}")
    summary(
        "demo unrelated pairs", [jaccard(shingles(a), shingles(b)) for a, b in unrelated], THRESHOLD
    )
    dev_sh = {k: shingles(v) for k, v in bodies.items()}
    dev_neg = [jaccard(dev_sh[a], dev_sh[b]) for a, b in itertools.combinations(dev_sh, 2)]
    summary("dev set, different articles", dev_neg, THRESHOLD)
    print(
        "  dev set, highest different-article pairs:   "
        + ", ".join(f"{v:.3f}" for v in sorted(dev_neg)[-3:])
    )
    summary(
        "dev set, light edit vs original",
        [jaccard(dev_sh[g["id"]], shingles(light_edit(g["body"]))) for g in gold],
        THRESHOLD,
    )
    heavy = {g["id"]: heavy_edit(g["body"], rng) for g in gold}
    summary(
        "dev set, heavier edit vs original",
        [jaccard(dev_sh[k], shingles(v)) for k, v in heavy.items()],
        THRESHOLD,
    )

    print("\nMinHash LSH candidates (60 bands x 3 rows), which exact Jaccard then confirms:")
    sigs = {f"dev:{k}": signature(v) for k, v in bodies.items()}
    sigs.update({f"edit:{k}": signature(v) for k, v in heavy.items()})
    pairs = candidate_pairs(sigs)
    found = sum(1 for k in bodies if (f"dev:{k}", f"edit:{k}") in pairs)
    false = sum(1 for a, b in pairs if a.startswith("dev:") and b.startswith("dev:"))
    print(
        f"  heavier-edit pairs found as candidates: {found}/{len(bodies)}; "
        f"different-article candidate pairs: {false}/{len(dev_neg)}"
    )

    print("\nAlternative: SimHash Hamming distance (lower = more similar; 64 bits)")
    sim3 = {k: simhash64(v) for k, v in bodies.items()}
    traf = {k: Simhash(v).hash for k, v in bodies.items()}
    for name, fn, table in (
        ("3-shingle SimHash", simhash64, sim3),
        ("trafilatura Simhash", lambda t: Simhash(t).hash, traf),
    ):
        print(f"  {name}: demo wire pair {(fn(wire[0]) ^ fn(wire[1])).bit_count()}")
        summary(
            f"{name}: dev different articles",
            [(table[a] ^ table[b]).bit_count() for a, b in itertools.combinations(table, 2)],
        )
        summary(
            f"{name}: dev heavier edit vs original",
            [(table[k] ^ fn(v)).bit_count() for k, v in heavy.items()],
        )
    print(f"\n{len(others)} other demo articles; {len(unrelated)} unrelated demo pairs.")


if __name__ == "__main__":
    main()
