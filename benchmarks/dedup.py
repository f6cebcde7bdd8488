"""Dedup benchmark: quality, signature speed and a scale run. The last stdout line is one JSON object.

    python benchmarks/dedup.py --quick          # quality + signature speed, under a minute
    python benchmarks/dedup.py                  # + the 10,000,000-document scale run (`curate run`)

(a) quality: real documents from ../shared/data (DCLM, C4/CCNet/RedPajama, Wikipedia) plus planted
    near-duplicates of each (word edits, insertions, boilerplate changes, reordered paragraphs),
    clustered by curate (its three dedup stages), datasketch MinHashLSH and datatrove's 4-stage
    MinhashDedup, all with the same num_perm, bands x rows and word 5-grams under the same text
    normalisation; curate also with verify=False (band matches alone, as before verification).
    Pair level: predicted pairs are every pair in one cluster; true pairs are pairs whose exact
    Jaccard of 5-gram sets is >= 0.8, among the planted families and every pair any method
    predicted. Document level: a removed document is correct when the document kept for it (curate's
    keep rule; the first of its cluster for the others) has Jaccard >= 0.8 with it; a kept document
    whose twin (a true pair) was kept too is a miss. doc_precision = correct / removed, doc_recall =
    correct / (correct + missed).
(b) signatures: documents/s from text to MinHash signature, same documents, one process:
    curate (numba kernels over a batch), datasketch MinHash.bulk (after normalising and shingling in Python),
    rensa (PyPI `rensa`, Rust) per document (RMinHash.update) and in batches of 512
    (digest_matrix_from_token_sets), on the same normalised word 5-grams made in Python, and
    datatrove MinhashDedupSignature (spaCy word tokeniser; get_shingles + get_signature).
    speedup_vs_rensa is against the faster of rensa's two. First batch: the first 512 documents
    of a new process, curate's after its compiled kernels are loaded (signature_kernel_load_s, once
    per process; signature_kernel_compile_s, once per install, with an empty numba cache), rensa's
    from `import rensa` on.
(c) scale: --scale-docs documents (10 million) of mutated real text (random word windows of the
    real documents with 20% of the words replaced, then 20% near copies and 5% exact copies of
    earlier ones), written as Parquet once into --scale-cache (its generation time is reported
    apart, from the run that made it), then `curate run` of read -> dedup -> write with
    --tasks/--workers (16 and 2) and --cluster-tasks (64): wall time, peak RSS of the whole process tree (sampled from /proc
    every 0.2 s), each stage's largest task peak (VmHWM, from `curate status`), the largest of
    the clustering stages', and the peak size of the run's work folder (staging and clustering files).
    Then the same run with the curate of --baseline-commit (623ee62: the single-task design, one
    clustering task over the whole corpus's band matches), from a git worktree of that commit:
    baseline_* keys and largest_clustering_task_vs_baseline (the issue's goal: under 0.25).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from curate.dedup import MinHashConfig, MinHasher, normalise  # noqa: E402
from tools.planted import KINDS, mutate, shingle_set  # noqa: E402

SOURCES = ["web-text/dclm-quality-labelled-499.jsonl", "web-text/c4-ccnet-redpajama-samples.jsonl",
           "wikipedia/enwiki-2016-sample.jsonl", "wikipedia/wikitext2-valid.jsonl"]
RATES = {"word_edits": (0.0, 0.06), "insertions": (0.0, 0.06), "boilerplate": (0.0, 0.5), "reorder": (0.0, 1.0)}


def load_texts(data: Path, quick: bool) -> list[str]:
    texts = []
    for source in SOURCES:
        with open(data / source) as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    texts = [t for t in texts if len(t.split()) >= 20]
    if quick:
        texts = [t for t in texts if len(t.split()) < 1500][:300]
    return texts


def planted_set(texts: list[str], seed: int = 0) -> tuple[list[str], list[int]]:
    """Each real document, then 0-3 mutated copies of it; returns texts and family per text."""
    rng = random.Random(seed)
    docs, family = [], []
    for f, base in enumerate(texts):
        docs.append(base)
        family.append(f)
        for _ in range(rng.choice([0, 1, 2, 3])):
            kind = rng.choice(KINDS)
            docs.append(mutate(base, rng, kind, rng.uniform(*RATES[kind])))
            family.append(f)
    order = list(range(len(docs)))
    rng.shuffle(order)
    return [docs[i] for i in order], [family[i] for i in order]


def cluster_pairs(labels: dict[int, object]) -> set[tuple[int, int]]:
    groups: dict = {}
    for doc, label in labels.items():
        groups.setdefault(label, []).append(doc)
    return {tuple(sorted(p)) for members in groups.values() for p in itertools.combinations(members, 2)}


def components(n: int, pairs) -> dict[int, int]:
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: find(i) for i in range(n)}


# -- the three methods -----------------------------------------------------------------------


def curate_clusters(docs: list[str], config: MinHashConfig, work: str, tasks: int = 1
                    ) -> tuple[dict[int, object], dict[int, int]]:
    """curate's stages, in process (dedup_in_process). Returns (cluster label per clustered
    document, kept document per removed document)."""
    from curate.dedup import dedup_in_process

    clusters = dedup_in_process(docs, work, exact=True, fuzzy=config, tasks=tasks)
    return ({doc: kept for doc, (kept, _) in clusters.items()},
            {doc: kept for doc, (kept, how) in clusters.items() if how})


def keep_smallest(labels: dict[int, object]) -> dict[int, int]:
    """A clustering without a keep rule (datasketch, datatrove): keep each cluster's first document."""
    first: dict = {}
    for doc, label in sorted(labels.items()):
        first.setdefault(label, doc)
    return {doc: first[label] for doc, label in labels.items() if first[label] != doc}


