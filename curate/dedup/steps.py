"""Dedup as pipeline stages that work across tasks and machines (all share WORK = a folder,
OUTPUT.curate/staging/dedup under `curate run`, removed when the run completes):

stage 1, every task  DedupSignatures: exact hash + MinHash band keys of each document ->
                     WORK/bands/<band>/<rank>.{keys,rows}.npy (sorted), document ids, keep
                     scores and exact hashes -> WORK/keys/<rank>.parquet, signatures ->
                     WORK/sigs/<rank>.npy, shingle hashes (for the exact checks) ->
                     WORK/shingles/<rank>.{bin,index.npy}; the documents themselves are staged by
                     StageDocuments into WORK/docs/<n>_<rank>.parquet, in the same order.
clustering           components.py: index (1 task), edges, K rounds of label propagation,
                     members, keepers (every task) -> WORK/clusters/<k>.parquet, rows by
                     stage-1 task: row, cluster size, kept id, removal.
last stage           ReadStaged -> ExactDedupFilter -> FuzzyDedupFilter -> ...

dedup_steps() returns them with the Stage markers between the stages. The hashing, staging,
clustering and re-reading are `internal` blocks: the funnel shows the two filters, and counts the
machinery's CPU seconds in the exact filter's row.

Kept document of a cluster (exact group or verified fuzzy cluster, verify.py): the highest `keep_highest` score when
that column is set (missing scores count lowest), then the smallest document id, then the
smallest url, then the smallest source file name (the same record in two input files), then the
earlier in its file. The rule and the clusters depend only on the documents, so the kept set is
the same whatever the number of tasks. Exact groups are settled first: a document removed as an exact
duplicate has a kept twin with the same normalised text unless its whole fuzzy cluster, which
always contains its exact group, keeps another.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate import storage
from curate.dedup import verify
from curate.dedup.buckets import EXACT, band_names, write_band
from curate.dedup.components import cluster_steps
from curate.dedup.lsh import MinHashConfig, band_keys
from curate.dedup.normalise import exact_hashes, normalise_batch
from curate.dedup.parts import read_part
from curate.dedup.shingles import ShingleSpool
from curate.dedup.work import KEY_ROWS_PER_GROUP, KEYS_SCHEMA, WorkFolder, read_parquet_file, refuse_upstream, write_parquet
from curate.errors import CurateError
from curate.io.parquet import WriteParquet
from curate.step import BYTES_IN, BYTES_OUT, DOCS_IN, DOCS_OUT, CurateStep, Funnel, RunContext, Stage, utf8_len

CLUSTER_COLUMNS = {"dup_cluster_id": pa.string(), "dup_cluster_size": pa.int64()}


class StagedDocument(Document):
    """A document read back from the staging, knowing its row there (for the dedup filters). The
    row is not metadata, so no writer, curate's or datatrove's, sees it."""

    __slots__ = ("dedup_row",)



class DedupSignatures(WorkFolder, PipelineStep):
    """Stage 1: hash every document (passes all of them on, unchanged)."""

    name = "dedup_hash"
    type = "curate"
    internal = True

    def __init__(self, work_dir: str | None = None, exact: bool = True, fuzzy: MinHashConfig | None = MinHashConfig(),
                 keep_highest: str | None = None, batch_size: int = 512):
        super().__init__()
        if not exact and fuzzy is None:
            raise CurateError("dedup: nothing to do: enable exact or fuzzy dedup")
        self.work_dir, self.exact, self.fuzzy = work_dir, exact, fuzzy
        self.keep_highest, self.batch_size = keep_highest, batch_size

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        hasher = self.fuzzy.hasher() if self.fuzzy else None
        funnel = Funnel()
        bands: dict[str, list[np.ndarray]] = {name: [] for name in band_names(self.fuzzy.bands if self.fuzzy else 0,
                                                                                 self.exact)}
        ids, urls, scores, sources = [], [], [], []
        signatures = verify.SignatureSpool(self.fuzzy.num_perm) if self.fuzzy else None
        shingles = ShingleSpool() if self.fuzzy is not None and self.fuzzy.verify else None
        batch: list[Document] = []

        def flush():
            start = time.process_time()
            norms, offsets = normalise_batch([doc.text for doc in batch])
            if self.exact:
                bands[EXACT].append(exact_hashes(norms, offsets))
            if hasher is not None:
                if shingles is not None:  # the exact checks' sets too (verify.py), shingled once
                    sig, hashes, hash_offsets = hasher.signatures_and_shingles(norms, offsets)
                    shingles.add(hashes, hash_offsets)
                else:
                    sig = hasher.signatures_normalised(norms, offsets)
                signatures.add(sig)
                keys = band_keys(sig, self.fuzzy.bands, self.fuzzy.rows)
                keys[np.diff(offsets) == 0] = 0  # documents without words: no fuzzy key
                for b in range(self.fuzzy.bands):
                    bands[f"{b:03d}"].append(keys[:, b])
            for doc in batch:
                ids.append(doc.id)
                urls.append(doc.metadata.get("url"))
                sources.append(doc.metadata.get("source_file"))
                score = doc.metadata.get(self.keep_highest) if self.keep_highest else None
                scores.append(float(score) if isinstance(score, (int, float)) else None)
                funnel.counts[DOCS_IN] += 1
                funnel.counts[DOCS_OUT] += 1
                size = utf8_len(doc.text)
                funnel.counts[BYTES_IN] += size
                funnel.counts[BYTES_OUT] += size
            funnel.cpu_s += time.process_time() - start
            batch.clear()

        try:
            for doc in data or ():
                batch.append(doc)
                if len(batch) >= self.batch_size:
                    done = list(batch)
                    flush()
                    yield from done
            done = list(batch)
            flush()
            yield from done
            self._save(rank, bands, ids, urls, scores, sources)
            if self.fuzzy is not None:
                signatures.save(self.path(), rank)
            if shingles is not None:
                shingles.save(self.path(), rank)
        finally:
            funnel.flush(self)

    def _save(self, rank, bands, ids, urls, scores, sources) -> None:
        rows_all = np.arange(len(ids), dtype=np.uint32)
        for name, parts in bands.items():
            keys = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
            rows = rows_all
            if name != EXACT:  # documents without words have key 0 in every band: leave them out
                rows, keys = rows[keys != 0], keys[keys != 0]
            write_band(self.path(), name, rank, keys, rows)
        hashes = bands.get(EXACT)  # the exact band's keys are the documents' exact hashes, in row order
        exact = pa.array(np.concatenate(hashes), pa.uint64()) if hashes else pa.nulls(len(ids), pa.uint64())
        table = pa.table({"id": ids, "url": urls, "score": scores, "source": sources, "exact": exact},
                         schema=KEYS_SCHEMA)
        # row groups small enough that the members stage reads only the groups of its node range
        write_parquet(table, self.path("keys", f"{rank:05d}.parquet"), KEY_ROWS_PER_GROUP)


def staged_files(work_dir: str, rank: int) -> list[str]:
    """Task `rank`'s staged documents (WORK/docs), in the order ReadStaged numbers their rows."""
    # the writer names files <counter>_<rank>.parquet, and writes none for a task without documents
    return storage.glob(work_dir, f"docs/*_{rank:05d}.parquet")


