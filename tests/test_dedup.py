"""Exact and MinHash-LSH dedup: normalisation, signatures against datasketch, banding, union-find,
and the three-stage pipeline through `curate run` (shards, tasks, kept twins, determinism)."""

from __future__ import annotations

import glob
import itertools
import json
import random
import re
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.cli import main
from curate.dedup import MinHashConfig, MinHasher, normalise, optimal_bands, shingle_hashes
from curate.dedup.buckets import duplicate_runs, write_band
from curate.dedup.clusters import UnionFind, keepers
from curate.errors import CurateError
from tools.planted import jaccard_exact, mutate, shingle_set

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau "
         "upsilon phi chi psi omega river stone cloud field").split()


def random_text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) if rng.random() < 0.3 else rng.choice(WORDS)
                    for _ in range(words)).replace("0", "zero")


# -- normalisation, shingles, signatures ------------------------------------------------------


def test_normalise_matches_datatrove_simplify_text():
    from datatrove.utils.text import simplify_text

    samples = ["Hello, World! It costs 3.50 dollars in 2024.", "Café naïve — «résumé» 12,5 x\u00a0y",
               "a\n\nb\t c", "がぎ。日本語のテキスト", "  UPPER lower-case; (brackets) [and] {more}… “quotes” ’s"]
    for text in samples:
        assert normalise(text) == simplify_text(text)


def test_shingles_stay_inside_their_document():
    texts = ["a b c d e f g", "", "x y", "one two three four five", "a b c d e f g"]
    hashes, offsets = shingle_hashes(texts, n=5)
    assert np.diff(offsets).tolist() == [3, 0, 1, 1, 3]
    alone = [shingle_hashes([t], n=5)[0] for t in texts]
    for d, single in enumerate(alone):
        assert np.array_equal(hashes[offsets[d]:offsets[d + 1]], single)
    assert set(hashes[0:3]) == set(hashes[offsets[4]:offsets[5]])
    sig = MinHasher(num_perm=16).signatures(texts)
    assert (sig[1] == 0xFFFFFFFF).all() and np.array_equal(sig[0], sig[4])


def test_signature_does_not_depend_on_the_batch():
    rng = random.Random(1)
    texts = [random_text(rng, rng.randrange(0, 400)) for _ in range(60)]
    whole = MinHasher(num_perm=64).signatures(texts)
    one_by_one = np.vstack([MinHasher(num_perm=64).signatures([t]) for t in texts])
    assert np.array_equal(whole, one_by_one)


def reference_normalise(text: str) -> str:
    """normalise's definition, one character at a time (slow, plain Python)."""
    from curate.dedup.normalise import _PUNCT, _wide_char

    text = "".join(c if c.isascii() else _wide_char(c) for c in text.lower())
    text = re.sub(r"[0-9]+(?:[.,][0-9]+)?", "0", text)
    text = "".join(" " if c in _PUNCT or c in " \t\n\r\x0b\x0c" else c for c in text)
    return " ".join(w for w in text.split(" ") if w)


def reference_signature(text: str, hasher: MinHasher) -> list[int]:
    """signatures.py's documented hashes in Python integers."""
    from curate.dedup.signatures import odd_multipliers

    m64 = (1 << 64) - 1

    def mix(x):
        x ^= x >> 30
        x = x * 0xBF58476D1CE4E5B9 & m64
        x ^= x >> 27
        x = x * 0x94D049BB133111EB & m64
        return x ^ (x >> 31)

    words = [w.encode("utf-8", "surrogatepass") for w in reference_normalise(text).split(" ") if w]
    word_hash = [mix((sum(c * pow(0x100000001B3, k, 1 << 64) for k, c in enumerate(w)) + len(w)) & m64) for w in words]
    keys = [int(k) for k in odd_multipliers(hasher.n_grams)]
    n = hasher.n_grams
    windows = [word_hash[i:i + n] for i in range(max(1, len(words) - n + 1))] if words else []
    shingles = [mix(sum(k * h for k, h in zip(keys, w)) & m64) >> 32 for w in windows]
    return [min(((int(a) * x + int(b)) & 0xFFFFFFFF for x in shingles), default=0xFFFFFFFF)
            for a, b in zip(hasher._a, hasher._b)]