def datasketch_clusters(docs: list[str], config: MinHashConfig) -> dict[int, object]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=config.num_perm, params=(config.bands, config.rows))
    hashes = MinHash.bulk([[" ".join(s).encode() for s in shingle_set(t, config.n_grams)] for t in docs],
                          num_perm=config.num_perm)
    for i, m in enumerate(hashes):
        lsh.insert(i, m)
    pairs = {(i, j) for i, m in enumerate(hashes) for j in lsh.query(m) if j != i}
    roots = components(len(docs), pairs)
    sizes: dict = {}
    for r in roots.values():
        sizes[r] = sizes.get(r, 0) + 1
    return {i: r for i, r in roots.items() if sizes[r] > 1}


def datatrove_clusters(docs: list[str], config: MinHashConfig, work: str) -> dict[int, object]:
    import struct

    from datatrove.data import Document
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupSignature)
    from datatrove.utils.hashing import HashConfig

    # sha1: datatrove 0.10.1's xxhash path passes str to xxhash, which xxhash 4 refuses
    dt_config = MinhashConfig(n_grams=config.n_grams, num_buckets=config.bands, hashes_per_bucket=config.rows,
                              hash_config=HashConfig(precision=64, hash_fc="sha1"))

    def reader(data, rank=0, world_size=1):
        for i, text in enumerate(docs):
            yield Document(text=text, id=str(i))

    quiet = dict(logging_dir=None, skip_completed=False)
    LocalPipelineExecutor([reader, MinhashDedupSignature(f"{work}/sigs", config=dt_config)], tasks=1, **quiet).run()
    LocalPipelineExecutor([MinhashDedupBuckets(f"{work}/sigs", f"{work}/buckets", config=dt_config)],
                          tasks=config.bands, workers=1, **quiet).run()
    LocalPipelineExecutor([MinhashDedupCluster(f"{work}/buckets", f"{work}/clusters", config=dt_config,
                                               save_cluster_id=True)], tasks=1, **quiet).run()
    labels = {}
    path = Path(work) / "clusters" / "000000.clusters"
    if path.exists():
        data = path.read_bytes()
        for doc, cluster in struct.iter_unpack("<2I", data):
            labels[doc] = cluster
    return labels


