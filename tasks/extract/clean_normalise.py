"""One normalisation for every line comparison in the cleaning stage.

Title echoes, repeated paragraphs, caption copies and per-source chrome all ask "is this the same
line?". They must agree on the answer, so they share this function: Unicode NFKC (full-width and
ligature forms fold), casefold (ß → ss, Σ → σ), punctuation and symbols dropped (curly vs straight
quotes, "Title | Site", trailing colons), whitespace collapsed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

_ASCII_NON_WORD = re.compile(r"[^a-z0-9]+")
# Combining marks live in the first two planes and among the variation selectors of plane 14.
_MARK_PLANES = (range(0x20000), range(0xE0000, 0xE1000))
_BMP_ONLY = (range(0x10000),)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@cache
def _non_word(planes: tuple[range, ...] = _MARK_PLANES) -> re.Pattern[str]:
    """Runs of what is neither a letter, a digit nor a combining mark (Unicode categories L, N,
    M). Python's ``\\w`` excludes marks, and dropping them would split words of Indic, Thai,
    Hebrew or Arabic text (and of Latin text written with combining accents) while merging words
    that differ only in a vowel sign or tone mark. Built from the Unicode database on first use
    (about 40 ms), so it is exact for every script and costs nothing for ASCII-only work.

    ``planes=_BMP_ONLY`` builds the class from the Basic Multilingual Plane's marks alone: ``re``
    compiles a class of BMP characters into a bitmap, while one range above U+FFFF makes it test
    every range in turn (about three times slower on ordinary text, measured); lines with astral
    characters (rare: emoji, historic scripts) take the full class."""
    ranges: list[list[int]] = []
    for cp in (cp for plane in planes for cp in plane):
        if unicodedata.category(chr(cp))[0] != "M":
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    marks = "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return re.compile(f"(?:[^\\w{marks}]|_)+")


@lru_cache(maxsize=16384)
def normalise_line(line: str) -> str:
    """Comparison key of a line: NFKC, casefold, letters/digits (and their marks) only, single
    spaces. Memoised: every rule asks for the keys of the same lines (a pure function, so a
    cached answer never changes an output)."""
    if line.isascii():
        return _ASCII_NON_WORD.sub(" ", line.lower()).strip()
    folded = unicodedata.normalize("NFKC", line).casefold()
    if _ASTRAL.search(folded):
        return _non_word().sub(" ", folded).strip()
    return _non_word(_BMP_ONLY).sub(" ", folded).strip()
