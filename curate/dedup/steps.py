"""Dedup as pipeline stages that work across tasks and machines (all share WORK = a folder,
OUTPUT.curate/staging/dedup under `curate run`, removed when the run completes):

stage 1, every task  DedupSignatures: exact hash + MinHash band keys of each document ->
                     WORK/bands/<band>/<rank>.{keys,rows}.npy (sorted), document ids and keep
                     scores -> WORK/keys/<rank>.parquet; the documents themselves are staged by
                     StageDocuments into WORK/docs/<rank>.parquet, in the same order.
stage 2, one task    DedupClusters: band by band, key range by key range, equal keys -> union-find
                     -> per task WORK/clusters/<rank>.parquet: row, cluster size, kept id, removal.
stage 3, every task  ReadStaged -> ExactDedupFilter -> FuzzyDedupFilter -> ...

dedup_steps() returns them with the Stage markers between the stages. The hashing, staging,
clustering and re-reading are `internal` blocks: the funnel shows the two filters, and counts the
machinery's CPU seconds in the exact filter's row.

Kept document of a cluster (exact group or fuzzy cluster): the highest `keep_highest` score when
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
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate.storage import glob as files_in
from curate.dedup.buckets import EXACT, band_names, duplicate_runs, write_band
from curate.dedup.clusters import UnionFind, keepers
from curate.dedup.lsh import MinHashConfig, band_keys
from curate.dedup.normalise import normalise_bytes
from curate.dedup.verify import Similarity, greedy_keepers, staged_files, verified_edges
from curate.dedup import verify
from curate import storage
from curate.errors import CurateError
from curate.io.parquet import WriteParquet
from curate.step import BYTES_IN, BYTES_OUT, DOCS_IN, DOCS_OUT, Block, CurateStep, Funnel, RunContext, Stage, utf8_len

CLUSTER_COLUMNS = {"dup_cluster_id": pa.string(), "dup_cluster_size": pa.int64()}


class StagedDocument(Document):
    """A document read back from the staging, knowing its row there (for the dedup filters). The
    row is not metadata, so no writer, curate's or datatrove's, sees it."""

    __slots__ = ("dedup_row",)

KEYS_SCHEMA = pa.schema([("id", pa.string()), ("url", pa.string()), ("score", pa.float64()),
                         ("source", pa.string())])


class WorkFolder(Block):
    """A dedup step's shared folder: given, else the run's staging folder for dedup (removed when
    the run completes)."""

    work_dir: str | None = None

    def prepare(self, ctx: RunContext) -> None:
        super().prepare(ctx)
        if self.work_dir is None:
            self.work_dir = ctx.staging("dedup")

    def path(self, *parts: str) -> str:
        if self.work_dir is None:
            raise CurateError(f"{self.name}: no work folder: give work_dir, or run the pipeline with `curate run`")
        return storage.join(self.work_dir, *parts)


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
        signatures: list[np.ndarray] = []
        batch: list[Document] = []

        def flush():
            start = time.process_time()
            norms = [normalise_bytes(doc.text) for doc in batch]
            if self.exact:
                bands[EXACT].append(np.array([xxhash.xxh3_64_intdigest(s) for s in norms], np.uint64))
            if hasher is not None:
                sig = hasher.signatures_normalised(norms)
                signatures.append(sig)
                keys = band_keys(sig, self.fuzzy.bands, self.fuzzy.rows)
                keys[np.array([not s for s in norms], bool)] = 0  # documents without words: no fuzzy key
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
                verify.save(self.path(), rank, np.concatenate(signatures) if signatures
                            else np.zeros((0, self.fuzzy.num_perm), np.uint32))
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
        table = pa.table({"id": ids, "url": urls, "score": scores, "source": sources}, schema=KEYS_SCHEMA)
        write_parquet(table, self.path("keys", f"{rank:05d}.parquet"))


class DedupClusters(WorkFolder, PipelineStep):
    """Stage 2 (one task): clusters and kept documents from every task's band files."""

    name = "dedup_group"
    type = "curate"
    internal = True

    def __init__(self, work_dir: str | None = None, exact: bool = True, fuzzy: MinHashConfig | None = MinHashConfig(),
                 max_records: int = 1 << 24):
        super().__init__()
        self.work_dir, self.exact, self.fuzzy, self.max_records = work_dir, exact, fuzzy, max_records

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        refuse_upstream(self, data)
        funnel = Funnel()
        start = time.process_time()
        try:
            self.cluster(funnel)
            yield from ()
        finally:
            funnel.cpu_s += time.process_time() - start
            funnel.flush(self)

    def cluster(self, funnel: Funnel) -> None:
        key_files = files_in(self.path(), "keys/[0-9]*[0-9].parquet")
        tasks = len(key_files)
        counts = [read_parquet_file(f).metadata.num_rows for f in key_files]
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        total = int(offsets[-1])
        funnel.counts[DOCS_IN] = funnel.counts[DOCS_OUT] = total
        similar = None
        if self.fuzzy is not None and self.fuzzy.verify:
            similar = Similarity(self.path(), offsets, self.fuzzy.threshold, self.fuzzy.num_perm, self.fuzzy.n_grams)
        try:
            roots, exact_roots = self._components(total, offsets, similar, funnel)
            members = np.flatnonzero(np.bincount(roots, minlength=total)[roots] > 1)
            ids, priority = self._priority(key_files, offsets, members)
            keeper, exact_removed = self._keepers(members, roots, exact_roots, priority, similar)
        finally:
            if similar is not None:
                funnel.counts["pairs_estimated"] += similar.checked["estimated"]
                funnel.counts["pairs_checked_exactly"] += similar.checked["exact"]
                similar.close()
        # a component member that no kept document is similar to is kept alone: no duplicate
        size = np.bincount(keeper, minlength=len(members))[keeper]
        grouped = np.flatnonzero(size > 1)
        kept = keeper[grouped] == grouped
        removed = np.where(kept, "", np.where(exact_removed[grouped], "exact", "fuzzy")).astype(object)
        kept_ids = ids.take(pa.array(keeper[grouped]))
        members, size = members[grouped], size[grouped]
        funnel.counts["clusters"] += int(kept.sum())
        funnel.counts["in_clusters"] += len(members)
        funnel.counts["to_remove.exact"] += int((removed == "exact").sum())
        funnel.counts["to_remove.fuzzy"] += int((removed == "fuzzy").sum())
        task_of = np.searchsorted(offsets, members, "right") - 1
        for task in range(tasks):
            mine = np.flatnonzero(task_of == task)
            table = pa.table({"row": pa.array(members[mine] - offsets[task], pa.int64()),
                              "size": pa.array(size[mine], pa.int64()),
                              "kept_id": kept_ids.take(pa.array(mine)),
                              "removed": pa.array(removed[mine].tolist(), pa.string())})
            write_parquet(table, self.path("clusters", f"{task:05d}.parquet"))

    def _components(self, total: int, offsets: np.ndarray, similar: Similarity | None,
                    funnel: Funnel) -> tuple[np.ndarray, np.ndarray | None]:
        """Component root of every document (exact groups and verified band matches), and of the
        exact groups alone (None without exact dedup)."""
        uf = UnionFind(total)
        exact_roots = None
        for band in band_names(self.fuzzy.bands if self.fuzzy else 0, self.exact):
            for docs, starts in duplicate_runs(self.path(), band, offsets, self.max_records):
                if band == EXACT or similar is None:
                    uf.union_groups(docs, starts)
                    continue
                first, other = verified_edges(docs, starts, similar)
                funnel.counts["candidate_pairs"] += len(docs) - (len(starts) - 1)
                funnel.counts["verified_pairs"] += len(first)
                uf.union(first, other)
            if band == EXACT:
                exact_roots = uf.roots().copy()
        return uf.roots(), exact_roots

    def _keepers(self, members: np.ndarray, roots: np.ndarray, exact_roots: np.ndarray | None,
                 priority: np.ndarray, similar: Similarity | None) -> tuple[np.ndarray, np.ndarray]:
        """For each member (of a component of two or more): the member kept for it (an index into
        `members`; itself when kept), and whether it goes as an exact duplicate. An exact group
        keeps its first document in keep order; near duplicates are then resolved among the
        groups' kept documents, greedily against the signatures when verifying (verify.py)."""
        n = len(members)
        if exact_roots is not None:
            exact_keeper, _, exact_kept = keepers(members, exact_roots[members], priority)
        else:
            exact_keeper, exact_kept = np.arange(n), np.ones(n, bool)
        heads = np.flatnonzero(exact_kept)
        if similar is not None:
            chosen = greedy_keepers(members[heads], roots[members[heads]], priority[heads], similar)
        else:
            chosen, _, _ = keepers(members[heads], roots[members[heads]], priority[heads])
        keeper = np.empty(n, np.int64)
        keeper[heads] = heads[chosen]
        keeper[~exact_kept] = keeper[exact_keeper[~exact_kept]]
        return keeper, ~exact_kept

    def _priority(self, key_files, offsets, members) -> tuple[pa.Array, np.ndarray]:
        """ids of `members` and their rank under the keep rule (0 = kept first)."""
        parts = []
        for task, path in enumerate(key_files):
            lo, hi = np.searchsorted(members, [offsets[task], offsets[task + 1]])
            if hi > lo:
                parts.append(read_parquet_file(path).read().take(pa.array(members[lo:hi] - offsets[task])))
        table = pa.concat_tables(parts) if parts else KEYS_SCHEMA.empty_table()
        table = pa.table({"score": pc.fill_null(table.column("score"), -np.inf), "id": table.column("id"),
                          "url": pc.fill_null(table.column("url"), ""),
                          "source": pc.fill_null(table.column("source"), ""), "index": pa.array(members, pa.int64())})
        order = pc.sort_indices(table, sort_keys=[("score", "descending"), ("id", "ascending"),
                                                  ("url", "ascending"), ("source", "ascending"),
                                                  ("index", "ascending")]).to_numpy()
        priority = np.empty(len(order), np.int64)
        priority[order] = np.arange(len(order))
        return table.column("id").combine_chunks(), priority


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


