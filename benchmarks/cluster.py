"""Scale on paper, checked by simulation: the numbers behind docs/cluster.md. The last stdout line
is one JSON object.

    python benchmarks/cluster.py            # real pages x1, x2, x4; clustering 1M..4M documents
    python benchmarks/cluster.py --quick    # 120 pages x1, x2, x4; clustering 100k..400k (under a minute)

Two measurements, each fitted on small runs and then checked against a larger one that the fit
did not see (the `check` ratios are predicted / measured):

1. The recipe end to end (`curate run pipelines/datacomp.py --keep-staging`, 2 workers) on real
   pages: ../shared/data/web/pages.warc.gz (720 real pages, 31.7 kB of gzipped WARC each, close
   to Common Crawl's ~33 kB) copied k = 1, 2, 4 times, one file (= one task) per copy, each copy
   with its own record ids and URLs. From each stage's saved stats, heartbeats and folders: CPU
   seconds, documents in, bytes staged, files written, peak memory per task. Stage 1 and 3 costs
   are fitted per page on k = 1, 2 and checked on k = 4. (The copies are exact duplicates of one
   another, so dedup removes them in stage 3; costs are per document *staged*, which copies do
   not change.)
2. Dedup's clustering stages alone (index, edges, label rounds, members, keepers; without
   verification), on synthetic band and key files in the staging format (uniform random 64-bit
   band keys, 10% of documents planted as copies of another, so clusters exist), every stage's
   tasks in turn in a fresh process: total CPU seconds and the peak memory (the largest task's)
   against documents (N, 2N), stage-1 tasks (the band files read) and clustering tasks, checked at 4N.

Then the extrapolation to one Common Crawl dump (3.0e9 pages, ~100 TB of WARC in ~90,000 files of
~1.1 GB; one task per file) on W workers (one CPU each): per stage the tasks, files, bytes staged,
memory per task and wall time. Baseline: the stage-1 CPU per page is also given against
trafilatura's measured speed in ../shared/FACTS.md (42 pages/s), since extraction dominates it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import REPO, default_data  # benchmarks/common.py

DUMP_PAGES, DUMP_FILES, DUMP_BYTES = 3.0e9, 90_000, 100e12
WORKERS = (256, 1024, 4096)
DUMP_CLUSTER_TASKS = 1_000  # dedup_steps(cluster_tasks=1000): each clustering task reads every stage-1 task's files
BANDS = 16  # the recipe's MinHash bands (0.8 threshold, 128 permutations, verified: 16 x 8), plus the exact band
CLUSTERING_FOLDERS = ("edges", "labels", "messages", "members", "links", "clusters")
STAGED_FOLDERS = ("bands", "keys", "docs", "sigs", "shingles")  # what stage 1 writes (docs/dedup.md)


# -- 1. the recipe on real pages ------------------------------------------------------------------


def warc_records(path: Path, limit: int) -> list[bytes]:
    data = gzip.open(path).read()
    records, at = [], 0
    while at < len(data) and len(records) < limit:
        end = data.index(b"\r\n\r\n", at) + 4
        length = int(re.search(rb"Content-Length: (\d+)", data[at:end]).group(1))
        records.append(data[at:end + length + 4])
        at = end + length + 4
    return records


def make_copies(records: list[bytes], k: int, folder: Path) -> list[Path]:
    """k files, each every record with its own record id and URL (headers only: the block and its
    Content-Length are untouched), one gzip member per record as Common Crawl writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for copy in range(k):
        path = folder / f"copy-{copy:02d}.warc.gz"
        with open(path, "wb") as f:
            for record in records:
                head, _, rest = record.partition(b"\r\n\r\n")
                head = re.sub(rb"<urn:uuid:([0-9a-f-]+)>", lambda m: f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{copy}{m.group(1).decode()}')}>".encode(), head)
                head = re.sub(rb"(WARC-Target-URI: \S+)", rb"\1?copy=" + str(copy).encode(), head)
                f.write(gzip.compress(head + b"\r\n\r\n" + rest, compresslevel=6))
        files.append(path)
    return files


def run_recipe(files: list[Path], out: Path) -> float:
    for folder in (out, Path(f"{out}.curate")):
        shutil.rmtree(folder, ignore_errors=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "curate.cli", "run", str(REPO / "pipelines" / "datacomp.py"),
                    *[a for f in files for a in ("--input", str(f))], "--output", str(out), "--tasks", str(len(files)),
                    "--workers", "2", "--keep-staging", "--overwrite"], check=True, capture_output=True, text=True)
    return time.monotonic() - started


