"""One definition of a repeated line, for the cleaner that drops copies and the row check that
flags what is left.

Two lines are the same line when their keys (``clean_normalise.normalise_line``: case,
punctuation and Unicode forms ignored) are equal, and a key under :data:`MIN_KEY_CHARS`
characters ("1.", "Q:", "***") is never a repeat. Of the repeats, some are copies and some are
content:

* a *copy* is a repeat of :data:`PROSE_WORDS` words or more anywhere (a paragraph said twice is
  a lightbox duplicate, a sticky teaser, a re-rendered block), or a shorter repeat that directly
  follows its own copy (a doubled heading). The cleaner drops copies (:func:`drop_copies`);
* a short repeat further on is *content*: an interview's repeated question, a FAQ, a meal plan,
  a results page naming one venue under several entries. The cleaner keeps it, and the row
  check (``tasks/quality/validate.py``) flags the article with ``no_repeated_paragraph`` instead
  of rejecting it: analysts see it, nothing real is thrown away.

Because both sides read this module, the check can only ever see repeats the cleaner chose to
keep: a body that still holds a copy means the cleaner did not run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from newsflow.tasks.extract.clean_normalise import normalise_line

#: Keys shorter than this (list markers, "Q:", separators) never count as repeats.
MIN_KEY_CHARS = 8
#: A repeat of this many words or more is a copy wherever it occurs.
PROSE_WORDS = 10


def repeat_key(line: str) -> str | None:
    """The line's comparison key, or None when it is too short to count as a repeat."""
    key = normalise_line(line)
    return key if len(key) >= MIN_KEY_CHARS else None


def is_copy(line: str, key: str | None, seen: set[str], previous: str | None) -> bool:
    """Whether ``line`` (with ``key`` from :func:`repeat_key`) is a copy to drop, given the keys
    ``seen`` before it and the key of the line directly before it."""
    if key is None or key not in seen:
        return False
    return key == previous or len(line.split()) >= PROSE_WORDS


def drop_copies(lines: Sequence[str]) -> list[str]:
    """The lines without copies (the first of each kept); short repeats further on stay."""
    seen: set[str] = set()
    out: list[str] = []
    previous: str | None = None
    for line in lines:
        key = repeat_key(line)
        if is_copy(line, key, seen, previous):
            continue
        if key is not None:
            seen.add(key)
        previous = key
        out.append(line)
    return out


def count_lines(lines: Iterable[str], min_chars: int = 0) -> list[tuple[str, int]]:
    """Every line that can repeat, once, as (first wording, occurrences), most frequent first.

    ``min_chars`` leaves out lines shorter than that many characters (stripped): the row
    check's ``min_paragraph_chars`` threshold, for sites whose short labels repeat by design."""
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    for line in lines:
        stripped = line.strip()
        if len(stripped) < min_chars:
            continue
        key = repeat_key(stripped)
        if key is None:
            continue
        counts[key] += 1
        first.setdefault(key, stripped)
    return [(first[key], n) for key, n in counts.most_common()]
