"""Dedup's per-byte and per-shingle loops, compiled by numba.

Each function works on a batch: one uint8 buffer holding every document's bytes and `offsets`
(document d is buf[offsets[d]:offsets[d + 1]]), so one call does a whole batch without a Python
step per word or per document. numba compiles them on first use and caches the machine code on
disk (`cache=True`, beside this file or in NUMBA_CACHE_DIR), so a worker process loads them in
well under a second instead of compiling. Import this module lazily: importing numba costs ~0.3 s.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SPACE, WORD, DIGIT = 0, 1, 2  # byte classes for `words`
EMPTY32 = 0xFFFFFFFF
_BASE = np.uint64(0x100000001B3)  # odd: word hashes are polynomials in it, mod 2^64


@njit(cache=True)
def non_ascii_code_points(buf: np.ndarray) -> np.ndarray:
    """The code point of every non-ASCII UTF-8 sequence in buf (repeats included)."""
    out = np.empty(len(buf), np.int64)
    count = 0
    i = 0
    while i < len(buf):
        c = buf[i]
        if c < 0x80:
            i += 1
            continue
        cp, size = _decode(buf, i)
        out[count] = cp
        count += 1
        i += size
    return out[:count]


@njit(cache=True, inline="always")
def _decode(buf: np.ndarray, i: int) -> tuple[int, int]:
    """(code point, byte length) of the UTF-8 sequence at buf[i] (a non-ASCII lead byte; Python's
    encoder wrote it, so it is well formed, surrogates included)."""
    c = np.int64(buf[i])
    if c >= 0xF0 and i + 3 < len(buf):
        return ((c & 0x07) << 18) | ((np.int64(buf[i + 1]) & 0x3F) << 12) | ((np.int64(buf[i + 2]) & 0x3F) << 6) \
            | (np.int64(buf[i + 3]) & 0x3F), 4
    if c >= 0xE0 and i + 2 < len(buf):
        return ((c & 0x0F) << 12) | ((np.int64(buf[i + 1]) & 0x3F) << 6) | (np.int64(buf[i + 2]) & 0x3F), 3
    if c >= 0xC0 and i + 1 < len(buf):
        return ((c & 0x1F) << 6) | (np.int64(buf[i + 1]) & 0x3F), 2
    return c, 1


@njit(cache=True)
def substitute(buf: np.ndarray, offsets: np.ndarray, code_points: np.ndarray, replace_offsets: np.ndarray,
               replace_bytes: np.ndarray, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Every non-ASCII character replaced by its bytes from the table: code_points (sorted) ->
    replace_bytes[replace_offsets[k]:replace_offsets[k + 1]]. ASCII bytes are copied."""
    out = np.empty(capacity, np.uint8)
    out_offsets = np.empty(len(offsets), np.int64)
    out_offsets[0] = 0
    o = 0
    for d in range(len(offsets) - 1):
        i, end = offsets[d], offsets[d + 1]
        while i < end:
            c = buf[i]
            if c < 0x80:
                out[o] = c
                o += 1
                i += 1
                continue
            cp, size = _decode(buf, i)
            k = np.searchsorted(code_points, cp)
            for j in range(replace_offsets[k], replace_offsets[k + 1]):
                out[o] = replace_bytes[j]
                o += 1
            i += size
        out_offsets[d + 1] = o
    return out[:o], out_offsets


