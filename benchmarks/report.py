"""`curate report` at scale: wall time, peak RSS and page size on a 1,000,000-document output.
The last stdout line is one JSON object.

    python benchmarks/report.py            # 1,000,000 kept + 250,000 removed documents
    python benchmarks/report.py --quick    # 50,000 + 12,500, under a minute

Input: a real run first, `curate run pipelines/datacomp.py` on ../shared/data/web/pages.warc.gz (720
real pages; --quick: the first 150 of each task) with --removed, so every column is a real curate column with real values (the
heuristic statistics, language and quality scores, dedup clusters, removal reasons). Its kept and
removed documents are then tiled to the target size: document i is real document i mod n, with the
id made unique and the text cut at a different paragraph boundary each time (so lengths vary), in
8 shards as 8 tasks would write them; the run's funnel, run record and blocks are copied beside it.
Baseline, in the same run: one DuckDB scan of the text column (`SELECT sum(strlen(text))`) over the
same files, the floor of any report that looks at the documents; `report_vs_one_text_scan` says how
many such scans the whole report costs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, default_data  # benchmarks/common.py

SHARDS = 8


def real_run(data: Path, work: Path, quick: bool) -> Path:
    out = work / ("real-quick" if quick else "real")
    if not (out.is_dir() and any(out.glob("*.parquet"))):
        subprocess.run([sys.executable, "-m", "curate.cli", "run", str(REPO / "pipelines" / "datacomp.py"),
                        "--input", str(data / "web" / "pages.warc.gz"), "--output", str(out),
                        "--removed", f"{out}-removed", "--tasks", "2", "--workers", "2", "--overwrite"]
                       + (["--limit", "150"] if quick else []), check=True, capture_output=True, text=True)
    return out


def tile(files: list[Path], n: int, folder: Path, seed: int) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    base = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
    folder.mkdir(parents=True, exist_ok=True)
    texts = base.column("text").to_pylist()
    # up to 50 paragraph starts per real document: each copy starts at a different one
    starts = [[0] + [k + 1 for k, c in enumerate(t[:20000]) if c == "\n"][:49] for t in texts]
    per_shard = -(-n // SHARDS)
    for shard in range(SHARDS):
        start, stop = shard * per_shard, min(n, (shard + 1) * per_shard)
        if start >= stop:
            break
        index = pa.array([i % base.num_rows for i in range(start, stop)], pa.int64())
        table = base.take(index)
        ids = pc.binary_join_element_wise(table.column("id"), pa.array([str(i) for i in range(start, stop)]), "#")
        cut = []
        for i in range(start, stop):  # a different paragraph boundary each time: lengths vary
            j = i % base.num_rows
            cut.append(texts[j][starts[j][(i * 7 + seed) % len(starts[j])]:].strip() or texts[j])
        table = table.set_column(table.schema.get_field_index("id"), "id", ids)
        table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(cut, pa.string()))
        sub = folder if "removed_by" not in table.schema.names else folder / "tiled"
        sub.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, sub / f"000_{shard:05d}.parquet", compression="zstd")


def build_output(real: Path, work: Path, docs: int) -> Path:
    out = work / f"scaled-{docs}-{real.name}"
    if (out / "000_00000.parquet").is_file():
        return out
    tile(sorted(real.glob("*.parquet")), docs, out, seed=0)
    removed = sorted(Path(f"{real}-removed").glob("*/*.parquet"))
    tile(removed, docs // 4, Path(f"{out}-removed"), seed=3)
    run_dir = Path(f"{out}.curate")
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir()
    for name in ("funnel.json", "blocks.json"):
        shutil.copy(Path(f"{real}.curate") / name, run_dir / name)
    record = json.loads((Path(f"{real}.curate") / "run.json").read_text())
    record["identity"]["removed"] = f"{out}-removed"
    (run_dir / "run.json").write_text(json.dumps(record))
    return out


def measure(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of a child process."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read()[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--docs", type=int)
    args = parser.parse_args()
    docs = args.docs or (50_000 if args.quick else 1_000_000)
    work = Path(tempfile.gettempdir()) / "curate-bench" / "report"
    work.mkdir(parents=True, exist_ok=True)
    real = real_run(default_data(), work, args.quick)
    out = build_output(real, work, docs)
    size = sum(f.stat().st_size for f in out.glob("*.parquet"))
    scan = ("import duckdb, sys; duckdb.sql(\"SELECT sum(strlen(text)) FROM read_parquet('\" + sys.argv[1] + "
            "\"/*.parquet')\").fetchall()")
    scan_s, scan_rss = measure([sys.executable, "-c", scan, str(out)])
    page = work / f"report-{docs}.html"
    report_s, report_rss = measure([sys.executable, "-m", "curate.cli", "report", str(out), "--html", str(page)])
    result = {
        "benchmark": "report", "input": f"{docs} documents tiled from a real datacomp.py run on web/pages.warc.gz "
                                        f"(+{docs // 4} removed), {SHARDS} shards, {size / 1e9:.2f} GB Parquet",
        "documents": docs, "report_seconds": round(report_s, 1), "report_peak_rss_mb": round(report_rss),
        "html_mb": round(page.stat().st_size / 1e6, 2), "baseline_one_text_scan_seconds": round(scan_s, 2),
        "report_vs_one_text_scan": round(report_s / scan_s, 1),
        "goal_seconds": 60, "goal_peak_rss_mb": 2000, "goal_html_mb": 5,
        "goals_met": report_s < 60 and report_rss < 2000 and page.stat().st_size < 5e6,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
