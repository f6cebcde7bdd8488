"""Weighted mixes of curated outputs, by tokens, with duplicate-aware repetition (`curate mix`).

A mix config (TOML, or a `MixConfig` in Python) names sources and their target shares of the
mix's tokens:

    seed = 0
    tokenizer = "../shared/data/tokenizers/gpt2-tokenizer.json"   # optional: else UTF-8 bytes / 4
    tokens = 50_000_000                                            # optional: else the most the weights allow

    [[source]]
    name = "web"
    paths = ["out/"]
    weight = 0.8
    repeat_column = "dup_cluster_size"        # rehydration: copies of a document by its cluster size
    repeat = {"1" = 1, "2" = 2, "3-4" = 3, "5-99" = 5, "100-999" = 8, "1000+" = 1}

    [[source]]
    name = "wiki"
    paths = ["wiki.jsonl"]
    weight = 0.2

1. Each document's base copies come from `repeat` by its `repeat_column` value (1 without a
   column or a value; ranges "A-B" and "A+"): rehydration after dedup. FineWeb-2 keeps each
   cluster's size so that its dataset can be re-hydrated this way; its Rehydrater groups sizes
   1, 2, 3, 4, 5-100, 100-1000 and 1000+. `FINEWEB2_BUCKETS` uses those groups; the copies per
   group in it are an example to set for your data, not published numbers.
2. A source's natural tokens are the sum of its documents' tokens times their base copies. With
   T tokens in all (`tokens`, or the largest T at which the scarcest source is used once), a
   source of weight w is taken f = T·w / natural times: each document gets base·f copies, the
   fraction drawn per document from a hash of the seed, the source and the document's id and
   text (deterministic, and the shares land within a fraction of a percent of the weights once
   a source has a few thousand documents).
3. The mix is written as Parquet (a dataset: every copy a row, with `mix_source` and
   `mix_copy`), in files of `rows_per_file` rows, and MIXED.curate/mix.json reports per source
   the documents, the documents written, tokens, share and epochs (written tokens / the source's
   tokens without repetition). `curate tokenize MIXED` shuffles the copies apart (its key covers
   `mix_copy`); `curate ablate` reads MIXED like any Parquet text.

The mix is made by one process, holding each source's ids and token counts (not its texts, which
are read again to write).
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from curate import storage
from curate.errors import CurateError

FINEWEB2_BUCKETS = {"1": 1, "2": 2, "3": 3, "4": 3, "5-99": 5, "100-999": 8, "1000+": 1}
_RANGE = re.compile(r"^(\d+)(?:-(\d+)|(\+))?$")


@dataclass
class MixSource:
    name: str
    paths: list[str]
    weight: float
    column: str = "text"
    repeat_column: str | None = None
    repeat: dict = field(default_factory=dict)  # "N" / "A-B" / "A+" -> copies

    def __post_init__(self):
        if not self.paths:
            raise CurateError(f"mix source {self.name}: no paths")
        if not self.weight > 0:
            raise CurateError(f"mix source {self.name}: weight must be > 0, got {self.weight!r}")
        self._ranges = []
        for key, copies in self.repeat.items():
            m = _RANGE.match(str(key).strip())
            if m is None or not isinstance(copies, (int, float)) or copies < 0:
                raise CurateError(f"mix source {self.name}: repeat {key!r} = {copies!r}: want \"N\", \"A-B\" or "
                                  "\"A+\" = a number of copies >= 0")
            lo = int(m.group(1))
            hi = math.inf if m.group(3) else int(m.group(2) or lo)
            self._ranges.append((lo, hi, float(copies)))

    def base_copies(self, values: list) -> np.ndarray:
        copies = np.ones(len(values))
        for i, value in enumerate(values):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                for lo, hi, n in self._ranges:
                    if lo <= value <= hi:
                        copies[i] = n
                        break
        return copies


@dataclass
class MixConfig:
    sources: list[MixSource]
    seed: int = 0
    tokens: int | None = None
    tokenizer: str | None = None
    rows_per_file: int = 100_000

    @classmethod
    def from_toml(cls, path: str) -> "MixConfig":
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError:
            raise CurateError(f"{path}: no such mix config") from None
        except tomllib.TOMLDecodeError as e:
            raise CurateError(f"{path}: not TOML ({e})") from None
        known = {"seed", "tokens", "tokenizer", "rows_per_file", "source"}
        if unknown := set(raw) - known:
            raise CurateError(f"{path}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
        base = os.path.dirname(os.path.abspath(path))
        sources = []
        for entry in raw.get("source", []):
            fields = {"name", "paths", "weight", "column", "repeat_column", "repeat"}
            if unknown := set(entry) - fields:
                raise CurateError(f"{path}: source {entry.get('name')!r}: unknown key(s) {', '.join(sorted(unknown))}")
            paths = [p if "://" in p or os.path.isabs(p) else os.path.join(base, p) for p in entry.get("paths", [])]
            sources.append(MixSource(**{**entry, "paths": paths}))
        if not sources:
            raise CurateError(f"{path}: no [[source]]")
        return cls(sources, **{k: raw[k] for k in ("seed", "tokens", "tokenizer", "rows_per_file") if k in raw})


def _token_counts(texts: list[str], tokenizer) -> np.ndarray:
    if tokenizer is None:  # an estimate, labelled so in the report
        return np.fromiter((len(t.encode("utf-8", "surrogatepass")) / 4 for t in texts), float, len(texts))
    return np.fromiter((len(e.ids) + 1 for e in tokenizer.encode_batch(texts, add_special_tokens=False)), float,
                       len(texts))


def _rows(source: MixSource, columns: list[str]):
    """(file, table) per input file, with the wanted columns that exist."""
    from curate.io.inputs import expand_inputs, file_format

    for path in expand_inputs(list(source.paths)):
        fmt = file_format(path)
        if fmt == "parquet":
            with storage.open_file(path) as f:
                table = pq.read_table(f)
        elif fmt == "jsonl":
            with storage.open_file(path) as f:
                table = pa.Table.from_pylist([json.loads(line) for line in f if line.strip()])
        else:
            raise CurateError(f"{path}: mix reads Parquet or JSONL documents")
        if source.column not in table.column_names:
            raise CurateError(f"{path}: no {source.column!r} column (columns: {', '.join(table.column_names)})")
        yield path, table.select([c for c in dict.fromkeys(columns) if c in table.column_names])


def _uniform(seed: int, source: str, ids: list, texts: list[str]) -> np.ndarray:
    return np.fromiter((xxhash.xxh3_64_intdigest(f"{source}\0{i}\0{t}".encode("utf-8", "surrogatepass"), seed=seed)
                        / 2.0 ** 64 for i, t in zip(ids, texts)), float, len(texts))


def copies_for(want: np.ndarray, tokens: np.ndarray, uniform: np.ndarray, start: float) -> np.ndarray:
    """Whole copies per document for wanted (fractional) copies: the whole part, plus one more with
    probability equal to the fraction, drawn by systematic sampling over the documents ordered by
    size (then by their hash), so the extra copies' tokens come within about one document of
    their expected sum and each document keeps its own probability."""
    whole = np.floor(want)
    order = np.lexsort((uniform, tokens))
    cum = np.floor(start + np.cumsum((want - whole)[order]))
    extra = np.empty(len(want))
    extra[order] = np.diff(cum, prepend=np.floor(start))
    return (whole + extra).astype(np.int64)


def mix(config: MixConfig, out: str) -> dict:
    """Write the mix to `out`; returns the report (also OUT.curate/mix.json)."""
    tokenizer = None
    if config.tokenizer:
        from curate.train.tokenize import HFTokenizer

        tokenizer = HFTokenizer(config.tokenizer).tokenizer
    if storage.exists(out) and storage.listdir(out):
        raise CurateError(f"{out}: not empty: choose a new folder for the mix")
    # pass 1: per document its tokens, base copies and a seeded uniform number
    docs = {}
    for source in config.sources:
        tokens, copies, uniform = [], [], []
        for path, table in _rows(source, [source.column, "id", source.repeat_column or source.column]):
            texts, ids, values = _columns(source, path, table)
            tokens.append(_token_counts(texts, tokenizer))
            copies.append(source.base_copies(values))
            uniform.append(_uniform(config.seed, source.name, ids, texts))
        tokens, copies, uniform = (np.concatenate(x) if x else np.zeros(0) for x in (tokens, copies, uniform))
        if not tokens.sum():
            raise CurateError(f"mix source {source.name}: no text in {', '.join(source.paths)}")
        docs[source.name] = (tokens, copies, uniform)
    weights = {s.name: s.weight / sum(x.weight for x in config.sources) for s in config.sources}
    natural = {name: float((tokens * copies).sum()) for name, (tokens, copies, _) in docs.items()}
    total = config.tokens or min(natural[name] / w for name, w in weights.items())
    report = {"seed": config.seed, "tokens_target": int(total),
              "tokens_counted_with": config.tokenizer or "UTF-8 bytes / 4 (an estimate: give a tokenizer)",
              "sources": {}}
    # pass 2: the copies, written as rows in input order
    writer = _Writer(out, config.rows_per_file)
    for source in config.sources:
        tokens, base, uniform = docs[source.name]
        start = xxhash.xxh3_64_intdigest(source.name.encode(), seed=config.seed) / 2.0 ** 64
        copies = copies_for(base * total * weights[source.name] / natural[source.name], tokens, uniform, start)
        at = 0
        for path, table in _rows(source, [source.column, "id", source.repeat_column or source.column]):
            texts, ids, _ = _columns(source, path, table)
            for text, doc_id, n in zip(texts, ids, copies[at:at + len(texts)]):
                for copy in range(n):
                    writer.add({"id": str(doc_id), "text": text, "mix_source": source.name, "mix_copy": copy})
            at += len(texts)
        written = float((copies * tokens).sum())
        report["sources"][source.name] = {
            "weight": weights[source.name], "documents": len(tokens), "documents_written": int(copies.sum()),
            "tokens": round(written), "epochs": round(written / float(tokens.sum()), 4)}
    writer.close()
    written = sum(s["tokens"] for s in report["sources"].values())
    for entry in report["sources"].values():
        entry["share"] = round(entry["tokens"] / written, 6) if written else 0.0
    report["tokens"] = written
    storage.write_json(storage.join(out + ".curate", "mix.json"), report)
    return report


def _columns(source: MixSource, path: str, table: pa.Table) -> tuple[list, list, list]:
    """The non-empty texts of a file, their ids (else file:row) and repeat values (else None)."""
    texts = table.column(source.column).to_pylist()
    ids = table.column("id").to_pylist() if "id" in table.column_names else [f"{path}:{i}" for i in range(len(texts))]
    values = table.column(source.repeat_column).to_pylist() if source.repeat_column in table.column_names \
        else [None] * len(texts)
    keep = [i for i, t in enumerate(texts) if isinstance(t, str) and t]
    return [texts[i] for i in keep], [ids[i] for i in keep], [values[i] for i in keep]


class _Writer:
    SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("mix_source", pa.string()),
                        ("mix_copy", pa.int32())])

    def __init__(self, out: str, rows_per_file: int):
        self.out, self.rows_per_file, self.rows, self.files = out, rows_per_file, [], 0
        storage.makedirs(out)

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.rows_per_file:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            from curate.dedup.work import write_parquet

            write_parquet(pa.Table.from_pylist(self.rows, schema=self.SCHEMA),
                          storage.join(self.out, f"mix-{self.files:05d}.parquet"))
            self.files, self.rows = self.files + 1, []

    def close(self) -> None:
        self.flush()
