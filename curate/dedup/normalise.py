"""Text normalisation for dedup, and the exact-dedup hash.

`normalise` lower-cases, maps every run of digits (with an inner decimal separator) to "0",
turns punctuation into spaces, strips diacritics and collapses whitespace: the same choices as
datatrove's `simplify_text` (its punctuation list). One difference: a non-ASCII decimal separator
between digits becomes a space, where datatrove keeps one number. Words are the space-separated
pieces of the result.

A batch is normalised in two compiled passes over its UTF-8 bytes (curate/dedup/kernels.py):
every distinct non-ASCII character is looked up once in Python (`_replacement`, cached) and the
`substitute` pass swaps them in; the `words` pass lower-cases ASCII, turns numbers into "0" and
separators into single spaces.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np
import xxhash
from datatrove.utils.text import PUNCTUATION

_PUNCT = frozenset(PUNCTUATION)
# the byte classes and ASCII lower-casing of the `words` pass (kernels.SPACE/WORD/DIGIT = 0/1/2)
_CLASSES = np.ones(256, np.uint8)
_CLASSES[[ord(c) for c in _PUNCT if ord(c) < 128] + list(b" \t\n\r\x0b\x0c")] = 0
_CLASSES[list(b"0123456789")] = 2
_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[65:91] += 32
_REPLACEMENT_GROWTH = 3  # a character's replacement has at most 3x its UTF-8 bytes (tested over all)


@lru_cache(maxsize=1 << 16)
def _wide_char(c: str) -> str:
    """What one lower-case non-ASCII character becomes: a digit -> "1" (numbers become "0"
    later), punctuation or space -> " ", otherwise itself without combining marks."""
    if unicodedata.category(c) == "Nd":
        return "1"
    if c in _PUNCT or c.isspace():
        return " "
    return "".join(ch for ch in unicodedata.normalize("NFD", c) if unicodedata.category(ch) != "Mn")


@lru_cache(maxsize=1 << 16)
def _replacement(code_point: int) -> bytes:
    """The UTF-8 bytes a non-ASCII character is replaced by: lower-cased (which may give several
    characters, ASCII ones among them), then each non-ASCII one through `_wide_char`."""
    lowered = chr(code_point).lower()
    return "".join(ch if ch.isascii() else _wide_char(ch) for ch in lowered).encode("utf-8", "surrogatepass")


def normalise_batch(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every text normalised, packed: (uint8 buffer, offsets); text d is buf[offsets[d]:offsets[d + 1]]."""
    from curate.dedup import kernels  # numba: imported by the workers that need it

    # str.lower() maps a capital sigma by its neighbours (word-final: ς): such texts are lowered whole
    raw = [t.encode("utf-8", "surrogatepass") if t.isascii() or "Σ" not in t
           else t.lower().encode("utf-8", "surrogatepass") for t in texts]
    offsets = np.zeros(len(raw) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, raw), np.int64, len(raw)), out=offsets[1:])
    buf = np.frombuffer(b"".join(raw), np.uint8)
    if not all(t.isascii() for t in texts):
        code_points = np.unique(kernels.non_ascii_code_points(buf))
        replacements = [_replacement(int(cp)) for cp in code_points]
        replace_offsets = np.zeros(len(replacements) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, replacements), np.int64, len(replacements)), out=replace_offsets[1:])
        buf, offsets = kernels.substitute(buf, offsets, code_points, replace_offsets,
                                          np.frombuffer(b"".join(replacements), np.uint8),
                                          _REPLACEMENT_GROWTH * len(buf))
    return kernels.words(buf, offsets, _LOWER, _CLASSES)


def normalise_bytes(text: str) -> bytes:
    """The normalised text as UTF-8: lower-cased, numbers -> 0, punctuation -> space, no
    diacritics, words separated by single spaces."""
    return normalise_batch([text])[0].tobytes()


def normalise(text: str) -> str:
    return normalise_bytes(text).decode("utf-8", "surrogatepass")


def exact_hashes(buf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """xxh3-64 of each packed normalised text (uint64)."""
    view = memoryview(buf)
    return np.fromiter((xxhash.xxh3_64_intdigest(view[offsets[d]:offsets[d + 1]]) for d in range(len(offsets) - 1)),
                       np.uint64, len(offsets) - 1)


def exact_hash(text: str) -> int:
    """64-bit hash of the normalised text, as a signed int64 (for Parquet readers without uint64)."""
    return int(exact_hashes(*normalise_batch([text])).view(np.int64)[0])