# -- measurements ----------------------------------------------------------------------------


def quality(docs: list[str], family: list[int], config: MinHashConfig, threshold: float) -> dict:
    # band matches alone: the balanced bands x rows (9 x 13 at 0.8), for curate unverified and the peers
    balanced = MinHashConfig(threshold=config.threshold, num_perm=config.num_perm, n_grams=config.n_grams,
                             verify=False)
    with tempfile.TemporaryDirectory() as work:
        clusterings = {"curate": curate_clusters(docs, config, f"{work}/curate", tasks=QUALITY_TASKS),
                       "curate_unverified": curate_clusters(docs, balanced, f"{work}/unverified", tasks=QUALITY_TASKS)}
        labels = datasketch_clusters(docs, balanced)
        clusterings["datasketch"] = labels, keep_smallest(labels)
        try:
            labels = datatrove_clusters(docs, balanced, f"{work}/datatrove")
            clusterings["datatrove"] = labels, keep_smallest(labels)
        except ImportError as e:  # spaCy missing
            print(f"datatrove skipped: {e}", file=sys.stderr)
    predicted = {name: cluster_pairs(labels) for name, (labels, _) in clusterings.items()}
    shingles = [shingle_set(t, config.n_grams) for t in docs]

    def jac(a, b):
        sa, sb = shingles[a], shingles[b]
        return len(sa & sb) / len(sa | sb) if sa or sb else 1.0

    by_family: dict = {}
    for i, f in enumerate(family):
        by_family.setdefault(f, []).append(i)
    candidates = {tuple(sorted(p)) for m in by_family.values() for p in itertools.combinations(m, 2)}
    candidates |= set().union(*predicted.values())
    truth = {p for p in candidates if jac(*p) >= threshold}
    out = {"quality_docs": len(docs), "quality_true_pairs": len(truth)}
    for name, pairs in predicted.items():
        hit = len(pairs & truth)
        prefix = "" if name == "curate" else f"{name}_"
        out[f"{prefix}precision"] = round(hit / len(pairs), 4) if pairs else 1.0
        out[f"{prefix}recall"] = round(hit / len(truth), 4) if truth else 1.0
        out[f"{prefix}predicted_pairs"] = len(pairs)
        out.update({f"{prefix}{k}": v for k, v in document_level(clusterings[name][1], truth, jac, threshold).items()})
    return out


def document_level(removed: dict[int, int], truth: set[tuple[int, int]], jac, threshold: float) -> dict:
    """A removed document is correct when the document kept for it has Jaccard >= threshold with
    it; a kept document with a kept twin (a true pair, both kept) is a miss, counted once per such
    document after the first of its twins."""
    correct = sum(jac(doc, kept) >= threshold for doc, kept in removed.items())
    missed = {max(a, b) for a, b in truth if a not in removed and b not in removed}
    return {"doc_precision": round(correct / len(removed), 4) if removed else 1.0,
            "doc_recall": round(correct / (correct + len(missed)), 4) if correct + len(missed) else 1.0,
            "removed_docs": len(removed)}


FIRST_BATCH = """
import json, sys, time
sys.path.insert(0, {repo!r})
docs, num_perm, n, method = json.load(open({path!r}))
from curate.dedup import MinHasher, normalise
hasher = MinHasher(num_perm=num_perm, n_grams=n)
start = time.perf_counter()
hasher.signatures(docs[:1])  # curate: numba's import and the compiled kernels' load (or compile)
load = time.perf_counter() - start
if method == "rensa":
    def shingles(text):
        words = normalise(text).split()
        return [" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))] if words else []
    start = time.perf_counter()
    import rensa
    for text in docs[1:]:
        m = rensa.RMinHash(num_perm=num_perm, seed=1)
        m.update(shingles(text))
        m.digest()
else:
    start = time.perf_counter()
    hasher.signatures(docs[1:])
print(json.dumps([load, time.perf_counter() - start]))
"""


