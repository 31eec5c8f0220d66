"""Cleaning rules for extracted article bodies: pure functions over lines, one rule each.

An extractor hands back the body as lines (one per paragraph, heading or list item). Whatever it
lets through from the page's furniture tends to look alike across sites, so each rule here targets
one *kind* of artifact with general evidence, never a publisher's markup:

* ``drop_title_echo``: the headline repeated in the body (hero blocks, "Section: Title", "Title |
  Site"); ``drop_kicker``: the section label above it.
* ``drop_repeated_lines``: a paragraph or line that occurs twice (lightbox copies, sticky teasers),
  first kept.
* ``drop_caption_lines``: lines equal to a photo caption the page declares (figcaption, alt, caption
  classes), with or without its credit.
* ``drop_credit_lines``: photo-credit lines ("Photo: X / Agency", "REUTERS/Name", "Getty Images",
  "Credit: …").
* ``drop_chrome_lines``: short non-sentences of page chrome ("TT", "Share", "Advertisement", "Read
  more: …", "Sign up for …", "Follow us on …").
* ``drop_related_tail``: a block of other stories appended after the article ("More from …" +
  teasers).
* ``drop_author_bio``: the contributor note at the end ("Jane Doe is a reporter for …").

``clean_lines`` applies them in a fixed order; every rule is idempotent and keeps the order of what
it keeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from difflib import SequenceMatcher

from newsflow.tasks.extract.clean_normalise import normalise_line
from newsflow.tasks.extract.repeats import drop_copies

# --------------------------------------------------------------------------------------------------
# Photo credits

# Picture agencies and wire services whose names end (or are) a credit line. Only used next to
# credit syntax ("/", "via", parentheses, "Photo:") or as a whole line, so "Reuters reported" in a
# sentence is never touched.
_AGENCY = (
    r"(?:Reuters|AP|AFP|Getty(?:\s+Images)?|EPA(?:-EFE)?|EFE|PA(?:\s+(?:Wire|Media|Images))?|Shutterstock|"
    r"Alamy(?:\s+Stock\s+Photo)?|AAP|ANP|dpa|DPA|TT|NTB|Ritzau(?:\s+Scanpix)?|Scanpix|Xinhua|Anadolu(?:\s+Agency)?|"
    r"Bloomberg|iStock(?:photo)?|Sipa(?:\s+USA)?|ZUMA(?:\s+(?:Press|Wire))?|Imago|Keystone|Lusa|Kyodo|Yonhap|"
    r"NurPhoto|SOPA\s+Images|LightRocket|Corbis|WireImage|FilmMagic|Invision|UPI|Pool|ABACA(?:PRESS)?|"
    r"Associated\s+Press|Agence\s+France-Presse|The\s+Associated\s+Press|Unsplash|Pexels|Wikimedia\s+Commons|"
    r"AP\s+Photo|AP\s+Images|Handout|Supplied|Courtesy)"
)
_PHOTO_WORD = (
    r"(?:Photo(?:graph)?s?|Photo\s+credit|Photo\s+illustration|Images?|Image\s+credit|Pictures?|Pic|"
    r"Picture\s+credit|Illustration|Graphic|Credit|Credits|Foto|Bild|Kuva|Source\s+image)"
)
_NAME = r"[A-Z][\w.'’-]*(?:\s+(?:[A-Z][\w.'’-]*|de|van|von|da|del|la|le|al|bin|y))*"

# Each pattern matches a credit at the *end* of a text; group "credit" is the credit without
# decoration.
_TRAILING_CREDIT = [
    # "… (Reuters)", "(AP Photo/Evan Vucci)", "[Photo: Jane Doe]", "(Photo by X/Getty Images)"
    re.compile(
        rf"\s*[(\[]\s*(?P<credit>(?:{_PHOTO_WORD}\b[^()\[\]]{{0,100}})|(?:[^()\[\]]{{0,80}}\b{_AGENCY}\b"
        rf"[^()\[\]]{{0,60}}))\s*[)\]]\s*$"
    ),
    # "… Photo: Jane Doe / AFP", "Photograph: Name/Agency", "Credit: …", "Image source, Getty
    # Images"
    re.compile(
        rf"(?:^|(?<=[.!?”\"’)|—–]))\s*(?P<credit>(?:{_PHOTO_WORD}\s*[:|]|Image\s+source\s*,)\s*[^:]{{1,120}})$",
        re.I,
    ),
    # "… Photo by Jane Doe on Unsplash", "Photographs by …"
    re.compile(
        rf"(?:^|(?<=[.!?”\"’)|—–-]))\s*(?P<credit>{_PHOTO_WORD}\s+by\s+{_NAME}[^.!?]{{0,80}})$"
    ),
    # "… REUTERS/Johanna Geron", "AP Photo/Evan Vucci", "AFP/Getty Images"
    re.compile(
        r"(?:^|(?<=\s))(?P<credit>(?:REUTERS|Reuters|AP\s+Photo|AFP|EPA|AP|Getty\s+Images)\s*/\s*[^/]{1,60}?)\s*$"
    ),
    # "… Jane Doe/Getty Images", "Jane Doe / AFP via Getty Images", "Name for The Washington Post
    # via Getty Images"
    re.compile(
        rf"(?:^|(?<=\s))(?P<credit>{_NAME}\s*/\s*{_AGENCY}(?:\s+(?:via|for)\s+{_NAME})?)\s*\.?\s*$"
    ),
    re.compile(rf"(?:^|(?<=\s))(?P<credit>(?:{_NAME}\s+)?(?:via|for)\s+Getty\s+Images)\s*\.?\s*$"),
    # "… Getty Images" after a sentence end or a separator; "© Jane Doe"
    re.compile(rf"(?:^|(?<=[.!?”\"’]))\s*(?:[|–—-]\s*)?(?P<credit>{_AGENCY})\s*\.?\s*$"),
    re.compile(r"(?:^|(?<=[\s.!?]))\s*(?P<credit>(?:©|\(c\)|Copyright\b)\s*[^©]{1,80})$"),
    # NYT-style "Credit...Name"
    re.compile(r"(?:^|(?<=[\s.!?]))\s*Credit(?:\.{2,}|…)\s*(?P<credit>.{1,100})$"),
]


def split_credit(text: str) -> tuple[str, str | None]:
    """Split a caption into (caption, credit): "A crowd. Photo: X / AFP" → ("A crowd.", "X / AFP").

    Applied repeatedly so "Caption. REUTERS/Name (Reuters)" loses both; "Photo:"-style prefixes are
    stripped from the credit, parentheses dropped. A text that is only a credit gives ("", credit).
    """
    caption = " ".join(text.split())
    credits: list[str] = []
    for _ in range(3):
        tail_start = max(0, len(caption) - 170)  # credits are short and at the end
        for pattern in _TRAILING_CREDIT:
            m = pattern.search(caption, tail_start)
            if m and len(caption) - m.start() <= 160:
                credit = m.group("credit").strip()
                credit = re.sub(
                    rf"^{_PHOTO_WORD}\s*(?:[:,|]|by\b)\s*", "", credit, flags=re.I
                ).strip()
                caption = caption[: m.start()].rstrip(" |–—-:,")
                if credit:
                    credits.insert(0, credit)
                break
        else:
            break
    return caption.strip(), ("; ".join(credits) if credits else None)


def is_credit_line(line: str) -> bool:
    """A line that is only a photo credit: "Photo: Jane Doe/AFP", "REUTERS/Name", "(Getty)"."""
    stripped = line.strip()
    if not stripped or len(stripped) > 160:
        return False
    caption, credit = split_credit(stripped)
    return credit is not None and not normalise_line(caption)


def ends_with_photo_credit(line: str) -> bool:
    """A line that ends in a photographer credit ("… 2024. REUTERS/Name", "… (AP Photo/Evan Vucci)",
    "… Photograph: Name/Agency"): that syntax only ever closes a picture caption, never reporting.
    """
    stripped = " ".join(line.split())
    if len(stripped.split()) > 80:
        return False
    _, credit = split_credit(stripped)
    if credit is None:
        return False
    return bool(
        re.search(r"/|\bvia\b|\bPhoto\b|©", credit)
        or re.search(rf"{_PHOTO_WORD}\s*[:,]|{_PHOTO_WORD}\s+by\b|Credit\.\.", stripped, re.I)
    )


def drop_credit_lines(lines: Sequence[str]) -> list[str]:
    """Drop photo-credit lines and lines that end with photographer-credit syntax (uncollected
    captions)."""
    return [ln for ln in lines if not (is_credit_line(ln) or ends_with_photo_credit(ln))]


# --------------------------------------------------------------------------------------------------
# Title echo

_TITLE_SEPARATORS = re.compile(r"\s+[|•·»:/–—-]{1,2}\s+|\s*::\s*")
_MAX_AFFIX_WORDS = 6


def title_keys(titles: Iterable[str | None]) -> set[str]:
    """Normalised forms of the headline candidates, plus their parts around " | ", " - ", ": "
    separators ("Title | Site", "Section: Title") when a part has at least three words."""
    keys: set[str] = set()
    for title in titles:
        if not title:
            continue
        norm = normalise_line(title)
        if norm:
            keys.add(norm)
        for part in _TITLE_SEPARATORS.split(title):
            pn = normalise_line(part)
            if len(pn.split()) >= 3:
                keys.add(pn)
    return keys


def is_title_echo(line: str, keys: set[str]) -> bool:
    """True when ``line`` is the headline again: equal after normalisation, ≥ 0.9 similar, or the
    headline plus a short kicker/section/site affix (at most six words), or the headline minus such
    an affix."""
    n = normalise_line(line)
    if not n:
        return False
    n_words = len(n.split())
    for k in keys:
        if n == k:
            return True
        k_words = len(k.split())
        if k_words < 3:
            continue
        if n_words <= k_words + _MAX_AFFIX_WORDS and (n.endswith(k) or n.startswith(k)):
            return True
        if n_words >= 4 and n_words >= 0.6 * k_words and (k.endswith(n) or k.startswith(n)):
            return True
        if abs(len(n) - len(k)) <= 0.2 * len(k):
            sm = SequenceMatcher(None, n, k, autojunk=False)
            if sm.real_quick_ratio() >= 0.9 and sm.quick_ratio() >= 0.9 and sm.ratio() >= 0.9:
                return True
    return False


def drop_title_echo(lines: Sequence[str], titles: Iterable[str | None]) -> list[str]:
    """Drop every line that repeats the headline (exactly or nearly), wherever it sits in the body.

    Headlines come back in hero blocks, sticky headers and "share this" boxes anywhere on the page;
    a body line that *is* the headline is never reporting, so position does not matter. Very short
    titles (one or two words) only match exactly, which keeps a subheading that happens to share a
    word with the title.
    """
    keys = title_keys(titles)
    if not keys:
        return list(lines)
    return [ln for ln in lines if not is_title_echo(ln, keys)]


_KICKER_MAX_WORDS = 3
_HEAD_LINES = 3


def _is_label(line: str) -> bool:
    """A short label, not a sentence: at most three words and no sentence punctuation at the end."""
    return 0 < len(
        normalise_line(line).split()
    ) <= _KICKER_MAX_WORDS and not line.rstrip().endswith((".", "!", "?", "…"))


def drop_kicker(
    lines: Sequence[str], *, titles: Iterable[str | None] = (), sections: Iterable[str] = ()
) -> list[str]:
    """Drop the section label ("kicker") that heads the body: one of the first three lines that
    equals a section the page declares (``article:section``, JSON-LD ``articleSection``), or a short
    label directly above the headline's echo ("Courts" / "<headline>")."""
    section_keys = {normalise_line(x) for x in sections if x} - {""}
    keys = title_keys(titles)
    out: list[str] = []
    n = len(lines)
    for i, ln in enumerate(lines):
        if i < _HEAD_LINES and _is_label(ln):
            if normalise_line(ln) in section_keys:
                continue
            if keys and i + 1 < n and is_title_echo(lines[i + 1], keys):
                continue
        out.append(ln)
    return out


