"""Verified candidates: LSH proposes, the signatures decide.

A band match says only that `rows` signature values agree; a pair far below the threshold collides
in some band now and then (probability 1-(1-J^13)^9: ~0.6% at J=0.57), and clusters are
transitive, so one such collision used to merge two families. Here:

- every candidate pair a band proposes (all pairs of a small band group, each member against the
  first in a larger one: components.candidate_pairs) becomes an edge only if it is similar: the two
  signatures' estimated Jaccard (the share of equal values over all `num_perm` permutations) is
  at least the threshold, and where the estimate is within three standard deviations of it
  (0.8 +- 0.106 at 128 permutations) the exact Jaccard of the two documents' shingle sets,
  stored by stage 1 (shingles.py), decides (`Similarity`);
- a connected component is then resolved greedily in keep order (`greedy_keepers`): its first
  document is kept, every other document is removed for the first kept document it is similar to
  (the same test), and one similar to none of them is kept too, becoming a keeper
  for the rest. So a removed document is always similar to the document that is kept for it, and
  no two kept documents of a component are similar: chains (A~B, B~C, A!~C) cannot remove C for A.

Because candidates are verified, the bands can favour recall: MinHashConfig's default bands x rows
weigh a missed pair 19 times a false candidate (16 x 8 at 0.8 and 128 permutations: a pair at
J=0.8 is a candidate with probability 0.95, against 0.40 with the balanced 9 x 13).

Signatures are written by each stage-1 task (`save`, WORK/sigs/<rank>.npy: documents x num_perm
uint32, 512 bytes per document at 128 permutations) and read back only for the documents the
clustering needs (`SignatureFiles.rows`).
"""

from __future__ import annotations

import shutil
import tempfile

import numpy as np

from curate import storage
from curate.dedup.shingles import ShingleStore
from curate.dedup.work import by_task, npy_layout


def signature_path(work_dir: str, rank: int) -> str:
    return storage.join(work_dir, "sigs", f"{rank:05d}.npy")


class SignatureSpool:
    """A stage-1 task's signatures, spooled to a local temporary file as they come and written
    as WORK/sigs/<rank>.npy in one pass at the end: the task never holds them all (512 bytes a
    document at 128 permutations: 320 MB for 625,000 documents, and copies of that to save it)."""

    def __init__(self, num_perm: int):
        self.num_perm, self.rows = num_perm, 0
        self.spool = tempfile.TemporaryFile(prefix="curate-sigs-")

    def add(self, signatures: np.ndarray) -> None:
        self.spool.write(np.ascontiguousarray(signatures, "<u4").tobytes())
        self.rows += len(signatures)

    def save(self, work_dir: str, rank: int) -> None:
        self.spool.seek(0)
        with storage.writing(signature_path(work_dir, rank)) as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<u4", "fortran_order": False,
                                                     "shape": (self.rows, self.num_perm)})
            shutil.copyfileobj(self.spool, f, 1 << 24)
        self.spool.close()


class SignatureFiles:
    """Every task's signature file; rows by global document index (`offsets[rank]` is the index
    of task rank's first document), one positioned read (or ranged request) per row: a memory
    map would count every page it touched (4 kB for a 512-byte row) in the task's resident
    memory, ~130 MB for 32,000 scattered rows, and a copy of a remote file is its whole size."""

    def __init__(self, work_dir: str, offsets: np.ndarray):
        self.work_dir, self.offsets = work_dir, offsets
        self._layout: dict[int, tuple[int, tuple]] = {}

    def rows(self, docs: np.ndarray) -> np.ndarray:
        """Signatures of global documents `docs` (any order), as a (len(docs), num_perm) array."""
        out = None
        for rank, mine, rows in by_task(self.offsets, docs):
            path = signature_path(self.work_dir, rank)
            if rank not in self._layout:
                self._layout[rank] = npy_layout(path)
            start, (_, width) = self._layout[rank]
            if out is None:
                out = np.empty((len(docs), width), np.uint32)
            at = start + 4 * width * rows
            out[mine] = np.frombuffer(b"".join(storage.read_ranges(path, at, at + 4 * width)), "<u4").reshape(-1, width)
        return out if out is not None else np.zeros((0, 0), np.uint32)


CACHED_SHINGLE_SETS = 100_000  # beyond this, sets not needed by the current call are dropped
CHUNK_PAIRS = 1 << 14  # pairs whose signatures are compared at once (~35 MB at 128 permutations)


