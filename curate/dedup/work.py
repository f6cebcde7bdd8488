"""What dedup's stages share: the work folder (WORK) and the files in it."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.pipeline.base import PipelineStep

from curate import storage
from curate.errors import CurateError
from curate.step import Block, RunContext

# per stage-1 task, one row per document (WORK/keys/<rank>.parquet): the keep rule's fields and the
# exact hash of the normalised text
KEYS_SCHEMA = pa.schema([("id", pa.string()), ("url", pa.string()), ("score", pa.float64()),
                         ("source", pa.string()), ("exact", pa.uint64())])
KEY_ROWS_PER_GROUP = 1 << 15


class WorkFolder(Block):
    """The folder a family of stages shares: given, else the run's staging folder named
    `staging_name` (removed when the run completes). Dedup's, and tokenize's."""

    work_dir: str | None = None
    staging_name = "dedup"

    def prepare(self, ctx: RunContext) -> None:
        super().prepare(ctx)
        if self.work_dir is None:
            self.work_dir = ctx.staging(self.staging_name)

    def path(self, *parts: str) -> str:
        if self.work_dir is None:
            raise CurateError(f"{self.name}: no work folder: give work_dir, or run the pipeline with `curate run`")
        return storage.join(self.work_dir, *parts)


def write_parquet(table: pa.Table, path: str, row_group_size: int | None = None) -> None:
    """Streamed into the file (no second copy of the table in memory), which appears whole."""
    with storage.writing(path) as f:
        pq.write_table(table, f, row_group_size=row_group_size)


def read_parquet_file(path: str) -> pq.ParquetFile:
    return pq.ParquetFile(storage.open_file(path))


def take_rows(path: str, rows: np.ndarray, columns: list[str] | None = None) -> pa.Table:
    """Rows `rows` (sorted) of a Parquet file, reading only the row groups that hold them."""
    parquet = read_parquet_file(path)
    sizes = [parquet.metadata.row_group(g).num_rows for g in range(parquet.num_row_groups)]
    starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    group_of = np.searchsorted(starts, rows, "right") - 1
    tables = [parquet.read_row_group(int(g), columns=columns).take(pa.array(rows[group_of == g] - starts[g]))
              for g in np.unique(group_of)]
    return pa.concat_tables(tables) if tables else parquet.schema_arrow.empty_table().select(columns or parquet.schema_arrow.names)


def by_task(offsets: np.ndarray, docs: np.ndarray):
    """For global document indices `docs` (`offsets[rank]` is stage-1 task rank's first): each
    task holding some, with the positions in `docs` of its documents and their rows in the task."""
    docs = np.asarray(docs, np.int64)
    task_of = np.searchsorted(offsets, docs, "right") - 1
    for rank in np.unique(task_of).tolist():
        mine = np.flatnonzero(task_of == rank)
        yield rank, mine, docs[mine] - offsets[rank]


def npy_layout(path: str) -> tuple[int, tuple]:
    """Where an .npy file's data starts and its shape, from its header (one small read)."""
    head = io.BytesIO(storage.read_ranges(path, [0], [4096])[0])
    read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    shape, _, _ = read_header[np.lib.format.read_magic(head)](head)
    return head.tell(), shape


def refuse_upstream(step: PipelineStep, data) -> None:
    """Stages 2 and 3 start a stage: documents from a step before them mean the pipeline was run
    as one list by an executor that does not know curate's stages."""
    for _ in data or ():
        raise CurateError(f"{step.name} starts a new stage but got documents from the step before it: run the "
                          "pipeline with `curate run`, or one executor per stage of curate.run.split_stages()")


