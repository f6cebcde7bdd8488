"""WriteParquet: zstd Parquet shards with one flat, stable schema, written atomically.

Core columns (always present, null when no block filled them):
    id, url, text, language, language_score, warc_date, warc_record_id, source_file
then one column per score that a block of the pipeline declares in its `columns`, in pipeline
order. Under `curate run` the schema is fixed before the first document (prepare), so every shard
of a run has the same columns and DuckDB can read `out/*.parquet` as one table. A writer that was
never prepared (a plain datatrove executor) takes the core columns, its extra_columns and the
metadata of the first batch it writes, typed from the values, and keeps that schema.

Documents from datatrove's readers fill `warc_date` from their `date` and `source_file` from their
`file_path`. Metadata a prepared writer has no column for is not written; the first time a key is
seen, a warning names it. A value that does not fit its column's type is written as null and
counted (`bad_values`).

A shard is written under a hidden temporary name (".NAME.tmp", which no Parquet reader takes for
data) and renamed into place when its task's documents are all written, so a failed or killed task
never leaves a partial shard where readers look.
"""

from __future__ import annotations

import os
import time
from string import Template

import pyarrow as pa
import pyarrow.parquet as pq
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from fsspec.core import url_to_fs
from loguru import logger

from curate.step import BYTES_IN, BYTES_OUT, DOCS_IN, DOCS_OUT, Block, Funnel, RunContext, utf8_len

CORE_COLUMNS: dict[str, pa.DataType] = {
    "id": pa.string(),
    "url": pa.string(),
    "text": pa.string(),
    "language": pa.string(),
    "language_score": pa.float64(),
    "warc_date": pa.string(),
    "warc_record_id": pa.string(),
    "source_file": pa.string(),
}
REMOVED_COLUMNS = {"removed_by": pa.string(), "removed_reason": pa.string()}
INTERNAL_KEYS = ("content_kind",)  # metadata for blocks, not data (and any key starting with "_")
# datatrove's readers name two core columns otherwise: taken when the core name has no value
DATATROVE_NAMES = {"warc_date": "date", "source_file": "file_path"}


def output_schema(extra_columns: dict[str, pa.DataType] | None = None) -> pa.Schema:
    columns = dict(CORE_COLUMNS)
    for name, dtype in (extra_columns or {}).items():
        columns.setdefault(name, dtype)
    return pa.schema(list(columns.items()))


def is_internal(key: str) -> bool:
    return key.startswith("_") or key in INTERNAL_KEYS