@njit(cache=True)
def words(buf: np.ndarray, offsets: np.ndarray, lower: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each document as words separated by single spaces: bytes lower-cased through `lower`; a
    number (a run of DIGIT bytes, with at most one inner '.' or ',' before more digits) becomes
    b"0"; SPACE bytes separate words; non-ASCII bytes are WORD bytes."""
    out = np.empty(len(buf), np.uint8)
    out_offsets = np.empty(len(offsets), np.int64)
    out_offsets[0] = 0
    o = 0
    for d in range(len(offsets) - 1):
        i, end = offsets[d], offsets[d + 1]
        start, gap = o, False
        while i < end:
            c = buf[i]
            kind = classes[c]
            if kind == SPACE:
                gap = o > start
                i += 1
                continue
            if gap:
                out[o] = 32
                o += 1
                gap = False
            if kind == DIGIT:
                i += 1
                while i < end and classes[buf[i]] == DIGIT:
                    i += 1
                if i + 1 < end and (buf[i] == 46 or buf[i] == 44) and classes[buf[i + 1]] == DIGIT:
                    i += 2
                    while i < end and classes[buf[i]] == DIGIT:
                        i += 1
                out[o] = 48
            else:
                out[o] = lower[c]
                i += 1
            o += 1
        out_offsets[d + 1] = o
    return out[:o], out_offsets


@njit(cache=True, inline="always")
def _mix(x: np.uint64) -> np.uint64:
    """splitmix64's finaliser."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@njit(cache=True)
def mix_all(x: np.ndarray) -> np.ndarray:
    """`_mix` of every value of a uint64 array."""
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = _mix(x[i])
    return out


@njit(cache=True)
def _shingles(buf: np.ndarray, start: int, end: int, keys: np.ndarray, out: np.ndarray) -> int:
    """Writes the hashes of the word n-grams of normalised text buf[start:end] (n = len(keys)) to
    out; returns how many. A word's hash: mix(sum_k byte_k * BASE^k + length); an n-gram's:
    mix(sum_k keys[k] * word_hash_k); a text of 1..n-1 words is one shingle of all its words."""
    n = len(keys)
    window = np.zeros(n, np.uint64)  # the last n word hashes, oldest first
    count, seen = 0, 0
    h, power, length = np.uint64(0), np.uint64(1), 0
    for i in range(start, end + 1):
        if i < end and buf[i] != 32:
            h += np.uint64(buf[i]) * power
            power *= _BASE
            length += 1
            continue
        if length == 0:  # an empty text
            break
        for k in range(n - 1):
            window[k] = window[k + 1]
        window[n - 1] = _mix(h + np.uint64(length))
        seen += 1
        h, power, length = np.uint64(0), np.uint64(1), 0
        if seen >= n:
            total = np.uint64(0)
            for k in range(n):
                total += window[k] * keys[k]
            out[count] = _mix(total)
            count += 1
    if 0 < seen < n:  # a short text: its words sit at the end of the window
        total = np.uint64(0)
        for k in range(seen):
            total += window[n - seen + k] * keys[k]
        out[count] = _mix(total)
        count += 1
    return count


@njit(cache=True)
def shingle_hashes(buf: np.ndarray, offsets: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, hash_offsets): document d's shingle hashes are hashes[hash_offsets[d]:hash_offsets[d + 1]]."""
    docs = len(offsets) - 1
    hashes = np.empty(len(buf) // 2 + docs + 1, np.uint64)  # a shingle per word at most
    hash_offsets = np.zeros(docs + 1, np.int64)
    for d in range(docs):
        count = _shingles(buf, offsets[d], offsets[d + 1], keys, hashes[hash_offsets[d]:])
        hash_offsets[d + 1] = hash_offsets[d] + count
    return hashes[:hash_offsets[docs]], hash_offsets


@njit(cache=True, inline="always")
def _minimise(row: np.ndarray, hashes: np.ndarray, count: int, a: np.ndarray, b: np.ndarray) -> None:
    """row[i] = min(row[i], min over hashes[:count] of (a_i * x + b_i) mod 2^32), x the top 32 bits."""
    for s in range(count):
        x = np.uint32(hashes[s] >> np.uint64(32))
        for i in range(len(a)):  # vectorised by LLVM: a multiply, an add and a min per lane
            v = np.uint32(a[i] * x + b[i])  # mod 2^32
            if v < row[i]:
                row[i] = v


@njit(cache=True)
def signatures(buf: np.ndarray, offsets: np.ndarray, keys: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MinHash signatures (documents x len(a), uint32): per permutation i, the minimum over the
    document's shingles of (a_i * x + b_i) mod 2^32, x the top 32 bits of the shingle hash. A
    document without words keeps a row of EMPTY32."""
    docs = len(offsets) - 1
    out = np.full((docs, len(a)), EMPTY32, np.uint32)
    longest = 0
    for d in range(docs):
        longest = max(longest, offsets[d + 1] - offsets[d])
    scratch = np.empty(longest // 2 + 2, np.uint64)
    for d in range(docs):
        _minimise(out[d], scratch, _shingles(buf, offsets[d], offsets[d + 1], keys, scratch), a, b)
    return out


@njit(cache=True)
def signatures_of_hashes(hashes: np.ndarray, hash_offsets: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`signatures` of shingle hashes already computed (`shingle_hashes`): for a caller that keeps
    the hashes too (dedup's stage 1, for the exact checks), so a batch is shingled once."""
    docs = len(hash_offsets) - 1
    out = np.full((docs, len(a)), EMPTY32, np.uint32)
    for d in range(docs):
        start = hash_offsets[d]
        _minimise(out[d], hashes[start:], hash_offsets[d + 1] - start, a, b)
    return out