# --------------------------------------------------------------------------------------------------
# Repeated lines


def drop_repeated_lines(lines: Sequence[str]) -> list[str]:
    """Keep the first of lines that are equal after normalisation, dropping copies only: what a
    copy is (a paragraph said twice, a short line doubled in place) is defined once in
    ``repeats.py``, which the row check reads too, so a short repeat kept here on purpose (a
    FAQ's question, a results page's venue) is flagged there, never rejected."""
    return drop_copies(lines)


# --------------------------------------------------------------------------------------------------
# Captions


def caption_keys(captions: Iterable[str]) -> set[str]:
    """Normalised caption strings to compare body lines with: each caption as given, without its
    credit, and the credit alone; keys under three words are dropped (an alt of "Logo" must not
    remove a subheading)."""
    keys: set[str] = set()
    for cap in captions:
        if not cap:
            continue
        text, credit = split_credit(cap)
        for variant in (cap, text):
            k = normalise_line(variant)
            if len(k.split()) >= 3:
                keys.add(k)
        if credit:
            k = normalise_line(credit)
            if len(k.split()) >= 2:
                keys.add(k)
    return keys


def drop_caption_lines(
    lines: Sequence[str],
    captions: Iterable[str],
    page_prose: Callable[[], Collection[str]] | None = None,
) -> list[str]:
    """Drop lines equal to a caption collected from the page, with or without its credit.

    A line also goes when it is such a caption followed by any credit ("<caption> (Reuters)"), since
    the credit split is applied to the line too. ``page_prose`` (called only when some line matches)
    gives the normalised texts the page shows as ordinary paragraphs outside any
    figure/caption/lightbox: a matching line that is also one of those is article text that the site
    reused as a caption or alt, and it stays.
    """
    keys = caption_keys(captions)
    if not keys:
        return list(lines)
    prose: Collection[str] | None = None
    out: list[str] = []
    for ln in lines:
        n = normalise_line(ln)
        text, credit = split_credit(ln)
        if n in keys or (credit is not None and normalise_line(text) in keys):
            if page_prose is not None:
                prose = page_prose() if prose is None else prose
                if n in prose or normalise_line(text) in prose:
                    out.append(ln)
                    continue
            continue
        out.append(ln)
    return out


