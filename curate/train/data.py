"""Training and evaluation text: read, tokenise into one flat array, sample windows.

Texts come from Parquet files or folders (a column, `text` by default) and JSONL(.gz/.zst) files
(a field), files in sorted order. Each text is tokenised and followed by the end-of-document
token, all into one flat array. Training samples fixed-length windows at seeded random offsets
(from several sources by weight, for mixes); evaluation reads the same consecutive windows every
time. A budget larger than a variant repeats it: `epochs` says how often.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from curate.errors import CurateError

log = logging.getLogger("curate.train")


@dataclass
class TokenStream:
    """A body of text as one flat token array; `covered[i]` is the bytes token i stands for
    (kept for eval sets, which need it; training text keeps only the total, `byte_count`)."""

    name: str
    tokens: np.ndarray
    covered: np.ndarray | None
    documents: int
    skipped: Counter = field(default_factory=Counter)
    byte_count: int = 0
    cached: bool = False  # read from the token cache (curate/train/cache.py)

    @property
    def n_bytes(self) -> int:
        return int(self.covered.sum()) if self.covered is not None else self.byte_count


def read_texts(paths: list[str], column: str = "text", skipped: Counter | None = None,
               where: dict | None = None) -> list[str]:
    """Every non-empty text of the Parquet/JSONL files in `paths` (folders searched), files in
    sorted order, of the rows whose `where` columns equal its values. A missing file or column is
    the user's to fix (CurateError); unreadable JSON lines and rows without text are counted in
    `skipped` and left out, as are rows `where` rejects ("not_where")."""
    where = dict(where or {})
    from curate.io.inputs import expand_inputs, file_format

    skipped = Counter() if skipped is None else skipped
    texts: list[str] = []
    for path in expand_inputs(list(paths)):
        fmt = file_format(path)
        if fmt == "parquet":
            texts += _parquet_texts(path, column, skipped, where)
        elif fmt == "jsonl":
            texts += _jsonl_texts(path, column, skipped, where)
        else:
            raise CurateError(f"{path}: training reads Parquet or JSONL text; run a pipeline on archives first")
    return texts


def _parquet_texts(path: str, column: str, skipped: Counter, where: dict) -> list[str]:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for damaged files
        raise CurateError(f"{path}: not a readable Parquet file ({e})") from None
    for name in (column, *where):
        if name not in schema.names:
            raise CurateError(f"{path}: no column {name!r} (columns: {', '.join(schema.names)})")
    table = pq.read_table(path, columns=list(dict.fromkeys((column, *where))))
    values = table.column(column).to_pylist()
    if where:
        conditions = [table.column(name).to_pylist() for name in where]
        wanted = list(where.values())
        rows = [v for v, *row in zip(values, *conditions) if row == wanted]
        skipped["not_where"] += len(values) - len(rows)
        values = rows
    texts = [v for v in values if isinstance(v, str) and v.strip()]
    skipped["empty_or_null"] += len(values) - len(texts)
    return texts


def _jsonl_texts(path: str, field_name: str, skipped: Counter, where: dict) -> list[str]:
    import fsspec

    texts, records, with_field = [], 0, 0
    with fsspec.open(path, "rt", compression="infer", encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                value = record.get(field_name)
            except (json.JSONDecodeError, AttributeError) as e:
                log.warning(f"{path}:{number}: skipped, not a JSON object ({e})")
                skipped["bad_json"] += 1
                continue
            records += 1
            with_field += field_name in record
            if any(record.get(name) != wanted for name, wanted in where.items()):
                skipped["not_where"] += 1
            elif isinstance(value, str) and value.strip():
                texts.append(value)
            else:
                skipped["empty_or_null"] += 1
    if records and not with_field:  # a wrong field name, not a few empty rows
        raise CurateError(f"{path}: no record has a {field_name!r} field")
    return texts


def training_dtype(tokenizer) -> type:
    """Token ids in memory: uint16 while every id fits, else int32."""
    return np.uint16 if tokenizer.vocab_size <= 1 << 16 else np.int32


def not_in_eval_sets(texts: list[str], exclude) -> list[bool]:
    """For each text, whether it shares no n-gram with `exclude` (a curate.decontam.NgramIndex)."""
    keep = []
    for start in range(0, len(texts), 1000):
        keep += [match is None for match in exclude.matches(texts[start:start + 1000])]
    return keep


def tokenize(name: str, texts: list[str], tokenizer, exclude=None, per_token_bytes: bool = True) -> TokenStream:
    """One flat array: each text's tokens, then the end-of-document token. Texts that share an
    n-gram with `exclude` (a curate.decontam.NgramIndex of the eval sets) are left out and counted.
    Without `per_token_bytes` only the total of bytes covered is kept (training text)."""
    skipped: Counter = Counter()
    if exclude is not None:
        kept = [t for t, keep in zip(texts, not_in_eval_sets(texts, exclude)) if keep]
        skipped["in_eval_set"] = len(texts) - len(kept)
        texts = kept
    if not texts:
        raise CurateError(f"{name}: no text to train or evaluate on")
    dtype = training_dtype(tokenizer)
    parts, covered = [], []
    eod, no_bytes = np.array([tokenizer.eod], dtype=dtype), np.zeros(1, dtype=np.int32)
    batch = 256  # bounded memory for big variants, few Python calls for small ones
    for start in range(0, len(texts), batch):
        ids, cov = tokenizer.encode(texts[start:start + batch])
        for i, c in zip(ids, cov):
            parts += [i.astype(dtype, copy=False), eod]
            covered += [c.astype(np.int32, copy=False), no_bytes]
    covered = np.concatenate(covered)
    if per_token_bytes:
        return TokenStream(name, np.concatenate(parts), covered, len(texts), skipped)
    return TokenStream(name, np.concatenate(parts), None, len(texts), skipped, byte_count=int(covered.sum()))


def token_output(name: str, folder: str) -> tuple[dict, list[str]]:
    """A `curate tokenize` output folder's manifest (tokens.json) and every file it consists of."""
    from curate import storage
    from curate.tokens.steps import MANIFEST

    manifest_path = storage.join(folder, MANIFEST)
    manifest = storage.read_json(manifest_path) if storage.exists(manifest_path) else None
    if not isinstance(manifest, dict) or "shards" not in manifest:
        raise CurateError(f"variant {name}: {folder} is not a `curate tokenize` output (no {MANIFEST})")
    return manifest, [manifest_path] + [storage.join(folder, f) for s in manifest["shards"] for f in s["files"]]


