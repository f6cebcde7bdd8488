"""Stages as Slurm job arrays, on datatrove's SlurmPipelineExecutor.

A run is submitted all at once: each stage's missing tasks as a job array (throttled to --workers
with `%N`; past the cluster's array-size limit, more arrays, each after the last), each stage
`afterok` every job of the stage before it with `--kill-on-invalid-dep=yes`, so a failed task
cancels what depends on it instead of leaving it pending forever. A job loads the pipeline file
before it unpickles its stage (curate/executor/slurm_job.py), so steps defined in the file work.
`curate run` then watches the queue (squeue) until the jobs are gone, or returns at once with
--detach (`curate status OUT` follows the run). The job ids are kept in OUTPUT.curate/slurm_jobs.json.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
import time
from copy import deepcopy

import dill
from datatrove.executor.slurm import SlurmPipelineExecutor, launch_slurm_job
from dill import CONTENTS_FMODE

from curate.errors import CurateError
from curate.executor.task import CurateTasks

POLL_S = 2.0


class SlurmExecutor(CurateTasks, SlurmPipelineExecutor):
    pipeline_file: str = ""  # a job imports it before it unpickles the stage
    python: str = ""  # the command that runs Python in a job (default: this Python, by its path)

    def get_sbatch_args(self, max_array: int = 1) -> dict:
        # options not given are left out, not written as "None" (a cluster without QoS, partitions)
        return {k: v for k, v in super().get_sbatch_args(max_array).items() if v is not None}

    def command(self) -> str:
        run = (f"{self.python or shlex.quote(sys.executable)} -m curate.executor.slurm_job {shlex.quote(self.pipeline_file)} "
               f"{shlex.quote(self.logging_dir.resolve_paths('executor.pik'))}")
        return f"srun -l -n {self.nodes_per_task} {run}" if self.nodes_per_task > 1 else run

    def submit(self, after: list[str]) -> list[str]:
        """Submit the stage's missing tasks to start once every job in `after` has succeeded;
        returns the job ids ([] when every task is complete)."""
        ranks = self.get_incomplete_ranks()
        if not ranks:
            return []
        with self.logging_dir.open("executor.pik", "wb") as f:
            dill.dump(deepcopy(self), f, fmode=CONTENTS_FMODE)
        self.save_executor_as_json()
        with self.logging_dir.open("ranks_to_run.json", "w") as f:
            json.dump(ranks, f)
        arrays = math.ceil(len(ranks) / self.tasks_per_job)
        size = min(arrays, self.max_array_size) if self.max_array_size != -1 else arrays
        script = self.get_launch_file_contents(self.get_sbatch_args(size), self.command())
        with self.logging_dir.open("launch_script.slurm", "w") as f:
            f.write(script)
        ids: list[str] = []
        for offset in range(math.ceil(arrays / size)):
            dependencies = ([f"afterok:{':'.join(after)}"] if after else []) + ([f"afterany:{ids[-1]}"] if ids else [])
            args = [f"--export=ALL,RUN_OFFSET={offset}"]
            if dependencies:
                args += [f"--dependency={','.join(dependencies)}", "--kill-on-invalid-dep=yes"]
            try:
                ids.append(launch_slurm_job(script, self.job_id_retriever, *args))
            except (OSError, subprocess.CalledProcessError) as e:
                raise CurateError(f"sbatch failed ({e}): is Slurm reachable from here?") from None
        return ids


def stage_sbatch_args(sbatch_args: dict, stage: int) -> dict:
    """The sbatch options for stage `stage`: KEY=VALUE for every stage, then N:KEY=VALUE for stage N
    only (e.g. 2:mem-per-cpu=180G for dedup's clustering, one task that holds the corpus's arrays)."""
    common, mine = {}, {}
    for key, value in sbatch_args.items():
        number, _, option = key.rpartition(":")
        if number and not number.isdigit():
            raise CurateError(f"--sbatch {key}={value}: a stage's own option starts with the stage's number, e.g. "
                              "--sbatch 2:mem-per-cpu=180G")
        if not number:
            common[option] = value
        elif int(number) == stage:
            mine[option] = value
    return {**common, **mine}


def make(steps: list, tasks: int, workers: int, logging_dir: str, options: dict, pipeline_file: str,
         name: str, stage: int) -> SlurmExecutor:
    executor = SlurmExecutor(
        steps, tasks=tasks, workers=workers if workers < tasks else -1, logging_dir=logging_dir, job_name=name,
        time=options.get("time") or "24:00:00", partition=options.get("partition"),
        cpus_per_task=options.get("cpus_per_task") or 1, mem_per_cpu_gb=options.get("mem_per_cpu_gb") or 2,
        qos=options.get("qos"), env_command=options.get("env_command"),
        sbatch_args=stage_sbatch_args(options.get("sbatch_args") or {}, stage),
        max_array_size=options.get("max_array_size") or 1001, requeue=False, with_srun=False)
    executor.pipeline_file = os.path.abspath(pipeline_file)
    executor.python = options.get("python") or ("python" if options.get("env_command") else "")
    return executor


def queued(job_ids: list[str]) -> dict[str, str]:
    """job id -> state (PENDING, RUNNING, ...) of those still known to the queue; array tasks
    report under their array's id."""
    if not job_ids:
        return {}
    try:
        out = subprocess.run(["squeue", "-h", "-o", "%F %T", "-j", ",".join(job_ids)], capture_output=True, text=True,
                             timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CurateError(f"squeue failed ({e})") from None
    states: dict[str, str] = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states.setdefault(parts[0], parts[1])
    return states


def wait(job_ids: list[str], tick=None) -> None:
    """Until no job of the run is queued or running."""
    while queued(job_ids):
        if tick is not None:
            tick()
        time.sleep(POLL_S)


def cancel(job_ids: list[str]) -> None:
    if job_ids:
        subprocess.run(["scancel", *job_ids], capture_output=True, timeout=60)
