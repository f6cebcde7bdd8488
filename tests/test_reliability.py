"""Nothing lost, nothing silently wrong: a killed run resumes to the same rows, a rerun that is not
the same run is refused, signals leave nothing behind, exit statuses tell the truth
(docs/reliability.md). The damaged-input cases are in tests/test_damage.py."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parent.parent
DATACOMP = str(REPO / "pipelines" / "datacomp.py")

# the recipe's kind of pipeline (extraction, dedup in three stages, a writer), with bombs that kill
# the whole process group at a chosen point when $KILL_AT names them
BOMB_PIPELINE = '''
import os
import signal

from datatrove.pipeline.base import PipelineStep

from curate.dedup import DedupKeepers, DedupLabels, dedup_steps
from curate.extract import ExtractText
from curate.io import ReadDocuments, WriteParquet
from curate.step import CurateStep


def kill_if(name):
    if os.environ.get("KILL_AT") == name:
        os.killpg(os.getpgid(0), signal.SIGKILL)


class Bomb(CurateStep):
    def setup(self, rank, world_size):
        self.seen = 0

    def process(self, doc):
        self.seen += 1
        if self.seen == 5:
            kill_if(self.name)


class ClusterBomb(PipelineStep):
    name = "bomb_cluster"

    def __init__(self, name="bomb_cluster"):
        super().__init__()
        self.name = name

    def run(self, data=None, rank=0, world_size=1):
        kill_if(self.name)
        yield from data or ()


def build(run):
    dedup = dedup_steps()
    at = next(i for i, step in enumerate(dedup) if isinstance(step, DedupKeepers))
    dedup.insert(at + 1, ClusterBomb())
    at = next(i for i, step in enumerate(dedup) if isinstance(step, DedupLabels) and step.round == 2)
    dedup.insert(at + 1, ClusterBomb("bomb_labels"))  # mid-clustering: round 1's files written, round 2's not
    return [ReadDocuments(), ExtractText(), Bomb(name="bomb_extract"), *dedup, Bomb(name="bomb_write"),
            WriteParquet(run.output)]
'''


def curate(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The CLI in its own session (a bomb kills its process group, not pytest)."""
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], capture_output=True, text=True,
                          timeout=timeout, start_new_session=True, env={**os.environ, **(env or {})})


def rows(folder) -> dict:
    files = sorted(glob.glob(f"{folder}/*.parquet"))
    table = [r for f in files for r in pq.read_table(f).to_pylist()]
    ids = [r["id"] for r in table]
    assert len(ids) == len(set(ids)), "duplicate ids"
    return {r["id"]: json.dumps(r, sort_keys=True, default=str) for r in table}


def assert_no_partial_files(folder) -> None:
    """What readers find is whole: every visible shard opens, temporary ones are hidden."""
    for path in Path(folder).glob("*"):
        assert not path.name.startswith(".") or path.name.endswith(".tmp"), path
        if not path.name.startswith("."):
            pq.read_table(path)  # raises on a truncated or empty file


@pytest.fixture(scope="module")
def crawl(shared_data) -> list[str]:
    return [str(shared_data / "warc" / n) for n in ("wget-crawl-0000.warc.gz", "wget-crawl-0001.warc.gz")]


def inputs(files: list[str]) -> list[str]:
    return [arg for f in files for arg in ("--input", f)]


# -- kills ---------------------------------------------------------------------------------------