class ReadStaged(WorkFolder, PipelineStep):
    """Stage 3's reader: this task's staged documents, with every column back as metadata."""

    name = "read_staged"
    type = "curate"
    internal = True

    def __init__(self, work_dir: str | None = None, batch_size: int = 1024):
        super().__init__()
        self.work_dir, self.batch_size = work_dir, batch_size

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        refuse_upstream(self, data)
        paths = staged_files(self.path(), rank)
        funnel = Funnel()
        row = 0
        try:
            start = time.process_time()
            batches = (batch for path in paths
                       for batch in read_parquet_file(path).iter_batches(batch_size=self.batch_size))
            for batch in batches:
                for record in batch.to_pylist():
                    text, doc_id = record.pop("text"), record.pop("id")
                    doc = StagedDocument(text=text, id=doc_id, metadata=record)
                    doc.dedup_row = row
                    row += 1
                    funnel.counts[DOCS_IN] += 1
                    funnel.counts[DOCS_OUT] += 1
                    size = utf8_len(text)
                    funnel.counts[BYTES_IN] += size
                    funnel.counts[BYTES_OUT] += size
                    funnel.cpu_s += time.process_time() - start
                    yield doc
                    start = time.process_time()
        finally:
            funnel.flush(self)


class DedupFilter(WorkFolder, CurateStep):
    """Stage 3: drop the exact (ExactDedupFilter) or near (FuzzyDedupFilter) duplicates that are
    not their cluster's kept document; set dup_cluster_id (the kept document's id; null when the
    document has no duplicate) and dup_cluster_size."""

    columns = CLUSTER_COLUMNS
    mode = reason = ""

    def __init__(self, work_dir: str | None = None, name: str | None = None):
        super().__init__(name)
        self.work_dir = work_dir
        self._clusters: dict = {}

    def setup(self, rank: int, world_size: int) -> None:
        files = storage.glob(self.path(), "clusters/[0-9]*.parquet")
        if not files:  # every keepers task writes its file, empty or not
            raise CurateError(f"{self.name}: no clusters in {self.work_dir}: the clustering stages of dedup_steps() "
                              "must run first, with as many tasks before them as this stage has")
        found = read_part(files, rank, ["row", "size", "kept_id", "removed"])
        table = found.to_pydict() if found is not None else {"row": [], "size": [], "kept_id": [], "removed": []}
        self._clusters = {row: (size, kept_id, removed) for row, size, kept_id, removed
                          in zip(table["row"], table["size"], table["kept_id"], table["removed"])}

    def process(self, doc: Document) -> str | None:
        if not isinstance(doc, StagedDocument):
            raise CurateError(f"{self.name}: expects the documents ReadStaged yields (stage 3 of dedup_steps())")
        found = self._clusters.get(doc.dedup_row)
        if found is None:
            doc.metadata["dup_cluster_id"], doc.metadata["dup_cluster_size"] = None, 1
            return None
        size, kept_id, removed = found
        doc.metadata["dup_cluster_id"], doc.metadata["dup_cluster_size"] = kept_id, size
        return self.reason if removed == self.mode else None


