"""Documents -> token shards, as two stages of a run (`tokenize_steps`).

Stage A, every task: `TokenizeDocuments` encodes its documents in batches with a `tokenizers`
tokenizer.json (`encode_batch`, no special tokens) and appends the end-of-document id; it writes
WORK/<rank>.bin (the tokens, uint32) and WORK/<rank>.docs.parquet: per document its shuffle key,
where its tokens are, and its source, in parts by the key's top 12 bits.

Stage B, min(shards, tasks) tasks: `WriteTokenShards` task r writes shards r, r + R, ... Shard s
holds the documents whose key falls in its 1/shards of the key space, in key order. The key is
xxh3-64 of the text (and of `mix_copy`, the copy number a `curate mix` output carries) under the
seed, so the order is a seeded global shuffle of all documents that does not depend on how many
tasks read or wrote them (equal texts have equal keys and equal tokens, so their order cannot
show). A shard task holds its shard's tokens in memory.

Tokens are counted in the funnel (`tokens`, per source `tokens.source.<file>`, per shard
`tokens.shard.<n>`), and the tokens folder gets tokens.json: the format, dtype, tokenizer, end
of document id, seed, and per shard and per source the documents and tokens.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import numpy as np
import pyarrow as pa
import xxhash
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate import storage
from curate.dedup.parts import range_of, read_parts, write_parts
from curate.dedup.work import WorkFolder, refuse_upstream
from curate.errors import CurateError
from curate.step import BYTES_IN, BYTES_OUT, DOCS_IN, DOCS_OUT, DROPPED, Funnel, RunContext, Stage, utf8_len
from curate.tokens.formats import FORMATS, shard_files, token_dtype, write_shard

BUCKETS = 4096  # parts of the key space in the per-task document tables
MANIFEST = "tokens.json"


class TokenSettings(WorkFolder):
    """What both stages share: the tokenizer, the layout, the shards, the seed and the staging."""

    staging_name = "tokens"

    def __init__(self, tokenizer: str, format: str = "megatron", shards: int = 1, seed: int = 0,
                 output: str | None = None, batch_size: int = 1000):
        super().__init__()
        if format not in FORMATS:
            raise CurateError(f"tokenize: format must be one of {', '.join(FORMATS)}, got {format!r}")
        if not isinstance(shards, int) or not 1 <= shards <= BUCKETS:
            raise CurateError(f"tokenize: shards must be an integer from 1 to {BUCKETS}, got {shards!r}")
        self.tokenizer_path, self.format, self.shards, self.seed = tokenizer, format, shards, seed
        self.output, self.batch_size = output, batch_size
        self._tokenizer = None

    def prepare(self, ctx: RunContext) -> None:
        super().prepare(ctx)
        self.output = self.output or ctx.output
        self.tokenizer  # noqa: B018 - a missing or broken tokenizer fails the run before any task

    @property
    def tokenizer(self):
        """curate.train's HFTokenizer, loaded on first use in each worker (not pickled)."""
        if self._tokenizer is None:
            from curate.train.tokenize import load_tokenizer

            if self.tokenizer_path in (None, "", "bytes"):
                raise CurateError("tokenize: give a tokenizers tokenizer.json (--tokenizer PATH)")
            self._tokenizer = load_tokenizer(self.tokenizer_path)
        return self._tokenizer

    def __getstate__(self):
        return {**self.__dict__, "_tokenizer": None}

    @property
    def dtype(self) -> np.dtype:
        return token_dtype(self.tokenizer.vocab_size, self.format)


class TokenizeDocuments(TokenSettings, PipelineStep):
    name = "tokenize"
    type = "curate"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        funnel = Funnel()
        keys, offsets, lengths, sources = [], [], [], []
        written = 0
        batch: list[Document] = []
        with storage.writing(self.path(f"{rank:05d}.bin")) as out:
            batch_bytes = 0

            def flush():
                nonlocal written, batch_bytes
                start = time.process_time()
                encodings = self.tokenizer.tokenizer.encode_batch([d.text for d in batch], add_special_tokens=False)
                eod, per_source = [self.tokenizer.eod], Counter()
                for doc, enc in zip(batch, encodings):
                    tokens = np.asarray(enc.ids + eod, np.uint32)
                    out.write(tokens.tobytes())
                    keys.append(shuffle_key(doc, self.seed))
                    offsets.append(written)
                    lengths.append(len(tokens))
                    source = str(doc.metadata.get("source_file") or "")
                    sources.append(source)
                    written += len(tokens)
                    per_source[source] += len(tokens)
                for source, tokens in per_source.items():
                    funnel.counts["tokens"] += tokens
                    funnel.counts[f"tokens.source.{os.path.basename(source) or '-'}"] += tokens
                funnel.counts[DOCS_OUT] += len(batch)
                funnel.counts[BYTES_OUT] += batch_bytes  # the text is passed on as it came in
                batch_bytes = 0
                funnel.cpu_s += time.process_time() - start
                batch.clear()

            for doc in data:
                size = utf8_len(doc.text)
                funnel.counts[DOCS_IN] += 1
                funnel.counts[BYTES_IN] += size
                if not doc.text:
                    funnel.counts[f"{DROPPED}empty"] += 1  # nothing to train on; it would be a lone end-of-document
                    continue
                batch.append(doc)
                batch_bytes += size
                if len(batch) >= self.batch_size:
                    flush()
                yield doc
            if batch:
                flush()
        key = np.asarray(keys, np.uint64)
        write_parts(self.path(f"{rank:05d}.docs.parquet"),
                    {"key": pa.array(key, pa.uint64()), "origin": pa.array(np.full(len(key), rank, np.int32)),
                     "offset": pa.array(offsets, pa.int64()),
                     "length": pa.array(lengths, pa.int64()), "source": pa.array(sources, pa.string())},
                    (key >> np.uint64(52)).astype(np.int64))
        funnel.flush(self)


