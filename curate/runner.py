"""Run a pipeline file on datatrove's local or Ray executor and report the funnel."""

from __future__ import annotations

import os
import sys

from curate.errors import CurateError
from curate.pipeline import RunConfig, finalize, leave_out_steps, load_pipeline
from curate.report import collect_funnel, format_funnel, write_funnel

EXECUTORS = ("local", "ray")


def build_executor(steps: list, run: RunConfig, executor: str, tasks: int, workers: int, module=None,
                   logging_dir: str | None = None):
    logging_dir = logging_dir or run.logging_dir
    if executor == "local":
        from datatrove.executor import LocalPipelineExecutor

        # fork: workers inherit the imported pipeline file, whatever classes it defines
        return LocalPipelineExecutor(steps, tasks=tasks, workers=workers, logging_dir=logging_dir,
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
        return RayPipelineExecutor(steps, tasks=tasks, workers=workers, logging_dir=logging_dir,
                                   cpus_per_task=1, mem_per_cpu_gb=1)
    raise CurateError(f"unknown executor {executor!r}: choose one of {', '.join(EXECUTORS)}")


def run_pipeline(path: str, run: RunConfig, executor: str = "local", tasks: int = 1, workers: int = 1,
                 leave_out: tuple[str, ...] = ()) -> dict:
    """Build the pipeline in `path`, run it, and return the funnel (also saved as
    OUTPUT/funnel.json). Tasks completed by an earlier run of the same output are skipped.
    `leave_out` names steps (class or stage names) to run the pipeline without."""
    if "://" in run.output and not run.output.startswith("file://"):
        raise CurateError(f"--output {run.output}: write to a local folder (remote output is not supported yet)")
    if tasks < 1 or workers < 1:
        raise CurateError("--tasks and --workers must be at least 1")
    module = load_pipeline(path)
    stages = pipeline_stages(leave_out_steps(module.build(run), leave_out, path), path)
    steps = [step for stage in stages for step in stage]
    # resolve inputs now, so a bad path is one clear error instead of one per task, and the
    # columns a reader carries over are known before the writers fix their schema
    from curate.io.reader import ReadDocuments

    for step in steps:
        if isinstance(step, ReadDocuments):
            step.resolve_columns()
    finalize(steps, run)  # over all stages: later stages' writers get earlier stages' columns
    for step in steps:  # blocks that call a service check it once here, not in every task
        if callable(getattr(step, "preflight", None)):
            step.preflight()
    os.makedirs(run.output, exist_ok=True)
    # a stage may ask for fewer tasks (e.g. one clustering task); logs of stage 2+ in _logs/stage_N
    stage_tasks = [min([tasks] + [s.tasks for s in stage if isinstance(getattr(s, "tasks", None), int)])
                   for stage in stages]
    funnels = []
    for number, (stage, n) in enumerate(zip(stages, stage_tasks), 1):
        logging_dir = run.logging_dir if number == 1 else os.path.join(run.logging_dir, f"stage_{number}")
        build_executor(stage, run, executor, n, min(workers, n), module, logging_dir).run()
        funnels.append(collect_funnel(logging_dir, n))
        if funnels[-1]["tasks_reported"] < n:
            break  # later stages need every task of this one
    funnel = funnels[0] if len(stages) == 1 else _merge_funnels(funnels, stage_tasks, tasks)
    write_funnel(funnel, run.output)
    print(format_funnel(funnel), file=sys.stdout, flush=True)
    for step in steps:  # blocks with run-level reports of their own (e.g. rephrase stats)
        if callable(getattr(step, "run_report", None)) and (text := step.run_report(run.output)):
            print(text, file=sys.stdout, flush=True)
    return funnel


def pipeline_stages(built, path: str) -> list[list]:
    """Split what build(run) returned into stages that run one after the other, each on its own
    executor, sharing the output folder (dedup needs every task's signatures before any
    document can be removed). A flat list of steps is split before each step whose class sets
    `starts_stage = True`; a list of lists gives the stages explicitly."""
    if isinstance(built, list) and built and all(isinstance(stage, list) and stage for stage in built):
        return built
    if not isinstance(built, list) or not built or any(isinstance(step, list) for step in built):
        raise CurateError(f"{path}: build(run) must return a non-empty list of pipeline steps, "
                          "or a list of such lists (stages run in turn)")
    stages: list[list] = [[]]
    for step in built:
        if getattr(step, "starts_stage", False) and stages[-1]:
            stages.append([])
        stages[-1].append(step)
    return stages


def _merge_funnels(funnels: list[dict], stage_tasks: list[int], tasks: int) -> dict:
    """One funnel for a multi-stage run, stages in order. `tasks_reported` is the run's share of
    `tasks` done in its least complete stage (0 for a stage that never ran)."""
    done = [f["tasks_reported"] / n for f, n in zip(funnels, stage_tasks)] + [0.0] * (len(stage_tasks) - len(funnels))
    return {"tasks_reported": int(min(done) * tasks), "tasks": tasks,
            "stages": [row for f in funnels for row in f["stages"]],
            "file_errors": [e for f in funnels for e in f["file_errors"]],
            "stage_tasks": [{"tasks": n, "tasks_reported": f["tasks_reported"]} for f, n in zip(funnels, stage_tasks)]}
