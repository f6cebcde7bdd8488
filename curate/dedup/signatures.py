"""MinHash signatures computed with numpy over a batch of documents at once.

1. Each document is normalised (`normalise`), the batch joined into one byte buffer, and every
   word hashed by a polynomial prefix-sum over that buffer (no Python call per word).
2. A shingle is n consecutive words of one document (a document shorter than n words is one
   shingle of all its words); its 64-bit hash combines the n word hashes and is mixed by the
   splitmix64 finaliser. Shingles never cross documents.
3. Permutation i maps a shingle's hash x (top 32 bits) to (a_i * x + b_i) mod 2^32 with a_i
   odd: a bijection of 32-bit values. The signature holds, per permutation, the minimum over the
   document's shingles, as uint32 (the same width as datasketch's). The minima come from
   `np.minimum.reduceat` over a (permutations x shingles) uint32 matrix, in chunks that stay
   in cache.

A document with no words has no signature (its row is all 0xFFFFFFFF and `has_shingles` False).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curate.dedup.normalise import normalise_bytes

_M64 = (1 << 64) - 1
_BASE = 0x100000001B3  # odd: invertible mod 2^64
_BASE_INV = pow(_BASE, -1, 1 << 64)
EMPTY = np.uint32(0xFFFFFFFF)
PIECE_BYTES = 1 << 20


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, in place on a uint64 array (wrapping arithmetic)."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


class _Powers:
    """BASE^i and BASE^-i mod 2^64, grown on demand."""

    def __init__(self) -> None:
        self.pow = np.ones(1, np.uint64)
        self.inv = np.ones(1, np.uint64)

    def upto(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.pow) < n:
            size = max(n, 2 * len(self.pow))
            with np.errstate(over="ignore"):
                self.pow = np.cumprod(np.full(size, _BASE, np.uint64)) * _BASE_INV
                self.inv = np.cumprod(np.full(size, _BASE_INV, np.uint64)) * _BASE
        return self.pow[:n], self.inv[:n]


_POWERS = _Powers()


def shingle_hashes(texts: list[str], n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every document's word n-grams: (hashes uint64, offsets) where document d's
    shingles are hashes[offsets[d]:offsets[d + 1]] (empty for a document without words)."""
    return shingle_hashes_normalised([normalise_bytes(t) for t in texts], n)


def shingle_hashes_normalised(norms: list[bytes], n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """`shingle_hashes` of already normalised texts (`normalise_bytes`)."""
    words = np.array([s.count(b" ") + 1 if s else 0 for s in norms], np.int64)
    buf = np.frombuffer(b" ".join(s for s in norms if s), np.uint8)
    if not len(buf):
        return np.zeros(0, np.uint64), np.zeros(len(norms) + 1, np.int64)
    # word hashes: polynomial over the bytes, from prefix sums (position independent)
    powers, inverse = _POWERS.upto(len(buf) + 1)
    prefix = np.empty(len(buf) + 1, np.uint64)
    prefix[0] = 0
    np.cumsum(buf * powers[: len(buf)], out=prefix[1:])
    spaces = np.flatnonzero(buf == 32)
    starts = np.concatenate(([0], spaces + 1))
    ends = np.concatenate((spaces, [len(buf)]))
    word_hash = _mix((prefix[ends] - prefix[starts]) * inverse[starts] + (ends - starts).astype(np.uint64))
    # shingle hashes: sum_k h[i + k] * K_k over n consecutive words, zero past a document's end
    total = len(word_hash)
    doc_end = np.repeat(np.cumsum(words), words)  # per word: index after its document's last word
    first = np.concatenate(([0], np.cumsum(words)[:-1]))
    keys = np.uint64(0x9E3779B97F4A7C15) * (2 * np.arange(1, n + 1, dtype=np.uint64) + np.uint64(1))
    padded = np.concatenate((word_hash, np.zeros(n, np.uint64)))
    index = np.arange(total)
    shingle = np.zeros(total, np.uint64)
    for k in range(n):
        part = padded[k: k + total] * keys[k]
        if k:
            part[index + k >= doc_end] = 0  # beyond the document (only short documents use these)
        shingle += part
    # keep shingles that start n-1 words before their document's end, or a short document's first word
    starts_ok = index + n <= doc_end
    short = (words > 0) & (words < n)
    starts_ok[first[short]] = True
    counts = np.where(words >= n, words - n + 1, (words > 0).astype(np.int64))
    offsets = np.concatenate(([0], np.cumsum(counts)))
    return _mix(shingle[starts_ok]), offsets


@dataclass(frozen=True)
class MinHasher:
    """`num_perm` permutations, reproducible from `seed` on every worker."""

    num_perm: int = 128
    n_grams: int = 5
    seed: int = 1
    chunk_rows: int = 4096  # shingles per block of the (shingles x permutations) matrix

    def __post_init__(self):
        gen = np.random.RandomState(self.seed)
        a = gen.randint(0, 1 << 31, size=self.num_perm, dtype=np.uint64).astype(np.uint32) * np.uint32(2) + np.uint32(1)
        b = gen.randint(0, 1 << 32, size=self.num_perm, dtype=np.uint64).astype(np.uint32)
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_b", b)

    def signatures(self, texts: list[str]) -> np.ndarray:
        """(len(texts), num_perm) uint32; rows of EMPTY for documents without words."""
        return self.signatures_normalised([normalise_bytes(t) for t in texts])

    def signatures_normalised(self, norms: list[bytes]) -> np.ndarray:
        # in pieces of about PIECE_BYTES of text: the word hashes' table of powers then stays that
        # long, computed once, instead of growing (and being recomputed) with the largest batch
        out, start, size = [], 0, 0
        for end, norm in enumerate(norms, 1):
            size += len(norm) + 1
            if size >= PIECE_BYTES or end == len(norms):
                out.append(self.signatures_of(*shingle_hashes_normalised(norms[start:end], self.n_grams)))
                start, size = end, 0
        return np.concatenate(out) if out else np.full((0, self.num_perm), EMPTY, np.uint32)

    def signatures_of(self, hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        out = np.full((len(offsets) - 1, self.num_perm), EMPTY, np.uint32)
        x = (hashes >> np.uint64(32)).astype(np.uint32)
        a, b = self._a[:, None], self._b[:, None]
        docs = np.flatnonzero(np.diff(offsets))
        # whole documents in chunks of about chunk_rows shingles; the (permutations x shingles)
        # layout makes each document's minimum a reduction over contiguous memory
        lo = 0
        while lo < len(docs):
            start = offsets[docs[lo]]
            hi = lo + max(1, int(np.searchsorted(offsets[docs[lo:] + 1], start + self.chunk_rows, "right")))
            block = a * x[start: offsets[docs[hi - 1] + 1]]
            block += b
            out[docs[lo:hi]] = np.minimum.reduceat(block, offsets[docs[lo:hi]] - start, axis=1).T
            lo = hi
        return out


def jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(sig_a == sig_b))