# --------------------------------------------------------------------------------------------------
# Short chrome lines

_CHROME_EXACT = {
    normalise_line(x)
    for x in (
        "Share",
        "Share this",
        "Share this article",
        "Share this story",
        "Share article",
        "Share on Facebook",
        "Share on Twitter",
        "Tweet",
        "Email",
        "E-mail",
        "Print",
        "Save",
        "Save article",
        "Saved",
        "Copy link",
        "Link copied",
        "Advertisement",
        "Advertisements",
        "Advertising",
        "Ad",
        "Ads",
        "Sponsored",
        "Sponsored content",
        "Paid content",
        "Read more",
        "Read more below",
        "Read More:",
        "Read next",
        "Read full article",
        "Continue reading",
        "Continue reading below",
        "Story continues below",
        "Story continues below advertisement",
        "Article continues below",
        "Article continues below this ad",
        "Article continues after advertisement",
        "Content continues below",
        "Scroll to continue",
        "Scroll to continue with content",
        "Show more",
        "Load more",
        "See more",
        "View more",
        "More",
        "Related",
        "Related articles",
        "Related stories",
        "Related content",
        "Related topics",
        "Recommended",
        "Recommended stories",
        "Recommended for you",
        "Most read",
        "Most popular",
        "Popular",
        "Popular now",
        "Trending",
        "Trending now",
        "Top stories",
        "Latest",
        "Latest news",
        "Comments",
        "Comment",
        "View comments",
        "Leave a comment",
        "Subscribe",
        "Sign in",
        "Log in",
        "Register",
        "Skip to content",
        "Skip to main content",
        "Skip advertisement",
        "Listen",
        "Listen to this article",
        "Play",
        "Watch",
        "Watch video",
        "Video",
        "Audio",
        "Follow",
        "Follow us",
        "Menu",
        "Close",
        "Back to top",
        "Home",
        "Next",
        "Previous",
        "Gallery",
        "View gallery",
        "Open gallery",
        "Photos",
        "Enlarge",
        "Enlarge this image",
        "Expand",
        "Zoom",
        "Toggle caption",
        "Hide caption",
        "Show caption",
        "Caption",
        "Open image in gallery",
        "Click to enlarge",
        "Text size",
        "Font size",
        "Image",
        "Facebook",
        "Twitter",
        "Loading",
        "Loading...",
        "Swipe",
        "Swipe left",
        "Scroll",
    )
}
_SOCIAL_TOKENS = {
    "facebook",
    "twitter",
    "x",
    "linkedin",
    "whatsapp",
    "email",
    "e",
    "mail",
    "print",
    "pinterest",
    "reddit",
    "telegram",
    "share",
    "copy",
    "link",
    "comment",
    "comments",
    "flipboard",
    "messenger",
    "sms",
    "tumblr",
    "bluesky",
    "threads",
    "on",
    "this",
    "article",
    "via",
    "instagram",
    "youtube",
    "tiktok",
    "url",
    "copied",
}
_TEASER_PREFIX = re.compile(
    r"^\s*(?:read\s+more|read\s+next|read\s+also|also\s+read|see\s+also|related(?:\s+(?:articles?|stories|"
    r"coverage|content|reading))?|more(?:\s+on\s+this(?:\s+story)?)?|recommended(?:\s+reading)?|watch|listen|"
    r"most\s+read|trending|latest|editor[’']?s\s+picks?|don[’']?t\s+miss|must\s+read|opinion|explainer)"
    r"\s*(?::|\||»|>|›|–|—|-\s)",
    re.I,
)
_PROMO_PREFIX = re.compile(
    r"^\s*(?:sign\s+up\b|subscribe\b|follow\s+(?:us|\S+(?:\s+\S+)?\s+on)\b|join\s+(?:us|our)\b|"
    r"get\s+(?:our|the\s+latest|the\s+best)\b|download\s+(?:our|the)\b|click\s+here\b|tap\s+here\b|"
    r"never\s+miss\b|like\s+us\s+on\b|listen\s+to\s+(?:our|the)\s+podcast\b|support\s+(?:our|independent)\b|"
    r"become\s+a\s+(?:member|subscriber)\b|for\s+more\s+(?:news|stories|updates)\b|"
    r"want\s+(?:more|the\s+latest)\b)",
    re.I,
)
_MAX_CHROME_PROMO_WORDS = 25


