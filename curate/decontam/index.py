"""The n-gram index of evaluation sets: which word n-grams (13 by default, after dedup's
normalisation and hashing: curate/dedup/signatures.py) occur in which evaluation item.

Built once (the Decontaminate block: in the driver) and only read afterwards: 16 bytes per distinct
n-gram (its hash; the eval set and item of its first occurrence), 16 MB for a million n-grams
(tests/test_decontam.py measures it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curate.dedup.signatures import shingles_and_words


@dataclass
class Match:
    ngrams: int  # the document's n-grams found in the index
    eval_set: str
    item: int  # the eval item of the first match (its row in the eval set's files)
    first_ngram: str  # the first matching n-gram, normalised


class NgramIndex:
    def __init__(self, hashes: np.ndarray, sets: np.ndarray, items: np.ndarray, names: list[str], n: int,
                 stats: dict):
        self.hashes, self.sets, self.items, self.names, self.n, self.stats = hashes, sets, items, names, n, stats

    @classmethod
    def build(cls, eval_sets: dict[str, list[str]], n: int = 13) -> "NgramIndex":
        hashes, sets, items, stats = [], [], [], {}
        for number, (name, texts) in enumerate(eval_sets.items()):
            h, offsets, buf, text_offsets = shingles_and_words(texts, n)
            hashes.append(h)
            sets.append(np.full(len(h), number, np.int32))
            items.append(np.repeat(np.arange(len(texts), dtype=np.int32), np.diff(offsets)))
            data = buf.tobytes()
            words = [data[text_offsets[d]:text_offsets[d + 1]].count(b" ") + 1 if text_offsets[d + 1] > text_offsets[d]
                     else 0 for d in range(len(texts))]
            # an item shorter than n words is one n-gram of all its words: it matches only a
            # document that is that item
            stats[name] = {"items": len(texts), "ngrams": int(len(h)),
                           "items_shorter_than_n": sum(0 < w < n for w in words)}

        hashes = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        sets = np.concatenate(sets) if sets else np.zeros(0, np.int32)
        items = np.concatenate(items) if items else np.zeros(0, np.int32)
        # normalisation writes every number as 0, so n numbers in a row (a table, a list of
        # scores) are the same n-gram wherever they occur: it says nothing about where a text
        # came from, and would tie any two tables of figures together
        numbers_only = shingles_and_words([" ".join(["0"] * n)], n)[0]
        informative = ~np.isin(hashes, numbers_only)
        for name, number in zip(eval_sets, range(len(eval_sets))):
            stats[name]["numbers_only_ngrams"] = int(np.count_nonzero(~informative & (sets == number)))
        hashes, sets, items = hashes[informative], sets[informative], items[informative]
        # sorted by hash, the first occurrence (eval set order, then item order) kept for each
        order = np.lexsort((np.arange(len(hashes)), hashes))
        hashes, sets, items = hashes[order], sets[order], items[order]
        first = np.ones(len(hashes), bool)
        first[1:] = hashes[1:] != hashes[:-1]
        return cls(hashes[first], sets[first], items[first], list(eval_sets), n, stats)

    def __len__(self) -> int:
        return len(self.hashes)

    def digest(self) -> str:
        """What the index matches, as a hash: equal digests leave out the same documents."""
        import hashlib

        return hashlib.sha256(self.hashes.tobytes() + str(self.n).encode()).hexdigest()

    def found(self, hashes: np.ndarray) -> np.ndarray:
        """Index positions of `hashes` (-1 where absent)."""
        if not len(self.hashes) or not len(hashes):
            return np.full(len(hashes), -1, np.int64)
        at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return np.where(self.hashes[at] == hashes, at, -1)

    def matches(self, texts: list[str]) -> list[Match | None]:
        """For each text: None, or what it shares with the eval sets."""
        hashes, offsets, buf, text_offsets = shingles_and_words(texts, self.n)
        where = self.found(hashes)
        out: list[Match | None] = []
        for d in range(len(texts)):
            mine = where[offsets[d]:offsets[d + 1]]
            hit = np.flatnonzero(mine >= 0)
            if not len(hit):
                out.append(None)
                continue
            at = int(mine[hit[0]])
            words = bytes(buf[text_offsets[d]:text_offsets[d + 1]]).split(b" ")
            first = b" ".join(words[hit[0]:hit[0] + self.n]).decode("utf-8", "surrogatepass")
            out.append(Match(len(hit), self.names[int(self.sets[at])], int(self.items[at]), first))
        return out
