"""Text normalisation shared by training and prediction, and passage splitting.

`normalize` is the only way text reaches the quality model: the trainer writes normalised
lines and the block, `curate classifier eval` and the trainer's held-out scoring all call it,
so the model never sees text prepared differently from what it was trained on.

It also removes what would let a Wikipedia-vs-web model learn *where* text came from instead
of *how it is written*:
- WikiText's `<unk>` token (and any other `<...>` tag), `@-@` style tokenisation marks,
  reference marks like `[12]` or `[citation needed]`, `[[link]]`/`{{template}}`/`'''bold'''`
  markup and image-caption lines (`thumb|200px|...`);
- title and heading lines: `= Title =` / `== Section ==` lines and any line of fewer than
  MIN_LINE_WORDS words (a page title, a section heading, a menu item);
- case, digits (every digit becomes 0) and markup characters (`| = * # _ ~ [ ] { } < >`).
Words and sentence punctuation (split off as tokens, since fastText splits on whitespace
only) are what is left.
"""

from __future__ import annotations

import random
import re

NORMALIZATION = "curate-quality-v1"  # recorded in model cards; bump when normalize() changes
MAX_CHARS = 20_000  # the first 20k characters decide: longer texts cost time; cutting at 8k lost 0.006 ROC-AUC
MIN_LINE_WORDS = 4

_HEADING = re.compile(r"^(?:=\s*)+[^=\n]*(?:\s*=)+$")  # = Title =, == Section ==, WikiText's = = Section = =
_CAPTION = re.compile(r"^\s*(?:thumb|thumbnail|frame|left|right|upright|center|\d+px)\s*\|", re.IGNORECASE)
_MARKUP = re.compile(
    r"(?=[<{\[\]'])(?:"                   # a cheap first-character test, then:
    r"<[^<>\n]{0,200}>"                    # <unk>, <ref ...>, html tags
    r"|\[\[(?:Category|File|Image):[^\[\]\n]{0,200}\]\]"  # category and image links, whole
    r"|\{\{[^{}\n]{0,500}\}\}"             # {{template}}
    r"|\[\[(?:[^\[\]|\n]{0,200}\|)?"       # [[target| (the link text stays)
    r"|\]\]"
    r"|\[(?:\d{1,3}|[A-Za-z][A-Za-z ]{2,30})\]"  # [12], [citation needed], [edit]
    r"|'{2,})"                             # ''italic'', '''bold'''
)
_WIKITEXT_AT = re.compile(r" @([-.,])@ ")  # WikiText's ' @-@ ', ' @,@ ', ' @.@ ' -> '-', ',', '.'
# one byte-level pass: markup characters and line breaks become spaces, digits become 0 (all ASCII,
# so the UTF-8 bytes of other characters are never touched)
_MARKUP_CHARS = b"|=*#_~[]{}<>\\^`\n\t\r\x0b\x0c"
_TABLE = bytes.maketrans(_MARKUP_CHARS + b"123456789", b" " * len(_MARKUP_CHARS) + b"0" * 9)
_PUNCT = [(bytes([c]), b" %c " % c) for c in b'.,!?;:()"$%&/+']  # split off as tokens


def _keep_line(line: str) -> bool:
    if len(line.split(None, MIN_LINE_WORDS - 1)) < MIN_LINE_WORDS:
        return False
    if line[0] == "=" and _HEADING.match(line):
        return False
    return "|" not in line or not _CAPTION.match(line)


def normalize(text: str, max_chars: int = MAX_CHARS) -> str:
    """One line of lower-cased tokens separated by spaces (empty if nothing is left)."""
    return normalize_utf8(text, max_chars).decode("utf-8")


def normalize_utf8(text: str, max_chars: int = MAX_CHARS) -> bytes:
    """normalize() as UTF-8 bytes, what fastText reads: scoring passes them on as they are, which
    saves decoding them here and encoding them again in fastText's binding."""
    text = text[:max_chars]
    if " @" in text:
        text = _WIKITEXT_AT.sub(r"\1", text)
    if "<" in text or "[" in text or "{{" in text or "''" in text:
        text = _MARKUP.sub(" ", text)  # first, so that what it removes never counts as a line's words
    if "\n" in text:
        text = "\n".join(line for line in (raw.strip() for raw in text.split("\n")) if _keep_line(line))
    elif not _keep_line(text.strip()):
        return b""
    data = text.lower().encode("utf-8", "replace").translate(_TABLE)
    for char, spaced in _PUNCT:
        if char in data:
            data = data.replace(char, spaced)
    return data


def split_passages(text: str, lengths: list[int], rng: random.Random, min_chars: int = 200) -> list[str]:
    """Cut an article into consecutive passages at paragraph (line) boundaries, each about as
    long as a length drawn from `lengths` (the web documents' length distribution), so that
    passage length tells the classifier nothing."""
    paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
    passages, current, size = [], [], 0
    target = rng.choice(lengths)
    for paragraph in paragraphs:
        current.append(paragraph)
        size += len(paragraph) + 1
        if size >= target:
            passages.append("\n".join(current))
            current, size, target = [], 0, rng.choice(lengths)
    if current and size >= min_chars:
        passages.append("\n".join(current))
    return passages
