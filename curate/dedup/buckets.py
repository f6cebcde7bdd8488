"""Band buckets on disk.

Each signature task writes, per band, its (key, row) records sorted by key:
`WORK/bands/<band>/<rank>.keys.npy` (uint64) and `.rows.npy` (uint32, the document's row in
the task's staged Parquet). The exact-dedup hash is one more "band" named `exact`.

The cluster stage reads one band at a time, in key ranges: a binary search in each task's
memory-mapped key file finds the range's slice, so no more than one range of one band is ever
in memory, whatever the corpus size. In remote staging (an s3:// output), a band's files are copied
to a local temporary folder first, to be memory-mapped there.
"""

from __future__ import annotations

import io
import os
import tempfile
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


def _open(work_dir: str, band: str, rank: int, local: str):
    """A task's (keys, rows) of a band, memory-mapped; copied into `local` first when remote."""
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
        arrays.append(np.load(path, mmap_mode="r"))
    return tuple(arrays)


def duplicate_runs(work_dir: str, band: str, offsets: np.ndarray, max_records: int = 1 << 24
                   ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For one band, yield (docs, starts): global document indices grouped by equal key, only
    groups of two or more, in chunks; group g is docs[starts[g]:starts[g + 1]].

    `offsets[rank]` is the global index of task `rank`'s first document. Key ranges are sized so
    that about `max_records` records are in memory at once (keys are uniform 64-bit hashes)."""
    with tempfile.TemporaryDirectory(prefix="curate-band-") as local:
        files = [(rank, f) for rank in range(len(offsets) - 1) if (f := _open(work_dir, band, rank, local)) is not None]
        yield from _runs(files, max_records, offsets)


def _runs(files, max_records: int, offsets: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    total = sum(len(keys) for _, (keys, _) in files)
    parts = max(1, -(-total // max_records))
    bounds = [int(i * (1 << 64) // parts) for i in range(parts)] + [1 << 64]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        keys, docs = [], []
        for rank, (k, r) in files:
            a = int(np.searchsorted(k, np.uint64(lo), "left"))
            b = len(k) if hi == 1 << 64 else int(np.searchsorted(k, np.uint64(hi), "left"))
            keys.append(np.asarray(k[a:b]))
            docs.append(np.asarray(r[a:b]).astype(np.int64) + offsets[rank])
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