class Similarity:
    """Whether document pairs (global indices) have Jaccard >= threshold: from the signatures'
    estimate where it is clear, from the exact shingle sets where the estimate is within `margin`
    of the threshold (three standard deviations of a num_perm estimate)."""

    def __init__(self, signatures, shingles: ShingleStore | None, threshold: float, num_perm: int):
        """`signatures(docs)`: the signature rows of global documents `docs` (SignatureFiles.rows);
        `shingles`: the shingle sets for the exact check (None: estimates only)."""
        self.signatures, self.shingles, self.threshold = signatures, shingles, threshold
        self.margin = 3 * (threshold * (1 - threshold) / num_perm) ** 0.5 if shingles is not None else 0.0
        self.checked = {"estimated": 0, "exact": 0}
        self._shingles: dict[int, np.ndarray] = {}

    def __call__(self, a: np.ndarray, b: np.ndarray, band: np.ndarray | None = None,
                 rows: int = 0) -> np.ndarray:
        """Whether each pair a[i], b[i] is similar. With `band` (the LSH band that proposed each
        pair) and its `rows`, a pair whose signatures also agree on a lower band is left to that
        band (False here): the task holding the lower band's key checks it, so a pair proposed by
        several bands, in several tasks, is checked once."""
        similar = np.zeros(len(a), bool)
        doubtful = []
        for lo in range(0, len(a), CHUNK_PAIRS):  # the signature rows of a chunk of pairs at a time
            hi = min(lo + CHUNK_PAIRS, len(a))
            unique, inverse = np.unique(np.concatenate((a[lo:hi], b[lo:hi])), return_inverse=True)
            sig = self.signatures(unique)
            equal = sig[inverse[: hi - lo]] == sig[inverse[hi - lo:]]
            checked = np.ones(hi - lo, bool)
            if band is not None:
                bands = equal.shape[1] // rows
                agree = equal[:, : bands * rows].reshape(hi - lo, bands, rows).all(axis=2)
                checked = agree.argmax(axis=1) == band[lo:hi]
            estimate = equal.mean(axis=1)
            similar[lo:hi] = checked & (estimate >= self.threshold + self.margin)
            doubtful.append(lo + np.flatnonzero(checked & ~similar[lo:hi] & (estimate >= self.threshold - self.margin)))
            self.checked["estimated"] += int(checked.sum())
        doubtful = np.concatenate(doubtful) if doubtful else np.zeros(0, np.int64)
        self.checked["exact"] += len(doubtful)
        # exact checks, up to CACHED_SHINGLE_SETS documents' shingle sets at a time
        for lo in range(0, len(doubtful), CACHED_SHINGLE_SETS // 2):
            batch = doubtful[lo:lo + CACHED_SHINGLE_SETS // 2]
            self._load_shingles(np.unique(np.concatenate((a[batch], b[batch]))))
            similar[batch] = [self.exact(x, y) >= self.threshold for x, y in zip(a[batch], b[batch])]
        return similar

    def exact(self, x: int, y: int) -> float:
        sx, sy = self._shingles[x], self._shingles[y]
        common = len(np.intersect1d(sx, sy, assume_unique=True))
        union = len(sx) + len(sy) - common
        return common / union if union else 1.0

    def _load_shingles(self, docs: np.ndarray) -> None:
        """The shingle sets of `docs` (cached), read from the store stage 1 wrote."""
        missing = np.array([d for d in docs.tolist() if d not in self._shingles], np.int64)
        if not len(missing):
            return
        if len(self._shingles) + len(missing) > CACHED_SHINGLE_SETS:
            wanted = set(docs.tolist())
            self._shingles = {d: s for d, s in self._shingles.items() if d in wanted}
        for position, shingles in self.shingles.sets(missing):
            self._shingles[int(missing[position])] = shingles


def greedy_keepers(docs: np.ndarray, labels: np.ndarray, priority: np.ndarray, similar: Similarity) -> np.ndarray:
    """For documents `docs` with component `labels` and keep `priority` (lower first): the index
    (into these arrays) of the document kept for each one (itself where it is kept). Vectorised by
    rounds: each round makes the first unresolved document of every component a keeper and settles
    the unresolved documents similar to it."""
    order = np.lexsort((priority, labels))
    keeper = np.full(len(order), -1, np.int64)
    left = order  # unresolved, grouped by component, in keep order
    while len(left):
        lab = labels[left]
        first = np.ones(len(left), bool)
        first[1:] = lab[1:] != lab[:-1]
        heads = left[first]
        keeper[heads] = heads
        head_of = heads[np.cumsum(first) - 1]
        rest, head_of = left[~first], head_of[~first]
        ok = similar(docs[rest], docs[head_of])
        keeper[rest[ok]] = head_of[ok]
        left = rest[~ok]
    return keeper
