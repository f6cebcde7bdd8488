"""`curate status OUT`: where a run stands, read from its run folder alone, so it works for a run
started anywhere (local, Ray, Slurm) and on a remote output URL.

What it reads (all in OUTPUT.curate): plan.json (when the latest attempt started, its executor and
stages), per stage the completion markers, the tasks' heartbeats (progress/RANK.json: documents
so far and where the task runs, curate/progress.py) and, for tasks that did not finish, their logs;
the lock (a local or Ray driver that is alive holds it) and, for Slurm, slurm_jobs.json and squeue.

A task is
- done: its completion marker exists;
- running: its heartbeat is from the latest attempt and its process is alive (same host: its pid;
  Slurm: its array task is RUNNING in squeue; elsewhere: the run's driver holds the lock);
- failed: its heartbeat is from the latest attempt, and its log says it failed or its process is gone;
- pending: not started in the latest attempt.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field

from curate import storage
from curate.errors import CurateError
from curate.guard import IDENTITY, LOCK, process_alive
from curate.run import PLAN, failure_cause, task_log
from curate.step import run_dir_of

SHOWN_FAILURES = 10  # failed tasks shown with their log lines (all are counted)
LOG_LINES = 5
CLOCK_SLACK_S = 2.0  # heartbeats are stamped by the workers' clocks, the plan by the driver's


@dataclass
class Task:
    stage: int
    rank: int
    state: str  # done | running | failed | pending
    documents: int = 0
    where: str = ""
    cause: str = ""
    log: str = ""
    last_lines: list[str] = field(default_factory=list)


@dataclass
class StageStatus:
    number: int
    label: str
    tasks: int
    counts: dict  # state -> tasks
    documents: int  # read so far by its done and running tasks
    rate: float | None  # documents per second of the latest attempt, wall clock
    jobs: dict  # Slurm job id -> its state in squeue ("gone" once it left the queue)
    nodes: list[str]  # where its latest attempt's tasks ran: Ray node ids, else hosts
    peak_rss_mb: int | None  # the largest peak memory of a task's process


@dataclass
class RunStatus:
    output: str
    executor: str
    pipeline: str
    driver: str  # what holds the run now, in words
    active: bool | None  # its driver or Slurm jobs are alive (None: cannot tell from here)
    stages: list[StageStatus]
    failed: list[Task]

    @property
    def complete(self) -> bool:
        return all(s.counts["done"] == s.tasks for s in self.stages)


def status(output: str) -> RunStatus:
    run_dir = run_dir_of(output)
    plan = storage.read_json(storage.join(run_dir, PLAN))
    if not plan:
        known = storage.read_json(storage.join(run_dir, IDENTITY)) is not None
        raise CurateError(f"{output}: no curate run found ({storage.join(run_dir, PLAN)} is missing"
                          + ("; the run was started by an older curate: rerun it to resume)" if known else ")"))
    lock = storage.read_json(storage.join(run_dir, LOCK))
    jobs = (storage.read_json(storage.join(run_dir, "slurm_jobs.json")) or {}) if plan["executor"] == "slurm" else {}
    queue = _squeue([j for ids in jobs.values() for j in ids]) if jobs else None
    driver_alive, driver = _driver(lock, queue, jobs)
    stages, failed = [], []
    for number, stage in enumerate(plan["stages"], 1):
        stage_dir = os.path.join(run_dir, f"stage_{number}")
        beats = _heartbeats(stage_dir)
        tasks = _tasks(stage_dir, number, stage["tasks"], beats, plan["started"], driver_alive, queue, lock)
        failed += [t for t in tasks if t.state == "failed"]
        stages.append(_stage(number, stage, tasks, beats, jobs.get(str(number), []), queue))
    for task in failed[:SHOWN_FAILURES]:
        task.log, lines = task_log(os.path.join(run_dir, f"stage_{task.stage}"), task.rank)
        task.last_lines = (lines or [])[-LOG_LINES:]
        task.cause = failure_cause(task.rank, lines) if lines is not None else "it left no log"
    return RunStatus(output, plan["executor"], plan.get("pipeline", ""), driver, driver_alive, stages, failed)


def _driver(lock: dict | None, queue: dict | None, jobs: dict) -> tuple[bool | None, str]:
    """Is the run's driver (or its Slurm jobs) alive: True, False, or None (cannot tell from here)."""
    if jobs:
        if queue is None:
            return None, "Slurm jobs submitted; squeue is not available here, so their states are unknown"
        live = sorted({j for j, state in queue.items() if state != "gone"})
        return bool(live), (f"Slurm jobs in the queue: {', '.join(live)}" if live else "no job of the run is queued")
    if not lock:
        return False, "no curate run holds the output now"
    who = f"pid {lock.get('pid')} on {lock.get('host')}, since {lock.get('started')}"
    if lock.get("host") != socket.gethostname():
        return None, f"held by {who} (another host: cannot check it from here)"
    if process_alive(lock.get("pid")):
        return True, f"running: {who}"
    return False, f"its driver ({who}) is gone"


