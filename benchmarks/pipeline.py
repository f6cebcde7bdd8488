#!/usr/bin/env python
"""End to end: `curate run pipelines/datacomp.py` vs datatrove's FineWeb-style pipeline, same input,
same machine, same run.

    python benchmarks/pipeline.py            # 3 interleaved rounds over 1,508 real pages (~5 minutes)
    python benchmarks/pipeline.py --quick    # 1 round, the first 500 pages (< 1 minute once the venv exists)
    python benchmarks/pipeline.py --input a.warc.gz --input b.warc.gz --rounds 5

The two sides, each one task on one worker, each a fresh process per round:
- curate: `python -m curate.cli run pipelines/datacomp.py` (read, extract with the default
  extractor, language ID, Gopher repetition + quality, C4, FineWeb, RefinedWeb, exact and MinHash
  dedup, the quality classifier, Parquet): more stages than the baseline, all of them timed.
- datatrove 0.10.1 (benchmarks/datatrove_fineweb.py): WarcReader -> Trafilatura (its own 1.11,
  favour_precision) -> LanguageFilter -> Gopher repetition + quality -> C4 -> FineWeb -> Parquet.
  Its trafilatura pin clashes with curate's, so it runs in its own virtual environment with
  datatrove[processing,io] and spaCy (which its word-tokenising filters need); the benchmark
  creates one at $CURATE_BENCH_VENV (default ~/.cache/curate/bench-datatrove-venv) or reuses it,
  and says which.
Both use the same lid.176 model file (../shared/data/models/lid.176.ftz) and a 5 s per-page limit.

Default input: ../shared/data/web/pages.warc.gz (720 pages) and
../shared/data/extraction-gold/pages.warc.gz (788 pages), both real HTML pages, read by both sides
from one folder of links.

Rounds alternate which side goes first. Per side: the median round's wall seconds (from process
start to exit: imports, model loading and writing included), CPU seconds of the process and its
children, documents read and kept, and seconds per stage (curate: CPU from its funnel; datatrove:
the time inside each step from its stats.json). `speedup_vs_datatrove` = curate's docs/s / datatrove's
docs/s, docs = documents each reader handed on.

Human-readable lines go to stdout; the LAST line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, default_data  # benchmarks/common.py

DATATROVE_REQUIREMENTS = ["datatrove[processing,io]==0.10.1", "spacy", "pyarrow", "aiohttp", "requests"]
QUICK_LIMIT = 500


def datatrove_venv() -> tuple[Path, str]:
    """The baseline's virtual environment: created once, reused while its requirements are the same."""
    venv = Path(os.environ.get("CURATE_BENCH_VENV", Path.home() / ".cache" / "curate" / "bench-datatrove-venv"))
    python = venv / "bin" / "python"
    marker = venv / "curate-requirements.json"
    if python.exists() and marker.is_file() and json.loads(marker.read_text()) == DATATROVE_REQUIREMENTS:
        return python, f"reused {venv}"
    shutil.rmtree(venv, ignore_errors=True)
    print(f"creating the baseline's virtual environment {venv}: {' '.join(DATATROVE_REQUIREMENTS)}", flush=True)
    for command in ([sys.executable, "-m", "venv", str(venv)],
                    [str(python), "-m", "pip", "install", "-q", "-U", "pip"],  # pip 23 mis-resolves lxml[html_clean]
                    [str(python), "-m", "pip", "install", "-q", *DATATROVE_REQUIREMENTS]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"error: {' '.join(command)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    marker.write_text(json.dumps(DATATROVE_REQUIREMENTS))
    return python, f"created {venv}"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_process(command: list[str], env: dict) -> tuple[float, float, str]:
    wall0, cpu0 = time.perf_counter(), children_cpu()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - wall0, children_cpu() - cpu0
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(command[:4])} ... exited {done.returncode}:\n{done.stderr[-3000:]}")
    return wall, cpu, done.stdout


def run_curate(folder: Path, work: Path, limit: int | None, lid_model: Path) -> dict:
    out = work / "curate-out"
    command = [sys.executable, "-m", "curate.cli", "run", str(REPO / "pipelines" / "datacomp.py"), "--input",
               str(folder), "--output", str(out), "--tasks", "1", "--workers", "1"]
    if limit:
        command += ["--limit", str(limit)]
    wall, cpu, _ = timed_process(command, {**os.environ, "CURATE_LID_MODEL": str(lid_model)})
    funnel = json.loads((Path(f"{out}.curate") / "funnel.json").read_text())
    stages = {row["stage"]: round(row["cpu_s"], 3) for row in funnel["stages"]}
    read = next(row for row in funnel["stages"] if row["stage"] == "read")["docs_out"]
    kept = next(row for row in funnel["stages"] if row["stage"] == "write")["docs_out"]
    return {"wall_s": wall, "cpu_s": cpu, "docs_read": read, "kept": kept, "stage_cpu_s": stages}


def run_datatrove(python: Path, folder: Path, work: Path, limit: int | None, lid_model: Path) -> dict:
    command = [str(python), str(REPO / "benchmarks" / "datatrove_fineweb.py"), str(folder),
               str(work / "datatrove-out"), "--logs", str(work / "datatrove-logs"), "--lid-model", str(lid_model)]
    if limit:
        command += ["--limit", str(limit)]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    wall, cpu, stdout = timed_process(command, env)
    report = json.loads(stdout.strip().splitlines()[-1])
    stages = {step["name"].encode("ascii", "ignore").decode().split(":")[-1].strip(): step["seconds"]
              for step in report["steps"]}
    return {"wall_s": wall, "cpu_s": cpu, "docs_read": report["docs_read"], "kept": report["kept"],
            "stage_cpu_s": stages}


