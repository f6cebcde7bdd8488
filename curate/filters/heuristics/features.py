"""The per-document feature pass shared by every heuristic rule set.

`features_of(doc)` returns one `Features` object per document however many rule-set blocks ask
for it: blocks run back to back on each document (datatrove pipelines are chains of
generators), so a small cache keyed by the document object and its text finds it again. Each
group of features is computed on first use only (a pipeline with only the FineWeb block never
builds n-grams), and everything is computed the way datatrove's filters compute it, so the
decisions agree with theirs; words come from tokenizer.VOCAB (spaCy's English rules, replayed).
"""

from __future__ import annotations

import re
from functools import cached_property

import numpy as np

from curate.filters.heuristics.tokenizer import VOCAB

# languages written without spaces between words: word counts, word lengths and word n-grams
# mean nothing there with a whitespace-and-punctuation word splitter, so word rules are skipped
WORDLESS_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "dz", "wuu", "yue", "gan", "lzh"})

_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")


def duplicates(parts: list[str]) -> tuple[int, int]:
    """(duplicate elements, their characters): datatrove's find_duplicates."""
    if len(set(parts)) == len(parts):
        return 0, 0
    seen: set[str] = set()
    count = chars = 0
    for part in parts:
        if part in seen:
            count += 1
            chars += len(part)
        else:
            seen.add(part)
    return count, chars


