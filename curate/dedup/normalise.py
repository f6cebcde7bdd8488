"""Text normalisation for dedup, and the exact-dedup hash.

`normalise` lower-cases, maps every run of digits (with an inner decimal separator) to "0",
turns punctuation into spaces, strips diacritics and collapses whitespace: the same choices as
datatrove's `simplify_text` (its punctuation list), done with C-speed string and bytes methods
(one difference: a non-ASCII decimal separator between digits becomes a space, where datatrove
keeps one number). Words are the space-separated pieces of the result.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import xxhash
from datatrove.utils.text import PUNCTUATION

_PUNCT = frozenset(PUNCTUATION)
_ASCII_PUNCT = bytes(sorted(ord(c) for c in _PUNCT if ord(c) < 128))
_WHITESPACE = b"\t\n\r\x0b\x0c"  # what bytes.split() splits on, besides the space
_BYTE_TABLE = bytes.maketrans(_ASCII_PUNCT + _WHITESPACE, b" " * (len(_ASCII_PUNCT) + len(_WHITESPACE)))
_SPACES = re.compile(rb"  +")
_DIGIT_TABLE = bytes.maketrans(b"123456789", b"000000000")
# a number, once its digits are all 0 (0+ written 00*: a pattern that starts with a literal is
# searched for with a fast scan, 5x faster here)
_ZEROS = re.compile(rb"00*(?:[.,]0+)?")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@lru_cache(maxsize=1 << 16)
def _wide_char(c: str) -> str:
    """What one non-ASCII (lower-cased) character becomes: a digit -> "1" (numbers become "0"
    later), punctuation or space -> " ", otherwise itself without combining marks."""
    if unicodedata.category(c) == "Nd":
        return "1"
    if c in _PUNCT or c.isspace():
        return " "
    return "".join(ch for ch in unicodedata.normalize("NFD", c) if unicodedata.category(ch) != "Mn")


def normalise_bytes(text: str) -> bytes:
    """The normalised text as UTF-8: lower-cased, numbers -> 0, punctuation -> space, no
    diacritics, words separated by single spaces."""
    text = text.lower()
    if not text.isascii():
        # one str.replace per distinct non-ASCII character that changes: fast on real text
        for c in set(_NON_ASCII.findall(text)):
            mapped = _wide_char(c)
            if mapped != c:
                text = text.replace(c, mapped)
    data = text.encode("utf-8", "surrogatepass").translate(_DIGIT_TABLE)
    if b"0" in data:
        data = _ZEROS.sub(b"0", data)
    # runs of spaces -> one, none at the ends: b" ".join(....split()) without a bytes object per word
    return _SPACES.sub(b" ", data.translate(_BYTE_TABLE)).strip(b" ")


def normalise(text: str) -> str:
    return normalise_bytes(text).decode("utf-8", "surrogatepass")


def exact_hash(text: str) -> int:
    """64-bit hash of the normalised text, as a signed int64 (for Parquet readers without uint64)."""
    value = xxhash.xxh3_64_intdigest(normalise_bytes(text))
    return value - (1 << 64) if value >= 1 << 63 else value