def is_chrome_line(line: str) -> bool:
    """Short page furniture that is not a sentence of the article.

    * at most two letters/digits and no sentence end ("TT", "A", "|", "•"): font-size toggles,
      icons, separators (a one-word answer "No." in an interview stays);
    * a known control label ("Share", "Advertisement", "Read more", "Skip advertisement" …);
    * only social-network / share words ("Facebook Twitter Email");
    * a teaser introduced by "Read more:", "Related:", "See also:" …, or a promo starting with "Sign
      up", "Subscribe", "Follow us on", "Click here" … of at most 25 words.
    """
    n = normalise_line(line)
    if len(n.replace(" ", "")) <= 2 and not line.rstrip().endswith((".", "!", "?")):
        return True
    if n in _CHROME_EXACT:
        return True
    tokens = n.split()
    if len(tokens) <= 12 and all(t in _SOCIAL_TOKENS for t in tokens):
        return True
    return len(tokens) <= _MAX_CHROME_PROMO_WORDS and bool(
        _TEASER_PREFIX.match(line) or _PROMO_PREFIX.match(line)
    )


def drop_chrome_lines(lines: Sequence[str]) -> list[str]:
    """Drop short chrome lines (see ``is_chrome_line``)."""
    return [ln for ln in lines if not is_chrome_line(ln)]