def test_killed_at_each_stage_in_turn_then_resumed_gives_the_same_rows(crawl, tmp_path):
    pipeline = tmp_path / "bombs.py"
    pipeline.write_text(BOMB_PIPELINE)
    base = ["run", str(pipeline), *inputs(crawl), "--tasks", "2"]
    reference = curate(*base, "--output", str(tmp_path / "ref"), "--workers", "1")
    assert reference.returncode == 0, reference.stderr
    expected = rows(tmp_path / "ref")
    assert len(expected) >= 20

    out = tmp_path / "out"
    # stage 1, a round of label propagation, the keepers, the last stage, the last stage again
    for kill_at in ("bomb_extract", "bomb_labels", "bomb_cluster", "bomb_write", "bomb_write"):
        killed = curate(*base, "--output", str(out), "--workers", "2", env={"KILL_AT": kill_at})
        assert killed.returncode == -signal.SIGKILL, (kill_at, killed.stderr[-2000:])
        assert_no_partial_files(out)
        funnel_path = Path(f"{out}.curate") / "funnel.json"
        assert not funnel_path.exists() or not json.loads(funnel_path.read_text())["tasks_reported"] == 2
    resumed = curate(*base, "--output", str(out), "--workers", "1")  # other workers than the killed runs
    assert resumed.returncode == 0, resumed.stderr
    assert rows(out) == expected
    assert_no_partial_files(out)
    assert not list(Path(out).glob(".*"))  # the resumed tasks replaced their temporary files
    assert not (Path(f"{out}.curate") / "staging").exists() and not (Path(f"{out}.curate") / "lock").exists()


def test_a_stage_recomputed_reruns_the_stages_after_it(crawl, tmp_path):
    """A stage-1 task's marker lost (as when a node's task is redone): its later stages are not
    skipped as 'completed', and the rows stay the same."""
    pipeline = tmp_path / "bombs.py"
    pipeline.write_text(BOMB_PIPELINE)
    base = ["run", str(pipeline), *inputs(crawl), "--tasks", "2", "--output", str(tmp_path / "out"),
            "--keep-staging"]
    assert curate(*base).returncode == 0
    before = rows(tmp_path / "out")
    run_dir = Path(f"{tmp_path / 'out'}.curate")
    os.unlink(run_dir / "stage_1" / "completions" / "00001")
    last = max(int(p.name.split("_")[1]) for p in run_dir.glob("stage_[0-9]*"))
    filters = run_dir / f"stage_{last}" / "logs" / "task_00000.log"
    mtime = filters.stat().st_mtime_ns
    assert curate(*base).returncode == 0
    assert filters.stat().st_mtime_ns != mtime  # the last stage ran again
    assert rows(tmp_path / "out") == before


# -- a rerun must be the same run ----------------------------------------------------------------


@pytest.fixture()
def sample_out(tmp_path, lid_model):
    out = tmp_path / "out"
    result = curate("run", DATACOMP, "--output", str(out), "--tasks", "2", env={"CURATE_LID_MODEL": lid_model})
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.parametrize("change, message", [
    (["--tasks", "4"], "tasks 2 -> 4"),
    (["--set", "quality_top=0.5"], "settings.quality_top none -> 0.5"),
    (["--limit", "3"], "limit none -> 3"),
])
def test_a_different_run_into_an_output_is_refused(sample_out, lid_model, change, message):
    before = rows(sample_out)
    result = curate("run", DATACOMP, "--output", str(sample_out), "--tasks", "2", *change,
                    env={"CURATE_LID_MODEL": lid_model})
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"curate: error: {sample_out} was written by a different run (") and message in line
    assert "--overwrite" in line
    assert rows(sample_out) == before  # untouched


def test_other_inputs_or_pipeline_are_refused_and_overwrite_starts_clean(sample_out, lid_model, shared_data, tmp_path):
    env = {"CURATE_LID_MODEL": lid_model}
    other = curate("run", DATACOMP, "--output", str(sample_out), "--tasks", "2", "--input",
                   str(shared_data / "warc" / "wget-crawl-0000.warc.gz"), env=env)
    assert other.returncode == 2 and "inputs.read" in other.stderr
    edited = tmp_path / "datacomp_edited.py"
    edited.write_text(Path(DATACOMP).read_text() + "\n# edited\n")
    changed = curate("run", str(edited), "--output", str(sample_out), "--tasks", "2", env=env)
    assert changed.returncode == 2 and "pipeline." in changed.stderr
    # --overwrite: the new run's rows only, as a fresh run into a new folder gives them
    fresh = curate("run", DATACOMP, "--output", str(tmp_path / "fresh"), "--tasks", "3", env=env)
    again = curate("run", DATACOMP, "--output", str(sample_out), "--tasks", "3", "--overwrite", env=env)
    assert fresh.returncode == again.returncode == 0
    assert rows(sample_out) == rows(tmp_path / "fresh")
    assert sorted(p.name for p in sample_out.iterdir()) == sorted(p.name for p in (tmp_path / "fresh").iterdir())