def write_parquet(table: pa.Table, path: str) -> None:
    data = pa.BufferOutputStream()
    pq.write_table(table, data)
    storage.write_bytes(path, data.getvalue().to_pybytes())


def read_parquet_file(path: str) -> pq.ParquetFile:
    return pq.ParquetFile(storage.open_file(path))


def refuse_upstream(step: PipelineStep, data) -> None:
    """Stages 2 and 3 start a stage: documents from a step before them mean the pipeline was run
    as one list by an executor that does not know curate's stages."""
    for _ in data or ():
        raise CurateError(f"{step.name} starts a new stage but got documents from the step before it: run the "
                          "pipeline with `curate run`, or one executor per stage of curate.run.split_stages()")


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
        path = self.path("clusters", f"{rank:05d}.parquet")
        if not storage.exists(path):  # the clustering stage writes one file per task, empty or not
            raise CurateError(f"{self.name}: no clusters for task {rank} in {self.work_dir}: the clustering stage "
                              "(DedupClusters, one task) must run, with as many tasks before it, first")
        table = read_parquet_file(path).read().to_pydict()
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
                keep_highest: str | None = None) -> list:
    """Exact-then-fuzzy dedup as steps to put in a pipeline's list, between the filters and the
    writer: three stages, split by Stage markers. `work_dir`: the shared folder (default the run's
    staging folder, OUTPUT.curate/staging/dedup)."""
    filters = ([ExactDedupFilter(work_dir)] if exact else []) + ([FuzzyDedupFilter(work_dir)] if fuzzy else [])
    return [DedupSignatures(work_dir, exact, fuzzy, keep_highest), StageDocuments(work_dir),
            Stage(tasks=1), DedupClusters(work_dir, exact, fuzzy),
            Stage(), ReadStaged(work_dir), *filters]