# --------------------------------------------------------------------------------------------------
# Related-content tail

_RELATED_HEADING = re.compile(
    r"^(?:more\s+(?:from|on|in|about|stories|news|articles|coverage|to\s+read|like\s+this)\b.*|"
    r"related(?:\s+\w+){0,3}|recommended(?:\s+\w+){0,3}|(?:most\s+)?popular(?:\s+\w+){0,2}|"
    r"most\s+(?:read|viewed|shared|watched)(?:\s+\w+){0,2}|trending(?:\s+\w+){0,2}|"
    r"you\s+(?:may|might)\s+(?:also\s+)?(?:like|enjoy|be\s+interested\s+in)|also\s+read|read\s+(?:more|next)|"
    r"what\s+to\s+read\s+next|further\s+reading|top\s+stories|latest\s+(?:news|stories|articles)|"
    r"editor\s*s\s+picks?|around\s+the\s+web|from\s+(?:our|the)\s+partners?|(?:sponsored|promoted)\s+stories|"
    r"don\s*t\s+miss|more\s+must\s+reads?)$"
)
_MAX_TEASER_WORDS = 35


def is_related_heading(line: str) -> bool:
    """A heading that introduces other stories: "More from The Nation", "Related", "Most read",
    "Popular"."""
    n = normalise_line(line)
    return (
        0 < len(n.split()) <= 6
        and not line.rstrip().endswith((".", "?", "!"))
        and bool(_RELATED_HEADING.match(n))
    )