class _Shard:
    """One output file being written: rows buffered, then batches into a hidden temporary file."""

    def __init__(self, fs, folder: str, name: str, schema: pa.Schema, compression: str):
        self.fs, self.seq, self.rows = fs, 0, []
        self.folder, self.name, self.schema, self.compression = folder, name, schema, compression
        self._open()

    def _open(self) -> None:
        directory, base = os.path.split(self.name)
        self.final = os.path.join(self.folder, directory, f"{self.seq:03d}_{base}")
        self.temp = os.path.join(self.folder, directory, f".{self.seq:03d}_{base}.tmp")
        self.fs.makedirs(os.path.dirname(self.temp), exist_ok=True)
        self.handle = self.fs.open(self.temp, "wb")
        self.writer = pq.ParquetWriter(self.handle, self.schema, compression=self.compression)

    def flush(self, max_bytes: int | None) -> int:
        """Write the buffered rows; returns how many values did not fit their column (now null)."""
        bad = 0
        if self.rows:
            try:
                batch = pa.RecordBatch.from_pylist(self.rows, schema=self.schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                batch, bad = _fitted_batch(self.rows, self.schema)
            self.writer.write_batch(batch)
            self.rows = []
        if max_bytes is not None and self.handle.tell() >= max_bytes:
            self.commit()
            self.seq += 1
            self._open()
        return bad

    def commit(self) -> int:
        bad = self.flush(None)
        self.writer.close()
        self.handle.close()
        self.fs.mv(self.temp, self.final)
        return bad

    def abort(self) -> None:
        try:
            self.writer.close()
            self.handle.close()
        finally:
            if self.fs.exists(self.temp):
                self.fs.rm(self.temp)


def _fitted_batch(rows: list[dict], schema: pa.Schema) -> tuple[pa.RecordBatch, int]:
    """The rows as a batch, column by column; values that do not fit their type become null."""
    arrays, bad = [], 0
    for field in schema:
        values = [row.get(field.name) for row in rows]
        try:
            arrays.append(pa.array(values, type=field.type))
            continue
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
        fitted = []
        for value in values:
            try:
                pa.array([value], type=field.type)
                fitted.append(value)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                fitted.append(None)
                bad += 1
        arrays.append(pa.array(fitted, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema), bad


class WriteParquet(Block, PipelineStep):
    """Write documents as Parquet rows and pass them on.

    Args:
        output_folder: local path or fsspec URI.
        extra_columns: columns to write beyond the core ones and those the blocks before this
            one declare (name -> pyarrow type).
        output_filename: a template: `${rank}` keeps tasks apart (and any metadata key may be
            used, e.g. "${language}/${rank}.parquet"); files are named 000_<name>, 001_<name>, ...
            as they reach max_file_bytes.
        batch_size: rows per Parquet row batch.
        max_file_bytes: start a new file past this size (default 5 GiB).
        storage_options: passed to fsspec.
        name: the block's name (default "write").
        infer_columns: when nothing prepares this writer, add the first batch's metadata keys to
            the columns (True), or write exactly the core columns and extra_columns (False).
    """

    name = "write"
    type = "curate"

    def __init__(self, output_folder, extra_columns: dict | None = None, output_filename: str = "${rank}.parquet",
                 batch_size: int = 1000, max_file_bytes: int | None = 5 << 30, storage_options: dict | None = None,
                 name: str | None = None, compression: str = "zstd", infer_columns: bool = True):
        super().__init__()
        self.set_name(name)
        self.output_folder = str(output_folder)
        self.output_filename = output_filename
        self.extra_columns = dict(extra_columns or {})
        self.batch_size, self.max_file_bytes, self.compression = batch_size, max_file_bytes, compression
        self.storage_options = storage_options or {}
        # fixed by prepare(), else from the first batch
        self.schema: pa.Schema | None = None if infer_columns else output_schema(self.extra_columns)
        # metadata keys seen: written, or warned about once
        self._known: set[str] = set(self.schema.names) if self.schema is not None else set()
        self._shards: dict[str, _Shard] = {}
        self._pending: list[tuple[str, dict]] = []  # rows before an inferred schema is fixed
        self._funnel = Funnel()

    def prepare(self, ctx: RunContext) -> None:
        """The schema: the core columns, every column the blocks before this one declare, extra_columns."""
        super().prepare(ctx)
        self.schema = output_schema({**ctx.columns, **self.extra_columns})
        self._known = set(self.schema.names)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_shards"], state["_pending"] = {}, []
        return state

    # -- writing ----------------------------------------------------------------------------

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self:
            for doc in data or ():
                self.write(doc, rank)
                yield doc

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    def row(self, document: Document) -> dict:
        meta = document.metadata
        if self.schema is None:  # not fixed yet: keep everything but internal keys
            row = {key: value for key, value in meta.items() if not is_internal(key)}
        else:
            row = {name: meta.get(name) for name in self.schema.names}
            if not meta.keys() <= self._known:
                self._unwritten(meta.keys() - self._known)
        for core, theirs in DATATROVE_NAMES.items():
            if row.get(core) is None and meta.get(theirs) is not None:
                row[core] = str(meta[theirs])
        row["id"], row["text"] = document.id, document.text
        return row

    def _unwritten(self, keys) -> None:
        self._known |= keys
        new = {key for key in keys if not is_internal(key) and key not in DATATROVE_NAMES.values()}
        if new:
            logger.warning(f"{self.name}: metadata {', '.join(sorted(new))} is not written: no block declares "
                           f"{'these columns' if len(new) > 1 else 'this column'} (add "
                           f"WriteParquet(extra_columns={{...}}) to write {'them' if len(new) > 1 else 'it'})")

    def write(self, document: Document, rank: int = 0, **kwargs) -> None:
        start = time.process_time()
        counts = self._funnel.counts
        size = utf8_len(document.text)
        counts[DOCS_IN] += 1
        counts[DOCS_OUT] += 1
        counts[BYTES_IN] += size
        counts[BYTES_OUT] += size
        name = Template(self.output_filename).substitute(
            {**document.metadata, **kwargs, "rank": f"{rank:05d}", "id": document.id})
        if self.schema is None:
            self._pending.append((name, self.row(document)))
            if len(self._pending) >= self.batch_size:
                self._fix_schema()
        else:
            self._add(name, self.row(document))
        self._funnel.cpu_s += time.process_time() - start

    def _add(self, name: str, row: dict) -> None:
        shard = self._shards.get(name)
        if shard is None:
            fs, folder = url_to_fs(self.output_folder, **self.storage_options)
            shard = self._shards[name] = _Shard(fs, folder, name, self.schema, self.compression)
        shard.rows.append(row)
        if len(shard.rows) >= self.batch_size:
            self._funnel.counts["bad_values"] += shard.flush(self.max_file_bytes)

    def _fix_schema(self) -> None:
        """The schema of a writer nobody prepared: core columns, extra_columns, then the first
        batch's other metadata keys in the order first seen, typed from the values (a key seen
        later is not written; a key missing from a document is null)."""
        rows = [row for _, row in self._pending]
        keys = list(dict.fromkeys(key for row in rows for key in row
                                  if key not in CORE_COLUMNS and key not in self.extra_columns))
        inferred = pa.Table.from_pylist([{k: row.get(k) for k in keys} for row in rows]).schema if keys else pa.schema([])
        self.schema = output_schema({**self.extra_columns, **{f.name: f.type for f in inferred}})
        self._known = set(self.schema.names)
        pending, self._pending = self._pending, []
        for name, row in pending:
            self._add(name, {column: row.get(column) for column in self.schema.names})

    def close(self) -> None:
        start = time.process_time()
        if self._pending:
            self._fix_schema()
        for shard in self._shards.values():
            self._funnel.counts["bad_values"] += shard.commit()
        self._shards = {}
        self._funnel.counts = +self._funnel.counts  # drop zero counters
        self._funnel.cpu_s += time.process_time() - start
        if self._funnel.counts:
            self._funnel.flush(self)

    def abort(self) -> None:
        """Remove what this task wrote so far (nothing reaches the output's visible names)."""
        self._pending = []
        for shard in self._shards.values():
            shard.abort()
        self._shards = {}