def read_token_output(name: str, folder: str, manifest: dict, tokenizer, exclude=None) -> TokenStream:
    """The documents of a `curate tokenize` output folder (its `token_output` manifest), in shard
    order, as written: nothing is tokenised. The shards must have been made with `tokenizer`
    (checked by its file's hash, or its vocabulary and end-of-document id). Documents are decoded
    once to count their bytes and to leave out those that share an n-gram with `exclude`."""
    from curate import storage
    from curate.tokens.formats import read_shard

    made_with = manifest.get("tokenizer_sha256")
    same = made_with == getattr(tokenizer, "sha256", None) if made_with else \
        (manifest.get("vocab_size"), manifest.get("eod")) == (tokenizer.vocab_size, tokenizer.eod)
    if not same:
        raise CurateError(f"variant {name}: {folder} was tokenized with {manifest.get('tokenizer')}, not the "
                          f"ablation's tokenizer {tokenizer.name} (set tokenizer / --tokenizer to the same file)")
    documents = []
    for shard in manifest["shards"]:
        documents += read_shard(storage.join(folder, shard["prefix"]), manifest["format"])
    for number, doc in enumerate(documents):
        if not len(doc) or doc[-1] != tokenizer.eod:
            raise CurateError(f"variant {name}: {folder}: document {number} does not end with the end-of-document "
                              f"id {tokenizer.eod}")
    texts = tokenizer.decode([doc[:-1] for doc in documents])
    skipped: Counter = Counter()
    if exclude is not None:
        keep = not_in_eval_sets(texts, exclude)
        skipped["in_eval_set"] = keep.count(False)
        documents = [d for d, k in zip(documents, keep) if k]
        texts = [t for t, k in zip(texts, keep) if k]
    if not documents:
        raise CurateError(f"variant {name}: no documents to train on in {folder}")
    return TokenStream(name, np.concatenate(documents).astype(training_dtype(tokenizer), copy=False), None,
                       len(documents), skipped,
                       byte_count=sum(len(t.encode("utf-8", "surrogatepass")) for t in texts))


