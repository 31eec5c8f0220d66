"""Article language: the page's declaration first, a cheap stop-word vote as the fallback.

Pages almost always declare their language (``<html lang>``, ``og:locale``, Content-Language); the
vote below only fills the gap for pages that don't, without a model download. It counts the most
frequent function words of a handful of languages newsflow's sources publish in and answers only
when one language clearly leads.
"""

from __future__ import annotations

import re

_TAG = re.compile(r"^([a-zA-Z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")

_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "the",
            "and",
            "of",
            "to",
            "in",
            "is",
            "that",
            "for",
            "it",
            "was",
            "on",
            "with",
            "as",
            "he",
            "said",
            "by",
            "at",
            "from",
            "his",
            "are",
            "be",
            "have",
        ]
    ),
    "sv": frozenset(
        [
            "och",
            "att",
            "det",
            "som",
            "en",
            "på",
            "är",
            "av",
            "för",
            "med",
            "till",
            "den",
            "har",
            "inte",
            "om",
            "ett",
            "de",
            "var",
            "jag",
            "men",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "und",
            "in",
            "den",
            "von",
            "zu",
            "das",
            "mit",
            "sich",
            "des",
            "auf",
            "für",
            "ist",
            "im",
            "dem",
            "nicht",
            "ein",
            "eine",
            "als",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "de",
            "des",
            "et",
            "en",
            "un",
            "une",
            "du",
            "est",
            "que",
            "pour",
            "dans",
            "qui",
            "au",
            "sur",
            "pas",
            "par",
            "ne",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "de",
            "que",
            "y",
            "en",
            "los",
            "del",
            "se",
            "las",
            "por",
            "un",
            "para",
            "con",
            "una",
            "su",
            "al",
            "lo",
            "es",
            "como",
        ]
    ),
    "it": frozenset(
        [
            "il",
            "di",
            "che",
            "la",
            "e",
            "per",
            "un",
            "in",
            "del",
            "della",
            "è",
            "non",
            "una",
            "le",
            "si",
            "con",
            "sono",
            "da",
            "al",
            "dei",
        ]
    ),
    "nl": frozenset(
        [
            "de",
            "het",
            "een",
            "en",
            "van",
            "in",
            "is",
            "dat",
            "op",
            "te",
            "zijn",
            "met",
            "voor",
            "niet",
            "aan",
            "er",
            "ook",
            "als",
            "bij",
        ]
    ),
    "pt": frozenset(
        [
            "de",
            "que",
            "o",
            "a",
            "do",
            "da",
            "em",
            "um",
            "para",
            "com",
            "não",
            "uma",
            "os",
            "no",
            "se",
            "na",
            "por",
            "mais",
            "as",
            "dos",
        ]
    ),
    "no": frozenset(
        [
            "og",
            "i",
            "det",
            "som",
            "en",
            "på",
            "er",
            "av",
            "for",
            "med",
            "til",
            "den",
            "har",
            "ikke",
            "om",
            "et",
            "de",
            "var",
            "jeg",
            "men",
        ]
    ),
    "da": frozenset(
        [
            "og",
            "i",
            "at",
            "det",
            "en",
            "den",
            "til",
            "er",
            "som",
            "på",
            "de",
            "med",
            "han",
            "af",
            "for",
            "ikke",
            "der",
            "var",
            "mig",
            "sig",
        ]
    ),
    "fi": frozenset(
        [
            "ja",
            "on",
            "ei",
            "että",
            "se",
            "oli",
            "hän",
            "mutta",
            "kun",
            "myös",
            "ovat",
            "ole",
            "tai",
            "niin",
            "kuin",
            "joka",
            "mitä",
        ]
    ),
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def normalise_language_tag(value: str | None) -> str | None:
    """ "en-US" / "en_GB" / "EN" → "en"; None for empty or malformed tags."""
    if not value:
        return None
    m = _TAG.match(value.strip().split(",")[0].strip())
    return m.group(1).lower() if m else None


def guess_language(text: str, *, min_hits: int = 5) -> str | None:
    """Language whose stop words occur most in ``text``; None unless it has ``min_hits`` and leads
    clearly."""
    words = [w.casefold() for w in _WORD.findall(text[:20000])]
    if not words:
        return None
    scores = sorted(
        ((sum(w in sw for w in words), lang) for lang, sw in _STOPWORDS.items()), reverse=True
    )
    (best, lang), (second, _) = scores[0], scores[1]
    if best < min_hits or best < 1.3 * second:
        return None
    return lang