EDGE_CASES = ["", "  ,;  ", "a", "a b", "Hello, World!  ÉTÉ 1,234.5 x", "5,5,5 0..0 1.2.3 a1b2 ,5 5, 7.",
              "ΟΔΟΣ ΟΔΟΣ. Σίσυφος ΣΑΣ", "İstanbul K\u212a ß ẞ ǅ", "١٢٣ ٤٫٥ ۱۲ ๑๒", "中文字，日本語。\u3000한국어",
              "tab\tnew\nline\x1cfs \u00a0nbsp \u2028ls", "lone \ud800 surrogate", "emoji 😀 ok 𝔘𝔫𝔦"]


def test_normalise_and_signatures_match_their_plain_python_definition():
    rng = random.Random(3)
    texts = EDGE_CASES + [random_text(rng, rng.randrange(0, 40)) for _ in range(20)]
    hasher = MinHasher(num_perm=16, n_grams=3)
    assert [normalise(t) for t in texts] == [reference_normalise(t) for t in texts]
    assert hasher.signatures(texts).tolist() == [reference_signature(t, hasher) for t in texts]


def test_every_character_replacement_is_lower_case_and_at_most_three_times_longer():
    from curate.dedup.normalise import _REPLACEMENT_GROWTH, _replacement

    for cp in range(0x80, 0x110000):
        replacement = _replacement(cp)
        assert len(replacement) <= _REPLACEMENT_GROWTH * len(chr(cp).encode("utf-8", "surrogatepass"))
        # the words pass lower-cases every ASCII byte: a replacement's own letters must be lower-case already
        assert replacement == replacement.lower()


def _pairs_with_known_jaccard(seed: int, count: int):
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        base = random_text(rng, rng.randrange(150, 400))
        other = mutate(base, rng, rng.choice(["word_edits", "insertions"]), rng.uniform(0.0, 0.08))
        pairs.append((base, other, jaccard_exact(base, other)))
    return pairs


def test_jaccard_estimates_agree_with_datasketch_within_sampling_error():
    from datasketch import MinHash

    num_perm = 128
    pairs = _pairs_with_known_jaccard(2, 120)
    hasher = MinHasher(num_perm=num_perm)
    ours_err, theirs_err, z, estimates = [], [], [], []
    for a, b, true in pairs:
        sa, sb = hasher.signatures([a, b])
        ours = float(np.mean(sa == sb))
        estimates.append(ours)
        ma, mb = MinHash.bulk([[" ".join(s).encode() for s in shingle_set(t)] for t in (a, b)], num_perm=num_perm)
        theirs = ma.jaccard(mb)
        sd = max(np.sqrt(true * (1 - true) / num_perm), 1e-3)
        ours_err.append(ours - true)
        theirs_err.append(theirs - true)
        z.append((ours - true) / sd)
    ours_err, theirs_err, z = map(np.asarray, (ours_err, theirs_err, z))
    assert abs(ours_err.mean()) < 0.01  # unbiased
    assert np.sqrt(np.mean(ours_err ** 2)) < 1.3 * np.sqrt(np.mean(theirs_err ** 2)) + 0.005  # as precise
    assert np.mean(np.abs(z) > 3) < 0.03  # errors of the binomial sampling size
    assert np.corrcoef(estimates, [p[2] for p in pairs])[0, 1] > 0.95


