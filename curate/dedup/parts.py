"""Tables split into parts for the tasks of the next stage: how dedup's stages hand data across.

A task writes ONE Parquet file holding rows for every task of the next stage, sorted by a `part`
column, in row groups whose statistics say which parts they hold; task p of the next stage reads
from every such file only the row groups that can hold part p. So each stage writes one file per
task (not one per pair of tasks), and a reader's cost is a footer and a row group or two per file.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.dedup.work import read_parquet_file, write_parquet

ROWS_PER_GROUP = 1 << 15


def part_of(values: np.ndarray, total: int, parts: int) -> np.ndarray:
    """The part of each value of 0..total-1, in `parts` contiguous ranges."""
    return (np.asarray(values, np.int64) * parts) // max(total, 1)


def hashed_part(values: np.ndarray, parts: int) -> np.ndarray:
    """The part of each value by a multiplicative hash: even shares whatever the values' spread."""
    with np.errstate(over="ignore"):
        mixed = np.asarray(values, np.int64).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return ((mixed >> np.uint64(32)) % np.uint64(parts)).astype(np.int64)


def range_of(part: int, total: int, parts: int) -> tuple[int, int]:
    """The values [lo, hi) that `part_of` puts in `part`."""
    lo = -(-part * total // parts)
    hi = -(-(part + 1) * total // parts)
    return lo, hi


def write_parts(path: str, columns: dict, part: np.ndarray) -> None:
    order = np.argsort(part, kind="stable")
    arrays = {name: (pa.array(values) if not isinstance(values, (pa.Array, pa.ChunkedArray)) else values)
              for name, values in columns.items()}
    table = pa.table({"part": pa.array(np.asarray(part, np.int64)[order]),
                      **{name: array.take(pa.array(order)) for name, array in arrays.items()}})
    write_parquet(table, path, ROWS_PER_GROUP)


def read_part(paths: list[str], part: int, columns: list[str] | None = None) -> pa.Table | None:
    """Rows of `part` from every file (None when there are none)."""
    return read_parts(paths, part, part + 1, columns)


def read_parts(paths: list[str], lo: int, hi: int, columns: list[str] | None = None) -> pa.Table | None:
    """Rows of parts lo..hi-1 from every file (None when there are none)."""
    tables = []
    for path in paths:
        parquet = read_parquet_file(path)
        index = parquet.schema_arrow.get_field_index("part")
        for group in range(parquet.num_row_groups):
            stats = parquet.metadata.row_group(group).column(index).statistics
            if stats is not None and stats.has_min_max and (stats.max < lo or stats.min >= hi):
                continue
            table = parquet.read_row_group(group, columns=None if columns is None else ["part", *columns])
            part = table.column("part")
            tables.append(table.filter(pc.and_(pc.greater_equal(part, lo), pc.less(part, hi))))
    tables = [t for t in tables if t.num_rows]
    return pa.concat_tables(tables).drop_columns(["part"]) if tables else None
