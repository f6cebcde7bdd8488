"""Band buckets on disk.

Each signature task writes, per band, its (key, row) records sorted by key:
`WORK/bands/<band>/<rank>.keys.npy` (uint64) and `.rows.npy` (uint32, the document's row in
the task's staged Parquet). The exact-dedup hash is one more "band" named `exact`.

The cluster stage reads one band at a time, in key ranges: a binary search in each task's
memory-mapped key file finds where every range starts, so no more than one range of one band is
ever in memory, whatever the corpus size. No file stays open: each is mapped for its binary search
and closed, and a range's slice is read with one positioned read per file (holding every task's
files open ran out of file descriptors at ~1,000 tasks under the usual limit, and of memory maps,
65,530 by default, at ~32,000). In remote staging (an s3:// output), a band's files are copied to a
local temporary folder first.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from curate import storage

EXACT = "exact"


def band_names(bands: int, exact: bool) -> list[str]:
    return ([EXACT] if exact else []) + [f"{b:03d}" for b in range(bands)]


def write_band(work_dir: str, band: str, rank: int, keys: np.ndarray, rows: np.ndarray) -> None:
    order = np.argsort(keys, kind="stable")
    for suffix, values in (("keys", keys[order]), ("rows", rows[order].astype(np.uint32))):
        data = io.BytesIO()
        np.save(data, values)
        storage.write_bytes(storage.join(work_dir, "bands", band, f"{rank:05d}.{suffix}.npy"), data.getvalue())


@dataclass
class _Array:
    """An .npy file's data, located (path, where the data starts, its dtype, its length)."""

    path: str
    offset: int
    dtype: np.dtype
    length: int

    @classmethod
    def locate(cls, path: str) -> "_Array":
        mapped = np.load(path, mmap_mode="r")  # (parses the header; the map is closed at once)
        try:
            return cls(path, mapped.offset, mapped.dtype, len(mapped))
        finally:
            mapped._mmap.close()

    def read(self, a: int, b: int) -> np.ndarray:
        """Elements a..b-1: one positioned read, the file closed again."""
        return np.fromfile(self.path, self.dtype, count=b - a, offset=self.offset + a * self.dtype.itemsize)

    def cuts(self, bounds: list[int]) -> np.ndarray:
        """Where each key bound falls in this (sorted) key file: a binary search in a memory map
        that is closed again."""
        keys = np.memmap(self.path, self.dtype, "r", offset=self.offset, shape=(self.length,))
        try:
            return np.searchsorted(keys, np.array(bounds, np.uint64), "left")
        finally:
            keys._mmap.close()


def _open(work_dir: str, band: str, rank: int, local: str) -> tuple[_Array, _Array] | None:
    """A task's (keys, rows) files of a band; copied into `local` first when remote."""
    arrays = []
    for suffix in ("keys", "rows"):
        path = storage.join(work_dir, "bands", band, f"{rank:05d}.{suffix}.npy")
        if storage.is_remote(path):
            copy = os.path.join(local, f"{band}-{rank:05d}.{suffix}.npy")
            fs, inner = storage.fs_of(path)
            try:
                fs.get(inner, copy)
            except FileNotFoundError:
                return None
            path = copy
        elif not os.path.exists(path):
            return None
        arrays.append(_Array.locate(path))
    return arrays[0], arrays[1]


KEY_SPACE = 1 << 64


def key_range(part: int, parts: int) -> tuple[int, int]:
    """The band keys [lo, hi) of one of `parts` equal ranges of the 64-bit key space."""
    return part * KEY_SPACE // parts, (part + 1) * KEY_SPACE // parts


def duplicate_runs(work_dir: str, band: str, offsets: np.ndarray, max_records: int = 1 << 24,
                   keys: tuple[int, int] = (0, KEY_SPACE)) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For one band, yield (docs, starts): global document indices grouped by equal key, only
    groups of two or more, in chunks; group g is docs[starts[g]:starts[g + 1]]. Only keys in
    [lo, hi) = `keys` are read.

    `offsets[rank]` is the global index of task `rank`'s first document. The range is read in
    slices of about `max_records` records (keys are uniform 64-bit hashes)."""
    with tempfile.TemporaryDirectory(prefix="curate-band-") as local:
        files = [(rank, f) for rank in range(len(offsets) - 1) if (f := _open(work_dir, band, rank, local)) is not None]
        yield from _runs(files, max_records, offsets, keys)


def _runs(files, max_records: int, offsets: np.ndarray, key_span: tuple[int, int]
          ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    lo, hi = key_span
    inner = [bound for bound in (lo, hi) if bound < KEY_SPACE]
    around = [np.append(keys.cuts(inner), [keys.length] * (2 - len(inner))) for _, (keys, _) in files]
    total = sum(int(end - start) for start, end in around)
    parts = max(1, -(-total // max_records))
    bounds = [lo + i * (hi - lo) // parts for i in range(parts)]
    # per file, where each slice starts (and the range's end): one binary search per file and slice
    cuts = [np.append(keys.cuts(bounds), end) for (_, (keys, _)), (_, end) in zip(files, around)]
    for part in range(parts):
        keys, docs = [], []
        for (rank, (k, r)), cut in zip(files, cuts):
            a, b = int(cut[part]), int(cut[part + 1])
            if a == b:
                continue
            keys.append(k.read(a, b))
            docs.append(r.read(a, b).astype(np.int64) + offsets[rank])
        if not keys:
            continue
        keys, docs = np.concatenate(keys), np.concatenate(docs)
        order = np.lexsort((docs, keys))
        keys, docs = keys[order], docs[order]
        new = np.ones(len(keys), bool)
        new[1:] = keys[1:] != keys[:-1]
        group = np.cumsum(new) - 1
        sizes = np.bincount(group)
        keep = sizes[group] > 1
        if not keep.any():
            continue
        docs, group = docs[keep], group[keep]
        starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1], [True])))
        yield docs, starts