def test_an_output_without_its_run_record_is_never_written(sample_out, lid_model):
    shutil.rmtree(f"{sample_out}.curate")  # "delete the logs to redo the run"
    before = rows(sample_out)
    for extra in ([], ["--overwrite"]):
        result = curate("run", DATACOMP, "--output", str(sample_out), *extra, env={"CURATE_LID_MODEL": lid_model})
        assert result.returncode == 2 and "holds files but no record of the curate run" in result.stderr
    assert rows(sample_out) == before


def test_output_equal_to_or_inside_an_input_is_refused_before_anything_is_written(sample_out, tmp_path):
    copy = tmp_path / "copy.py"
    copy.write_text("from curate.io import ReadDocuments, WriteParquet\n"
                    "def build(run):\n    return [ReadDocuments(), WriteParquet(run.output)]\n")
    shard = next(sample_out.glob("*.parquet"))
    data = shard.read_bytes()
    for output in (sample_out, sample_out / "inner", tmp_path):
        result = curate("run", str(copy), "--input", str(sample_out), "--output", str(output))
        assert result.returncode == 2 and "overlaps the input" in result.stderr, output
    assert shard.read_bytes() == data and not (sample_out / "inner").exists()


def test_one_run_at_a_time_and_a_stale_lock_is_taken_over(sample_out, lid_model):
    lock = Path(f"{sample_out}.curate") / "lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": "now"}))
    busy = curate("run", DATACOMP, "--output", str(sample_out), "--tasks", "2", env={"CURATE_LID_MODEL": lid_model})
    assert busy.returncode == 2 and f"another curate run (pid {os.getpid()}" in busy.stderr
    gone = subprocess.Popen(["true"])
    gone.wait()
    lock.write_text(json.dumps({"pid": gone.pid, "host": socket.gethostname(), "started": "then"}))
    resumed = curate("run", DATACOMP, "--output", str(sample_out), "--tasks", "2", env={"CURATE_LID_MODEL": lid_model})
    assert resumed.returncode == 0, resumed.stderr
    assert not lock.exists()


# -- signals -------------------------------------------------------------------------------------


def _group_alive(pgid: int) -> list[int]:
    alive = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.split("/")[2]))
    return alive


def _both_tasks_reading(progress: Path) -> bool:
    """Both tasks of stage 1 have read a document (their heartbeat says so) and are not done."""
    try:
        beats = [json.loads((progress / f"{rank:05d}.json").read_text()) for rank in (0, 1)]
    except (OSError, ValueError):
        return False
    return all(beat["documents"] >= 1 and not beat["finished"] for beat in beats)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_process_and_the_rerun_completes(shared_data, lid_model, tmp_path, sig):
    files = [str(shared_data / "web" / "pages.warc.gz"), str(shared_data / "warc" / "archive-org-crawl-299.warc.gz")]
    args = ["run", DATACOMP, *inputs(files), "--tasks", "2", "--workers", "2"]
    env = {**os.environ, "CURATE_LID_MODEL": lid_model}
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "curate.cli", *args, "--output", str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    progress = Path(f"{out}.curate") / "stage_1" / "progress"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _both_tasks_reading(progress):
        time.sleep(0.05)
    assert proc.poll() is None and _both_tasks_reading(progress), "the run ended before the signal"
    proc.send_signal(sig)  # the parent only, as `kill` does
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == (f"curate: interrupted by {sig.name}: nothing half-written is left "
                                               "where readers look; rerun the same command to resume")
    assert "Traceback" not in stderr
    deadline = time.monotonic() + 10
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group_alive(proc.pid) == []  # no worker, no multiprocessing manager left behind
    assert_no_partial_files(out)
    assert not (Path(f"{out}.curate") / "lock").exists()
    resumed = curate(*args, "--output", str(out), env={"CURATE_LID_MODEL": lid_model})
    assert resumed.returncode == 0, resumed.stderr
    reference = curate(*args, "--output", str(tmp_path / "ref"), env={"CURATE_LID_MODEL": lid_model})
    assert reference.returncode == 0
    assert rows(out) == rows(tmp_path / "ref")