def test_bands_and_rows_follow_datasketch_optimisation():
    from datasketch import MinHashLSH

    # curate integrates exactly (Gauss-Legendre) where datasketch calls scipy's quad: same choices
    for (threshold, num_perm), weights in itertools.product(
            ((0.5, 128), (0.6, 64), (0.7, 256), (0.75, 128), (0.8, 128), (0.85, 200), (0.9, 64), (0.95, 128)),
            ((0.5, 0.5), (0.05, 0.95), (0.3, 0.7))):
        assert optimal_bands(threshold, num_perm, *weights) == \
            (lambda lsh: (lsh.b, lsh.r))(MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights))
    for threshold, num_perm in ((0.8, 128), (0.7, 256), (0.9, 64)):
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        assert optimal_bands(threshold, num_perm) == (lsh.b, lsh.r)
        config = MinHashConfig(threshold=threshold, num_perm=num_perm, verify=False)
        assert (config.bands, config.rows) == (lsh.b, lsh.r)
        # verified candidates: datasketch's optimisation weighing a missed pair 19 times a false one
        recall = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=(0.05, 0.95))
        assert (MinHashConfig(threshold=threshold, num_perm=num_perm).bands,
                MinHashConfig(threshold=threshold, num_perm=num_perm).rows) == (recall.b, recall.r)
    assert (MinHashConfig(bands=4, rows=8).bands, MinHashConfig(bands=4, rows=8).rows) == (4, 8)
    with pytest.raises(CurateError, match="exceeds num_perm"):  # a constructor's error is one line
        MinHashConfig(num_perm=64, bands=10, rows=10)


# -- buckets and clusters ---------------------------------------------------------------------


def test_union_find_matches_a_plain_one():
    rng = np.random.default_rng(3)
    n = 2000
    edges = rng.integers(0, n, size=(1500, 2))
    uf = UnionFind(n)
    for chunk in np.array_split(edges, 5):
        uf.union(chunk[:, 0], chunk[:, 1])
    roots = uf.roots()
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges.tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    expected = np.array([find(x) for x in range(n)])
    assert np.array_equal(roots, expected)  # the root is the component's smallest index


def test_keepers_follow_priority():
    members = np.array([10, 11, 12, 13, 14])
    labels = np.array([10, 10, 12, 10, 12])
    priority = np.array([3, 0, 2, 1, 4])
    keeper, size, kept = keepers(members, labels, priority)
    assert keeper.tolist() == [1, 1, 2, 1, 2] and size.tolist() == [3, 3, 2, 3, 2]
    assert kept.tolist() == [False, True, True, False, False]


def test_band_runs_are_the_same_in_one_or_many_key_ranges(tmp_path):
    rng = np.random.default_rng(4)
    offsets = np.array([0, 300, 700, 1000])
    all_keys = rng.integers(0, 400, size=1000).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for rank in range(3):
        lo, hi = offsets[rank], offsets[rank + 1]
        write_band(str(tmp_path), "000", rank, all_keys[lo:hi], np.arange(hi - lo))

    def groups(max_records):
        out = set()
        for docs, starts in duplicate_runs(str(tmp_path), "000", offsets, max_records):
            out |= {tuple(docs[a:b]) for a, b in zip(starts[:-1], starts[1:])}
        return out

    expected = set()
    for key in np.unique(all_keys):
        docs = tuple(np.flatnonzero(all_keys == key).tolist())
        if len(docs) > 1:
            expected.add(docs)
    assert len(expected) > 200 and groups(1 << 24) == expected and groups(64) == expected