class ExactDedupFilter(DedupFilter):
    name = "dedup_exact"
    mode, reason = "exact", "exact_duplicate"


class FuzzyDedupFilter(DedupFilter):
    name = "dedup_fuzzy"
    mode, reason = "fuzzy", "near_duplicate"


class StageDocuments(WorkFolder, WriteParquet):
    """Stage 1's copy of every document, for stage 3 to filter (WORK/docs/)."""

    name = "dedup_stage"
    internal = True

    def __init__(self, work_dir: str | None = None):
        super().__init__(storage.join(work_dir, "docs") if work_dir else "")
        self.work_dir = work_dir

    def prepare(self, ctx: RunContext) -> None:
        super().prepare(ctx)
        self.output_folder = self.path("docs")


def dedup_steps(work_dir: str | None = None, exact: bool = True, fuzzy: MinHashConfig | None = MinHashConfig(),
                keep_highest: str | None = None, rounds: int = 3, cluster_tasks: int | None = None) -> list:
    """Exact-then-fuzzy dedup as steps to put in a pipeline's list, between the filters and the
    writer, split into stages by Stage markers: signatures, the clustering's stages
    (components.py; `rounds` of label propagation; `cluster_tasks` tasks each, default the run's
    `--tasks`, and may be more: a clustering task's memory is its 1/cluster_tasks share),
    then the filters. `work_dir`: the shared folder (default the run's staging folder,
    OUTPUT.curate/staging/dedup)."""
    if not isinstance(rounds, int) or rounds < 1:
        raise CurateError(f"dedup_steps: rounds must be a positive integer, got {rounds!r}")
    if cluster_tasks is not None and (not isinstance(cluster_tasks, int) or isinstance(cluster_tasks, bool)
                                      or cluster_tasks < 1):
        raise CurateError(f"dedup_steps: cluster_tasks must be a positive integer or None, got {cluster_tasks!r}")
    filters = ([ExactDedupFilter(work_dir)] if exact else []) + ([FuzzyDedupFilter(work_dir)] if fuzzy else [])
    clustering = []
    for stage in cluster_steps(work_dir, exact, fuzzy, rounds):
        index = stage[0].name == "dedup_index"  # one task; the others exactly cluster_tasks, even above --tasks
        clustering += [Stage(tasks=1) if index else Stage(tasks=cluster_tasks, cap=False), *stage]
    return [DedupSignatures(work_dir, exact, fuzzy, keep_highest), StageDocuments(work_dir), *clustering,
            Stage(), ReadStaged(work_dir), *filters]


def dedup_in_process(texts: list[str], work_dir: str, exact: bool = True,
                     fuzzy: MinHashConfig | None = MinHashConfig(), tasks: int = 1, rounds: int = 3
                     ) -> dict[int, tuple[int, str]]:
    """Every dedup stage, task after task, in this process, over `texts` dealt round-robin to
    `tasks` tasks (tests, benchmarks, notebooks): for each text in a cluster of two or more, the
    index of the text kept for it (itself when kept) and how it goes ("exact", "fuzzy" or "")."""
    from datatrove.data import Document

    from curate.dedup.components import cluster_in_process

    for rank in range(tasks):
        hashed = DedupSignatures(work_dir, exact, fuzzy).run(
            # zero-padded ids: the keep rule's smallest id is the smallest index
            (Document(text=texts[i], id=f"{i:012d}") for i in range(rank, len(texts), tasks)), rank, tasks)
        for _ in StageDocuments(work_dir).run(hashed, rank, tasks):
            pass
    cluster_in_process(work_dir, exact, fuzzy, tasks, rounds)
    clusters = {}
    files = storage.glob(work_dir, "clusters/[0-9]*.parquet")
    for rank in range(tasks):
        found = read_part(files, rank, ["row", "kept_id", "removed"])
        for row, kept, how in zip(*(found.column(c).to_pylist() for c in ("row", "kept_id", "removed"))) \
                if found is not None else ():
            clusters[rank + row * tasks] = (int(kept), how)
    return clusters