# -- exit statuses and one-line errors -------------------------------------------------------------


def test_exit_status_when_inputs_fail_or_nothing_reaches_the_output(tmp_path, lid_model, shared_data):
    env = {"CURATE_LID_MODEL": lid_model}
    bad = tmp_path / "in" / "bad.warc.gz"
    bad.parent.mkdir()
    bad.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(4000))
    failed = curate("run", DATACOMP, "--input", str(bad), "--output", str(tmp_path / "a"), env=env)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1].startswith("curate: 1 input file(s) gave no document because of an error")
    tolerated = curate("run", DATACOMP, "--input", str(bad), "--output", str(tmp_path / "b"), "--tolerate-failures",
                       env=env)
    assert tolerated.returncode == 0
    # documents read, none kept: only German pages, and the recipe keeps English
    german = curate("run", DATACOMP, "--input", str(shared_data / "multilingual" / "debian-handbook-26-languages.warc.gz"),
                    "--output", str(tmp_path / "c"), "--set", "languages=xx", env=env)
    assert german.returncode == 1 and "none reached the output" in german.stderr


def test_output_mistakes_are_one_line_errors(tmp_path):
    (tmp_path / "a-file").write_text("x")
    for output, message in [(str(tmp_path / "a-file"), "exists and is not a folder"), ("", "--output: give a folder"),
                            (str(tmp_path / "a-file" / "below"), "")]:
        result = curate("run", DATACOMP, "--output", output)
        assert result.returncode == 2 and message in result.stderr, (output, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    missing = curate("run", DATACOMP, "--input", "/dev/null", "--output", str(tmp_path / "o"))
    assert missing.returncode == 2 and "/dev/null: not a regular file" in missing.stderr


def test_a_full_disk_is_one_line_naming_the_path_and_the_rerun_completes(tmp_path, lid_model):
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40k", "tmpfs", str(disk)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.fail(f"cannot mount a small tmpfs for the full-disk case: {e}")
    try:
        out = disk / "out"
        full = curate("run", DATACOMP, "--output", str(out), env={"CURATE_LID_MODEL": lid_model})
        assert full.returncode == 2, full.stderr
        line = full.stderr.strip().splitlines()[-1]
        assert line.startswith("curate: error:") and "No space left on device" in line and str(disk) in line
        assert "Traceback" not in full.stderr
        assert not list(out.glob("*.parquet"))
        assert not any(Path(f"{out}.curate").rglob("completions/*"))  # nothing marked done
        subprocess.run(["mount", "-o", "remount,size=8m", str(disk)], check=True, capture_output=True)
        resumed = curate("run", DATACOMP, "--output", str(out), env={"CURATE_LID_MODEL": lid_model})
        assert resumed.returncode == 0, resumed.stderr
        reference = curate("run", DATACOMP, "--output", str(tmp_path / "ref"), env={"CURATE_LID_MODEL": lid_model})
        assert reference.returncode == 0 and rows(out) == rows(tmp_path / "ref")
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_extraction_time_is_counted_in_cpu_seconds():
    from curate.extract.timelimit import TimeLimitExceeded, time_limit

    with time_limit(0.3):
        time.sleep(1.0)  # waiting (a paused or loaded machine) uses no CPU: no limit reached
    start = time.process_time()
    with pytest.raises(TimeLimitExceeded):
        with time_limit(0.3):
            while True:
                pass
    assert 0.25 < time.process_time() - start < 2.0