class WindowSampler:
    """Seeded batches of (input, target) windows of `context` tokens, drawn from the sources at
    random offsets; with several sources, each window's source is drawn by weight."""

    def __init__(self, sources: list[TokenStream], weights: list[float], context: int, seed: int):
        for source in sources:
            if len(source.tokens) < context + 1:
                raise CurateError(f"{source.name}: {len(source.tokens)} tokens, fewer than one window of "
                                  f"{context + 1}; give it more text or use a shorter context")
        total = float(sum(weights))
        if len(weights) != len(sources) or total <= 0 or min(weights) < 0:
            raise CurateError("mix weights must be non-negative, one per source, and not all zero")
        self.sources, self.context = sources, context
        self.p = np.asarray(weights, dtype=np.float64) / total
        self.rng = np.random.default_rng(seed)
        self.drawn = np.zeros(len(sources), dtype=np.int64)  # tokens trained on, per source

    def batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        which = self.rng.choice(len(self.sources), size=batch_size, p=self.p) if len(self.sources) > 1 \
            else np.zeros(batch_size, dtype=np.int64)
        offsets = self.rng.random(batch_size)
        rows = np.empty((batch_size, self.context + 1), dtype=np.int64)
        for row, (s, u) in enumerate(zip(which, offsets)):
            tokens = self.sources[s].tokens
            start = int(u * (len(tokens) - self.context))  # windows of context+1 fit: start <= len-context-1
            rows[row] = tokens[start:start + self.context + 1]
            self.drawn[s] += self.context
        return rows[:, :-1], rows[:, 1:]

    def epochs(self) -> float:
        """Passes over the most repeated source: tokens trained on / tokens it has."""
        return float(max(d / len(s.tokens) for d, s in zip(self.drawn, self.sources)))


@dataclass
class EvalSet:
    """Fixed consecutive windows of one held-out text: the same ones for every run."""

    name: str
    inputs: np.ndarray  # (windows, context)
    targets: np.ndarray
    covered: np.ndarray  # bytes each target token covers
    stream: TokenStream

    @property
    def n_bytes(self) -> int:
        return int(self.covered.sum())


def eval_set(stream: TokenStream, context: int, max_tokens: int) -> EvalSet:
    """The first `max_tokens` predicted tokens of `stream`, as windows of `context`: window i
    reads tokens [i*context, (i+1)*context) and predicts each one's successor."""
    windows = min(max_tokens // context, (len(stream.tokens) - 1) // context)
    if windows < 1:
        raise CurateError(f"eval set {stream.name}: {len(stream.tokens)} tokens, fewer than one window of "
                          f"{context + 1}")
    n = windows * context
    tokens = stream.tokens[:n + 1].astype(np.int64)
    inputs = tokens[:-1].reshape(windows, context)
    targets = tokens[1:].reshape(windows, context)
    covered = stream.covered[1:n + 1].reshape(windows, context)
    return EvalSet(stream.name, inputs, targets, covered, stream)


def documents_of(stream: TokenStream, eod: int) -> list[np.ndarray]:
    """The stream's documents, each with its end-of-document token."""
    ends = np.flatnonzero(stream.tokens == eod) + 1
    return np.split(stream.tokens, ends[:-1]) if len(ends) else [stream.tokens]


def subsample(stream: TokenStream, eod: int, mode: str, number: int) -> TokenStream:
    """Data subsample `number` of a stream, for noise from the data as well as the seed.
    halves: subsamples 2k and 2k+1 are the two disjoint halves of the documents under the k-th
    seeded split; bootstrap: as many documents as the stream has, drawn with replacement by seed
    `number`."""
    documents = documents_of(stream, eod)
    if mode == "halves":
        order = np.random.default_rng(number // 2).permutation(len(documents))
        half = len(documents) // 2
        chosen = np.sort(order[:half] if number % 2 == 0 else order[half:])
    else:
        chosen = np.random.default_rng(number).integers(0, len(documents), len(documents))
    if not len(chosen):
        raise CurateError(f"{stream.name}: too few documents to subsample")
    tokens = np.concatenate([documents[i] for i in chosen])
    return TokenStream(f"{stream.name} (subsample {number})", tokens, None, len(chosen), stream.skipped,
                       byte_count=round(stream.n_bytes * len(tokens) / max(len(stream.tokens), 1)))


def document_counts(stream: TokenStream, eod: int) -> Counter:
    """{hash of a document's tokens: tokens}, summed over equal documents: what two variants'
    data share is the sum of the minima (curate/train/verdicts.py's 'same data')."""
    import xxhash

    counts: Counter = Counter()
    for doc in documents_of(stream, eod):
        counts[xxhash.xxh3_64_intdigest(doc.tobytes())] += len(doc)
    return counts
