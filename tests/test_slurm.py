"""`curate run --executor slurm` on a real single-node Slurm (tests/slurm_cluster.py): the recipe's
rows equal the local executor's; a task cancelled mid-run, then the same command again, gives the
same rows; a failing task ends the run with one line naming it and its log, and nothing is left
queued. Pipeline files that define their own blocks work in the jobs."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from slurm_cluster import SlurmCluster, missing

REPO = Path(__file__).resolve().parent.parent
DATACOMP = str(REPO / "pipelines" / "datacomp.py")

pytestmark = pytest.mark.slow

# steps defined in the pipeline file itself, with imports at module level: the jobs must find them
OWN_BLOCKS = '''
import os
import time

from curate.dedup import dedup_steps
from curate.extract import ExtractText
from curate.io import ReadDocuments, WriteParquet
from curate.step import CurateStep


class Slow(CurateStep):
    """Takes its time when $SLOW is set, so a test can cancel a task while it runs."""

    name = "slow"

    def process(self, doc):
        if os.environ.get("SLOW"):
            time.sleep(float(os.environ["SLOW"]))


class FailOn(CurateStep):
    """Fails the task that reads the document $FAIL_ON names."""

    name = "fail_on"

    def process(self, doc):
        if doc.id == os.environ.get("FAIL_ON"):
            raise RuntimeError(f"injected failure on {doc.id}")


def build(run):
    return [ReadDocuments(), ExtractText(), Slow(), FailOn(), *dedup_steps(), WriteParquet(run.output)]
'''


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    why = missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the Slurm tests cannot run: {why}")
        pytest.skip(why)
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def crawl(shared_data) -> list[str]:
    return [str(shared_data / "warc" / n) for n in ("wget-crawl-0000.warc.gz", "wget-crawl-0001.warc.gz",
                                                    "archive-org-crawl-299.warc.gz")]


def curate(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})


def rows(folder) -> dict:
    table = [r for f in sorted(glob.glob(f"{folder}/*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert len({r["id"] for r in table}) == len(table)
    return {r["id"]: json.dumps(r, sort_keys=True, default=str) for r in table}


def inputs(files: list[str]) -> list[str]:
    return [arg for f in files for arg in ("--input", f)]


def status(out, env: dict) -> tuple[int, dict]:
    done = curate("status", str(out), "--json", env=env)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def wait_for_empty_queue(cluster: SlurmCluster, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while cluster.queue() and time.monotonic() < deadline:
        time.sleep(1)
    assert cluster.queue() == [], cluster.queue()


def test_the_recipe_on_slurm_gives_the_local_rows(slurm, crawl, lid_model, tmp_path):
    env = {**slurm.env, "CURATE_LID_MODEL": lid_model}
    local = curate("run", DATACOMP, *inputs(crawl), "--tasks", "4", "--output", str(tmp_path / "local"), env=env)
    assert local.returncode == 0, local.stderr
    on_slurm = curate("run", DATACOMP, *inputs(crawl), "--tasks", "4", "--workers", "2", "--executor", "slurm",
                      "--output", str(tmp_path / "slurm"), "--time", "00:20:00", "--sbatch", "job-name=recipe",
                      "--sbatch", "2:mem-per-cpu=1G",
                      "--slurm-env", f"source {sys.prefix}/bin/activate", env=env)
    assert on_slurm.returncode == 0, on_slurm.stderr[-3000:]
    assert rows(tmp_path / "slurm") == rows(tmp_path / "local") and len(rows(tmp_path / "local")) >= 20
    run_dir = Path(f"{tmp_path / 'slurm'}.curate")
    jobs = json.loads((run_dir / "slurm_jobs.json").read_text())
    stages = len(jobs)  # signatures, dedup's index and clustering stages, the filters
    assert sorted(jobs, key=int) == [str(n) for n in range(1, stages + 1)] and stages >= 3 and all(jobs.values())
    script = (run_dir / "stage_1" / "launch_script.slurm").read_text()
    assert "#SBATCH --array=0-3%2" in script and "#SBATCH --time=00:20:00" in script and "--qos" not in script
    assert "#SBATCH --job-name=recipe" in script  # --sbatch wins over the default name
    # the environment command, then the `python` it puts first on the PATH
    assert f"source {sys.prefix}/bin/activate\n" in script and "\npython -m curate.executor.slurm_job " in script
    # dedup's index is one task, after every task of the first stage; a stage's own option
    assert "#SBATCH --array=0-0" in (run_dir / "stage_2" / "launch_script.slurm").read_text()
    assert "#SBATCH --mem-per-cpu=1G" in (run_dir / "stage_2" / "launch_script.slurm").read_text()
    assert "#SBATCH --array=0-3%2" in (run_dir / f"stage_{stages - 1}" / "launch_script.slurm").read_text()
    assert "#SBATCH --mem-per-cpu=2G" in script
    wait_for_empty_queue(slurm)


def test_tokenize_on_slurm_writes_the_local_shards(slurm, tokenize_args, tmp_path):
    args = tokenize_args("numpy")
    local = curate(*args, "--out", str(tmp_path / "local"), env=slurm.env)
    assert local.returncode == 0, local.stderr
    on_slurm = curate(*args, "--out", str(tmp_path / "slurm"), "--executor", "slurm", "--workers", "2",
                      "--time", "00:20:00", "--slurm-env", f"source {sys.prefix}/bin/activate", env=slurm.env)
    assert on_slurm.returncode == 0, on_slurm.stderr[-3000:]

    def shards(folder: Path) -> dict:
        return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith("shard_")}

    assert len(shards(tmp_path / "local")) == 4 and shards(tmp_path / "slurm") == shards(tmp_path / "local")
    assert json.loads((tmp_path / "slurm" / "tokens.json").read_text())["documents"] == 90  # 3 files of 30
    jobs = json.loads((Path(f"{tmp_path / 'slurm'}.curate") / "slurm_jobs.json").read_text())
    assert len(jobs) == 2 and all(jobs.values())  # encoding, then the shard writers
    wait_for_empty_queue(slurm)


def test_a_task_cancelled_mid_run_then_the_same_command_completes(slurm, crawl, lid_model, tmp_path):
    pipeline = tmp_path / "own_blocks.py"
    pipeline.write_text(OWN_BLOCKS)
    env = {**slurm.env, "CURATE_LID_MODEL": lid_model}
    args = ["run", str(pipeline), *inputs(crawl), "--tasks", "3", "--executor", "slurm"]
    reference = curate("run", str(pipeline), *inputs(crawl), "--tasks", "3", "--output", str(tmp_path / "ref"),
                       env=env)
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "out"
    started = curate(*args, "--output", str(out), "--detach", env={**env, "SLOW": "0.3"})
    assert started.returncode == 0 and "curate status" in started.stdout, started.stderr
    jobs = json.loads((Path(f"{out}.curate") / "slurm_jobs.json").read_text())
    code, queued = status(out, env)  # curate status follows the detached run: its jobs, by stage
    assert code == 1 and queued["active"] is True and queued["complete"] is False
    assert [list(stage["jobs"]) for stage in queued["stages"]] == [jobs[str(n)] for n in range(1, len(jobs) + 1)]
    assert {state for stage in queued["stages"] for state in stage["jobs"].values()} <= {"PENDING", "RUNNING"}
    logs = Path(f"{out}.curate") / "stage_1" / "logs"
    deadline = time.monotonic() + 120
    while not (logs / "task_00001.log").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    subprocess.run(["scancel", f"{jobs['1'][0]}_1"], check=True, env={**os.environ, **slurm.env})  # task 1
    wait_for_empty_queue(slurm)  # the later stages depended on it: cancelled, not left pending
    assert not (Path(f"{out}.curate") / "stage_1" / "completions" / "00001").exists()
    code, cancelled = status(out, env)
    assert code == 1 and cancelled["active"] is False
    assert [(t["stage"], t["rank"]) for t in cancelled["failed"]] == [(1, 1)]
    assert cancelled["failed"][0]["cause"] == "it stopped before it finished (killed or cancelled)"
    assert f"Slurm {jobs['1'][0]}_1" in cancelled["failed"][0]["where"]
    # never started: dedup's index (one task), then every later stage's three tasks
    assert [stage["counts"]["pending"] for stage in cancelled["stages"][1:]] == [1] + [3] * (len(jobs) - 2)
    resumed = curate(*args, "--output", str(out), env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert status(out, env)[0] == 0
    assert rows(out) == rows(tmp_path / "ref")
    wait_for_empty_queue(slurm)


def test_a_failing_task_is_one_line_and_nothing_is_left_queued(slurm, crawl, lid_model, tmp_path):
    pipeline = tmp_path / "own_blocks.py"
    pipeline.write_text(OWN_BLOCKS)
    first_id = next(iter(__import__("curate.io", fromlist=["ReadDocuments"]).ReadDocuments(crawl[1]).run())).id
    env = {**slurm.env, "CURATE_LID_MODEL": lid_model, "FAIL_ON": first_id}
    out = tmp_path / "out"
    failed = curate("run", str(pipeline), *inputs(crawl), "--tasks", "3", "--executor", "slurm", "--output", str(out),
                    env=env)
    assert failed.returncode == 2
    rank = sorted(crawl).index(crawl[1])  # files are dealt to tasks in sorted order
    log = Path(f"{out}.curate") / "stage_1" / "logs" / f"task_{rank:05d}.log"
    line = failed.stderr.strip().splitlines()[-1]
    assert line == (f"curate: error: stage 1 task {rank} failed: RuntimeError: injected failure on {first_id}; "
                    f"its log: {log}"), failed.stderr[-2000:]
    assert "Traceback" not in failed.stderr and "Traceback" in log.read_text()
    code, report = status(out, env)
    assert code == 1 and [(t["rank"], t["cause"]) for t in report["failed"]] == \
        [(rank, f"RuntimeError: injected failure on {first_id}")]
    assert report["failed"][0]["last_lines"][-1] == f"RuntimeError: injected failure on {first_id}"
    wait_for_empty_queue(slurm, seconds=30)