def _tasks(stage_dir: str, number: int, count: int, beats: dict[int, dict], started: float,
           driver_alive: bool | None, queue: dict | None, lock: dict | None) -> list[Task]:
    done = set(storage.listdir(storage.join(stage_dir, "completions")))
    here = socket.gethostname()
    tasks = []
    for rank in range(count):
        beat = beats.get(rank)
        documents = int(beat["documents"]) if beat else 0
        where = _where(beat) if beat else ""
        if f"{rank:05d}" in done:
            tasks.append(Task(number, rank, "done", documents, where))
            continue
        if not beat or beat["started"] < started - CLOCK_SLACK_S:
            tasks.append(Task(number, rank, "pending", 0, ""))
            continue
        if queue is not None and beat.get("slurm_job"):
            alive = queue.get(beat["slurm_job"]) in ("RUNNING", "COMPLETING")
        elif beat.get("host") == here:
            alive = process_alive(beat.get("pid"))
        else:
            alive = driver_alive is not False  # cannot see the process: trust the driver
        if alive and lock and (beat.get("host"), beat.get("pid")) == (lock.get("host"), lock.get("pid")):
            alive = not _logged_failure(stage_dir, rank)  # a run with one worker runs its tasks in its driver
        tasks.append(Task(number, rank, "running" if alive else "failed", documents, where))
    return tasks


def _stage(number: int, plan: dict, tasks: list[Task], beats: dict[int, dict], job_ids: list[str],
           queue: dict | None) -> StageStatus:
    counts = {state: sum(t.state == state for t in tasks) for state in ("done", "running", "failed", "pending")}
    recent = [b for t in tasks if t.state in ("running", "failed", "done") and (b := beats.get(t.rank))]
    rate = None
    if recent:
        seconds = max(b["updated"] for b in recent) - min(b["started"] for b in recent)
        documents = sum(b["documents"] for b in recent)
        rate = documents / seconds if seconds > 0 and documents else None
    jobs = {j: (queue or {}).get(j, "gone") if queue is not None else "unknown" for j in job_ids}
    nodes = sorted({b.get("ray_node") or b.get("host", "") for b in recent})
    peak = max((b.get("peak_rss_mb") or 0 for b in recent), default=0) or None
    return StageStatus(number, plan["label"], plan["tasks"], counts,
                       sum(t.documents for t in tasks if t.state in ("done", "running")), rate, jobs, nodes, peak)


def _heartbeats(stage_dir: str) -> dict[int, dict]:
    beats = {}
    for record in storage.read_jsons(storage.glob(storage.join(stage_dir, "progress"), "*.json")):
        if isinstance(record, dict) and {"rank", "documents", "started", "updated"} <= set(record):
            beats[int(record["rank"])] = record
    return beats


def _where(beat: dict) -> str:
    parts = [f"{beat.get('host')} pid {beat.get('pid')}"]
    if beat.get("slurm_job"):
        parts.append(f"Slurm {beat['slurm_job']}")
    if beat.get("ray_node"):
        parts.append(f"Ray node {beat['ray_node'][:12]}")
    return ", ".join(parts)


def _logged_failure(stage_dir: str, rank: int) -> bool:
    _, lines = task_log(stage_dir, rank)
    return any(f"task {rank} failed:" in line for line in lines or ())


def _squeue(job_ids: list[str]) -> dict[str, str] | None:
    """Array task ("JOB_INDEX") and job id -> state, for the run's jobs still in the queue; None
    when squeue cannot be run here."""
    if not shutil.which("squeue"):
        return None
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %F %T", "-j", ",".join(job_ids)],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0 and "Invalid job id" not in out.stderr:
        return None
    states = {j: "gone" for j in job_ids}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            task, job, state = parts
            states[task] = state
            if states.get(job) in (None, "gone") or state == "RUNNING":
                states[job] = state
    return states


def format_status(s: RunStatus) -> str:
    lines = [f"{s.output}: {s.executor} run of {s.pipeline}", f"  {s.driver}"]
    header = f"{'stage':<7}{'what':<26}{'tasks':>6}{'done':>6}{'running':>8}{'failed':>7}{'pending':>8}" \
             f"{'documents':>12}{'docs/s':>9}{'peak MB':>9}"
    lines += [header, "-" * len(header)]
    for st in s.stages:
        rate = f"{st.rate:,.0f}" if st.rate is not None else "-"
        peak = f"{st.peak_rss_mb:,}" if st.peak_rss_mb else "-"
        c = st.counts
        lines.append(f"{st.number:<7}{st.label[:25]:<26}{st.tasks:>6}{c['done']:>6}{c['running']:>8}{c['failed']:>7}"
                     f"{c['pending']:>8}{st.documents:>12,}{rate:>9}{peak:>9}")
        if st.jobs:
            lines.append("       Slurm jobs: " + ", ".join(f"{j} ({state.lower()})" for j, state in st.jobs.items()))
        if len(st.nodes) > 1:
            lines.append(f"       ran on {len(st.nodes)} nodes: " + ", ".join(n[:12] for n in st.nodes))
    if s.failed:
        lines.append(f"failed tasks ({len(s.failed)}):")
        for task in s.failed[:SHOWN_FAILURES]:
            lines.append(f"  stage {task.stage} task {task.rank} ({task.where}): {task.cause}")
            lines.append(f"    log: {task.log}")
            lines.extend(f"    | {line}" for line in task.last_lines)
        if len(s.failed) > SHOWN_FAILURES:
            lines.append(f"  ... and {len(s.failed) - SHOWN_FAILURES} more")
    if s.complete:
        lines.append("complete")
    elif s.active is False:
        lines.append("not complete, and nothing is running: rerun the same curate run command to resume")
    else:
        lines.append("not complete" + (": still running" if s.active else ""))
    return "\n".join(lines)


def as_dict(s: RunStatus) -> dict:
    return {"output": s.output, "executor": s.executor, "pipeline": s.pipeline, "driver": s.driver,
            "complete": s.complete, "active": s.active, "checked": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "stages": [vars(st) for st in s.stages],
            "failed": [vars(t) for t in s.failed]}
