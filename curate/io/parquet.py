"""WriteParquet: zstd Parquet shards with one flat, stable schema.

Core columns (always present, null when no block filled them):
    id, url, text, language, language_score, warc_date, warc_record_id, source_file
then one column per score that a block of the pipeline declares in its `columns`, in
pipeline order. The schema is fixed before the first document, so every shard of a run has
the same columns and DuckDB can read `out/*.parquet` as one table.
"""

from __future__ import annotations

import time

import pyarrow as pa
from datatrove.data import Document
from datatrove.pipeline.writers.parquet import ParquetWriter

from curate.step import BYTES_IN, BYTES_OUT, DOCS_IN, DOCS_OUT, Funnel, utf8_len

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


def output_schema(extra_columns: dict[str, pa.DataType] | None = None) -> pa.Schema:
    columns = dict(CORE_COLUMNS)
    for name, dtype in (extra_columns or {}).items():
        columns.setdefault(name, dtype)
    return pa.schema(list(columns.items()))


class WriteParquet(ParquetWriter):
    """Write documents as Parquet rows (`${rank}` in the file name keeps tasks apart).

    Args:
        output_folder: local path or fsspec URI.
        extra_columns: score columns beyond the core ones (name -> pyarrow type); the runner
            fills them from the blocks before this one.
    """

    name = "write"
    stage = "write"
    columns: dict = {}

    def __init__(self, output_folder, extra_columns: dict | None = None, output_filename: str = "${rank}.parquet",
                 batch_size: int = 1000):
        super().__init__(output_folder, output_filename=output_filename, compression="zstd", batch_size=batch_size,
                         adapter=WriteParquet.row, use_content_defined_chunking=False)
        self.set_columns(extra_columns or {})
        self._funnel = Funnel()

    def set_columns(self, extra_columns: dict) -> None:
        self.extra_columns = dict(extra_columns)
        self.schema = output_schema(self.extra_columns)
        self._names = self.schema.names

    def row(self, document: Document) -> dict:
        meta = document.metadata
        row = {name: meta.get(name) for name in self._names}
        row["id"], row["text"] = document.id, document.text
        return row

    def write(self, document: Document, rank: int = 0, **kwargs):
        start = time.process_time()
        counts = self._funnel.counts
        counts[DOCS_IN] += 1
        counts[DOCS_OUT] += 1
        size = utf8_len(document.text)
        counts[BYTES_IN] += size
        counts[BYTES_OUT] += size
        super().write(document, rank, **kwargs)
        self._funnel.cpu_s += time.process_time() - start

    def close(self):
        start = time.process_time()
        super().close()
        self._funnel.cpu_s += time.process_time() - start
        if self._funnel.counts:
            self._funnel.flush(self)
