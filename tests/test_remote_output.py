"""`--output s3://...`: documents, staging, logs and the run folder on a real S3-compatible server on
127.0.0.1 (moto's); the rows equal a local run's, nothing but documents under the output prefix,
and a run killed mid-way resumes to the same rows."""

from __future__ import annotations

import glob
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from test_reliability import BOMB_PIPELINE

REPO = Path(__file__).resolve().parent.parent
DATACOMP = str(REPO / "pipelines" / "datacomp.py")
BUCKET = "curate-out"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    moto_server = pytest.importorskip("moto.server")
    import boto3

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        url = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
        boto3.client("s3", endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="y",
                     region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield url
    finally:
        server.stop()


@pytest.fixture
def env(s3, tmp_path, lid_model):
    return {"AWS_ENDPOINT_URL": s3, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "CURATE_LID_MODEL": lid_model}


def s3fs_of(url: str):
    import s3fs

    return s3fs.S3FileSystem(key="x", secret="y", client_kwargs={"endpoint_url": url}, skip_instance_cache=True)


def curate(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env}, start_new_session=True)


def local_rows(folder) -> dict:
    table = [r for f in sorted(glob.glob(f"{folder}/*.parquet")) for r in pq.read_table(f).to_pylist()]
    return {r["id"]: json.dumps(r, sort_keys=True, default=str) for r in table}


def remote_rows(fs, prefix: str) -> dict:
    rows = []
    for path in sorted(fs.glob(f"{prefix}/*.parquet")):
        with fs.open(path, "rb") as f:
            rows += pq.read_table(io.BytesIO(f.read())).to_pylist()
    assert len({r["id"] for r in rows}) == len(rows)
    return {r["id"]: json.dumps(r, sort_keys=True, default=str) for r in rows}


def test_the_recipe_writes_to_s3_as_it_writes_locally(s3, env, shared_data, tmp_path):
    files = ["--input", str(shared_data / "warc" / "wget-crawl-0000.warc.gz"), "--input",
             str(shared_data / "warc" / "wget-crawl-0001.warc.gz")]
    local = curate("run", DATACOMP, *files, "--tasks", "2", "--output", str(tmp_path / "local"), env=env)
    remote = curate("run", DATACOMP, *files, "--tasks", "2", "--workers", "2", "--output",
                    f"s3://{BUCKET}/runs/recipe", env=env)
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr[-3000:]
    fs = s3fs_of(s3)
    assert remote_rows(fs, f"{BUCKET}/runs/recipe") == local_rows(tmp_path / "local") != {}
    # only documents under the output; the run folder beside it, its staging gone
    assert all(p.endswith(".parquet") for p in fs.find(f"{BUCKET}/runs/recipe"))
    run_dir = f"{BUCKET}/runs/recipe.curate"
    funnel = json.loads(fs.cat(f"{run_dir}/funnel.json"))
    assert funnel["tasks_reported"] == 2 and funnel["stages"][-1]["docs_out"] == len(local_rows(tmp_path / "local"))
    last = max(int(p.rsplit("_", 1)[1]) for p in fs.glob(f"{run_dir}/stage_*"))
    assert fs.exists(f"{run_dir}/stage_{last}/completions/00001") and not fs.exists(f"{run_dir}/staging")
    assert not fs.exists(f"{run_dir}/lock")
    # the rerun of the same command resumes (nothing to do), a different one is refused
    again = curate("run", DATACOMP, *files, "--tasks", "2", "--output", f"s3://{BUCKET}/runs/recipe", env=env)
    other = curate("run", DATACOMP, *files, "--tasks", "3", "--output", f"s3://{BUCKET}/runs/recipe", env=env)
    assert again.returncode == 0 and other.returncode == 2 and "tasks 2 -> 3" in other.stderr


def test_a_run_killed_while_writing_to_s3_resumes_to_the_same_rows(s3, env, shared_data, tmp_path):
    pipeline = tmp_path / "bombs.py"
    pipeline.write_text(BOMB_PIPELINE)
    files = ["--input", str(shared_data / "warc" / "wget-crawl-0000.warc.gz"), "--input",
             str(shared_data / "warc" / "wget-crawl-0001.warc.gz")]
    args = ["run", str(pipeline), *files, "--tasks", "2"]
    reference = curate(*args, "--output", str(tmp_path / "ref"), env=env)
    assert reference.returncode == 0, reference.stderr
    out = f"s3://{BUCKET}/runs/killed"
    for kill_at in ("bomb_cluster", "bomb_write"):
        killed = curate(*args, "--output", out, env={**env, "KILL_AT": kill_at})
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        fs = s3fs_of(s3)
        for path in fs.glob(f"{BUCKET}/runs/killed/*.parquet"):  # whatever is visible is whole
            with fs.open(path, "rb") as f:
                pq.read_table(io.BytesIO(f.read()))
    # curate status reads the run from the bucket: every stage but the last done (the dedup index
    # is one task), the last killed, no driver left
    stopped = curate("status", out, "--json", env=env)
    assert stopped.returncode == 1, stopped.stderr
    report = json.loads(stopped.stdout)
    assert report["active"] is False and report["complete"] is False
    last = len(report["stages"])
    assert [s["counts"]["done"] for s in report["stages"][:-1]] == [2, 1] + [2] * (last - 3)
    assert report["stages"][-1]["counts"]["done"] < 2
    assert report["failed"] and {t["stage"] for t in report["failed"]} == {last}
    assert all(t["log"].startswith(f"{out}.curate/stage_{last}/logs/task_") for t in report["failed"])
    resumed = curate(*args, "--output", out, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert remote_rows(s3fs_of(s3), f"{BUCKET}/runs/killed") == local_rows(tmp_path / "ref")
    assert curate("status", out, env=env).returncode == 0


def test_dedup_reads_signatures_and_shingle_sets_from_s3_staging_by_range(s3, tmp_path, monkeypatch):
    """Verification on an object store: signatures and shingle sets are ranged reads of the staged
    files (never whole-file copies), and the clusters equal those of a local work folder."""
    import random

    from test_dedup import random_text

    from curate import storage
    from curate.dedup import dedup_in_process
    from tools.planted import mutate

    for key, value in {"AWS_ENDPOINT_URL": s3, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
                       "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(key, value)
    rng = random.Random(11)
    texts = []
    for _ in range(25):  # copies a little and a lot edited: some estimates fall near the threshold
        base = random_text(rng, 250)
        texts += [base, *(mutate(base, rng, "word_edits", rate) for rate in (0.005, 0.02, 0.03, 0.04))]
    reads = []
    read_ranges = storage.read_ranges

    def counted(path, starts, ends):
        reads.append((path, len(list(starts))))
        return read_ranges(path, starts, ends)

    monkeypatch.setattr(storage, "read_ranges", counted)
    local = dedup_in_process(texts, str(tmp_path / "work"), tasks=3)
    remote = dedup_in_process(texts, f"s3://{BUCKET}/dedup-work", tasks=3)
    assert remote == local
    assert sum(how == "fuzzy" for _, how in local.values()) >= 25
    remote_reads = [p for p, n in reads if p.startswith("s3://")]
    assert any("/sigs/" in p for p in remote_reads) and any("/shingles/" in p for p in remote_reads)