def first_batches(docs: list[str], config: MinHashConfig, with_rensa: bool, size: int = 512) -> dict:
    """The first `size` documents of a new process: curate's once the compiled kernels are loaded
    (their one-time load and, with an empty numba cache, their compilation reported apart); rensa's
    from its import on."""
    def run(method: str, cache: str | None = None) -> tuple[float, float]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "docs.json"
            path.write_text(json.dumps([docs[:size + 1], config.num_perm, config.n_grams, method]))
            env = dict(os.environ, **({"NUMBA_CACHE_DIR": cache} if cache else {}))
            proc = subprocess.run([sys.executable, "-c", FIRST_BATCH.format(repo=str(REPO), path=str(path))],
                                  capture_output=True, text=True, env=env, check=True)
        return tuple(json.loads(proc.stdout.strip().splitlines()[-1]))

    with tempfile.TemporaryDirectory() as empty_cache:
        compile_s, _ = run("curate", cache=empty_cache)
    load_s, batch_s = run("curate")
    out = {"signature_first_batch_docs_per_s": round(size / batch_s, 1),
           "signature_first_batch_with_load_docs_per_s": round(size / (batch_s + load_s), 1),
           "signature_kernel_load_s": round(load_s, 3), "signature_kernel_compile_s": round(compile_s, 2)}
    if with_rensa:
        _, rensa_s = run("rensa")
        out.update({"rensa_first_batch_docs_per_s": round(size / rensa_s, 1),
                    "signature_first_batch_speedup_vs_rensa": round(rensa_s / batch_s, 2)})
    return out


def signature_speed(docs: list[str], config: MinHashConfig, datatrove_docs: int, rounds: int = 3) -> dict:
    from datasketch import MinHash

    hasher = MinHasher(num_perm=config.num_perm, n_grams=config.n_grams)
    hasher.signatures(docs[:50])  # warm up (loads the compiled kernels)

    def ours_once():
        for i in range(0, len(docs), 512):
            hasher.signatures(docs[i:i + 512])

    def datasketch_once():
        MinHash.bulk([[" ".join(s).encode() for s in shingle_set(t, config.n_grams)] for t in docs],
                     num_perm=config.num_perm)

    def shingles(text: str) -> list[str]:  # the same normalised words, as word 5-gram strings
        words = normalise(text).split()
        n = config.n_grams
        return [" ".join(words[i:i + n]) for i in range(max(1, len(words) - n + 1))] if words else []

    def rensa_once():
        for text in docs:
            m = rensa.RMinHash(num_perm=config.num_perm, seed=1)
            m.update(shingles(text))
            m.digest()

    def rensa_batch_once():
        for i in range(0, len(docs), 512):
            rensa.RMinHash.digest_matrix_from_token_sets([shingles(t) for t in docs[i:i + 512]],
                                                        config.num_perm, 1)

    # rounds that alternate the methods, best of `rounds` each: the machine is shared, the best
    # run is the least disturbed
    methods = {"curate": ours_once, "datasketch": datasketch_once}
    try:
        import rensa

        methods.update({"rensa": rensa_once, "rensa_batch": rensa_batch_once})
    except ImportError:
        print("rensa skipped: pip install rensa", file=sys.stderr)
    best = {name: float("inf") for name in methods}
    for _ in range(rounds):
        for name, fn in methods.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    rate = {name: len(docs) / seconds for name, seconds in best.items()}
    ours, theirs = rate["curate"], rate["datasketch"]
    out = {"signature_docs": len(docs), "signature_rounds": rounds, "signature_docs_per_s": round(ours, 1),
           "datasketch_signature_docs_per_s": round(theirs, 1),
           "signature_speedup_vs_datasketch": round(ours / theirs, 2)}
    if "rensa" in rate:
        fastest = max(rate["rensa"], rate["rensa_batch"])
        out.update({"rensa_signature_docs_per_s": round(rate["rensa"], 1),
                    "rensa_batch_signature_docs_per_s": round(rate["rensa_batch"], 1),
                    "signature_speedup_vs_rensa": round(ours / fastest, 2)})
    out.update(first_batches(docs, config, "rensa" in rate))
    try:
        from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

        step = MinhashDedupSignature(tempfile.mkdtemp(), config=MinhashConfig(
            n_grams=config.n_grams, num_buckets=config.bands, hashes_per_bucket=config.rows))
        # datatrove's default xxhash64 of each shingle (it passes str, which xxhash 4 refuses: encode first)
        import xxhash

        step._hash_func = lambda shingle: xxhash.xxh64_intdigest(shingle.encode("utf-8"))
        sample = docs[:datatrove_docs]
        step.get_signature(step.get_shingles(sample[0]))
        start = time.perf_counter()
        for text in sample:
            grams = step.get_shingles(text)
            if grams.size:
                step.get_signature(grams)
        dt = len(sample) / (time.perf_counter() - start)
        out.update({"datatrove_signature_docs_per_s": round(dt, 1), "signature_speedup_vs_datatrove": round(ours / dt, 2),
                    "datatrove_signature_docs": len(sample)})
    except ImportError as e:
        print(f"datatrove skipped: {e}", file=sys.stderr)
    return out


