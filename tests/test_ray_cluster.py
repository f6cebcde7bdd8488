"""`curate run --executor ray` on a real two-node Ray cluster on loopback (tests/ray_cluster.py: a
head started with `ray start --head`, a worker node joined with `ray start --address`, one CPU and
a resource of its own each): the rows equal the local executor's, and the tasks ran on both nodes.

How placement is checked: every task saves a heartbeat with the id of the Ray node it runs on
(curate/progress.py, ray.get_runtime_context().get_node_id()); the ids found must be exactly the
two nodes' ids as `ray.nodes()` lists them. With one CPU per node and two tasks in flight, Ray must
use both. `curate status` shows the same."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ray_cluster import RayCluster

REPO = Path(__file__).resolve().parent.parent
DATACOMP = str(REPO / "pipelines" / "datacomp.py")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    pytest.importorskip("ray")
    cluster = RayCluster(tmp_path_factory.mktemp("ray"))
    try:
        cluster.start_head(cpus=1, resources={"head_node": 1})
        cluster.add_node("worker", cpus=1, resources={"worker_node": 1})
        yield cluster
    finally:
        cluster.stop()


def rows(folder) -> dict:
    table = [r for f in sorted(glob.glob(f"{folder}/*.parquet")) for r in pq.read_table(f).to_pylist()]
    return {r["id"]: json.dumps(r, sort_keys=True, default=str) for r in table}


def test_the_recipe_on_two_ray_nodes_gives_the_local_rows(two_nodes, shared_data, lid_model, tmp_path):
    nodes = two_nodes.node_ids()
    assert len(nodes) == 2 and sorted(k for r in nodes.values() for k in r if k.endswith("_node")) == \
        ["head_node", "worker_node"]
    files = [str(shared_data / "warc" / n) for n in ("wget-crawl-0000.warc.gz", "wget-crawl-0001.warc.gz",
                                                    "archive-org-crawl-299.warc.gz")]
    args = ["run", DATACOMP, *[a for f in files for a in ("--input", f)], "--tasks", "4"]
    env = {**os.environ, "CURATE_LID_MODEL": lid_model}
    local = subprocess.run([sys.executable, "-m", "curate.cli", *args, "--output", str(tmp_path / "local")],
                           env=env, capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-3000:]
    ray = subprocess.run([sys.executable, "-m", "curate.cli", *args, "--output", str(tmp_path / "ray"),
                          "--executor", "ray", "--workers", "2"], env={**env, **two_nodes.env},
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert ray.returncode == 0, ray.stderr[-3000:]
    assert rows(tmp_path / "ray") == rows(tmp_path / "local") and len(rows(tmp_path / "local")) >= 20

    beats = [json.loads(p.read_text()) for p in Path(f"{tmp_path / 'ray'}.curate").glob("stage_1/progress/*.json")]
    assert len(beats) == 4 and all(b["finished"] for b in beats)
    assert {b["ray_node"] for b in beats} == set(nodes)  # tasks ran on both nodes
    status = subprocess.run([sys.executable, "-m", "curate.cli", "status", str(tmp_path / "ray"), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert set(json.loads(status.stdout)["stages"][0]["nodes"]) == set(nodes)


def shard_bytes(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith("shard_")}


def test_tokenize_on_two_ray_nodes_writes_the_local_shards(two_nodes, tokenize_args, tmp_path):
    args = tokenize_args("megatron")
    local = subprocess.run([sys.executable, "-m", "curate.cli", *args, "--out", str(tmp_path / "local")],
                           capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-3000:]
    ray = subprocess.run([sys.executable, "-m", "curate.cli", *args, "--out", str(tmp_path / "ray"),
                          "--executor", "ray", "--workers", "2"], env={**os.environ, **two_nodes.env},
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert ray.returncode == 0, ray.stderr[-3000:]
    shards = shard_bytes(tmp_path / "local")
    assert sorted(shards) == ["shard_00000_of_00002.bin", "shard_00000_of_00002.idx", "shard_00001_of_00002.bin",
                              "shard_00001_of_00002.idx"]
    assert shard_bytes(tmp_path / "ray") == shards
    manifest = json.loads((tmp_path / "ray" / "tokens.json").read_text())
    assert manifest["documents"] == 90 and manifest["tokens"] > 0  # 3 files of 30
    beats = [json.loads(p.read_text()) for p in Path(f"{tmp_path / 'ray'}.curate").glob("stage_1/progress/*.json")]
    assert {b["ray_node"] for b in beats} == set(two_nodes.node_ids())
