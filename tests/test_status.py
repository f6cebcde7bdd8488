"""`curate status OUT` on local runs: while a run goes, after it was stopped, after a task failed,
when it is complete; and as JSON. (Slurm: tests/test_slurm.py; a remote URL:
tests/test_remote_output.py; a two-node Ray cluster: tests/test_ray_cluster.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# a reader, a step that takes its time when $SLOW is set and fails on the document $FAIL_ON names,
# the writer: two tasks over two files
PIPELINE = '''
import os
import time

from curate.io import ReadDocuments, WriteParquet
from curate.step import CurateStep


class SlowOrFail(CurateStep):
    name = "slow_or_fail"

    def process(self, doc):
        if doc.id == os.environ.get("FAIL_ON"):
            raise RuntimeError(f"injected failure on {doc.id}")
        time.sleep(float(os.environ.get("SLOW", "0")))


def build(run):
    return [ReadDocuments(), SlowOrFail(), WriteParquet(run.output)]
'''


def curate(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def status(out) -> tuple[int, dict]:
    done = curate("status", str(out), "--json")
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


@pytest.fixture
def setup(shared_data, tmp_path):
    pipeline = tmp_path / "pipeline.py"
    pipeline.write_text(PIPELINE)
    files = [str(shared_data / "warc" / n) for n in ("wget-crawl-0000.warc.gz", "wget-crawl-0001.warc.gz")]
    args = ["run", str(pipeline), *[a for f in files for a in ("--input", f)], "--tasks", "2", "--workers", "2"]
    return args, tmp_path / "out"


def counts(report: dict) -> dict:
    return report["stages"][0]["counts"]


def test_status_while_running_after_a_stop_and_when_complete(setup):
    args, out = setup
    proc = subprocess.Popen([sys.executable, "-m", "curate.cli", *args, "--output", str(out)],
                            env={**os.environ, "SLOW": "0.5"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    progress = Path(f"{out}.curate") / "stage_1" / "progress"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(  # both tasks have read a document
            (p := progress / f"0000{r}.json").exists() and json.loads(p.read_text())["documents"] >= 1 for r in (0, 1)):
        time.sleep(0.2)
    code, running = status(out)
    assert code == 1 and running["active"] is True and running["complete"] is False
    assert counts(running) == {"done": 0, "running": 2, "failed": 0, "pending": 0}
    assert running["stages"][0]["documents"] >= 2 and running["failed"] == []
    text = curate("status", str(out))
    assert text.returncode == 1 and text.stdout.strip().endswith("not complete: still running")

    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    code, stopped = status(out)
    assert code == 1 and stopped["active"] is False
    # both tasks were stopped before they finished: failed, each named with its log
    assert counts(stopped) == {"done": 0, "running": 0, "failed": 2, "pending": 0}
    assert [(t["stage"], t["rank"]) for t in stopped["failed"]] == [(1, 0), (1, 1)]
    assert all(t["log"].endswith(f"stage_1/logs/task_0000{t['rank']}.log") for t in stopped["failed"])
    assert all(t["cause"] == "it stopped before it finished (killed or cancelled)" for t in stopped["failed"])
    text = curate("status", str(out))
    assert "rerun the same curate run command to resume" in text.stdout

    resumed = curate(*args, "--output", str(out))
    assert resumed.returncode == 0, resumed.stderr
    code, complete = status(out)
    assert code == 0 and complete["complete"] is True and complete["active"] is False
    assert counts(complete) == {"done": 2, "running": 0, "failed": 0, "pending": 0}
    # documents: every one the reader gave, as the funnel counts them
    funnel = json.loads((Path(f"{out}.curate") / "funnel.json").read_text())
    assert complete["stages"][0]["documents"] == funnel["stages"][0]["docs_out"] > 0
    assert complete["stages"][0]["rate"] > 0
    assert curate("status", str(out)).stdout.strip().endswith("complete")


def test_a_failed_task_is_named_with_its_cause_and_last_log_lines(setup, shared_data):
    args, out = setup
    from curate.io import ReadDocuments

    target = next(iter(ReadDocuments(str(shared_data / "warc" / "wget-crawl-0001.warc.gz")).run())).id
    # one worker: task 0 completes, then task 1 fails (in the driver's own process)
    failed = curate(*args, "--workers", "1", "--output", str(out), env={"FAIL_ON": target})
    assert failed.returncode == 2
    code, report = status(out)
    assert code == 1 and report["active"] is False
    assert counts(report) == {"done": 1, "running": 0, "failed": 1, "pending": 0}
    task = report["failed"][0]
    assert task["rank"] == 1 and task["cause"] == f"RuntimeError: injected failure on {target}"
    assert task["last_lines"] and task["last_lines"][-1].startswith("RuntimeError: injected failure")
    text = curate("status", str(out)).stdout
    assert "stage 1 task 1 (" in text and f"RuntimeError: injected failure on {target}" in text
    assert f"    | RuntimeError: injected failure on {target}" in text


def test_not_a_run_is_one_line(tmp_path):
    done = curate("status", str(tmp_path / "nothing"))
    assert done.returncode == 2 and done.stderr.strip() == (
        f"curate: error: {tmp_path / 'nothing'}: no curate run found ({tmp_path / 'nothing'}.curate/plan.json is missing)")