def files_and_bytes(folder: Path) -> tuple[int, int]:
    paths = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return len(paths), sum(p.stat().st_size for p in paths)


def measure_run(out: Path, pages: int, warc_bytes: int, tasks: int) -> dict:
    run_dir = Path(f"{out}.curate")
    staging = run_dir / "staging" / "dedup"
    stages = []
    numbers = sorted(int(d.name.split("_")[1]) for d in run_dir.glob("stage_[0-9]*"))
    for number in numbers:
        stage = run_dir / f"stage_{number}"
        cpu = 0.0
        for stats_file in (stage / "stats").glob("*.json"):
            for step in json.loads(stats_file.read_text()):
                value = step["stats"].get("cpu_s")
                cpu += value["total"] if isinstance(value, dict) else float(step.get("time_stats") or 0)
        beats = [json.loads(p.read_text()) for p in (stage / "progress").glob("*.json")]
        run_files = files_and_bytes(stage)[0]
        stages.append({"cpu_s": round(cpu, 2), "docs_in": sum(b["documents"] for b in beats),
                       "wall_s": round(max(b["updated"] for b in beats) - min(b["started"] for b in beats), 2),
                       "peak_rss_mb": max(b["peak_rss_mb"] for b in beats), "run_folder_files": run_files})
    # the clustering's stages (all but the first and the last) as one
    middle = stages[1:-1]
    stages = [stages[0], {"cpu_s": round(sum(s["cpu_s"] for s in middle), 2), "docs_in": 0,
                          "wall_s": round(sum(s["wall_s"] for s in middle), 2),
                          "peak_rss_mb": max(s["peak_rss_mb"] for s in middle),
                          "run_folder_files": sum(s["run_folder_files"] for s in middle)}, stages[-1]]
    staged = {name: files_and_bytes(staging / name) for name in STAGED_FOLDERS}
    parts = [files_and_bytes(staging / name) for name in CLUSTERING_FOLDERS]
    staged["clusters"] = (sum(f for f, _ in parts), sum(b for _, b in parts))
    output = files_and_bytes(out)
    staged_docs = json.loads((run_dir / "funnel.json").read_text())["stages"][-1]  # (write row, for the kept count)
    return {"pages": pages, "warc_bytes": warc_bytes, "tasks": tasks, "stages": stages,
            "staged_docs": stages[2]["docs_in"], "kept_docs": staged_docs["docs_out"],
            "staged_files": {k: v[0] for k, v in staged.items()}, "staged_bytes": {k: v[1] for k, v in staged.items()},
            "output_files": output[0], "output_bytes": output[1]}


def fit_recipe(a: dict, b: dict) -> dict:
    """Per-page and per-staged-document costs, and files as (per task, fixed), from two runs."""
    def per(x, key_a, key_b):
        return (key_b - key_a) / (x[1] - x[0]) if x[1] != x[0] else 0.0

    tasks, staged = (a["tasks"], b["tasks"]), (a["staged_docs"], b["staged_docs"])
    model = {"stage1_cpu_per_page": b["stages"][0]["cpu_s"] / b["pages"],
             "staged_share": b["staged_docs"] / b["pages"],
             # stage 3 reads every staged document, but only those dedup keeps reach the quality
             # model and the writer: the copies (all removed) separate the two costs
             "stage3_cpu_per_staged": max(0.0, per(staged, a["stages"][2]["cpu_s"], b["stages"][2]["cpu_s"])),
             "kept_share": a["kept_docs"] / a["staged_docs"],  # x1: real pages only, no copies
             "staged_bytes_per_staged": sum(b["staged_bytes"][k] for k in STAGED_FOLDERS) / b["staged_docs"],
             "stage1_peak_rss_mb": max(a["stages"][0]["peak_rss_mb"], b["stages"][0]["peak_rss_mb"]),
             "stage3_peak_rss_mb": max(a["stages"][2]["peak_rss_mb"], b["stages"][2]["peak_rss_mb"])}
    model["stage3_cpu_per_kept"] = (a["stages"][2]["cpu_s"] - model["stage3_cpu_per_staged"] * a["staged_docs"]) / \
        a["kept_docs"]
    for name in (*STAGED_FOLDERS, "clusters"):
        slope = per(tasks, a["staged_files"][name], b["staged_files"][name])
        model[f"{name}_files_per_task"] = slope
        model[f"{name}_files_fixed"] = a["staged_files"][name] - slope * a["tasks"]
    for number in (1, 2, 3):
        slope = per(tasks, a["stages"][number - 1]["run_folder_files"], b["stages"][number - 1]["run_folder_files"])
        model[f"stage{number}_run_files_per_task"] = slope
    return model


