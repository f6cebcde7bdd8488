"""The columns a reader carries from its inputs into the documents' metadata (keep_columns), typed
before the run starts so that every output shard has the same schema whichever files its task read.

Parquet inputs say their types (each file's schema). JSONL inputs do not: the first lines of each
file are read (up to SAMPLE_LINES lines or SAMPLE_BYTES) and typed from their values; a field whose
values disagree between files, or are all null in the sample, is carried as text (JSON for lists
and objects). Values of a JSONL field that do not fit its type later are written as null and
counted (`bad_values`).
"""

from __future__ import annotations

import copy
import json
from itertools import islice

import pyarrow as pa
import pyarrow.parquet as pq

from curate.errors import InputError
from curate.io.inputs import decompressed, file_format, open_binary

SAMPLE_LINES, SAMPLE_BYTES = 1000, 8 << 20


def input_columns(files: list[str], storage_options: dict, mapped: set[str], wanted: set[str] | None) -> dict:
    """name -> pyarrow type of the inputs' fields, less the `mapped` ones (the reader's own)."""
    columns: dict[str, pa.DataType] = {}
    text_fields: set[str] = set()  # JSONL fields carried as text
    for path in files:
        kind = file_format(path)
        if kind == "parquet":
            schema, strict = _parquet_schema(path, storage_options), True
        elif kind == "jsonl":
            schema, strict = _jsonl_schema(path, storage_options), False
        else:
            continue
        for field in schema:
            name = field.name
            if name in mapped or (wanted is not None and name not in wanted):
                continue
            known = columns.get(name)
            # an all-null column (pa.null()) says nothing about the type: a later file decides
            if known is None or pa.types.is_null(known):
                columns[name] = field.type
            elif pa.types.is_null(field.type) or field.type == known:
                continue
            elif pa.types.is_integer(known) and pa.types.is_floating(field.type):
                columns[name] = field.type
            elif pa.types.is_floating(known) and pa.types.is_integer(field.type):
                continue
            elif strict and name not in text_fields:
                raise InputError(f"{path}: column {name!r} is {field.type} here but {known} in an earlier input")
            else:
                text_fields.add(name)
        if not strict:
            text_fields.update(field.name for field in schema if pa.types.is_null(field.type))
    for name in text_fields:
        if name in columns:
            columns[name] = pa.string()
    for name, dtype in columns.items():
        if pa.types.is_null(dtype):
            columns[name] = pa.string()
    if wanted is not None and (missing := wanted - set(columns)):
        raise InputError(f"keep_columns: no Parquet or JSONL input has column(s) {', '.join(sorted(missing))}")
    return columns


def _parquet_schema(path: str, storage_options: dict) -> pa.Schema:
    try:
        with open_binary(path, storage_options) as f:
            return pq.read_schema(f)
    except Exception as e:  # noqa: BLE001 - pyarrow and fsspec raise many types
        raise InputError(f"{path}: cannot read the Parquet schema ({type(e).__name__}: {e})") from None


def _jsonl_schema(path: str, storage_options: dict) -> pa.Schema:
    rows = []
    try:
        with open_binary(path, storage_options) as raw:
            stream, _ = decompressed(raw, path)
            budget = SAMPLE_BYTES
            for _ in range(SAMPLE_LINES):
                line = stream.readline(budget + 1)  # never more than the budget: a 2 GiB line is not read
                if not line or len(line) > budget:
                    break
                budget -= len(line)
                try:
                    row = json.loads(line.decode("utf-8", "replace"))
                except (ValueError, RecursionError):
                    continue
                if isinstance(row, dict):
                    rows.append(row)
    except (OSError, EOFError, ValueError):
        return pa.schema([])  # the reader reports the file when it reads it
    fields = {}
    for name in dict.fromkeys(key for row in rows for key in row):
        try:
            fields[name] = pa.array([row.get(name) for row in rows]).type
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            fields[name] = pa.string()  # mixed kinds of values: carried as text
    return pa.schema(list(fields.items()))


def sample_columns(reader, documents: int = 100) -> dict:
    """The metadata columns of a datatrove reader's first documents, typed from their values (read
    from a copy, so the reader's own stats stay untouched)."""
    from curate.io.parquet import CORE_COLUMNS, DATATROVE_NAMES, is_internal

    probe = copy.deepcopy(reader)
    rows = [doc.metadata for doc in islice(probe.run(None, 0, 1), documents)]
    skip = {*CORE_COLUMNS, *DATATROVE_NAMES.values()}
    columns = {}
    for name in dict.fromkeys(key for row in rows for key in row):
        if name in skip or is_internal(name):
            continue
        try:
            dtype = pa.array([row.get(name) for row in rows]).type
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            dtype = pa.string()
        columns[name] = pa.string() if pa.types.is_null(dtype) else dtype
    return columns


def coerce(value, dtype: pa.DataType):
    """`value` from a JSON line as `dtype`: (value, True), or (None, False) when it does not fit."""
    if value is None:
        return None, True
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return (value, True) if isinstance(value, str) else (json.dumps(value, ensure_ascii=False), True)
    if pa.types.is_boolean(dtype):
        return (value, True) if isinstance(value, bool) else (None, False)
    if pa.types.is_integer(dtype):
        return (value, True) if isinstance(value, int) and not isinstance(value, bool) else (None, False)
    if pa.types.is_floating(dtype):
        return (float(value), True) if isinstance(value, (int, float)) and not isinstance(value, bool) else (None, False)
    return value, True  # lists and structs: checked by the writer
