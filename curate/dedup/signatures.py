"""MinHash signatures of a batch of documents, computed by compiled loops (curate/dedup/kernels.py).

1. The batch is normalised into one byte buffer (`normalise_batch`).
2. A word's hash is a polynomial over its bytes plus its length, mixed by splitmix64's finaliser;
   a shingle is n consecutive words of one document (a document shorter than n words is one
   shingle of all its words), hashed as sum_k K_k * word_hash_k and mixed again. Shingles never
   cross documents.
3. Permutation i maps a shingle's hash x (top 32 bits) to (a_i * x + b_i) mod 2^32 with a_i
   odd: a bijection of 32-bit values. The signature holds, per permutation, the minimum over the
   document's shingles, as uint32 (the same width as datasketch's).

A document with no words has no signature (its row is all 0xFFFFFFFF).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curate.dedup.normalise import normalise_batch

EMPTY = np.uint32(0xFFFFFFFF)


def odd_multipliers(n: int) -> np.ndarray:
    """n distinct odd uint64 multipliers: one per position of a word in a shingle (K_k), or of a
    value in an LSH band."""
    return np.uint64(0x9E3779B97F4A7C15) * (2 * np.arange(1, n + 1, dtype=np.uint64) + np.uint64(1))


def shingle_hashes(texts: list[str], n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every document's word n-grams: (hashes uint64, offsets) where document d's
    shingles are hashes[offsets[d]:offsets[d + 1]] (empty for a document without words)."""
    return shingles_and_words(texts, n)[:2]


def shingles_and_words(texts: list[str], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`shingle_hashes`, and the normalised texts they came from, packed (buffer, offsets), for a
    caller that wants the words of a shingle (decontamination's report)."""
    from curate.dedup import kernels

    buf, offsets = normalise_batch(texts)
    return (*kernels.shingle_hashes(buf, offsets, odd_multipliers(n)), buf, offsets)


@dataclass(frozen=True)
class MinHasher:
    """`num_perm` permutations, reproducible from `seed` on every worker."""

    num_perm: int = 128
    n_grams: int = 5
    seed: int = 1

    def __post_init__(self):
        gen = np.random.RandomState(self.seed)
        a = gen.randint(0, 1 << 31, size=self.num_perm, dtype=np.uint64).astype(np.uint32) * np.uint32(2) + np.uint32(1)
        b = gen.randint(0, 1 << 32, size=self.num_perm, dtype=np.uint64).astype(np.uint32)
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_b", b)
        object.__setattr__(self, "_keys", odd_multipliers(self.n_grams))

    def signatures(self, texts: list[str]) -> np.ndarray:
        """(len(texts), num_perm) uint32; rows of EMPTY for documents without words."""
        return self.signatures_normalised(*normalise_batch(texts))

    def signatures_and_shingles(self, buf: np.ndarray, offsets: np.ndarray
                                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`signatures_normalised`, and the batch's shingle hashes and their offsets as
        `shingle_hashes` gives them: the shingles are computed once for both."""
        from curate.dedup import kernels

        hashes, hash_offsets = kernels.shingle_hashes(buf, offsets, self._keys)
        return kernels.signatures_of_hashes(hashes, hash_offsets, self._a, self._b), hashes, hash_offsets

    def signatures_normalised(self, buf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """`signatures` of a batch already normalised by `normalise_batch`."""
        from curate.dedup import kernels

        return kernels.signatures(buf, offsets, self._keys, self._a, self._b)


def jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(sig_a == sig_b))
