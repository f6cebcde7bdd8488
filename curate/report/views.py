"""The tables a report and `curate sql` query: DuckDB views over one or more output folders.

Every view has a `run` column naming the output it came from, so one query compares runs by
grouping on it.

    docs       the documents (OUTPUT/*.parquet), every column
    removed    the removed documents, when the run kept them (--removed): every column, plus
               removed_by (block) and removed_reason
    funnel     one row per block of the funnel: position, stage, docs_in, docs_out, bytes_in,
               bytes_out, cpu_s
    reasons    one row per funnel reason: stage, kind (skipped | dropped), reason, documents
    errors     one row per file-level failure: file, error
    measures   per kept document, from one pass over the text: run, id, bytes, chars, words (spaces
               and line breaks + 1), lines, tokens (bytes x tokens per byte: an estimate unless a
               tokenizer measured it), domain (of the url), language, and every numeric column
    removed_measures   the same for the removed documents, with removed_by and removed_reason
    lengths    per document, kept and removed: run, id, kept, bytes, chars, words, lines, tokens

Token counts are the documents' UTF-8 bytes times a ratio: 1/4 ("bytes/4", an estimate), or one
measured with a tokenizer on a sample of the documents.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from curate.errors import CurateError
from curate.step import run_dir_of

BYTES_PER_TOKEN_ESTIMATE = 4
MEMORY_LIMIT = "1GB"  # DuckDB spills beyond it: a report's memory does not grow with the corpus
NUMERIC = ("DOUBLE", "FLOAT", "REAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER",
           "USMALLINT", "UTINYINT", "DECIMAL")


@dataclass
class Output:
    """One output folder and what its run folder says about it."""

    path: str
    label: str
    shards: list[str]
    removed: list[str] = field(default_factory=list)
    funnel: dict | None = None
    record: dict | None = None  # run.json
    blocks: list[dict] = field(default_factory=list)  # blocks.json: names, columns, thresholds
    ablation: str | None = None  # a `curate ablate` folder (summary.json, results.parquet)


def find_output(path: str, label: str) -> Output:
    path = path.rstrip("/") or path
    if not os.path.isdir(path):
        raise CurateError(f"{path}: no such output folder")
    run_dir = run_dir_of(path)
    record = _json(os.path.join(run_dir, "run.json"))
    removed_dir = ((record or {}).get("identity") or {}).get("removed")
    output = Output(path=path, label=label, shards=sorted(glob.glob(os.path.join(glob.escape(path), "*.parquet"))),
                    funnel=_json(os.path.join(run_dir, "funnel.json")), record=record,
                    blocks=_json(os.path.join(run_dir, "blocks.json")) or [])
    if removed_dir and os.path.isdir(removed_dir):
        output.removed = sorted(glob.glob(os.path.join(glob.escape(removed_dir), "*", "*.parquet")))
    if os.path.isfile(os.path.join(path, "summary.json")) and os.path.isfile(os.path.join(path, "results.parquet")):
        output.ablation, output.shards = path, []  # its Parquet is results, not documents
    if not output.shards and not output.ablation:
        raise CurateError(f"{path}: no Parquet documents here (and no `curate ablate` results)")
    return output


def _json(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _parquet_union(files_by_run: list[tuple[str, list[str]]]) -> str | None:
    parts = [f"SELECT {_literal(label)} AS run, * FROM read_parquet({_list(files)}, union_by_name = true)"
             for label, files in files_by_run if files]
    return " UNION ALL BY NAME ".join(parts) if parts else None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _list(files: list[str]) -> str:
    return "[" + ", ".join(_literal(f) for f in files) + "]"


def connect(outputs: list[Output], tokens_per_byte: float = 1 / BYTES_PER_TOKEN_ESTIMATE,
            lengths: bool = True) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the views above (`lengths` is computed once, as a table)."""
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "preserve_insertion_order": False})
    docs = _parquet_union([(o.label, o.shards) for o in outputs])
    removed = _parquet_union([(o.label, o.removed) for o in outputs])
    if docs:
        con.execute(f"CREATE VIEW docs AS {docs}")
    if removed:
        con.execute(f"CREATE VIEW removed AS {removed}")
    funnel_rows, reason_rows, error_rows = [], [], []
    for output in outputs:
        for position, row in enumerate((output.funnel or {}).get("stages", [])):
            funnel_rows.append({"run": output.label, "position": position, "stage": row["stage"],
                                **{k: row[k] for k in ("docs_in", "docs_out", "bytes_in", "bytes_out", "cpu_s")}})
            for kind in ("skipped", "dropped"):
                for reason, n in row.get(kind, {}).items():
                    reason_rows.append({"run": output.label, "position": position, "stage": row["stage"],
                                        "kind": kind, "reason": reason, "documents": int(n)})
        for error in (output.funnel or {}).get("file_errors", []):
            error_rows.append({"run": output.label, "file": error["file"], "error": error["error"]})
    _table(con, "funnel", funnel_rows, {"run": pa.string(), "position": pa.int64(), "stage": pa.string(),
                                        "docs_in": pa.int64(), "docs_out": pa.int64(), "bytes_in": pa.int64(),
                                        "bytes_out": pa.int64(), "cpu_s": pa.float64()})
    _table(con, "reasons", reason_rows, {"run": pa.string(), "position": pa.int64(), "stage": pa.string(),
                                         "kind": pa.string(), "reason": pa.string(), "documents": pa.int64()})
    _table(con, "errors", error_rows, {"run": pa.string(), "file": pa.string(), "error": pa.string()})
    con.execute(f"CREATE MACRO tokens(b) AS b * {float(tokens_per_byte)!r}")
    if lengths and docs:
        _measures(con, "measures", "docs", tokens_per_byte)
        sources = ["SELECT run, id, true AS kept, bytes, chars, words, lines, tokens FROM measures"]
        if removed:
            _measures(con, "removed_measures", "removed", tokens_per_byte)
            sources.append("SELECT run, id, false AS kept, bytes, chars, words, lines, tokens FROM removed_measures")
        con.execute(f"CREATE VIEW lengths AS {' UNION ALL '.join(sources)}")
    return con