def median_run(runs: list[dict]) -> dict:
    middle = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    return {**middle, "wall_s": round(middle["wall_s"], 2), "cpu_s": round(middle["cpu_s"], 2),
            "docs_per_s": round(middle["docs_read"] / middle["wall_s"], 1),
            "wall_s_rounds": [round(r["wall_s"], 2) for r in runs]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="the shared data folder (default: $CURATE_SHARED_DATA or <repo>/../shared/data)")
    parser.add_argument("--input", action="append", help="a WARC file (repeatable; default: the two named above)")
    parser.add_argument("--quick", action="store_true", help=f"one round, the first {QUICK_LIMIT} pages")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3; --quick: 1)")
    parser.add_argument("--limit", type=int, default=None, help="documents to read (default: all; --quick: 500)")
    args = parser.parse_args()

    data = Path(args.data) if args.data else default_data()
    inputs = [Path(p) for p in args.input] if args.input else \
        [data / "web" / "pages.warc.gz", data / "extraction-gold" / "pages.warc.gz"]
    lid_model = data / "models" / "lid.176.ftz"
    for needed in (*inputs, lid_model):
        if not needed.is_file():
            print(f"error: {needed} not found (pass --data or set CURATE_SHARED_DATA)", file=sys.stderr)
            return 2
    rounds = args.rounds or (1 if args.quick else 3)
    limit = args.limit or (QUICK_LIMIT if args.quick else None)
    python, venv_note = datatrove_venv()
    print(f"datatrove side: {venv_note}")

    runs = {"curate": [], "datatrove": []}
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="curate-bench-pipeline-") as tmp:
        folder = Path(tmp) / "input"
        folder.mkdir()
        for n, path in enumerate(inputs):  # one folder both readers list (datatrove reads a folder + glob)
            (folder / f"{n:02d}-{path.name}").symlink_to(path.resolve())
        print(f"input: {', '.join(map(str, inputs))}{f' (first {limit} documents)' if limit else ''}; {rounds} round(s)")
        for r in range(rounds):
            order = ["curate", "datatrove"] if r % 2 == 0 else ["datatrove", "curate"]
            for side in order:
                work = Path(tmp) / f"{side}-{r}"
                work.mkdir()
                run = run_curate(folder, work, limit, lid_model) if side == "curate" else \
                    run_datatrove(python, folder, work, limit, lid_model)
                runs[side].append(run)
                print(f"round {r + 1} {side:<9} {run['wall_s']:6.1f} s wall {run['cpu_s']:6.1f} s CPU  "
                      f"{run['docs_read']} read -> {run['kept']} kept", flush=True)
                shutil.rmtree(work)

    result = {side: median_run(side_runs) for side, side_runs in runs.items()}
    ours, theirs = result["curate"], result["datatrove"]
    speedup = round(ours["docs_per_s"] / theirs["docs_per_s"], 2)
    for side, r in result.items():
        stages = ", ".join(f"{name} {seconds:.2f}" for name, seconds in r["stage_cpu_s"].items())
        print(f"{side:<9} {r['docs_per_s']:7.1f} docs/s ({r['wall_s']} s wall, {r['cpu_s']} s CPU, "
              f"{r['docs_read']} read, {r['kept']} kept); stage seconds: {stages}")
    stage_total = sum(ours["stage_cpu_s"].values())
    slowest = max(ours["stage_cpu_s"], key=ours["stage_cpu_s"].get)
    overhead = round(ours["wall_s"] - stage_total, 2)
    bottleneck = (f"{slowest} ({ours['stage_cpu_s'][slowest]:.2f} s of {stage_total:.2f} s of stage CPU); "
                  f"{overhead} s of the {ours['wall_s']} s wall is outside the stages (start-up: imports, models, "
                  f"one process per stage, the run folder)")
    print(f"curate is {speedup}x datatrove (docs/s). Remaining bottleneck: {bottleneck}")

    from importlib.metadata import version

    from curate.extract import ExtractText

    print(json.dumps({
        "benchmark": "pipeline",
        "inputs": [str(p) for p in inputs],
        "limit": limit,
        "quick": args.quick,
        "rounds": rounds,
        "speedup_vs_datatrove": speedup,
        "speedup_vs_datatrove_cpu": round(theirs["cpu_s"] / ours["cpu_s"] * ours["docs_read"] / theirs["docs_read"], 2),
        "curate": ours,
        "datatrove": theirs,
        "bottleneck": bottleneck,
        "datatrove_venv": venv_note,
        "timing": "docs/s = documents read / wall seconds of the whole process (median round); rounds alternate "
                  "which side starts; curate's stage seconds are CPU (its funnel), datatrove's the time inside "
                  "each step (its stats.json)",
        "versions": {"python": platform.python_version(), "curate_extractor": ExtractText().extractor,
                     "trafilatura (curate)": version("trafilatura"), "datatrove": "0.10.1 (its own venv)"},
        "cpus": os.cpu_count(),
        "loadavg_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