class WriteTokenShards(TokenSettings, PipelineStep):
    name = "token_shards"
    type = "curate"
    internal = False

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        refuse_upstream(self, data)
        funnel = Funnel()
        start = time.process_time()
        tables = storage.glob(self.path(), "[0-9]*.docs.parquet")
        for shard in range(rank, self.shards, world_size):
            lo, hi = range_of(shard, BUCKETS, self.shards)
            rows = read_parts(tables, lo, hi) if hi > lo else None
            documents, summary = self.gather(rows, tables) if rows is not None else ([], {})
            prefix = storage.join(self.output, shard_name(shard, self.shards))
            write_shard(prefix, self.format, documents, self.dtype, self.tokenizer_path, self.tokenizer.eod)
            tokens = sum(map(len, documents))
            storage.write_json(self.path("shards", f"{shard:05d}.json"),
                               {"documents": len(documents), "tokens": tokens, "sources": summary})
            funnel.counts[DOCS_IN] += len(documents)
            funnel.counts[DOCS_OUT] += len(documents)
            funnel.counts[f"tokens.shard.{shard}"] += tokens
        funnel.cpu_s += time.process_time() - start
        funnel.flush(self)
        yield from ()

    def gather(self, rows: pa.Table, tables: list[str]) -> tuple[list[np.ndarray], dict]:
        """The shard's documents in key order, and its documents and tokens per source. Each
        stage-A task's tokens are read once, in file order."""
        key = rows.column("key").to_numpy()
        offset = rows.column("offset").to_numpy()
        length = rows.column("length").to_numpy()
        source = rows.column("source").to_pylist()
        origin = rows.column("origin").to_numpy()
        documents: list[np.ndarray | None] = [None] * len(key)
        for task in np.unique(origin):
            mine = np.flatnonzero(origin == task)
            mine = mine[np.argsort(offset[mine], kind="stable")]
            with storage.open_file(self.path(f"{int(task):05d}.bin")) as f:
                for i in mine:
                    f.seek(int(offset[i]) * 4)
                    documents[i] = np.frombuffer(f.read(int(length[i]) * 4), np.uint32)
        order = np.lexsort((length, key))  # equal keys are equal texts: any order of them gives the same shard
        summary: dict[str, dict] = {}
        for i in order:
            entry = summary.setdefault(source[i], {"documents": 0, "tokens": 0})
            entry["documents"] += 1
            entry["tokens"] += int(length[i])
        return [documents[i] for i in order], summary

    def report(self, ctx: RunContext) -> str | None:
        shards = [storage.read_json(self.path("shards", f"{s:05d}.json")) or {} for s in range(self.shards)]
        sources: dict[str, dict] = {}
        for shard in shards:
            for name, entry in shard.get("sources", {}).items():
                total = sources.setdefault(name, {"documents": 0, "tokens": 0})
                total["documents"] += entry["documents"]
                total["tokens"] += entry["tokens"]
        documents, tokens = sum(s.get("documents", 0) for s in shards), sum(s.get("tokens", 0) for s in shards)
        storage.write_json(storage.join(self.output, MANIFEST), {
            "format": self.format, "dtype": self.dtype.name, "tokenizer": self.tokenizer_path,
            "tokenizer_sha256": self.tokenizer.sha256,
            "eod": self.tokenizer.eod, "vocab_size": self.tokenizer.vocab_size, "seed": self.seed,
            "documents": documents, "tokens": tokens,
            "shards": [{"prefix": shard_name(s, self.shards), "files": [os.path.basename(f) for f in
                                                                        shard_files(shard_name(s, self.shards), self.format)],
                        **{k: shard.get(k, 0) for k in ("documents", "tokens")}} for s, shard in enumerate(shards)],
            "sources": sources})
        return (f"tokens: {documents:,} documents, {tokens:,} tokens in {self.shards} {self.format} shard(s) "
                f"({self.dtype.name}) in {self.output}")


def shuffle_key(doc: Document, seed: int) -> int:
    """The document's place in the shuffled order: xxh3-64 of its text (and of its copy number
    in a `curate mix` output, so that copies of one document land apart)."""
    data = doc.text.encode("utf-8", "surrogatepass")
    copy = doc.metadata.get("mix_copy")
    return xxhash.xxh3_64_intdigest(data + f"\0{copy}".encode() if copy else data, seed=seed)


def shard_name(shard: int, shards: int) -> str:
    return f"shard_{shard:05d}_of_{shards:05d}"


def tokenize_steps(tokenizer: str, format: str = "megatron", shards: int = 1, seed: int = 0,
                   output: str | None = None) -> list:
    """The steps to end a pipeline with: documents -> `shards` token shards in `output` (default:
    the run's output folder), globally shuffled by `seed`."""
    settings = dict(tokenizer=tokenizer, format=format, shards=shards, seed=seed, output=output)
    return [TokenizeDocuments(**settings), Stage(tasks=shards), WriteTokenShards(**settings)]