def _measures(con, name: str, view: str, tokens_per_byte: float) -> None:
    """One pass over a view's text: lengths, tokens, the domain of the url, and every number and the
    language and removal columns, in a table the panels read instead of the Parquet."""
    columns = columns_of(con, view)
    keep = [c for c, kind in columns.items() if kind.split("(")[0] in NUMERIC
            or c in ("language", "removed_by", "removed_reason")]
    domain = (", lower(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)', 1)) AS domain"
              if "url" in columns else ", NULL::VARCHAR AS domain")
    con.execute(
        f"CREATE TABLE {name} AS SELECT run, id, strlen(text) AS bytes, length(text) AS chars, "
        # words: spaces and line breaks + 1 (two spaces in a row count twice: cheap, and close on prose)
        "strlen(text) - strlen(replace(replace(text, ' ', ''), chr(10), '')) + 1 AS words, "
        f"strlen(text) - strlen(replace(text, chr(10), '')) + 1 AS lines, strlen(text) * {float(tokens_per_byte)!r} "
        f"AS tokens{domain}{''.join(', ' + _quote(c) for c in keep)} FROM {view}")


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _table(con, name: str, rows: list[dict], schema: dict) -> None:
    table = pa.Table.from_pylist(rows, schema=pa.schema(list(schema.items())))
    con.register(f"_{name}_rows", table)
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM _{name}_rows")


def columns_of(con, view: str) -> dict[str, str]:
    """name -> DuckDB type of a view's columns ({} when the view does not exist)."""
    try:
        return {row[0]: row[1] for row in con.execute(f"DESCRIBE {view}").fetchall()}
    except duckdb.CatalogException:
        return {}


def measured_tokens_per_byte(con, tokenizer_path: str, sample: int = 2000) -> float:
    """Tokens per UTF-8 byte of a sample of the documents (the same sample every time)."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(tokenizer_path)
    except Exception as e:  # noqa: BLE001 - the library raises its own exception types
        raise CurateError(f"{tokenizer_path}: not a tokenizers tokenizer.json ({e})") from None
    texts = [row[0] for row in con.execute(f"SELECT text FROM docs ORDER BY hash(id) LIMIT {int(sample)}").fetchall()]
    size = sum(len(t.encode("utf-8")) for t in texts)
    if not size:
        return 1 / BYTES_PER_TOKEN_ESTIMATE
    return sum(len(e.ids) for e in tokenizer.encode_batch(texts)) / size