class Features:
    """Everything the rule sets measure on one text. Attributes are computed on first use."""

    def __init__(self, text: str, language: str = "en"):
        self.text = text
        self.language = language
        self._ngrams: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._top: dict[int, int] = {}
        self._dup: dict[int, int] = {}

    @property
    def has_words(self) -> bool:
        """False for languages written without spaces, where word rules are skipped."""
        return self.language not in WORDLESS_LANGUAGES

    # ---- words (spaCy English tokens, as datatrove's split_into_words gives them)
    @cached_property
    def word_ids(self) -> np.ndarray:
        return VOCAB.word_ids(self.text)

    @cached_property
    def n_words(self) -> int:
        return len(self.word_ids)

    @cached_property
    def word_lengths(self) -> np.ndarray:
        return VOCAB.length[self.word_ids]

    @cached_property
    def word_like(self) -> np.ndarray:
        """Words with at least one character that is not punctuation (Gopher's 'words')."""
        return VOCAB.word_like[self.word_ids]

    @cached_property
    def n_word_like(self) -> int:
        return int(np.count_nonzero(self.word_like))

    @cached_property
    def mean_word_length(self) -> float | None:
        n = self.n_word_like
        return float(self.word_lengths[self.word_like].sum()) / n if n else None

    @cached_property
    def alpha_words(self) -> int:
        return int(np.count_nonzero(VOCAB.alpha[self.word_ids]))

    def stop_words(self, stop_words: frozenset[str]) -> int:
        """How many distinct words of `stop_words` occur (case-sensitive, like datatrove)."""
        ids = np.array([i for i in map(VOCAB.ids.get, stop_words) if i is not None], dtype=np.int64)
        if not len(ids) or not self.n_words:
            return 0
        return int((self.word_ids[:, None] == ids).any(axis=0).sum())

    # ---- word n-grams
    def repeats(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions, ids) of the n-grams that occur more than once, positions ascending; every
        other n-gram occurs once. Ids are exact: an n-gram is the pair of the (n-1)-grams at p and
        p+1, and only repeated (n-1)-grams can make a repeated n-gram, so each level only ranks
        the few pairs where both halves repeat."""
        found = self._ngrams.get(n)
        if found is None:
            if n == 1:
                ids = np.unique(self.word_ids, return_inverse=True)[1].astype(np.int64)
                positions = np.flatnonzero(np.bincount(ids)[ids] > 1) if len(ids) else ids
                found = positions, ids[positions]
            else:
                found = self._extend(*self.repeats(n - 1))
            self._ngrams[n] = found
        return found

    def _extend(self, positions: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Repeated n-grams from the repeated (n-1)-grams (positions, ids)."""
        if len(positions) < 2:
            return positions[:0], ids[:0]
        rank = np.full(self.n_words + 1, -1, dtype=np.int64)
        rank[positions] = ids
        both = positions[rank[positions + 1] >= 0]  # the (n-1)-grams at p and p+1 both repeat
        if not len(both):
            return both, both
        pairs = rank[both] * (int(ids.max()) + 1) + rank[both + 1]
        _, inverse, counts = np.unique(pairs, return_inverse=True, return_counts=True)
        repeated = counts[inverse] > 1
        return both[repeated], inverse[repeated].astype(np.int64)

    @cached_property
    def _length_cumsum(self) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(self.word_lengths)))

    def _chars(self, position: int, n: int) -> int:
        return int(self._length_cumsum[position + n] - self._length_cumsum[position])

    def top_ngram_chars(self, n: int) -> int:
        """Characters of the most frequent n-gram (words joined by spaces) times its count;
        ties go to the n-gram seen first, like Counter.most_common(1)."""
        if n not in self._top:
            positions, ids = self.repeats(n)
            if len(positions):
                counts = np.bincount(ids)
                best = int(counts.max())
                first = int(positions[np.argmax(counts[ids] == best)])
                self._top[n] = (self._chars(first, n) + n - 1) * best
            else:  # every n-gram occurs once: the first one wins
                self._top[n] = self._chars(0, n) + n - 1 if self.n_words >= n else 0
        return self._top[n]

    def dup_ngram_chars(self, n: int) -> int:
        """Characters in repeated n-grams (words joined without spaces), counted by datatrove's
        left-to-right scan that skips past each repeat. Only positions of n-grams occurring
        more than once can repeat, so the scan visits just those."""
        if n not in self._dup:
            positions, ids = self.repeats(n)
            total = 0
            if len(positions):
                cum = self._length_cumsum
                chars = (cum[positions + n] - cum[positions]).tolist()
                seen: set[int] = set()
                idx = 0
                for p, gram, c in zip(positions.tolist(), ids.tolist(), chars):
                    if p < idx:
                        continue
                    if gram in seen:
                        total += c
                        idx = p + n
                    else:
                        seen.add(gram)
                        idx = p + 1
            self._dup[n] = total
        return self._dup[n]

    # ---- lines and paragraphs
    @cached_property
    def paragraph_dups(self) -> tuple[int, int, int]:
        """(paragraphs, duplicate paragraphs, their characters); paragraphs split on blank lines."""
        paragraphs = _PARAGRAPHS.split(self.text.strip())
        return (len(paragraphs), *duplicates(paragraphs))

    @cached_property
    def line_dups(self) -> tuple[int, int, int]:
        """(lines, duplicate lines, their characters); lines split on runs of newlines."""
        lines = _LINES.split(self.text)
        return (len(lines), *duplicates(lines))

    @cached_property
    def lines(self) -> list[str]:
        """str.splitlines() lines (Gopher quality, C4)."""
        return self.text.splitlines()

    @cached_property
    def bullet_lines(self) -> int:
        return sum(1 for line in self.lines if line.lstrip().startswith(("•", "-")))

    @cached_property
    def ellipsis_lines(self) -> int:
        return sum(1 for line in self.lines if line.rstrip().endswith(("...", "…")))

    @cached_property
    def hashes(self) -> int:
        return self.text.count("#")

    @cached_property
    def ellipses(self) -> int:
        return self.text.count("...") + self.text.count("…")

    @cached_property
    def nonblank_lines(self) -> list[str]:
        """Lines split on '\\n' that are not blank (FineWeb)."""
        return [line for line in self.text.split("\n") if line.strip()]

    @cached_property
    def newlines(self) -> int:
        return self.text.count("\n")

    def count_sentences(self, lines: list[str]) -> int:
        """Sentences in `lines` (stripped, non-empty), as spaCy's sentencizer counts them."""
        return VOCAB.count_sentences(lines)


_CACHE: list[tuple[int, Features]] = []  # (id(doc), features) of the last few documents
_CACHE_SIZE = 4


def features_of(doc, default_language: str = "en") -> Features:
    """The document's Features, computed once for all the blocks that look at it."""
    language = doc.metadata.get("language") or default_language
    key = id(doc)
    for cached_key, feats in _CACHE:
        # the cache holds the text it saw, so a recycled id(doc) cannot match a new text
        if cached_key == key and feats.text is doc.text and feats.language == language:
            return feats
    feats = Features(doc.text, language)
    _CACHE.insert(0, (key, feats))
    del _CACHE[_CACHE_SIZE:]
    return feats
