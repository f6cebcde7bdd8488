"""Each document's shingle hashes, stored by stage 1 for the clustering's exact checks.

A clustering task checks the exact Jaccard of the pairs whose signature estimate is near the
threshold, and those pairs' documents lie anywhere in the corpus. Read back from the staged
Parquet (row groups of 1,000 documents), a task's 20,000 checks at 10 million documents read 9,700
of the 10,000 row groups, a scan of the whole corpus per task, and every task then normalised and
hashed the texts again (which loaded the compiled kernels, ~100 MB a process). Stage 1 has the
hashes in hand as it computes the signatures, so it writes them:

  WORK/shingles/<rank>.bin        the top 32 bits of every shingle hash of each document, in
                                  document order, uint32 (4 bytes a word: on real web pages
                                  about as much as the rest of the staging together)
  WORK/shingles/<rank>.index.npy  int64, documents + 1: where each document's hashes start

A document's set is two positioned reads (its index entries, then its hashes); a task holds only
the sets of the pairs it is checking. The top 32 bits: two of a document's ~200 shingles share
them with probability ~1e-5, too rare to move a Jaccard across the threshold.
"""

from __future__ import annotations

import io
import shutil
import tempfile

import numpy as np

from curate import storage
from curate.dedup.work import by_task, npy_layout

def _paths(work_dir: str, rank: int) -> tuple[str, str]:
    return (storage.join(work_dir, "shingles", f"{rank:05d}.bin"),
            storage.join(work_dir, "shingles", f"{rank:05d}.index.npy"))


class ShingleSpool:
    """A stage-1 task's shingle hashes, appended to a local temporary file as they come and
    copied to WORK at the end (`save`)."""

    def __init__(self):
        self.spool = tempfile.TemporaryFile(prefix="curate-shingles-")
        self.counts: list[np.ndarray] = []

    def add(self, hashes: np.ndarray, offsets: np.ndarray) -> None:
        """A batch's 64-bit shingle hashes, document d's at hashes[offsets[d]:offsets[d + 1]]."""
        self.spool.write((hashes >> np.uint64(32)).astype("<u4").tobytes())
        self.counts.append(np.diff(offsets))

    def save(self, work_dir: str, rank: int) -> None:
        data, index = _paths(work_dir, rank)
        self.spool.seek(0)
        with storage.writing(data) as f:
            shutil.copyfileobj(self.spool, f, 1 << 24)
        self.spool.close()
        counts = np.concatenate(self.counts) if self.counts else np.zeros(0, np.int64)
        buffer = io.BytesIO()
        np.save(buffer, np.concatenate(([0], np.cumsum(counts))).astype("<i8"))
        storage.write_bytes(index, buffer.getvalue())


class ShingleStore:
    """Shingle sets of documents by global index (`offsets[rank]` is task rank's first)."""

    def __init__(self, work_dir: str, offsets: np.ndarray):
        self.work_dir, self.offsets = work_dir, offsets
        self._index_start: dict[int, int] = {}

    def sets(self, docs: np.ndarray):
        """(position in docs, the document's shingle set: sorted unique uint32) for every document."""
        for rank, mine, rows in by_task(self.offsets, docs):
            data, index = _paths(self.work_dir, rank)
            if rank not in self._index_start:
                self._index_start[rank] = npy_layout(index)[0]
            at = self._index_start[rank] + 8 * rows
            bounds = np.frombuffer(b"".join(storage.read_ranges(index, at, at + 16)), "<i8").reshape(-1, 2)
            for position, hashes in zip(mine.tolist(), storage.read_ranges(data, 4 * bounds[:, 0], 4 * bounds[:, 1])):
                yield position, np.unique(np.frombuffer(hashes, "<u4"))