def predict_recipe(model: dict, pages: int, tasks: int, kept: float) -> dict:
    staged = pages * model["staged_share"]
    return {"stage1_cpu_s": pages * model["stage1_cpu_per_page"], "staged_docs": staged,
            "stage3_cpu_s": staged * model["stage3_cpu_per_staged"] + kept * model["stage3_cpu_per_kept"],
            "staged_bytes": staged * model["staged_bytes_per_staged"],
            "staged_files": sum(model[f"{n}_files_per_task"] * tasks + model[f"{n}_files_fixed"]
                                for n in (*STAGED_FOLDERS, "clusters"))}


def check_recipe(model: dict, run: dict) -> dict:
    p = predict_recipe(model, run["pages"], run["tasks"], run["kept_docs"])
    measured = {"stage1_cpu_s": run["stages"][0]["cpu_s"], "staged_docs": run["staged_docs"],
                "stage3_cpu_s": run["stages"][2]["cpu_s"],
                "staged_bytes": sum(run["staged_bytes"][k] for k in STAGED_FOLDERS),
                "staged_files": sum(run["staged_files"].values())}
    return {k: round(p[k] / measured[k], 3) for k in measured}


# -- 2. the clustering stages on synthetic band files ----------------------------------------------

CLUSTER_CHILD = r'''
import json, sys, time
from curate.dedup import MinHashConfig, cluster_in_process
from curate.progress import peak_rss_mb  # VmHWM: ru_maxrss would include this benchmark's own peak
# band files and key files only (no signatures or texts): the clustering without verification
started = time.process_time()
funnel = cluster_in_process(sys.argv[1], fuzzy=MinHashConfig(bands=int(sys.argv[3]), rows=8, verify=False),
                            tasks=int(sys.argv[2]))
print(json.dumps({"cpu_s": time.process_time() - started, "edges": funnel.counts["edges"],
                  "peak_rss_mb": peak_rss_mb()}))
'''