def test_band_runs_over_more_task_files_than_open_files_allowed(tmp_path):
    """1,000 tasks' files (2,000 per band) read under a limit of 128 open files: none stays open."""
    tasks, per_task = 1000, 5
    rng = np.random.default_rng(7)
    all_keys = rng.integers(0, 2000, size=tasks * per_task).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for rank in range(tasks):
        write_band(str(tmp_path), "000", rank, all_keys[rank * per_task:(rank + 1) * per_task], np.arange(per_task))
    expected = sorted(tuple(np.flatnonzero(all_keys == key).tolist()) for key in np.unique(all_keys)
                      if (all_keys == key).sum() > 1)
    code = f"""
import json, resource
import numpy as np
from curate.dedup.buckets import duplicate_runs
resource.setrlimit(resource.RLIMIT_NOFILE, (128, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
offsets = np.arange(0, {tasks * per_task + 1}, {per_task})
for max_records in (1 << 24, 500):
    groups = sorted(tuple(d[a:b].tolist()) for d, s in duplicate_runs({str(tmp_path)!r}, "000", offsets, max_records)
                    for a, b in zip(s[:-1], s[1:]))
    print(json.dumps(groups))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(expected) > 500
    assert [json.loads(line) for line in done.stdout.splitlines()] == [[list(g) for g in expected]] * 2


# -- the pipeline through `curate run` ---------------------------------------------------------

PIPELINE = '''
import os
from curate.dedup import dedup_steps
from curate.io import ReadDocuments, WriteParquet
from curate.step import CurateStep
import pyarrow as pa

class Score(CurateStep):
    name = stage = "score"
    columns = {"score": pa.float64()}
    def process(self, doc):
        doc.metadata["score"] = float(doc.metadata["url"].rsplit("/", 1)[-1]) if doc.metadata.get("url") else None

def build(run):
    return [ReadDocuments(run.inputs), Score(),
            *dedup_steps(keep_highest=KEEP, cluster_tasks=CLUSTER_TASKS),
            WriteParquet(run.output)]
'''


def write_corpus(folder, rows, shards):
    folder.mkdir(parents=True, exist_ok=True)
    for s in range(shards):
        with open(folder / f"shard-{s}.jsonl", "w") as f:
            for row in rows[s::shards]:
                f.write(json.dumps(row) + "\n")


def run(tmp_path, name, inputs, tasks, keep=None, cluster_tasks=None):
    pipeline = tmp_path / f"pipeline_{keep}_{cluster_tasks}.py"
    pipeline.write_text(PIPELINE.replace("KEEP", repr(keep)).replace("CLUSTER_TASKS", repr(cluster_tasks)))
    out, removed = tmp_path / name, tmp_path / f"{name}_removed"
    code = main(["run", str(pipeline), "--input", str(inputs), "--output", str(out), "--removed", str(removed),
                 "--tasks", str(tasks), "--workers", "2"])
    assert code == 0
    kept = pa.concat_tables([pq.read_table(f) for f in sorted(glob.glob(str(out / "*.parquet")))]).to_pylist()
    gone = [pq.read_table(f).to_pylist() for f in sorted(glob.glob(str(removed / "*" / "*.parquet")))]
    with open(f"{out}.curate/funnel.json") as f:
        funnel = json.load(f)
    return {r["id"]: r for r in kept}, {r["id"]: r for rows in gone for r in rows}, funnel


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Families of a base text, exact copies (case and punctuation changed) and near copies,
    dealt round-robin over 5 shards so that twins sit in different shards and tasks."""
    rng = random.Random(5)
    rows, families = [], {}
    for f in range(40):
        base = random_text(rng, rng.randrange(120, 300))
        members = [base, base.upper() + " !!", base.replace(" ", "  ") + "."]  # exact after normalising
        members += [mutate(base, rng, "word_edits", 0.005) for _ in range(rng.randrange(0, 3))]
        for m, text in enumerate(members):
            doc_id = f"f{f:02d}-{m}"
            rows.append({"id": doc_id, "text": text, "url": f"https://example.invalid/{rng.randrange(1000)}"})
            families[doc_id] = f
    for u in range(30):
        rows.append({"id": f"u{u:02d}", "text": random_text(rng, 200), "url": None})
        families[f"u{u:02d}"] = None
    rng.shuffle(rows)
    folder = tmp_path_factory.mktemp("corpus")
    write_corpus(folder, rows, shards=5)
    return folder, rows, families


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    folder, _, _ = corpus
    tmp = tmp_path_factory.mktemp("runs")
    return {tasks: run(tmp, f"t{tasks}", folder, tasks) for tasks in (1, 4)}


