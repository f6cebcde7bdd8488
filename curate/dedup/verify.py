"""Verified candidates: LSH proposes, the signatures decide.

A band match says only that `rows` signature values agree; a pair far below the threshold collides
in some band now and then (probability 1-(1-J^13)^9: ~0.6% at J=0.57), and clusters are
transitive, so one such collision used to merge two families. Here:

- every candidate pair a band proposes (all pairs of a small band group, each member against the
  first in a larger one: components.candidate_pairs) becomes an edge only if it is similar: the two
  signatures' estimated Jaccard (the share of equal values over all `num_perm` permutations) is
  at least the threshold, and where the estimate is within three standard deviations of it
  (0.8 +- 0.106 at 128 permutations) the exact Jaccard of the two documents' shingle sets,
  recomputed from their staged texts, decides (`Similarity`);
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

import os
import shutil
import tempfile

import numpy as np

from curate import storage
from curate.dedup.signatures import shingle_hashes
from curate.dedup.work import read_parquet_file


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
    of task rank's first document). Remote files are copied to a local temporary folder once."""

    def __init__(self, work_dir: str, offsets: np.ndarray):
        self.work_dir, self.offsets = work_dir, offsets
        self._local = tempfile.TemporaryDirectory(prefix="curate-sigs-")
        self._paths: dict[int, str] = {}

    def close(self) -> None:
        self._local.cleanup()

    def _path(self, rank: int) -> str:
        if rank not in self._paths:
            path = signature_path(self.work_dir, rank)
            if storage.is_remote(path):
                copy = os.path.join(self._local.name, f"{rank:05d}.npy")
                fs, inner = storage.fs_of(path)
                fs.get(inner, copy)
                path = copy
            self._paths[rank] = path
        return self._paths[rank]

    def rows(self, docs: np.ndarray) -> np.ndarray:
        """Signatures of global documents `docs` (any order), as a (len(docs), num_perm) array."""
        docs = np.asarray(docs, np.int64)
        out = None
        task_of = np.searchsorted(self.offsets, docs, "right") - 1
        for rank in np.unique(task_of):
            mine = np.flatnonzero(task_of == rank)
            mapped = np.load(self._path(int(rank)), mmap_mode="r")
            try:
                if out is None:
                    out = np.empty((len(docs), mapped.shape[1]), np.uint32)
                out[mine] = mapped[docs[mine] - self.offsets[rank]]
            finally:
                mapped._mmap.close()
        return out if out is not None else np.zeros((0, 0), np.uint32)


CACHED_SHINGLE_SETS = 100_000  # beyond this, sets not needed by the current call are dropped
CHUNK_PAIRS = 1 << 16  # pairs whose signatures are compared at once (~70 MB at 128 permutations)


def staged_files(work_dir: str, rank: int) -> list[str]:
    """Task `rank`'s staged documents (WORK/docs), in the order ReadStaged numbers their rows."""
    # the writer names files <counter>_<rank>.parquet, and writes none for a task without documents
    return storage.glob(work_dir, f"docs/*_{rank:05d}.parquet")


class StagedTexts:
    """Texts of staged documents by global index, read by row group: only the row groups that
    hold a wanted document are read."""

    def __init__(self, work_dir: str, offsets: np.ndarray):
        self.work_dir, self.offsets = work_dir, offsets
        self._layout: dict[int, list] = {}

    def _files(self, rank: int) -> list:
        """(ParquetFile, first row of each row group, and past the last) per staged file of a task."""
        if rank not in self._layout:
            layout, first = [], 0
            for path in staged_files(self.work_dir, rank):
                parquet = read_parquet_file(path)
                sizes = [parquet.metadata.row_group(g).num_rows for g in range(parquet.num_row_groups)]
                layout.append((parquet, first + np.concatenate(([0], np.cumsum(sizes)))))
                first += sum(sizes)
            self._layout[rank] = layout
        return self._layout[rank]

    def each_text(self, docs: np.ndarray):
        """(position in docs, text) for every document, a row group at a time: only one row
        group's texts are held at once."""
        task_of = np.searchsorted(self.offsets, docs, "right") - 1
        for rank in np.unique(task_of):
            mine = np.flatnonzero(task_of == rank)
            rows = docs[mine] - self.offsets[rank]
            for parquet, bounds in self._files(int(rank)):
                group_of = np.searchsorted(bounds, rows, "right") - 1
                for group in np.unique(group_of[(rows >= bounds[0]) & (rows < bounds[-1])]):
                    wanted = np.flatnonzero(group_of == group)
                    column = parquet.read_row_group(int(group), columns=["text"]).column("text")
                    yield from zip(mine[wanted].tolist(), column.take(rows[wanted] - bounds[group]).to_pylist())


class Similarity:
    """Whether document pairs (global indices) have Jaccard >= threshold: from the signatures'
    estimate where it is clear, from the exact shingle sets of the staged texts where the estimate
    is within `margin` of the threshold (three standard deviations of a num_perm estimate)."""

    def __init__(self, signatures, texts: StagedTexts | None, threshold: float, num_perm: int, n_grams: int):
        """`signatures(docs)`: the signature rows of global documents `docs` (SignatureFiles.rows);
        `texts`: the staged texts for the exact check (None: estimates only)."""
        self.signatures, self.texts = signatures, texts
        self.threshold, self.n_grams = threshold, n_grams
        self.margin = 3 * (threshold * (1 - threshold) / num_perm) ** 0.5 if texts is not None else 0.0
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
        # exact checks, up to CACHED_SHINGLE_SETS documents' shingle sets at a time; their texts
        # are read together, a row group once per batch
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
        """The shingle sets of `docs` (cached): their texts read together, a row group once."""
        missing = np.array([d for d in docs.tolist() if d not in self._shingles], np.int64)
        if not len(missing):
            return
        if len(self._shingles) + len(missing) > CACHED_SHINGLE_SETS:
            wanted = set(docs.tolist())
            self._shingles = {d: s for d, s in self._shingles.items() if d in wanted}
        batch: list[tuple[int, str]] = []

        def hash_batch():  # the top 32 bits: half the memory; two of a document's ~200 shingles
            # share them with probability ~1e-5, too rare to move a Jaccard across the threshold
            hashes, offsets = shingle_hashes([text for _, text in batch], self.n_grams)
            for i, (position, _) in enumerate(batch):
                self._shingles[int(missing[position])] = np.unique(
                    (hashes[offsets[i]:offsets[i + 1]] >> np.uint64(32)).astype(np.uint32))
            batch.clear()

        for item in self.texts.each_text(missing):  # texts hashed as they are read, 512 at a time
            batch.append(item)
            if len(batch) == 512:
                hash_batch()
        if batch:
            hash_batch()


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
