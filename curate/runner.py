"""Run a pipeline file on datatrove's local or Ray executor and report the funnel."""

from __future__ import annotations

import os
import sys

from curate.errors import CurateError
from curate.pipeline import RunConfig, finalize, load_pipeline
from curate.report import collect_funnel, format_funnel, write_funnel

EXECUTORS = ("local", "ray")


def build_executor(steps: list, run: RunConfig, executor: str, tasks: int, workers: int, module=None):
    if executor == "local":
        from datatrove.executor import LocalPipelineExecutor

        # fork: workers inherit the imported pipeline file, whatever classes it defines
        return LocalPipelineExecutor(steps, tasks=tasks, workers=workers, logging_dir=run.logging_dir,
                                     start_method="fork")
    if executor == "ray":
        import ray
        from datatrove.executor.ray import RayPipelineExecutor

        if not ray.is_initialized():
            # RAY_ADDRESS (if set) names an existing cluster ("auto": the one `ray start` started on
            # this machine); otherwise a new local one starts. Not address=None: that would join a
            # cluster found in /tmp/ray, and ray.init refuses num_cpus when joining one
            ray.init(address=os.environ.get("RAY_ADDRESS") or "local", include_dashboard=False,
                     log_to_driver=False, **({} if os.environ.get("RAY_ADDRESS") else {"num_cpus": workers}))
        if module is not None:
            import cloudpickle

            cloudpickle.register_pickle_by_value(module)  # Ray workers cannot import the file
        return RayPipelineExecutor(steps, tasks=tasks, workers=workers, logging_dir=run.logging_dir,
                                   cpus_per_task=1, mem_per_cpu_gb=1)
    raise CurateError(f"unknown executor {executor!r}: choose one of {', '.join(EXECUTORS)}")


def run_pipeline(path: str, run: RunConfig, executor: str = "local", tasks: int = 1, workers: int = 1) -> dict:
    """Build the pipeline in `path`, run it, and return the funnel (also saved as
    OUTPUT/funnel.json). Tasks completed by an earlier run of the same output are skipped."""
    if "://" in run.output and not run.output.startswith("file://"):
        raise CurateError(f"--output {run.output}: write to a local folder (remote output is not supported yet)")
    if tasks < 1 or workers < 1:
        raise CurateError("--tasks and --workers must be at least 1")
    module = load_pipeline(path)
    steps = module.build(run)
    if not isinstance(steps, list) or not steps:
        raise CurateError(f"{path}: build(run) must return a non-empty list of pipeline steps")
    # resolve inputs now, so a bad path is one clear error instead of one per task
    from curate.io.inputs import expand_inputs
    from curate.io.reader import ReadDocuments

    for step in steps:
        if isinstance(step, ReadDocuments):
            expand_inputs(step.inputs, step.storage_options)
    finalize(steps, run)
    os.makedirs(run.output, exist_ok=True)
    build_executor(steps, run, executor, tasks, workers, module).run()
    funnel = collect_funnel(run.logging_dir, tasks)
    write_funnel(funnel, run.output)
    print(format_funnel(funnel), file=sys.stdout, flush=True)
    return funnel