def test_duplicates_across_shards_and_tasks_are_removed(corpus, runs):
    _, rows, families = corpus
    kept, removed, funnel = runs[4]
    assert len(kept) + len(removed) == len(rows)
    # one document per family survives, every unrelated text survives
    survivors = [families[i] for i in kept if families[i] is not None]
    assert sorted(survivors) == list(range(40))
    assert all(f"u{u:02d}" in kept for u in range(30))
    texts = {r["id"]: normalise(r["text"]) for r in rows}
    distinct = {(families[i], t) for i, t in texts.items() if families[i] is not None}
    exact = sum(families[i] is not None for i in texts) - len(distinct)
    assert exact >= 80  # at least the two exact copies per family
    stages = {s["stage"]: s for s in funnel["stages"]}
    assert stages["dedup_exact"]["dropped"] == {"exact_duplicate": exact}
    assert stages["dedup_fuzzy"]["dropped"]["near_duplicate"] == len(removed) - exact
    assert funnel["tasks"] == funnel["tasks_reported"] == 4


def test_exact_duplicates_always_removed_and_never_without_a_kept_twin(corpus, runs):
    _, rows, families = corpus
    texts = {r["id"]: r["text"] for r in rows}
    for tasks, (kept, removed, _) in runs.items():
        kept_norm = {normalise(texts[i]) for i in kept}
        assert len(kept_norm) == len(kept)  # no two kept documents share a normalised text
        for doc_id, row in removed.items():
            twin = row["dup_cluster_id"]
            assert twin in kept and twin != doc_id, (tasks, doc_id)
            assert families[twin] == families[doc_id]
            assert kept[twin]["dup_cluster_id"] == twin
            assert kept[twin]["dup_cluster_size"] == row["dup_cluster_size"] >= 2
            assert row["removed_by"] == ("dedup_exact" if row["removed_reason"] == "exact_duplicate" else "dedup_fuzzy")
        for doc_id, row in kept.items():
            if families[doc_id] is None:
                assert row["dup_cluster_id"] is None and row["dup_cluster_size"] == 1


def test_one_and_four_tasks_give_identical_results(runs):
    (k1, r1, _), (k4, r4, _) = runs[1], runs[4]
    assert k1 == k4
    strip = lambda rows: {i: {k: v for k, v in r.items() if k != "source_file"} for i, r in rows.items()}  # noqa: E731
    assert strip(r1) == strip(r4)


def test_more_clustering_tasks_than_the_run_has_give_the_same_results(corpus, runs, tmp_path):
    folder, _, _ = corpus
    kept, removed, funnel = run(tmp_path, "c5", folder, 2, cluster_tasks=5)
    strip = lambda rows: {i: {k: v for k, v in r.items() if k != "source_file"} for i, r in rows.items()}  # noqa: E731
    assert kept == runs[1][0] and strip(removed) == strip(runs[1][1])
    with open(tmp_path / "c5.curate" / "plan.json") as f:
        plan = json.load(f)
    assert [s["tasks"] for s in plan["stages"]] == [2, 1, 5, 5, 5, 5, 5, 5, 2]  # read, index, clustering, filters
    assert [s["tasks"] for s in funnel["stage_tasks"]] == [2, 1, 5, 5, 5, 5, 5, 5, 2]


def test_keep_rule_smallest_id_or_highest_score(corpus, runs, tmp_path):
    folder, rows, families = corpus
    kept, _, _ = runs[1]
    by_family: dict = {}
    for r in rows:
        if families[r["id"]] is not None:
            by_family.setdefault(families[r["id"]], []).append(r)
    for f, members in by_family.items():
        assert min(m["id"] for m in members) in kept  # default rule: the smallest id
    kept_scored, _, _ = run(tmp_path, "scored", folder, 2, keep="score")
    for f, members in by_family.items():
        best = max(float(m["url"].rsplit("/", 1)[-1]) for m in members)
        winners = [m["id"] for m in members if m["id"] in kept_scored]
        assert len(winners) == 1
        assert float(next(m for m in members if m["id"] == winners[0])["url"].rsplit("/", 1)[-1]) == best


