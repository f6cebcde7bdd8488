"""ReadDocuments: the first block of every pipeline. Streams WARC/WET/ARC archives, JSONL and
Parquet shards from any fsspec location and yields one Document per usable record.

Archive documents carry raw HTML (`metadata["content_kind"] == "html"`) for the extractor;
WET conversions, JSONL and Parquet documents are already text. Records that cannot become
documents are counted by reason (`skipped.<reason>` in the funnel); files that fail are
reported in one line each and the run goes on with the next file.
"""

from __future__ import annotations

import json

from datatrove.data import Document
from datatrove.pipeline.readers.base import BaseReader
from loguru import logger

from curate.errors import CurateError
from curate.guard import refuse_overlap
from curate.io import payload
from curate.io.archive import ArchiveParser, ArchiveRecord
from curate.io.columns import coerce, input_columns
from curate.io.inputs import CountingReader, decompressed, expand_inputs, file_format, open_binary
from curate.step import (BYTES_IN, BYTES_OUT, DOCS_IN, DOCS_OUT, SKIPPED, Block, ErrorReport, Funnel, RunContext,
                         timed, utf8_len)

PARQUET_COLUMNS = ("id", "url", "text", "date", "timestamp")  # FineWeb / C4 names we map


def bounded_lines(stream, cap: int):
    """The lines of a binary stream, None for each line longer than `cap` bytes, which is skipped
    without ever holding more than `cap` bytes of it (a 2 GB line costs nothing)."""
    while line := stream.readline(cap + 1):
        if len(line) > cap and not line.endswith(b"\n"):
            while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield None
        else:
            yield line


