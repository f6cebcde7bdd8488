"""Decontaminate: documents that share a word n-gram with an evaluation set are removed (or, with
annotate_only, marked).

From GPT-3's practice (Brown et al. 2020, appendix C) we keep the n-gram length, 13 words, and
the idea of matching normalised words rather than raw text. We do not cut a window of 200
characters around each match and keep the rest as GPT-3 did: the pieces of a document around a
benchmark passage are rarely worth training on and their boundaries are arbitrary, so a document
with `min_ngrams` (default 1) or more matching n-grams goes whole. Eval items shorter than n words
are one n-gram of all their words, so they catch only a document that is exactly the item (their
count is in the report).

The index is built once, in the driver (`prepare`), from the eval sets' JSONL or Parquet files,
and travels with the block: forked local workers share its pages, Ray and Slurm tasks get it with
the pickled stage (16 bytes per distinct n-gram; the tasks only read it). Each task
writes the documents it hit to OUTPUT.curate/<name>/hits/<rank>.parquet (id, eval set, eval
item, n-grams matched, the first matching n-gram); `report` sums them per eval set into
OUTPUT.curate/<name>/report.json and the console.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
from datatrove.data import Document, DocumentsPipeline

from curate import storage
from curate.decontam.index import NgramIndex
from curate.errors import CurateError
from curate.step import CurateStep, RunContext

HITS_SCHEMA = pa.schema([("id", pa.string()), ("eval_set", pa.string()), ("eval_item", pa.int64()),
                         ("ngrams", pa.int64()), ("first_ngram", pa.string())])


class Decontaminate(CurateStep):
    """`eval_sets`: name -> a JSONL/Parquet path (or a list of them) whose `column` holds the eval
    texts (a passage, or question and answer written together)."""

    name = "decontaminate"

    def __init__(self, eval_sets: dict, n: int = 13, column: str = "text", min_ngrams: int = 1,
                 annotate_only: bool = False, name: str | None = None):
        super().__init__(name)
        if not eval_sets:
            raise CurateError(f"{self.name}: give at least one eval set (name -> files)")
        if n < 1 or min_ngrams < 1:
            raise CurateError(f"{self.name}: n and min_ngrams must be at least 1")
        self.eval_sets = {k: [v] if isinstance(v, str) else list(v) for k, v in eval_sets.items()}
        self.n, self.column, self.min_ngrams, self.annotate_only = n, column, min_ngrams, annotate_only
        self.columns = {f"{self.name}_ngrams": pa.int32(), f"{self.name}_eval_set": pa.string()}
        self.folder: str | None = None
        self._index: NgramIndex | None = None

    def prepare(self, ctx: RunContext) -> None:
        super().prepare(ctx)
        from curate.train.data import read_texts

        self.folder = ctx.folder(self.name)
        self._index = NgramIndex.build({name: read_texts(paths, self.column)
                                        for name, paths in self.eval_sets.items()}, self.n)

    def setup(self, rank: int, world_size: int) -> None:
        if self._index is None:
            raise CurateError(f"{self.name}: run the pipeline with `curate run` (it builds the index in the driver)")
        self._hits: list[dict] = []
        self._counts: Counter = Counter()

    def process(self, doc: Document) -> str | None:
        match = self._index.matches([doc.text])[0]
        found = match is not None and match.ngrams >= self.min_ngrams
        doc.metadata[f"{self.name}_ngrams"] = match.ngrams if match else 0
        doc.metadata[f"{self.name}_eval_set"] = match.eval_set if found else None
        if not found:
            return None
        self._hits.append({"id": doc.id, "eval_set": match.eval_set, "eval_item": match.item,
                           "ngrams": match.ngrams, "first_ngram": match.first_ngram})
        self._counts[f"hits.{match.eval_set}"] += 1
        return None if self.annotate_only else f"eval:{match.eval_set}"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        yield from super().run(data, rank, world_size)
        from curate.dedup.work import write_parquet

        write_parquet(pa.Table.from_pylist(self._hits, schema=HITS_SCHEMA),
                      storage.join(self.folder, "hits", f"{rank:05d}.parquet"))
        for key, value in sorted(self._counts.items()):
            self.stat_update(key, value=value)

    def thresholds(self) -> list[tuple[str, str, float]]:
        return [(f"{self.name}_ngrams", "<=", self.min_ngrams - 1)]

    def report(self, ctx: RunContext) -> str | None:
        from curate.dedup.work import read_parquet_file

        files = storage.glob(storage.join(self.folder, "hits"), "[0-9]*.parquet")
        hits = pa.concat_tables([read_parquet_file(f).read() for f in files]) if files else HITS_SCHEMA.empty_table()
        index_stats = self._index.stats
        summary = {}
        for name in self.eval_sets:
            rows = hits.filter(pc.equal(hits.column("eval_set"), name)).to_pylist()
            summary[name] = {**index_stats[name], "documents_hit": len(rows),
                             "items_matched": len({r["eval_item"] for r in rows}),
                             "examples": [{k: r[k] for k in ("id", "eval_item", "first_ngram")} for r in rows[:5]]}
        storage.write_json(storage.join(self.folder, "report.json"), summary)
        verb = "marked" if self.annotate_only else "removed"
        return f"{self.name}: " + "; ".join(
            f"{name}: {s['documents_hit']:,} documents {verb} ({s['items_matched']:,} of {s['items']:,} items matched)"
            for name, s in summary.items()) + f" (hits: {storage.join(self.folder, 'hits')})"
