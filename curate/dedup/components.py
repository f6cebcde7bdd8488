"""Dedup clusters across tasks: no task holds the corpus, whatever its size.

Between signatures (stage 1) and the filters (the last stage), dedup_steps() runs these stages,
each R tasks (`cluster_tasks`, default the run's `--tasks`, may be more), except the first (one
task, a few bytes of work):

  DedupIndex    1 task  every stage-1 task's document count -> WORK/offsets.npy (global indices)
  DedupEdges    R       task r reads key range r of every band (1/R of the key space) of every
                        stage-1 task: equal keys are candidates, verified (verify.py) -> edges;
                        compressed to a spanning forest of its own edges -> WORK/edges/r
  DedupLabels   R, x K  round i: task p holds the nodes p of R contiguous index ranges; each takes
                        the smallest label among its neighbours (min-label propagation); only
                        nodes whose label changed tell their neighbours -> WORK/labels/i/p,
                        WORK/messages/i/p
  DedupMembers  R       the labels after K rounds; a message of the last round that still lowers
                        a label is a link between two labels (-> WORK/links/p); each node with
                        its label and keep-rule fields -> WORK/members/p, by a hash of the label
  DedupKeepers  R       task k: the links of every task join labels (a union-find over labels
                        only); the components whose final label hashes to k, resolved in keep
                        order (exact groups, then verified greedy keepers) -> WORK/clusters/k,
                        rows by stage-1 task

Min-label propagation converges in as many rounds as the longest shortest path to a component's
smallest node; the forests of stage 2 are stars, so a few rounds settle nearly everything, and the
links finish the rest exactly. Memory per task: stage 2 its key range (at most `max_records` band
records at once) and its edges; rounds and members their node range's edges; keepers their
components' members. docs/dedup.md has the arithmetic for 10 billion documents.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate import storage
from curate.dedup.buckets import EXACT, band_names, duplicate_runs, key_range
from curate.dedup.clusters import UnionFind, keepers
from curate.dedup.lsh import MinHashConfig
from curate.dedup.parts import hashed_part, part_of, read_part, write_parts
from curate.dedup.shingles import ShingleStore
from curate.dedup.verify import SignatureFiles, Similarity, greedy_keepers
from curate.dedup.work import KEYS_SCHEMA, WorkFolder, by_task, read_parquet_file, refuse_upstream, take_rows, write_parquet
from curate.step import DOCS_IN, DOCS_OUT, Funnel

SMALL_GROUP = 8  # a band group this small has every pair verified (else each member against the first)


class ClusterStage(WorkFolder, PipelineStep):
    """A stage of the clustering: no documents in or out; `work(rank, world_size, funnel)`."""

    type = "curate"
    internal = True

    def __init__(self, work_dir: str | None = None, exact: bool = True, fuzzy: MinHashConfig | None = MinHashConfig()):
        super().__init__()
        self.work_dir, self.exact, self.fuzzy = work_dir, exact, fuzzy

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        refuse_upstream(self, data)
        funnel = Funnel()
        start = time.process_time()
        try:
            self.work(rank, world_size, funnel)
            yield from ()
        finally:
            funnel.cpu_s += time.process_time() - start
            funnel.flush(self)

    def work(self, rank: int, parts: int, funnel: Funnel) -> None:
        raise NotImplementedError

    def files(self, folder: str) -> list[str]:
        return storage.glob(self.path(), f"{folder}/[0-9]*.parquet")

    def offsets(self) -> np.ndarray:
        with storage.open_file(self.path("offsets.npy")) as f:
            return np.load(io.BytesIO(f.read()))

    @property
    def verifying(self) -> bool:
        return self.fuzzy is not None and self.fuzzy.verify


def _table(path: str) -> pa.Table:
    return read_parquet_file(path).read()


def _write(path: str, columns: dict) -> None:
    write_parquet(pa.table(columns), path)


class DedupIndex(ClusterStage):
    name = "dedup_index"

    def work(self, rank: int, parts: int, funnel: Funnel) -> None:
        counts = [read_parquet_file(f).metadata.num_rows for f in storage.glob(self.path(), "keys/[0-9]*[0-9].parquet")]
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        data = io.BytesIO()
        np.save(data, offsets)
        storage.write_bytes(self.path("offsets.npy"), data.getvalue())
        funnel.counts[DOCS_IN] = funnel.counts[DOCS_OUT] = int(offsets[-1])


def candidate_pairs(docs: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs to check in a band's groups: all pairs of a small group, each member against the
    first in a larger one (the pairs of a small group do not depend on how tasks were split)."""
    sizes = np.diff(starts)
    first = np.repeat(docs[starts[:-1]], sizes)
    big = np.repeat(sizes > SMALL_GROUP, sizes)
    a, b = [first[big & (docs != first)]], [docs[big & (docs != first)]]
    for size in np.unique(sizes[sizes <= SMALL_GROUP]):
        groups = docs[np.add.outer(starts[:-1][sizes == size], np.arange(size))]  # (groups, size)
        i, j = np.triu_indices(size, 1)
        a.append(groups[:, i].ravel())
        b.append(groups[:, j].ravel())
    return np.concatenate(a), np.concatenate(b)