def drop_related_tail(lines: Sequence[str]) -> list[str]:
    """Cut a block of other stories that the extractor appended after the article.

    The cut starts at a related-content heading in the second half of the body, and only when every
    line after it is teaser-sized (at most 35 words): a heading followed by longer paragraphs is the
    article going on.
    """
    n = len(lines)
    for i in range(max(1, n // 2), n):
        if is_related_heading(lines[i]) and all(
            len(ln.split()) <= _MAX_TEASER_WORDS for ln in lines[i + 1 :]
        ):
            return list(lines[:i])
    return list(lines)


# --------------------------------------------------------------------------------------------------
# Author bio

_BIO_ROLE = (
    r"(?:reporter|writer|editor|correspondent|journalist|columnist|contributor|producer|author|photographer|"
    r"critic|analyst|anchor|host|intern|fellow|freelancer|blogger|staff)"
)
_BIO_GENERIC = re.compile(
    rf"^(?:[A-Z][\w'’.-]+\s+){{1,4}}(?:is|was|has\s+been)\s+(?:a|an|the|our)\s+(?:[\w'’,&-]+\s+){{0,6}}?"
    rf"{_BIO_ROLE}s?\b"
)
_BIO_TAIL_LINES = 3


def is_author_bio(line: str, authors: Iterable[str] = ()) -> bool:
    """A contributor note: "<Name> is a reporter/writer/editor …", or a line that starts with one of
    the article's authors (optionally "<Site>'s <Name>") followed by "is"/"was"/"covers"/"writes".
    """
    stripped = line.strip()
    if _BIO_GENERIC.match(stripped):
        return True
    for author in authors:
        if not author or len(author.split()) < 2:
            continue
        pattern = (
            rf"^(?:[\w.&-]+[’']s\s+)?{re.escape(author)}\s+"
            r"(?:is|was|covers|writes|has\s+been|reports)\b"
        )
        if re.match(pattern, stripped, re.I):
            return True
    return False


def drop_author_bio(lines: Sequence[str], authors: Iterable[str] = ()) -> list[str]:
    """Drop contributor notes from the last three lines (where sites render the author box)."""
    authors = list(authors)
    n = len(lines)
    return [
        ln
        for i, ln in enumerate(lines)
        if i < n - _BIO_TAIL_LINES or not is_author_bio(ln, authors)
    ]


# --------------------------------------------------------------------------------------------------
# Composition


def clean_lines(
    lines: Sequence[str],
    *,
    titles: Iterable[str | None] = (),
    captions: Iterable[str] = (),
    page_prose: Callable[[], Collection[str]] | None = None,
    authors: Iterable[str] = (),
    sections: Iterable[str] = (),
) -> list[str]:
    """All generic rules in order: blank lines out, chrome, captions, credits, kicker, title echo,
    repeats, related-stories tail, author bio.

    Repeats go last so that the survivor of a duplicate pair is judged by the other rules first (a
    caption that appears twice disappears entirely instead of leaving one copy).
    """
    out = [" ".join(ln.split()) for ln in lines]
    out = [ln for ln in out if ln]
    out = drop_chrome_lines(out)
    out = drop_caption_lines(out, captions, page_prose)
    out = drop_credit_lines(out)
    titles = list(titles)
    out = drop_kicker(out, titles=titles, sections=sections)
    out = drop_title_echo(out, titles)
    out = drop_repeated_lines(out)
    out = drop_related_tail(out)
    out = drop_author_bio(out, authors)
    return out