def test_runner_splits_a_pipeline_into_stages_at_the_stage_markers():
    from types import SimpleNamespace

    from curate.dedup import (DedupEdges, DedupIndex, DedupKeepers, DedupLabels, DedupMembers, ReadStaged,
                              dedup_steps)
    from curate.errors import CurateError
    from curate.io import ReadDocuments, WriteParquet
    from curate.run import build_steps, split_stages
    from curate.step import RunContext, Stage

    steps = [ReadDocuments("x.jsonl"), *dedup_steps("work"), WriteParquet("out")]
    stages = split_stages(steps)
    assert [type(stage.steps[0]) for stage in stages] == [ReadDocuments, DedupIndex, DedupEdges, DedupLabels,
                                                          DedupLabels, DedupLabels, DedupMembers, DedupKeepers,
                                                          ReadStaged]
    assert [s for stage in stages for s in stage.steps] == [s for s in steps if not isinstance(s, Stage)]
    # the index is one task; every other clustering stage runs as many tasks as the run
    assert [stage.tasks for stage in stages] == [None, 1, None, None, None, None, None, None, None]
    assert all(len(stage.steps) == 1 for stage in stages[1:-1])
    one = split_stages([steps[0], steps[-1]])  # no dedup: one stage
    assert len(one) == 1 and one[0].steps == [steps[0], steps[-1]]
    for bad in ([], [[]], [steps[0], [steps[-1]]], "steps"):
        with pytest.raises(CurateError):
            build_steps(SimpleNamespace(build=lambda run, bad=bad: bad), RunContext(), "p.py")
    with pytest.raises(CurateError, match="run it with `curate run`"):  # a marker run by a plain executor
        list(Stage(tasks=1).run([]))


def test_label_propagation_and_links_join_a_long_chain_across_tasks(tmp_path):
    """A chain 0-1-2-...-59 whose edges sit in four tasks' edge files: a few rounds of min-label
    propagation cannot settle it; the links the members stage finds join what is left, exactly."""
    import pyarrow as pa

    from curate.dedup.components import DedupIndex, DedupLabels, DedupMembers, final_labels, label_classes
    from curate.dedup.parts import part_of, read_part, write_parts
    from curate.dedup.work import KEYS_SCHEMA, write_parquet
    from curate.step import Funnel

    n, tasks = 60, 4
    rng = np.random.default_rng(3)
    chain = rng.permutation(n)  # node ids along the chain, in no order
    edges = np.stack([chain[:-1], chain[1:]], axis=1)
    for rounds in (1, 2, 8):
        work = str(tmp_path / f"r{rounds}")
        keys = pa.table({"id": [f"{i:03d}" for i in range(n)], "url": [None] * n, "score": [None] * n,
                         "source": [None] * n, "exact": pa.array(range(n), pa.uint64())}, schema=KEYS_SCHEMA)
        write_parquet(keys, f"{work}/keys/00000.parquet")
        DedupIndex(work).work(0, 1, Funnel())
        for rank, mine in enumerate(np.array_split(rng.permutation(len(edges)), tasks)):
            a = np.concatenate((edges[mine, 0], edges[mine, 1]))
            b = np.concatenate((edges[mine, 1], edges[mine, 0]))
            write_parts(f"{work}/edges/{rank:05d}.parquet", {"a": a, "b": b}, part_of(a, n, tasks))
        funnel = Funnel()
        for step in [DedupLabels(i, work, fuzzy=None) for i in range(1, rounds + 1)] + \
                    [DedupMembers(rounds, work, fuzzy=None)]:
            for rank in range(tasks):
                step.work(rank, tasks, funnel)
        files = sorted(glob.glob(f"{work}/members/*.parquet"))
        members = pa.concat_tables([t for p in range(tasks) if (t := read_part(files, p)) is not None])
        finals = set(final_labels(members.column("label").to_numpy(),
                                  *label_classes(DedupMembers(rounds, work, fuzzy=None))).tolist())
        assert sorted(members.column("node").to_pylist()) == list(range(n))
        assert finals == {0}  # one component, labelled by its smallest node
        if rounds == 1:
            assert funnel.counts["links"] > 0  # the links did real work