class DedupEdges(ClusterStage):
    name = "dedup_edges"

    def __init__(self, work_dir: str | None = None, exact: bool = True, fuzzy: MinHashConfig | None = MinHashConfig(),
                 max_records: int = 1 << 24):
        super().__init__(work_dir, exact, fuzzy)
        self.max_records = max_records

    def work(self, rank: int, parts: int, funnel: Funnel) -> None:
        offsets = self.offsets()
        total = int(offsets[-1])
        similar = None
        if self.verifying:
            similar = Similarity(SignatureFiles(self.path(), offsets).rows, ShingleStore(self.path(), offsets),
                                 self.fuzzy.threshold, self.fuzzy.num_perm)
        us, vs = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        candidates = [np.zeros((0, 3), np.int64)]  # a < b, the band that proposed them
        for band in band_names(self.fuzzy.bands if self.fuzzy else 0, self.exact):
            for docs, starts in duplicate_runs(self.path(), band, offsets, self.max_records, key_range(rank, parts)):
                if band == EXACT or similar is None:
                    first = np.repeat(docs[starts[:-1]], np.diff(starts))
                    us.append(first[first != docs])
                    vs.append(docs[first != docs])
                else:
                    a, b = candidate_pairs(docs, starts)
                    candidates.append(np.stack([np.minimum(a, b), np.maximum(a, b), np.full(len(a), int(band))], axis=1))
        if similar is not None:
            # a near-duplicate pair collides in several bands, of this task and of others: each pair
            # is checked once here, with the lowest of its bands here, and only by the task of the
            # lowest band its signatures agree on (the texts of the pairs near the threshold are
            # read a row group at a time)
            pairs = np.concatenate(candidates)
            pairs = pairs[np.lexsort((pairs[:, 2], pairs[:, 1], pairs[:, 0]))]
            first = np.ones(len(pairs), bool)
            first[1:] = (pairs[1:, 0] != pairs[:-1, 0]) | (pairs[1:, 1] != pairs[:-1, 1])
            pairs = pairs[first]
            ok = similar(pairs[:, 0], pairs[:, 1], pairs[:, 2], self.fuzzy.rows)
            funnel.counts["candidate_pairs"] += len(pairs)
            funnel.counts["pairs_checked_here"] += similar.checked["estimated"]
            funnel.counts["verified_pairs"] += int(ok.sum())
            funnel.counts["pairs_checked_exactly"] += similar.checked["exact"]
            us.append(pairs[ok, 0])
            vs.append(pairs[ok, 1])
        node, root = spanning_forest(np.concatenate(us), np.concatenate(vs))
        funnel.counts["edges"] += len(node)
        a, b = np.concatenate((node, root)), np.concatenate((root, node))  # both ends learn of the edge
        write_parts(self.path("edges", f"{rank:05d}.parquet"), {"a": a, "b": b}, part_of(a, total, parts))


