"""One normalisation for every line comparison in the cleaning stage.

Title echoes, repeated paragraphs, caption copies and per-source chrome all ask "is this the same
line?". They must agree on the answer, so they share this function: Unicode NFKC (full-width and
ligature forms fold), casefold (ß → ss, Σ → σ), punctuation and symbols dropped (curly vs straight
quotes, "Title | Site", trailing colons), whitespace collapsed.
"""

from __future__ import annotations

import re
import unicodedata

_ASCII_NON_WORD = re.compile(r"[^a-z0-9]+")
# Non-word characters, except combining marks: Python's ``\w`` excludes marks, and dropping them
# would split words of Indic, Thai, Hebrew or Arabic text (and Latin text written with combining
# accents).
_NON_WORD = re.compile(
    r"(?:[^\w\u0300-\u036F\u0483-\u0489\u0591-\u05C7\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED"
    r"\u0900-\u0DFF\u0E31-\u0E3A\u0E47-\u0E4E\u0EB1-\u0EBC\u0EC8-\u0ECD\u102B-\u103E\u1AB0-\u1AFF"
    r"\u1DC0-\u1DFF\u20D0-\u20FF\uFE20-\uFE2F]|_)+"
)


def normalise_line(line: str) -> str:
    """Comparison key of a line: NFKC, casefold, letters/digits (and their marks) only, single
    spaces."""
    if line.isascii():
        return _ASCII_NON_WORD.sub(" ", line.lower()).strip()
    folded = unicodedata.normalize("NFKC", line).casefold()
    return _NON_WORD.sub(" ", folded).strip()


def word_count(line: str) -> int:
    """Number of words in the normalised line."""
    return len(normalise_line(line).split())
