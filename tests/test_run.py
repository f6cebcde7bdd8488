"""End to end: `curate run pipelines/datacomp.py` through the real CLI, on the embedded sample,
on real crawl files (local executor, any task/worker split) and on a real local Ray cluster."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.cli import main
from ray_cluster import RayCluster

REPO = Path(__file__).resolve().parent.parent
PIPELINE = str(REPO / "pipelines" / "datacomp.py")
CORE = ["id", "url", "text", "language", "language_score", "warc_date", "warc_record_id", "source_file"]
REMOVED = ["removed_by", "removed_reason"]
SAMPLE_ENGLISH = 9  # the embedded sample: 13 HTML pages, 1 without text, 3 not English


@pytest.fixture(scope="module")
def recipe(lid_model):
    """The recipe's stage names (the blocks the funnel shows) and declared score columns, read from
    the pipeline file itself (the recipe grows issue by issue: heuristics, dedup, quality)."""
    from curate.run import plan
    from curate.step import RunContext

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CURATE_LID_MODEL", lid_model)
        _, plans = plan(PIPELINE, RunContext())
    blocks = [step for stage in plans for step in stage.steps]
    stages = [block.name for block in blocks if not block.internal]
    assert stages[:3] == ["read", "extract", "language"] and stages[-1] == "write"
    columns = []
    for block in blocks:
        columns += [c for c in block.columns if c not in CORE and c not in columns]
    return {"stages": stages, "columns": CORE + columns}


@pytest.fixture(autouse=True)
def lid_env(monkeypatch, lid_model):
    monkeypatch.setenv("CURATE_LID_MODEL", lid_model)


def curate(*args: str) -> int:
    return main(["run", PIPELINE, *args])


def parquet_files(folder) -> list[str]:
    return sorted(glob.glob(os.path.join(str(folder), "*.parquet")))


def read_output(folder) -> pa.Table:
    files = parquet_files(folder)
    assert files, f"no Parquet under {folder}"
    return pa.concat_tables([pq.read_table(f) for f in files])


def rows_by_id(table: pa.Table) -> dict:
    """Every column of every row (scores included), by id, as JSON (so NaN equals NaN)."""
    rows = table.to_pylist()
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "duplicate ids in the output"
    return {r["id"]: json.dumps(r, sort_keys=True, default=str) for r in rows}


def load_funnel(folder) -> dict:
    with open(f"{folder}.curate/funnel.json") as f:
        return json.load(f)


def check_funnel_chain(funnel: dict, tasks: int, stage_names: list[str]) -> dict:
    """Stage rows in pipeline order, each stage's input is the previous stage's output, and
    every document a stage did not pass on is accounted for by a reason."""
    assert funnel["tasks"] == tasks and funnel["tasks_reported"] == tasks
    assert [s["stage"] for s in funnel["stages"]] == stage_names
    stages = {s["stage"]: s for s in funnel["stages"]}
    for before, after in zip(funnel["stages"], funnel["stages"][1:]):
        assert before["docs_out"] == after["docs_in"], (before["stage"], after["stage"])
    read = stages["read"]
    assert read["docs_in"] - read["docs_out"] == sum(read["skipped"].values())
    for s in funnel["stages"][1:-1]:
        assert s["docs_in"] - s["docs_out"] == sum(s["dropped"].values()), s["stage"]
    assert stages["write"]["docs_in"] == stages["write"]["docs_out"]
    return stages


def dropped_after_language(stages: dict, stage_names: list[str]) -> int:
    later = stage_names[stage_names.index("language") + 1:-1]
    return sum(sum(stages[name]["dropped"].values()) for name in later)


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, lid_model):
    """One run on the embedded sample; tests that change an output work on a copy."""
    out = tmp_path_factory.mktemp("sample") / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CURATE_LID_MODEL", lid_model)
        rc = curate("--output", str(out))
    return rc, out


def test_sample_run_writes_english_parquet_and_funnel(sample_run, recipe):
    rc, out = sample_run
    assert rc == 0
    files = parquet_files(out)
    assert files
    for f in files:  # every shard has the same flat schema: core columns, then declared scores
        assert pq.read_schema(f).names == recipe["columns"]

    funnel = load_funnel(out)
    stages = check_funnel_chain(funnel, tasks=1, stage_names=recipe["stages"])
    assert stages["read"]["docs_out"] == 13
    assert stages["extract"]["dropped"] == {"no_text": 1}
    assert stages["language"]["dropped"] == {"language:de": 1, "language:es": 1, "language:fr": 1}
    assert stages["language"]["docs_out"] == SAMPLE_ENGLISH
    kept = SAMPLE_ENGLISH - dropped_after_language(stages, recipe["stages"])
    assert stages["write"]["docs_out"] == kept
    assert funnel["file_errors"] == []

    table = read_output(out)
    assert table.num_rows == kept > 0
    rows = table.to_pylist()
    assert {r["language"] for r in rows} == {"en"}
    assert all(0.65 <= r["language_score"] <= 1.0 for r in rows)
    assert all(r["text"].strip() and r["url"].startswith("https://") for r in rows)
    assert all(r["warc_record_id"] == r["id"] and r["warc_date"] for r in rows)
    assert all(r["source_file"].endswith("sample.warc.gz") for r in rows)
    assert len({r["id"] for r in rows}) == kept

    # the output folder reads as one table in DuckDB (what a user does next)
    with duckdb.connect() as con:
        assert con.execute(f"SELECT count(*) FROM '{out}/*.parquet'").fetchall() == [(kept,)]
        assert con.execute(f"SELECT DISTINCT language FROM '{out}/*.parquet'").fetchall() == [("en",)]


def _snapshot(folder) -> dict:
    snap = {}
    for f in parquet_files(folder):
        st = os.stat(f)
        snap[os.path.basename(f)] = (hashlib.sha256(Path(f).read_bytes()).hexdigest(), st.st_mtime_ns)
    return snap


def test_rerun_skips_completed_tasks(sample_run, recipe, tmp_path, capsys):
    rc, first = sample_run
    assert rc == 0
    out = tmp_path / "out"
    shutil.copytree(first, out)  # copy2: mtimes kept
    shutil.copytree(f"{first}.curate", f"{out}.curate")
    before, funnel_before = _snapshot(out), load_funnel(out)
    capsys.readouterr()
    assert curate("--output", str(out)) == 0
    printed = capsys.readouterr().out
    assert _snapshot(out) == before  # same files, not rewritten
    funnel = load_funnel(out)
    assert funnel == funnel_before  # still the whole run's funnel
    check_funnel_chain(funnel, tasks=1, stage_names=recipe["stages"])
    assert "write" in printed and f"{out}.curate/funnel.json" in printed


def test_removed_documents_are_written_with_stage_and_reason(recipe, tmp_path):
    out, removed = tmp_path / "out", tmp_path / "removed"
    assert curate("--output", str(out), "--removed", str(removed)) == 0
    stages = check_funnel_chain(load_funnel(out), tasks=1, stage_names=recipe["stages"])
    kept = read_output(out)
    assert kept.num_rows == stages["write"]["docs_out"]
    files = sorted(glob.glob(str(removed / "**" / "*.parquet"), recursive=True))
    assert files
    tables = [pq.read_table(f) for f in files]
    for t in tables:  # the output's columns, then who removed the document and why
        assert t.schema.names == recipe["columns"] + REMOVED
    rows = pa.concat_tables(tables).to_pylist()
    got = sorted((r["removed_by"], r["removed_reason"]) for r in rows if r["removed_by"] in ("extract", "language"))
    assert got == [("extract", "no_text"), ("language", "language:de"), ("language", "language:es"),
                   ("language", "language:fr")]
    # the funnel's dropped counts are exactly the removed rows, stage by stage
    for stage in recipe["stages"][1:-1]:
        by_reason: dict = {}
        for r in rows:
            if r["removed_by"] == stage:
                by_reason[r["removed_reason"]] = by_reason.get(r["removed_reason"], 0) + 1
        assert by_reason == stages[stage]["dropped"], stage
    assert {r["removed_by"] for r in rows} <= set(recipe["stages"][1:-1])
    # kept and removed partition the documents read
    kept_ids = set(kept.column("id").to_pylist())
    removed_ids = {r["id"] for r in rows}
    assert len(removed_ids) == len(rows) and not kept_ids & removed_ids
    assert len(kept_ids | removed_ids) == stages["read"]["docs_out"]
    for r in rows:
        if r["removed_reason"].startswith("language:"):  # annotated before removal
            assert r["language"] == r["removed_reason"].split(":", 1)[1] and r["text"].strip()
        assert r["source_file"].endswith("sample.warc.gz")


def removed_rows(folder) -> dict:
    files = sorted(glob.glob(os.path.join(str(folder), "**", "*.parquet"), recursive=True))
    rows = pa.concat_tables([pq.read_table(f) for f in files]).to_pylist() if files else []
    return {r["id"]: (r["removed_by"], r["removed_reason"]) for r in rows}


def test_task_split_and_workers_do_not_change_the_output(shared_data, recipe, tmp_path):
    warc = str(shared_data / "warc") + "/"
    one, three = tmp_path / "one", tmp_path / "three"
    assert curate("--input", warc, "--output", str(one), "--removed", str(tmp_path / "rm1")) == 0
    assert curate("--input", warc, "--output", str(three), "--removed", str(tmp_path / "rm3"),
                  "--tasks", "3", "--workers", "2") == 0
    # at most one shard per task (a task whose documents were all removed writes none)
    shards = [os.path.basename(f) for f in parquet_files(three)]
    assert 2 <= len(shards) <= 3 and set(shards) <= {f"000_{rank:05d}.parquet" for rank in range(3)}
    a, b = rows_by_id(read_output(one)), rows_by_id(read_output(three))
    ra, rb = removed_rows(tmp_path / "rm1"), removed_rows(tmp_path / "rm3")
    # the per-page extraction limit is wall-clock time (two pages here take ~2-3 CPU s), so a
    # loaded machine may drop a slow page in one run only; everything else must be identical
    timed_out = {i for d in (ra, rb) for i, why in d.items() if why == ("extract", "timeout")}
    assert len(timed_out) <= 3
    assert len(a) >= 20 and len(ra) >= 200  # kept and removed are both compared
    assert {k: v for k, v in a.items() if k not in timed_out} == {k: v for k, v in b.items() if k not in timed_out}
    assert {k: v for k, v in ra.items() if k not in timed_out} == {k: v for k, v in rb.items() if k not in timed_out}
    fa, fb = load_funnel(one), load_funnel(three)
    sa = check_funnel_chain(fa, tasks=1, stage_names=recipe["stages"])
    sb = check_funnel_chain(fb, tasks=3, stage_names=recipe["stages"])
    assert sa["read"] | {"cpu_s": 0} == sb["read"] | {"cpu_s": 0}  # reading has no time limit
    assert sa["extract"]["docs_in"] == sb["extract"]["docs_in"]
    assert sa["write"]["docs_out"] == len(a) and sb["write"]["docs_out"] == len(b)
    assert sorted(map(json.dumps, fa["file_errors"])) == sorted(map(json.dumps, fb["file_errors"]))
    if not timed_out:  # the usual case: the two funnels agree stage by stage
        for stage in recipe["stages"]:
            for key in ("docs_in", "docs_out", "bytes_in", "bytes_out", "dropped", "skipped"):
                assert sa[stage][key] == sb[stage][key], (stage, key)


# -- Ray ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    """A real single-node Ray cluster (tests/ray_cluster.py): its address and auth environment."""
    pytest.importorskip("ray")
    cluster = RayCluster(tmp_path_factory.mktemp("ray"))
    try:
        cluster.start_head(cpus=2)
        yield cluster.address, cluster.auth
    finally:
        cluster.stop()


@pytest.mark.slow
def test_ray_executor_matches_local(shared_data, recipe, ray_cluster, tmp_path, lid_model):
    inputs = str(shared_data / "warc" / "wget-crawl-*.warc.gz")  # two files: both tasks get one
    local, ray_out = tmp_path / "local", tmp_path / "ray"
    assert curate("--input", inputs, "--output", str(local)) == 0
    # the CLI as a user runs it, so the Ray driver lives in its own process
    address, auth = ray_cluster
    env = {**os.environ, **auth, "RAY_ADDRESS": address, "CURATE_LID_MODEL": lid_model, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "curate.cli", "run", PIPELINE, "--input", inputs, "--output", str(ray_out),
         "--executor", "ray", "--tasks", "2", "--workers", "2"],
        env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    port = address.rsplit(":", 1)[1]  # Ray names the node by its interface address
    assert re.search(rf"Connecting to existing Ray cluster at address: \S+:{port}\b", proc.stderr)
    assert len(parquet_files(ray_out)) == 2
    a, b = rows_by_id(read_output(local)), rows_by_id(read_output(ray_out))
    assert len(a) >= 10
    assert a == b
    stages = check_funnel_chain(load_funnel(ray_out), tasks=2, stage_names=recipe["stages"])
    local_stages = check_funnel_chain(load_funnel(local), tasks=1, stage_names=recipe["stages"])
    assert stages["read"]["other"]["files"] == 2
    assert stages["read"]["docs_out"] == local_stages["read"]["docs_out"] == 37  # HTML pages in the two files
    assert stages["write"]["docs_out"] == len(b)


FAILING_PIPELINE = '''
from datatrove.pipeline.base import PipelineStep
from curate.errors import CurateError

class Refuse(PipelineStep):
    name = "refuse"
    def run(self, data, rank=0, world_size=1):
        raise CurateError("refuse: the server at http://127.0.0.1:9 is gone; rerun to resume")
        yield

def build(run):
    return [Refuse()]
'''


def test_a_user_error_inside_a_task_is_one_line_without_traceback(tmp_path):
    # datatrove logs a failed task's exception; for curate's own errors the message is the report
    pipeline = tmp_path / "failing.py"
    pipeline.write_text(FAILING_PIPELINE)
    result = subprocess.run([sys.executable, "-m", "curate.cli", "run", str(pipeline), "--output",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "curate: error: refuse: the server at http://127.0.0.1:9 is gone; rerun to resume")
    task_log = (tmp_path / "out.curate" / "stage_1" / "logs" / "task_00000.log").read_text()
    assert "refuse: the server at http://127.0.0.1:9 is gone" in task_log  # the log keeps the cause
    assert not (tmp_path / "out.curate" / "stage_1" / "completions").exists() or not os.listdir(
        tmp_path / "out.curate" / "stage_1" / "completions")  # the task is not marked done