def smallest_in_component(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The nodes of the graph with edges u-v (sorted), and the smallest node of each one's component."""
    nodes, inverse = np.unique(np.concatenate((u, v)), return_inverse=True)
    uf = UnionFind(len(nodes))
    uf.union(inverse[: len(u)], inverse[len(u):])
    return nodes, nodes[uf.roots()]  # a root is its component's smallest index, so its smallest node


def spanning_forest(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same components with fewer edges: (node, smallest node of its component) for every
    node but the smallest."""
    nodes, smallest = smallest_in_component(u, v)
    other = nodes != smallest
    return nodes[other], smallest[other]


def _edges(stage: ClusterStage, part: int) -> tuple[np.ndarray, np.ndarray]:
    """This part's edges (a in the part), each once, sorted by a."""
    table = read_part(stage.files("edges"), part, ["a", "b"])
    if table is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = np.unique(np.stack([table.column("a").to_numpy(), table.column("b").to_numpy()], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _labels_path(stage: ClusterStage, round_: int, part: int) -> str:
    return stage.path("labels", f"{round_:02d}", f"{part:05d}.parquet")


def _messages(stage: ClusterStage, round_: int, part: int) -> tuple[np.ndarray, np.ndarray]:
    table = read_part(storage.glob(stage.path(), f"messages/{round_:02d}/[0-9]*.parquet"), part, ["node", "label"])
    if table is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return table.column("node").to_numpy(), table.column("label").to_numpy()


class DedupLabels(ClusterStage):
    """One round of min-label propagation over the edges (round 1 starts from the node ids)."""

    name = "dedup_labels"

    def __init__(self, round_: int, work_dir: str | None = None, exact: bool = True,
                 fuzzy: MinHashConfig | None = MinHashConfig()):
        super().__init__(work_dir, exact, fuzzy)
        self.round = round_
        self.name = f"dedup_labels_{round_}"  # names are unique in a pipeline

    def work(self, rank: int, parts: int, funnel: Funnel) -> None:
        total = int(self.offsets()[-1])
        a, b = _edges(self, rank)
        nodes, first = np.unique(a, return_index=True)
        if self.round == 1:  # every node knows its neighbours' ids
            before = nodes
            label = np.minimum(nodes, np.minimum.reduceat(b, first) if len(b) else nodes)
        else:
            previous = _table(_labels_path(self, self.round - 1, rank))
            before = previous.column("label").to_numpy()
            label = before.copy()
            node, sent = _messages(self, self.round - 1, rank)
            np.minimum.at(label, np.searchsorted(nodes, node), sent)
        changed = label != before
        funnel.counts[f"round_{self.round}_changed"] += int(changed.sum())
        _write(_labels_path(self, self.round, rank), {"node": nodes, "label": label})
        # only a changed label is news to the neighbours
        tell = changed[np.searchsorted(nodes, a)]
        to, news = b[tell], label[np.searchsorted(nodes, a[tell])]
        write_parts(self.path("messages", f"{self.round:02d}", f"{rank:05d}.parquet"), {"node": to, "label": news},
                    part_of(to, total, parts))


class DedupMembers(ClusterStage):
    """After the last round: links between labels that still differ across an edge, and every
    node's record (label, keep-rule fields, exact hash, signature), sent to its label's part."""

    name = "dedup_members"

    def __init__(self, rounds: int, work_dir: str | None = None, exact: bool = True,
                 fuzzy: MinHashConfig | None = MinHashConfig()):
        super().__init__(work_dir, exact, fuzzy)
        self.rounds = rounds

    def work(self, rank: int, parts: int, funnel: Funnel) -> None:
        offsets = self.offsets()
        labels = _table(_labels_path(self, self.rounds, rank))
        nodes, label = labels.column("node").to_numpy(), labels.column("label").to_numpy()
        node, sent = _messages(self, self.rounds, rank)
        own = label[np.searchsorted(nodes, node)]
        differ = sent != own
        lo, hi = np.minimum(sent, own)[differ], np.maximum(sent, own)[differ]
        funnel.counts["links"] += int(differ.sum())
        _write(self.path("links", f"{rank:05d}.parquet"), {"lo": lo, "hi": hi})
        columns = {"node": nodes, "label": label, **self._records(nodes, offsets)}
        # by a hash of the label, not its range: a label is its component's smallest node, so low
        # ranges hold more components (at 10M documents on 64 tasks the first range held 2.4 times
        # the average, and its keepers task was the largest of the clustering)
        write_parts(self.path("members", f"{rank:05d}.parquet"), columns, hashed_part(label, parts))

    def _records(self, nodes: np.ndarray, offsets: np.ndarray) -> dict:
        """Keep-rule fields and exact hash of `nodes` (sorted, from a contiguous range of indices:
        only the row groups of the stage-1 key files that hold them are read). Not the signatures:
        the keepers read those from the signature files for the pairs they check (512 bytes a
        member at 128 permutations, four times the rest of its row)."""
        tables = [take_rows(self.path("keys", f"{task:05d}.parquet"), rows) for task, _, rows in by_task(offsets, nodes)]
        table = pa.concat_tables(tables) if tables else KEYS_SCHEMA.empty_table()
        return {name: table.column(name) for name in ("id", "url", "score", "source", "exact")}


def label_classes(stage: ClusterStage) -> tuple[np.ndarray, np.ndarray]:
    """The labels that links join (sorted), and the smallest label of each one's class."""
    tables = [t for t in (_table(f) for f in stage.files("links")) if t.num_rows]
    if not tables:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    links = pa.concat_tables(tables)
    return smallest_in_component(links.column("lo").to_numpy(), links.column("hi").to_numpy())


def final_labels(labels: np.ndarray, linked: np.ndarray, smallest: np.ndarray) -> np.ndarray:
    """Each label after the links: the smallest label of its class (itself when it has no link)."""
    final = np.array(labels, np.int64)
    if len(linked):
        at = np.minimum(np.searchsorted(linked, final), len(linked) - 1)
        hit = linked[at] == final
        final[hit] = smallest[at[hit]]
    return final


class DedupKeepers(ClusterStage):
    """Components by final label, resolved in keep order; cluster rows for stage-1 tasks."""

    name = "dedup_keepers"

    def work(self, rank: int, parts: int, funnel: Funnel) -> None:
        offsets = self.offsets()
        linked, smallest = label_classes(self)
        # this task's components: final label in its part; a relabelled one was sent to its old label's part
        moved_in = hashed_part(smallest, parts) == rank
        wanted = {rank} | set(hashed_part(linked[moved_in], parts).tolist())
        tables = [t for part in sorted(wanted) if (t := read_part(self.files("members"), part)) is not None]
        if not tables:
            _write_clusters(self, rank, offsets, np.zeros(0, np.int64), np.zeros(0, np.int64), pa.array([], pa.string()),
                            np.zeros(0, object))
            return
        members = pa.concat_tables(tables)
        final = final_labels(members.column("label").to_numpy(), linked, smallest)
        mine = np.flatnonzero(hashed_part(final, parts) == rank)
        mine = mine[np.argsort(members.column("node").to_numpy()[mine], kind="stable")]  # by node
        members, final = members.take(pa.array(mine)), final[mine]  # one copy of the rows
        nodes = members.column("node").to_numpy()
        priority = keep_priority(members)
        keeper, exact_removed = self._keepers(members, nodes, final, priority, offsets, funnel)
        size = np.bincount(keeper, minlength=len(nodes))[keeper]
        grouped = np.flatnonzero(size > 1)  # a member similar to no kept document is kept alone
        kept = keeper[grouped] == grouped
        removed = np.where(kept, "", np.where(exact_removed[grouped], "exact", "fuzzy")).astype(object)
        funnel.counts["clusters"] += int(kept.sum())
        funnel.counts["in_clusters"] += len(grouped)
        funnel.counts["to_remove.exact"] += int((removed == "exact").sum())
        funnel.counts["to_remove.fuzzy"] += int((removed == "fuzzy").sum())
        _write_clusters(self, rank, offsets, nodes[grouped], size[grouped],
                        members.column("id").take(pa.array(keeper[grouped])), removed)

    def _keepers(self, members: pa.Table, nodes: np.ndarray, final: np.ndarray, priority: np.ndarray,
                 offsets: np.ndarray, funnel: Funnel) -> tuple[np.ndarray, np.ndarray]:
        """The member kept for each member (an index; itself when kept), and whether it goes as an
        exact duplicate: an exact group (same exact hash in one component) keeps its first
        document in keep order; near duplicates are resolved among the groups' kept documents."""
        n = len(nodes)
        if self.exact:
            exact = members.column("exact").to_numpy(zero_copy_only=False).astype(np.uint64)
            _, group = np.unique(np.stack([final.astype(np.uint64), exact], axis=1), axis=0, return_inverse=True)
            exact_keeper, _, exact_kept = keepers(nodes, group.ravel(), priority)
        else:
            exact_keeper, exact_kept = np.arange(n), np.ones(n, bool)
        heads = np.flatnonzero(exact_kept)
        if self.verifying:
            similar = Similarity(SignatureFiles(self.path(), offsets).rows, ShingleStore(self.path(), offsets),
                                 self.fuzzy.threshold, self.fuzzy.num_perm)
            chosen = greedy_keepers(nodes[heads], final[heads], priority[heads], similar)
            funnel.counts["pairs_checked_exactly"] += similar.checked["exact"]
        else:
            chosen, _, _ = keepers(nodes[heads], final[heads], priority[heads])
        keeper = np.empty(n, np.int64)
        keeper[heads] = heads[chosen]
        keeper[~exact_kept] = keeper[exact_keeper[~exact_kept]]
        return keeper, ~exact_kept


def keep_priority(members: pa.Table) -> np.ndarray:
    """Each member's rank under the keep rule (0 first): highest score, then smallest id, url,
    source file, then global index."""
    table = pa.table({"score": pc.fill_null(members.column("score"), -np.inf), "id": members.column("id"),
                      "url": pc.fill_null(members.column("url"), ""), "source": pc.fill_null(members.column("source"), ""),
                      "index": members.column("node")})
    order = pc.sort_indices(table, sort_keys=[("score", "descending"), ("id", "ascending"), ("url", "ascending"),
                                              ("source", "ascending"), ("index", "ascending")]).to_numpy()
    priority = np.empty(len(order), np.int64)
    priority[order] = np.arange(len(order))
    return priority


def _write_clusters(stage: ClusterStage, rank: int, offsets: np.ndarray, nodes: np.ndarray, size: np.ndarray,
                    kept_id, removed: np.ndarray) -> None:
    task = np.searchsorted(offsets, nodes, "right") - 1
    write_parts(stage.path("clusters", f"{rank:05d}.parquet"),
                {"row": pa.array(nodes - offsets[task], pa.int64()), "size": pa.array(size, pa.int64()),
                 "kept_id": kept_id, "removed": pa.array(list(removed), pa.string())}, task)


def cluster_steps(work_dir: str | None, exact: bool, fuzzy: MinHashConfig | None, rounds: int) -> list[list]:
    """The clustering's stages, each a list of one step (dedup_steps puts Stage markers between)."""
    return [[DedupIndex(work_dir, exact, fuzzy)], [DedupEdges(work_dir, exact, fuzzy)],
            *[[DedupLabels(i, work_dir, exact, fuzzy)] for i in range(1, rounds + 1)],
            [DedupMembers(rounds, work_dir, exact, fuzzy)], [DedupKeepers(work_dir, exact, fuzzy)]]


def cluster_in_process(work_dir: str, exact: bool = True, fuzzy: MinHashConfig | None = MinHashConfig(),
                       tasks: int = 1, rounds: int = 3) -> Funnel:
    """Every clustering stage, task after task, in this process (tests, benchmarks)."""
    funnel = Funnel()
    for stage in cluster_steps(work_dir, exact, fuzzy, rounds):
        step = stage[0]
        for rank in range(1 if isinstance(step, DedupIndex) else tasks):
            step.work(rank, tasks, funnel)
    return funnel