# -- scale run -------------------------------------------------------------------------------


SCALE_CORPUS_VERSION = 1  # bump when make_scale_corpus changes: the cache is keyed by it


def cached_scale_corpus(texts: list[str], n: int, cache: Path) -> tuple[Path, dict]:
    """The scale corpus of n documents, generated once into `cache` (info.json, written last,
    marks it complete) and reused by later runs."""
    folder = cache / f"{n}-v{SCALE_CORPUS_VERSION}"
    done = folder / "info.json"
    if done.exists():
        return folder / "input", {**json.loads(done.read_text()), "scale_generated_now": False}
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    info = make_scale_corpus(texts, n, folder / "input", files=max(8, n // 250_000))
    info["scale_generate_s"] = round(time.perf_counter() - start, 1)
    done.write_text(json.dumps(info))
    return folder / "input", {**info, "scale_generated_now": True}


def make_scale_corpus(texts: list[str], n: int, folder: Path, files: int = 8, seed: int = 0) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    words = [t.split() for t in texts]
    vocabulary = list({w for ws in words for w in ws if w.isalpha()})
    fresh: list[str] = []
    rows_per_file = -(-n // files)
    counts = {"fresh": 0, "near": 0, "exact": 0}
    total_words = 0
    doc_index = 0
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        ids, out = [], []
        for _ in range(min(rows_per_file, n - doc_index)):
            r = rng.random()
            if fresh and r < 0.05:
                text = rng.choice(fresh)
                counts["exact"] += 1
            elif fresh and r < 0.25:
                text = mutate(rng.choice(fresh), rng, rng.choice(("word_edits", "insertions")), rng.uniform(0, 0.03))
                counts["near"] += 1
            else:
                ws = rng.choice(words)
                length = rng.randint(80, 500)
                start = rng.randrange(max(1, len(ws) - length))
                window = ws[start:start + length]
                text = " ".join(rng.choice(vocabulary) if rng.random() < 0.2 else w for w in window)
                counts["fresh"] += 1
                if len(fresh) < 200_000:
                    fresh.append(text)
                else:
                    fresh[rng.randrange(len(fresh))] = text
            total_words += text.count(" ") + 1
            ids.append(f"doc-{doc_index:08d}")
            out.append(text)
            doc_index += 1
        pq.write_table(pa.table({"id": ids, "text": out}), folder / f"part-{f:03d}.parquet", compression="zstd")
    return {"scale_docs": n, "scale_avg_words": round(total_words / n, 1), "scale_planted_near": counts["near"],
            "scale_planted_exact": counts["exact"]}


def tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


QUALITY_TASKS = 3  # stage-1 and clustering tasks of the quality set's dedup (the planted families span them)

SCALE_PIPELINE = """
import os
from curate.dedup import MinHashConfig, dedup_steps
from curate.io import ReadDocuments, WriteParquet

def build(run):
    return [ReadDocuments(run.inputs), *dedup_steps(fuzzy=MinHashConfig(), cluster_tasks=CLUSTER_TASKS),
            WriteParquet(run.output)]
"""


def tree_bytes(path: Path) -> int:
    """Bytes of the files under path (0 when it does not exist yet)."""
    total, stack = 0, [str(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_size
        except OSError:  # removed while we looked
            pass
    return total


def run_scale_pipeline(pipeline_text: str, inputs: Path, tasks: int, workers: int, work: Path, code: Path) -> dict:
    """`curate run` of a pipeline with the curate at `code` (this checkout, or a worktree of an older
    commit): wall time, peak RSS of the process tree, peak size of the run folder, each stage's
    largest task peak (VmHWM, from that code's `curate status`), the funnel's stages."""
    out = work / "output"
    work.mkdir(parents=True, exist_ok=True)
    pipeline = work / "scale_pipeline.py"
    pipeline.write_text(pipeline_text)
    for old in (out, Path(f"{out}.curate")):  # an earlier run there would be resumed, not measured
        shutil.rmtree(old, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(code)}
    cmd = [sys.executable, "-m", "curate.cli", "run", str(pipeline), "--input", str(inputs), "--output", str(out),
           "--tasks", str(tasks), "--workers", str(workers)]
    start = time.perf_counter()
    with open(work / "run.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=code, env=env)
        peak, staging, last_walk = 0.0, 0, 0.0
        while proc.poll() is None:
            peak = max(peak, tree_rss_mb(proc.pid))
            if time.perf_counter() - last_walk > 2:  # the work folder (staging and clustering files)
                staging, last_walk = max(staging, tree_bytes(Path(f"{out}.curate"))), time.perf_counter()
            time.sleep(0.2)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"scale run failed ({proc.returncode}); see {work / 'run.log'}")
    with open(f"{out}.curate/funnel.json") as f:
        stages = {s["stage"]: s for s in json.load(f)["stages"]}
    peaks = subprocess.run(
        [sys.executable, "-c", "import json, sys; from curate.status import status; print(json.dumps("
         "{f'{s.number}:{s.label}': s.peak_rss_mb for s in status(sys.argv[1]).stages}))", str(out)],
        cwd=code, env=env, capture_output=True, text=True, check=True).stdout
    result = {"wall_s": round(wall, 1), "peak_rss_mb": round(peak, 1), "staging_peak_gb": round(staging / 1e9, 2),
              "output_gb": round(tree_bytes(out) / 1e9, 2), "stage_peak_mb": json.loads(peaks), "stages": stages}
    shutil.rmtree(out, ignore_errors=True)  # the disk for the next run
    return result


def scale_run(texts: list[str], n: int, tasks: int, workers: int, cluster_tasks: int, work: Path, cache: Path,
              baseline_commit: str | None) -> dict:
    inputs, info = cached_scale_corpus(texts, n, cache)
    run = run_scale_pipeline(SCALE_PIPELINE.replace("CLUSTER_TASKS", str(cluster_tasks)), inputs, tasks, workers,
                             work / "curate", REPO)
    # each stage's largest task peak: stage 1 reads, hashes and stages; the last filters and writes;
    # the stages between are the clustering
    clustering = list(run["stage_peak_mb"].values())[1:-1]
    stages = run["stages"]
    info.update({"scale_stage_peak_mb": run["stage_peak_mb"], "scale_largest_clustering_task_mb": max(clustering),
                 "scale_staging_peak_gb": run["staging_peak_gb"], "scale_output_gb": run["output_gb"],
                 "scale_wall_s": run["wall_s"], "scale_peak_rss_mb": run["peak_rss_mb"], "scale_tasks": tasks,
                 "scale_cluster_tasks": cluster_tasks, "scale_workers": workers, "scale_kept": stages["write"]["docs_out"],
                 "scale_removed_exact": sum(stages["dedup_exact"]["dropped"].values()),
                 "scale_removed_fuzzy": sum(stages["dedup_fuzzy"]["dropped"].values())})
    if baseline_commit:
        # the single-task design (one clustering task holding the whole corpus's band matches, e.g.
        # 623ee62) on the same corpus and flags, from a worktree of that commit
        tree = work / "baseline-code"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), baseline_commit],
                       check=True, capture_output=True)
        try:
            base = run_scale_pipeline(SCALE_PIPELINE.replace(", cluster_tasks=CLUSTER_TASKS", ""), inputs, tasks,
                                      workers, work / "baseline", tree)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], capture_output=True)
        single = max(list(base["stage_peak_mb"].values())[1:-1])
        info.update({"baseline_commit": baseline_commit, "baseline_stage_peak_mb": base["stage_peak_mb"],
                     "baseline_clustering_task_mb": single, "baseline_wall_s": base["wall_s"],
                     "baseline_peak_rss_mb": base["peak_rss_mb"],
                     "baseline_removed_exact": sum(base["stages"]["dedup_exact"]["dropped"].values()),
                     "baseline_removed_fuzzy": sum(base["stages"]["dedup_fuzzy"]["dropped"].values()),
                     "largest_clustering_task_vs_baseline": round(max(clustering) / single, 3)})
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller quality set, no scale run (< 1 minute)")
    parser.add_argument("--data", default=os.environ.get("CURATE_SHARED_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--scale-docs", type=int, default=10_000_000)
    parser.add_argument("--scale-cache", default=str(Path.home() / ".cache" / "curate" / "bench-dedup-scale"),
                        help="where the generated scale corpus is kept for later runs")
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cluster-tasks", type=int, default=64,
                        help="tasks of each clustering stage (dedup_steps(cluster_tasks=)); more tasks, less memory each")
    parser.add_argument("--baseline-commit", default="623ee62",
                        help="after the scale run, run the same corpus with this commit's curate (default: the "
                             "single-clustering-task design, before clustering across tasks); '' to skip")
    parser.add_argument("--work", help="folder for the scale run (default: a temporary one, removed)")
    args = parser.parse_args()

    config = MinHashConfig(threshold=args.threshold, num_perm=args.num_perm)
    texts = load_texts(Path(args.data), args.quick)
    docs, family = planted_set(texts)
    result = {"threshold": args.threshold, "num_perm": config.num_perm, "bands": config.bands, "rows": config.rows,
              "n_grams": config.n_grams, "quick": args.quick, "cluster_tasks": QUALITY_TASKS}
    result.update(quality(docs, family, config, args.threshold))
    speed_docs = docs if not args.quick else docs[:800]
    result.update(signature_speed(speed_docs, config, datatrove_docs=300 if args.quick else 1000))
    if not args.quick:
        cache = Path(args.scale_cache)
        if args.work:
            result.update(scale_run(texts, args.scale_docs, args.tasks, args.workers, args.cluster_tasks, Path(args.work), cache,
                                    args.baseline_commit))
        else:
            with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as work:
                result.update(scale_run(texts, args.scale_docs, args.tasks, args.workers, args.cluster_tasks, Path(work), cache,
                                        args.baseline_commit))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