def synthetic_staging(folder: Path, docs: int, tasks: int, seed: int) -> None:
    """Band files and key files as stage 1 writes them, for `docs` documents over `tasks` tasks;
    10% of documents copy another document's keys in every band (an exact duplicate)."""
    import numpy as np
    import pyarrow as pa

    from curate.dedup.buckets import band_names, write_band
    from curate.dedup.work import KEYS_SCHEMA, write_parquet

    rng = np.random.default_rng(seed)
    bands = band_names(BANDS, exact=True)
    keys = rng.integers(1, 2**63, size=(docs, len(bands)), dtype=np.uint64)
    copies = rng.choice(docs, size=docs // 10, replace=False)
    keys[copies] = keys[rng.integers(0, docs, size=len(copies))]
    bounds = np.linspace(0, docs, tasks + 1).astype(np.int64)
    for rank in range(tasks):
        lo, hi = bounds[rank], bounds[rank + 1]
        rows = np.arange(hi - lo, dtype=np.uint32)
        for b, band in enumerate(bands):
            write_band(str(folder), band, rank, keys[lo:hi, b], rows)
        ids = [f"doc-{i:09d}" for i in range(lo, hi)]
        write_parquet(pa.table({"id": ids, "url": [f"https://example.invalid/{i}" for i in range(lo, hi)],
                                "score": [None] * len(ids), "source": ["synthetic"] * len(ids),
                                "exact": pa.array(keys[lo:hi, 0], pa.uint64())}, schema=KEYS_SCHEMA),
                      str(folder / "keys" / f"{rank:05d}.parquet"))


def measure_clustering(work: Path, docs: int, tasks: int, cluster_tasks: int) -> dict:
    """Every clustering stage's tasks in turn, in a fresh process: total CPU, and the peak memory,
    which is the largest task's (memory is reused from task to task)."""
    folder = work / f"cluster-{docs}-{tasks}"
    if not (folder / "keys").is_dir():
        shutil.rmtree(work, ignore_errors=True)  # one synthetic staging at a time on disk
        synthetic_staging(folder, docs, tasks, seed=docs + tasks)
    for name in ("offsets.npy", *CLUSTERING_FOLDERS):  # the previous measurement's clustering
        path = folder / name
        path.unlink() if path.is_file() else shutil.rmtree(path, ignore_errors=True)
    done = subprocess.run([sys.executable, "-c", CLUSTER_CHILD, str(folder), str(cluster_tasks), str(BANDS)],
                          check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"docs": docs, "tasks": tasks, "cluster_tasks": cluster_tasks, "cpu_s": round(result["cpu_s"], 2),
            "peak_rss_mb": result["peak_rss_mb"], "edges": result["edges"]}


def band_reads(tasks: int, cluster_tasks: int) -> int:
    return tasks * cluster_tasks * (BANDS + 1) * 2  # every edges task reads every task's keys and rows files


def fit_clustering(a: dict, b: dict, many_tasks: dict, more_clusterers: dict) -> dict:
    """CPU: per document, plus per band-file read (every clustering task reads a slice of every
    stage-1 task's files). Memory of the largest task: per document of its share (documents /
    clustering tasks), over a fixed base. `a` and `b`: N and 2N documents, 16 tasks, 16 clustering
    tasks; `many_tasks`: N documents from 256 tasks; `more_clusterers`: N documents, 64 clustering tasks."""
    per_doc = (b["cpu_s"] - a["cpu_s"]) / (b["docs"] - a["docs"])
    reads = band_reads(many_tasks["tasks"], many_tasks["cluster_tasks"]) - band_reads(a["tasks"], a["cluster_tasks"])
    per_read = max(0.0, (many_tasks["cpu_s"] - a["cpu_s"]) / reads)
    share = lambda p: p["docs"] / p["cluster_tasks"]  # noqa: E731
    rss_per_share_doc = (b["peak_rss_mb"] - a["peak_rss_mb"]) / (share(b) - share(a))
    return {"cpu_per_doc": per_doc, "cpu_per_band_read": per_read,
            "cpu_fixed": a["cpu_s"] - per_doc * a["docs"] - per_read * band_reads(a["tasks"], a["cluster_tasks"]),
            "rss_mb_per_share_doc": rss_per_share_doc,
            "rss_mb_fixed": a["peak_rss_mb"] - rss_per_share_doc * share(a),
            "more_clusterers_rss_mb": more_clusterers["peak_rss_mb"]}


def predict_clustering(model: dict, docs: float, tasks: int, cluster_tasks: int) -> dict:
    return {"cpu_s": model["cpu_fixed"] + model["cpu_per_doc"] * docs
            + model["cpu_per_band_read"] * band_reads(tasks, cluster_tasks),
            "peak_rss_mb": model["rss_mb_fixed"] + model["rss_mb_per_share_doc"] * docs / cluster_tasks}


# -- 3. one Common Crawl dump ---------------------------------------------------------------------


def dump_estimate(recipe: dict, clustering: dict, workers: int) -> dict:
    tasks = DUMP_FILES
    staged = DUMP_PAGES * recipe["staged_share"]
    s1 = DUMP_PAGES * recipe["stage1_cpu_per_page"]
    s2 = predict_clustering(clustering, staged, tasks, DUMP_CLUSTER_TASKS)
    clustering_waves = -(-DUMP_CLUSTER_TASKS // workers)
    s3 = staged * recipe["stage3_cpu_per_staged"] + staged * recipe["kept_share"] * recipe["stage3_cpu_per_kept"]
    waves = -(-tasks // workers)  # tasks are equal in size: the stage takes this many rounds
    return {
        "workers": workers,
        "stage1": {"tasks": tasks, "cpu_h": round(s1 / 3600), "wall_h": round(s1 / tasks * waves / 3600, 1),
                   "peak_rss_mb_per_task": recipe["stage1_peak_rss_mb"]},
        "clustering": {"tasks": DUMP_CLUSTER_TASKS, "cpu_h": round(s2["cpu_s"] / 3600, 1),
                       "wall_h": round(s2["cpu_s"] / DUMP_CLUSTER_TASKS * clustering_waves / 3600, 2),
                       "peak_rss_gb_per_task": round(s2["peak_rss_mb"] / 1024, 2),
                       "band_file_reads": band_reads(tasks, DUMP_CLUSTER_TASKS)},
        "stage3": {"tasks": tasks, "cpu_h": round(s3 / 3600), "wall_h": round(s3 / tasks * waves / 3600, 1),
                   "peak_rss_mb_per_task": recipe["stage3_peak_rss_mb"]},
        "staged_docs": round(staged), "staged_tb": round(staged * recipe["staged_bytes_per_staged"] / 1e12, 2),
        "staged_files": round(sum(recipe[f"{n}_files_per_task"] * (DUMP_CLUSTER_TASKS if n == "clusters" else tasks)
                                  + recipe[f"{n}_files_fixed"] for n in (*STAGED_FOLDERS, "clusters"))),
        "run_folder_files": round(sum(recipe[f"stage{n}_run_files_per_task"] * (DUMP_CLUSTER_TASKS if n == 2 else tasks)
                                      for n in (1, 2, 3))),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "curate-bench" / "cluster")
    args = parser.parse_args()
    pages_per_copy = 120 if args.quick else 720
    records = warc_records(args.data / "web" / "pages.warc.gz", pages_per_copy)
    runs = {}
    for k in (1, 2, 4):
        files = make_copies(records, k, args.work / f"input-{pages_per_copy}-x{k}")
        out = args.work / f"out-{pages_per_copy}-x{k}"
        wall = run_recipe(files, out)
        runs[k] = measure_run(out, len(records) * k, sum(f.stat().st_size for f in files), k)
        runs[k]["wall_s"] = round(wall, 1)
        print(f"recipe x{k}: {json.dumps(runs[k])}", flush=True)
    recipe = fit_recipe(runs[1], runs[2])
    recipe_check = check_recipe(recipe, runs[4])

    n = 100_000 if args.quick else 1_000_000
    cluster_work = args.work / "clustering"
    points = {"a": measure_clustering(cluster_work, n, 16, 16),
              "more_clusterers": measure_clustering(cluster_work, n, 16, 64),
              "b": measure_clustering(cluster_work, 2 * n, 16, 16),
              "many_tasks": measure_clustering(cluster_work, n, 256, 16)}
    for name, point in points.items():
        print(f"clustering {name}: {json.dumps(point)}", flush=True)
    clustering = fit_clustering(points["a"], points["b"], points["many_tasks"], points["more_clusterers"])
    check = measure_clustering(cluster_work, 4 * n, 64, 32)
    shutil.rmtree(cluster_work, ignore_errors=True)
    predicted = predict_clustering(clustering, check["docs"], check["tasks"], check["cluster_tasks"])
    clustering_check = {k: round(predicted[k] / check[k], 3) for k in ("cpu_s", "peak_rss_mb")}

    estimates = [dump_estimate(recipe, clustering, w) for w in WORKERS]
    for e in estimates:
        print(f"dump on {e['workers']} workers: {json.dumps(e)}", flush=True)
    stage1_pages_per_cpu_s = 1 / recipe["stage1_cpu_per_page"]
    print(json.dumps({
        "input": f"pages.warc.gz: {pages_per_copy} real pages x1, x2, x4 (one file per copy); clustering on synthetic band "
                 f"files of {n:,} .. {4 * n:,} documents",
        "quick": args.quick,
        "stage1_pages_per_cpu_s": round(stage1_pages_per_cpu_s, 1),
        "stage1_vs_trafilatura_42_pages_per_s": round(stage1_pages_per_cpu_s / 42, 3),
        "staged_share": round(recipe["staged_share"], 4),
        "staged_bytes_per_doc": round(recipe["staged_bytes_per_staged"]),
        "kept_share_after_dedup": round(recipe["kept_share"], 4),
        "stage3_kept_docs_per_cpu_s": round(1 / recipe["stage3_cpu_per_kept"], 1),
        "clustering_docs_per_cpu_s": round(1 / clustering["cpu_per_doc"]) if clustering["cpu_per_doc"] > 0 else None,
        "clustering_bytes_per_share_doc": round(clustering["rss_mb_per_share_doc"] * 2**20, 1),
        "clustering_rss_mb_fixed": round(clustering["rss_mb_fixed"]),
        "clustering_cpu_ms_per_band_read": round(clustering["cpu_per_band_read"] * 1000, 4),
        "clustering_rss_mb_n_docs_16_vs_64_tasks": [points["a"]["peak_rss_mb"], points["more_clusterers"]["peak_rss_mb"]],
        "recipe_check_predicted_over_measured": recipe_check,
        "clustering_check_predicted_over_measured": clustering_check,
        "dump": estimates,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