class ReadDocuments(Block, BaseReader):
    """Read every input file assigned to this task (the sorted file list is dealt round-robin by rank).

    Args:
        inputs: paths, directories, globs or URIs (file://, http(s)://, s3://, hf://): the
            pipeline's own input, used when the run names none (`curate run --input` replaces it).
        limit: at most this many documents per task (None, or -1 as in datatrove: all; `--limit`
            also applies).
        max_record_bytes: archive records, JSONL lines and Parquet texts larger than this are
            skipped (`too_large`), archive records and lines unread: one record never costs more
            memory than this.
        storage_options: passed to fsspec (for example an S3 endpoint or credentials).
        text_key / id_key: field names in JSONL and Parquet inputs.
        keep_columns: carry the other columns of Parquet inputs and fields of JSONL inputs (for
            example the scores an earlier curate run wrote) into the documents' metadata, and so
            into the output: True (the default) for all of them, a list of names, or False. Their
            types come from the input files, read once before the run (`resolve_columns`).
        name: the block's name (default "read").

    Under `curate run`, prepare() lists the input files once, in the driver; each task takes its
    slice of that list, so a listing that changes during the run cannot move files between tasks.
    """

    name = "read"

    def __init__(
        self,
        inputs: list[str] | str | None = None,
        limit: int | None = None,
        max_record_bytes: int = 20 << 20,
        storage_options: dict | None = None,
        text_key: str = "text",
        id_key: str = "id",
        keep_columns: bool | list[str] = True,
        name: str | None = None,
    ):
        if limit is not None and limit != -1 and (not isinstance(limit, int) or limit < 1):
            raise CurateError(f"ReadDocuments: limit must be a positive integer, or None for all, got {limit!r}")
        super().__init__(limit=-1 if limit is None else limit, text_key=text_key, id_key=id_key)
        self.set_name(name)
        self.keep_columns = keep_columns
        self.columns = {}  # the kept columns, once resolve_columns has read the input schemas
        self.inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        self.files: list[str] | None = None  # the input files, listed once by prepare()
        self.not_regular: list[str] = []  # what prepare() left out of a folder: FIFOs, sockets, devices
        self.max_record_bytes = max_record_bytes
        self.storage_options = storage_options or {}
        self.report_dir: str | None = None

    def prepare(self, ctx: RunContext) -> None:
        """Take the run's --input (else this block's own) and --limit, list the files once, and
        declare the kept columns."""
        super().prepare(ctx)
        if ctx.inputs:
            self.inputs = list(ctx.inputs)
        if not self.inputs:
            raise CurateError(f"{self.name}: no input: give --input (files, folders, globs or URIs)")
        refuse_overlap(self.inputs, ctx)
        if ctx.limit is not None:
            self.limit = ctx.limit if self.limit == -1 else min(self.limit, ctx.limit)
        self.report_dir = ctx.folder("errors")
        self.not_regular = []
        self.files = expand_inputs(self.inputs, self.storage_options, self.not_regular)
        for path in self.not_regular:
            logger.warning(f"{path}: skipped, not a regular file (a device, FIFO or socket)")
        refuse_overlap(self.files, ctx)
        ctx.inputs_resolved[self.name] = self.files
        self.resolve_columns()

    def resolve_columns(self) -> dict:
        """Expand the inputs (a bad path is one clear error here, not one per task) and, with
        keep_columns, declare the kept columns: the union of the Parquet and JSONL inputs' fields,
        typed (curate/io/columns.py), so every output shard has the same columns whichever files
        its task read."""
        files = self.files if self.files is not None else expand_inputs(self.inputs, self.storage_options)
        if self.keep_columns:
            mapped = {*PARQUET_COLUMNS, self.text_key, self.id_key, "source_file", "content_kind"}
            wanted = None if self.keep_columns is True else set(self.keep_columns)
            self.columns = input_columns(files, self.storage_options, mapped, wanted)
        return self.columns

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        files = self.files if self.files is not None else expand_inputs(self.inputs, self.storage_options)
        funnel = Funnel()
        errors = ErrorReport(self, self.report_dir, rank)
        produced = 0
        if rank == 0 and self.not_regular:
            funnel.counts["not_regular_files"] += len(self.not_regular)
        try:
            for path in files[rank::world_size]:
                funnel.counts["files"] += 1
                for doc in timed(self._read_file(path, funnel, errors), funnel):
                    yield doc
                    produced += 1
                    if self.limit != -1 and produced >= self.limit:
                        return
        finally:
            funnel.flush(self)
            errors.save()

    # -- one file -------------------------------------------------------------------------

    def _read_file(self, path: str, funnel: Funnel, errors: ErrorReport):
        fmt = file_format(path) or "archive"
        counts = funnel.counts
        try:
            raw = CountingReader(open_binary(path, self.storage_options))
        except Exception as e:  # noqa: BLE001
            errors.add(path, f"cannot open ({type(e).__name__}: {e})", documents=0)
            return
        gz = None
        records_before, truncated_before = counts[DOCS_IN], counts["truncated_records"]
        cut_before = counts["cut_at_next_record"]
        documents_before = counts[DOCS_OUT]
        try:
            if fmt == "parquet":
                documents = self._parquet_documents(raw, path, counts)
            else:
                stream, gz = decompressed(raw, path)
                if fmt == "jsonl":
                    documents = self._jsonl_documents(stream, path, counts, errors)
                else:
                    documents = self._archive_documents(stream, path, counts)
            for doc in documents:
                counts[DOCS_OUT] += 1
                counts[BYTES_OUT] += utf8_len(doc.text)
                yield doc
            problems = []  # reported as one line per file
            if gz is not None and gz.leading_garbage:
                counts["leading_garbage"] += 1
                problems.append(f"skipped {gz.leading_garbage} bytes of garbage before the first gzip member")
            if gz is not None and gz.corrupt_members:
                counts["corrupt_gzip_members"] += gz.corrupt_members
                problems.append(f"corrupt gzip data: skipped {gz.corrupt_members} damaged member(s)")
            if gz is not None and gz.truncated:
                problems.append("truncated: the gzip stream ends inside a member")
            elif counts["truncated_records"] > truncated_before:
                problems.append("truncated: the file ends inside a record")
            if counts["cut_at_next_record"] > cut_before:
                problems.append(f"{counts['cut_at_next_record'] - cut_before} record(s) cut short at the next record "
                                "header (a declared length ran past it)")
            if not problems and fmt == "archive" and counts[DOCS_IN] == records_before:
                problems.append("empty file" if not raw.bytes_read else "not an archive: no WARC/ARC record found")
            if problems:
                errors.add(path, "; ".join(problems), documents=counts[DOCS_OUT] - documents_before)
        except CurateError:
            raise
        except Exception as e:  # noqa: BLE001 - whatever one file does, it costs that file only
            read_here = counts[DOCS_IN] - records_before
            errors.add(path, f"stopped reading after {read_here} records ({type(e).__name__}: {e})",
                       documents=counts[DOCS_OUT] - documents_before)
        finally:
            counts[BYTES_IN] += raw.bytes_read
            raw.close()

    def _archive_documents(self, stream, path: str, counts):
        parser = ArchiveParser(stream, self.max_record_bytes)
        try:
            for record in parser:
                counts[DOCS_IN] += 1
                if record.truncated:
                    counts["truncated_records"] += 1
                result = self._record_to_document(record, path, counts)
                if isinstance(result, str):
                    counts[SKIPPED + result] += 1
                else:
                    yield result
        finally:
            for event, n in parser.events.items():
                counts[event] += n

    def _record_to_document(self, record: ArchiveRecord, path: str, counts) -> Document | str:
        """A Document, or the reason the record is skipped."""
        if record.rec_type not in ("response", "conversion", "resource"):
            return f"record_type:{record.rec_type}"
        if record.content is None:
            return "too_large"
        if record.rec_type == "conversion":  # WET: already plain text
            text, _ = payload.decode_text(record.content, "utf-8")
            return self._document(record, path, text, "text") if text.strip() else "empty"
        status, http_headers, body = payload.split_http(record.content)
        if record.rec_type == "response" and status is None and not record.is_arc:
            return "no_http_response"
        if status is not None and status != 200:
            return f"http_status:{status}"
        if "chunked" in http_headers.get("transfer-encoding", "").lower():
            body = payload.dechunk(body)
        try:
            body = payload.decode_content_encoding(body, http_headers.get("content-encoding", ""))
        except payload.PayloadError as e:
            return str(e)
        if not body.strip():
            return "empty"
        content_type = http_headers.get("content-type") or record.headers.get("arc-content-type")
        mime = payload.media_type(content_type)
        if mime not in payload.HTML_TYPES:
            identified = payload.media_type(record.headers.get("warc-identified-payload-type"))
            sniffable = mime in payload._GENERIC_TYPES or mime == "text/plain"
            if identified not in payload.HTML_TYPES and not (sniffable and payload.looks_like_html(body)):
                return f"not_html:{mime or 'unknown'}"
        if b"\x00" in body[:4096]:
            return "binary_payload"
        text, how = payload.decode_text(body, payload.declared_charset(content_type, body))
        if how == "override":
            counts["charset_override"] += 1
        return self._document(record, path, text, "html")

    def _document(self, record: ArchiveRecord, path: str, text: str, kind: str) -> Document:
        record_id = record.record_id or f"<arc:{record.date}:{record.url}>"
        return Document(
            text=text,
            id=record_id,
            metadata={
                "url": record.url,
                "warc_date": record.date,
                "warc_record_id": record.record_id,
                "source_file": path,
                "content_kind": kind,
            },
        )

    def _jsonl_documents(self, stream, path: str, counts, errors: ErrorReport):
        bad_lines = 0
        kept = list(self.columns.items())
        for line_no, line in enumerate(bounded_lines(stream, self.max_record_bytes), 1):
            if line is None:  # longer than max_record_bytes: skipped unread
                counts[DOCS_IN] += 1
                counts[SKIPPED + "too_large"] += 1
                continue
            if not line.strip():
                continue
            counts[DOCS_IN] += 1
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not an object")
            except (ValueError, RecursionError):  # RecursionError: pathologically nested JSON
                counts[SKIPPED + "bad_json"] += 1
                bad_lines += 1
                if bad_lines == 1:
                    errors.add(path, f"line {line_no}: not a JSON object (further bad lines are only counted)")
                continue
            doc = self._row_document(row, path, line_no - 1)
            if isinstance(doc, str):
                counts[SKIPPED + doc] += 1
                continue
            meta = doc.metadata
            for name, dtype in kept:  # typed before the run; a value that does not fit is null
                if name in row and meta.get(name) is None:
                    meta[name], fits = coerce(row[name], dtype)
                    if not fits:
                        counts["bad_values"] += 1
            yield doc

    def _parquet_documents(self, raw, path: str, counts):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(raw)
        names = set(pf.schema_arrow.names)
        if self.text_key not in names:
            raise ValueError(f"no '{self.text_key}' column (columns: {sorted(names)})")
        kept = [c for c in self.columns if c in names]
        wanted = [c for c in {*PARQUET_COLUMNS, self.text_key, self.id_key} if c in names] + kept
        index = 0
        for batch in pf.iter_batches(batch_size=1024, columns=sorted(wanted)):
            for row in batch.to_pylist():
                counts[DOCS_IN] += 1
                doc = self._row_document(row, path, index)
                index += 1
                if not isinstance(doc, str) and len(doc.text) > self.max_record_bytes:
                    doc = "too_large"
                if isinstance(doc, str):
                    counts[SKIPPED + doc] += 1
                    continue
                meta = doc.metadata
                for name in kept:  # an earlier run's values; the reader's own only where it has none
                    if meta.get(name) is None:
                        meta[name] = row[name]
                yield doc

    def _row_document(self, row: dict, path: str, index: int) -> Document | str:
        text = row.get(self.text_key)
        if not isinstance(text, str) or not text.strip():
            return "no_text"
        if not text.isascii():
            text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON escapes
        date = row.get("date") or row.get("timestamp")
        return Document(
            text=text,
            id=str(row.get(self.id_key) or f"{path}/{index}"),
            metadata={
                "url": row.get("url"),
                "warc_date": str(date) if date is not None else None,
                "warc_record_id": None,
                "source_file": path,
                "content_kind": "text",
            },
        )
