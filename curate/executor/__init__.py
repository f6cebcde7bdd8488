"""Executors that run a stage's tasks: datatrove's, each task run by curate's task loop."""

from __future__ import annotations

from types import ModuleType

from curate.errors import CurateError

EXECUTORS = ("local", "ray", "slurm")


def make_executor(kind: str, steps: list, tasks: int, workers: int, logging_dir: str,
                  pipeline_module: ModuleType | None = None):
    if kind == "local":
        from curate.executor.local import LocalExecutor

        executor = LocalExecutor(steps, tasks=tasks, workers=workers, logging_dir=logging_dir, start_method="fork")
    elif kind == "ray":
        from curate.executor.ray import RayExecutor, connect

        connect(workers, pipeline_module)
        executor = RayExecutor(steps, tasks=tasks, workers=workers, logging_dir=logging_dir, cpus_per_task=1,
                               mem_per_cpu_gb=1)
    else:
        raise CurateError(f"unknown executor {kind!r}: choose one of {', '.join(EXECUTORS)}")
    return executor
