"""`curate run`: one pipeline file, from top to bottom.

    load the file -> its typed settings -> build(run) -> steps left out (for ablations) -> stages
    -> prepare every block once, here in the driver -> each stage on its executor, in turn
    -> the funnel and the blocks' reports -> a RunResult

A pipeline file defines `build(run) -> list of steps` (run: the RunContext) and, if it has any,
its settings as a dataclass named `Settings` (curate/settings.py). Nothing here prints: the CLI
shows the progress snapshots, the funnel and the reports.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

from curate.errors import CurateError
from curate.executor import make_executor
from curate.executor.task import failed_task
from curate import storage
from curate.guard import claim, identity, locked, save, stopped_by_signals
from curate.storage import read_json, write_json
from curate.progress import Snapshot, Ticker
from curate.report.funnel import collect_errors, collect_stage, run_funnel, write_funnel
from curate.settings import make_settings, settings_class
from curate.step import STAGING, Block, RunContext, Stage, contract

PLAN = "plan.json"  # when this attempt started, its executor and stages: what `curate status` reads
from curate.userfile import load_python_file


@dataclass
class RunResult:
    output: str
    run_dir: str  # OUTPUT.curate: funnel.json, stage logs, error reports
    funnel: dict  # also saved as RUN_DIR/funnel.json
    reports: list[str]  # run-level summaries of blocks that have one (e.g. rephrase stats)

    @property
    def complete(self) -> bool:
        return self.funnel["tasks_reported"] == self.funnel["tasks"]

    @property
    def failed_inputs(self) -> list[str]:
        """Input files that gave no document at all because of an error."""
        return [e["file"] for e in self.funnel["file_errors"] if e.get("documents") == 0]

    @property
    def empty(self) -> bool:
        """Documents were read, and none reached the end of the pipeline."""
        rows = self.funnel["stages"]
        return bool(rows) and rows[0]["docs_out"] > 0 and rows[-1]["docs_out"] == 0


@dataclass
class StagePlan:
    """Steps that run on one executor; `tasks` caps the run's task count (None: no cap), or is
    the count itself when not `cap`."""

    steps: list
    tasks: int | None = None
    cap: bool = True


def run(path: str, ctx: RunContext, settings: dict | None = None, leave_out: tuple[str, ...] = (),
        progress: Callable[[Snapshot], None] | None = None, overwrite: bool = False) -> RunResult:
    """Run the pipeline file `path` as `ctx` says, with `settings` (KEY -> value: strings as from
    --set, or typed values). A rerun of the same run into the same output resumes it (completed
    tasks are skipped); another run's output is refused unless `overwrite` (curate/guard.py).
    `leave_out` names steps to run the pipeline without (ablations)."""
    check_context(ctx)
    module, stages = plan(path, ctx, settings, leave_out)
    blocks = prepare(stages, ctx, path)
    wanted = identity(path, ctx.settings, ctx, leave_out)
    with locked(ctx.run_dir), stopped_by_signals():
        state = claim(ctx, wanted, overwrite)
        make_folder(ctx.output)
        write_json(storage.join(ctx.run_dir, "blocks.json"), describe(blocks))
        write_json(storage.join(ctx.run_dir, PLAN), {
            "started": time.time(), "pipeline": os.path.abspath(path), "executor": ctx.executor,
            "stages": [{"label": stage_label(s), "tasks": stage_tasks(ctx, s)} for s in stages]})
        if state.pop("staging_removed", False) and not all(done(ctx, n, s) for n, s in enumerate(stages, 1)):
            forget_stages(ctx, 1)  # the staging later stages need is gone: everything runs again
        save(ctx, state)
        if ctx.executor == "slurm":
            results = run_on_slurm(ctx, stages, path)
        else:
            results = run_stages(ctx, stages, module, progress)
        funnel = run_funnel(results, ctx.tasks, collect_errors(ctx.folder("errors")))
        write_funnel(funnel, ctx.run_dir)
        result = RunResult(ctx.output, ctx.run_dir, funnel, [text for block in blocks if (text := block.report(ctx))])
        staging = storage.join(ctx.run_dir, STAGING)
        if result.complete and not ctx.keep_staging and storage.isdir(staging):
            storage.remove(staging, recursive=True)
            save(ctx, {**state, "staging_removed": True})
    return result


def run_stages(ctx: RunContext, stages: list[StagePlan], module: ModuleType, progress) -> list[dict]:
    """Each stage on its executor, in turn; a stage whose tasks ran makes later stages run again."""
    ticker = Ticker(progress, len(stages)) if progress is not None and ctx.executor == "local" else None
    results = []
    for number, stage in enumerate(stages, 1):
        tasks, logs = stage_tasks(ctx, stage), ctx.stage_dir(number)
        executor = make_executor(ctx.executor, stage.steps, tasks, min(ctx.workers, tasks), logs, module)
        ran = not done(ctx, number, stage)
        with ticker.stage(number, stage_label(stage), tasks, storage.join(logs, "completions")) if ticker \
                else contextlib.nullcontext():
            execute(executor, logs, ctx.output)
        if ran:
            forget_stages(ctx, number + 1)  # their inputs changed: never skip them as "completed"
        results.append(collect_stage(logs, stage.steps, tasks))
        if results[-1]["tasks_reported"] < tasks:
            break  # later stages need every task of this one
    for stage in stages[len(results):]:
        results.append({"tasks": stage_tasks(ctx, stage), "tasks_reported": 0, "rows": []})
    return results


def run_on_slurm(ctx: RunContext, stages: list[StagePlan], path: str) -> list[dict]:
    """Every stage submitted at once as dependent job arrays (curate/executor/slurm.py); then the
    queue is watched until the jobs are gone (not with --detach). A failed task is one line naming
    it and its log, and cancels whatever of the run is still queued."""
    from curate.executor import slurm

    jobs_file = storage.join(ctx.run_dir, "slurm_jobs.json")
    earlier = [j for ids in (read_json(jobs_file) or {}).values() for j in ids]
    if still := slurm.queued(earlier):
        raise CurateError(f"jobs of this run are still queued or running ({', '.join(sorted(still))}): "
                          f"wait for them (curate status {ctx.output}) or scancel them")
    for number, stage in enumerate(stages, 1):
        if not done(ctx, number, stage):
            forget_stages(ctx, number + 1)  # it will run: the stages after it must run again
            break
    jobs, after = {}, []
    for number, stage in enumerate(stages, 1):
        executor = slurm.make(stage.steps, stage_tasks(ctx, stage), min(ctx.workers, stage_tasks(ctx, stage)),
                              ctx.stage_dir(number), ctx.executor_options, path,
                              f"curate-{os.path.basename(os.path.normpath(ctx.output))}-{number}", number)
        jobs[str(number)] = after = executor.submit(after) or after
    write_json(jobs_file, jobs)
    submitted = [j for ids in jobs.values() for j in ids]
    if ctx.executor_options.get("detach"):
        raise Detached(submitted)
    slurm.wait(submitted)
    results = []
    for number, stage in enumerate(stages, 1):
        results.append(collect_stage(ctx.stage_dir(number), stage.steps, stage_tasks(ctx, stage)))
        if results[-1]["tasks_reported"] < results[-1]["tasks"]:
            slurm.cancel(submitted)
            raise CurateError(failed_tasks_message(ctx, number, stage))
    return results


class Detached(Exception):
    """The run's jobs are submitted and `curate run --detach` returns (curate status follows them)."""

    def __init__(self, job_ids: list[str]):
        super().__init__(", ".join(job_ids))
        self.job_ids = job_ids


def failed_tasks_message(ctx: RunContext, number: int, stage: StagePlan) -> str:
    """Which task of a stage did not finish, and where to look."""
    finished = set(storage.listdir(storage.join(ctx.stage_dir(number), "completions")))
    missing = [rank for rank in range(stage_tasks(ctx, stage)) if f"{rank:05d}" not in finished]
    rank = missing[0]
    log, lines = task_log(ctx.stage_dir(number), rank)
    cause = failure_cause(rank, lines) if lines is not None else \
        "it was cancelled or never started (see the Slurm logs in " + storage.join(ctx.stage_dir(number), "slurm_logs") + ")"
    more = f" ({len(missing) - 1} more tasks of stage {number} did not finish)" if len(missing) > 1 else ""
    return f"stage {number} task {rank} failed: {cause}; its log: {log}{more}"


def task_log(stage_dir: str, rank: int) -> tuple[str, list[str] | None]:
    """A task's log file and its lines (None: there is none)."""
    log = storage.join(stage_dir, "logs", f"task_{rank:05d}.log")
    if not storage.isfile(log):
        return log, None
    with storage.open_file(log, "rt") as f:
        return log, f.read().splitlines()


def failure_cause(rank: int, lines: list[str]) -> str:
    """What a task that did not finish logged as its failure."""
    errors = [line.split(" - ", 1)[-1].strip() for line in lines if "| ERROR" in line]
    return errors[-1].removeprefix(f"task {rank} failed: ") if errors else \
        "it stopped before it finished (killed or cancelled)"


def stage_tasks(ctx: RunContext, stage: StagePlan) -> int:
    if stage.tasks and not stage.cap:
        return stage.tasks
    return min(ctx.tasks, stage.tasks or ctx.tasks)


def done(ctx: RunContext, number: int, stage: StagePlan) -> bool:
    return len(storage.listdir(storage.join(ctx.stage_dir(number), "completions"))) >= stage_tasks(ctx, stage)


def forget_stages(ctx: RunContext, first: int) -> None:
    """Completion markers and stats of stage `first` and later: those stages run again."""
    number = first
    while storage.isdir(ctx.stage_dir(number)):
        for folder in ("completions", "stats"):
            storage.remove(storage.join(ctx.stage_dir(number), folder), recursive=True)
        number += 1


def make_folder(path: str) -> None:
    try:
        storage.makedirs(path)
    except OSError as e:
        raise CurateError(f"cannot create {path}: {e.strerror or e}") from None


def plan(path: str, ctx: RunContext, settings: dict | None = None,
         leave_out: tuple[str, ...] = ()) -> tuple[ModuleType, list[StagePlan]]:
    """The pipeline file loaded, its settings typed into ctx.settings, its steps built and split
    into stages (nothing prepared or run yet)."""
    module = load_pipeline_file(path)
    ctx.settings = make_settings(settings_class(module), dict(settings or {}), path)
    return module, split_stages(leave_out_steps(build_steps(module, ctx, path), leave_out, path))


def check_context(ctx: RunContext) -> None:
    if not ctx.output or not str(ctx.output).strip():
        raise CurateError("--output: give a folder")
    if storage.is_remote(ctx.output):
        return  # (remote folders need no such checks: a missing prefix is created, permissions show on write)
    for path in (ctx.output, ctx.run_dir):
        if os.path.exists(path) and not os.path.isdir(path):
            raise CurateError(f"--output {ctx.output}: {path} exists and is not a folder")
    for path in (ctx.output, os.path.dirname(os.path.abspath(ctx.output))):
        if os.path.isdir(path) and not os.access(path, os.W_OK | os.X_OK):
            raise CurateError(f"--output {ctx.output}: {path} is not writable")
    if ctx.tasks < 1 or ctx.workers < 1:
        raise CurateError("--tasks and --workers must be at least 1")
    if ctx.limit is not None and ctx.limit < 1:
        raise CurateError(f"--limit {ctx.limit}: give at least 1 (leave it out to read everything)")


def load_pipeline_file(path: str) -> ModuleType:
    module = load_python_file(path, "pipeline")
    if not callable(vars(module).get("build")):
        raise CurateError(f"{path}: a pipeline file must define build(run) returning a list of steps")
    return module


def build_steps(module: ModuleType, ctx: RunContext, path: str) -> list:
    steps = module.build(ctx)
    if not isinstance(steps, list) or not steps or any(isinstance(step, (list, tuple)) for step in steps):
        raise CurateError(f"{path}: build(run) must return a non-empty list of pipeline steps "
                          "(put a curate.step.Stage() where a new stage starts)")
    return steps


def step_names(step) -> set[str]:
    """What a step answers to when a run leaves steps out: its class name and its name."""
    return {type(step).__name__, contract(step).name}


def leave_out_steps(steps: list, names, path: str) -> list:
    """The steps less those named in `names` (class names or names, e.g. "C4Quality" or "c4"): the
    same pipeline with those filters left out. A name that matches no step is an error, so a typo
    cannot pass for an ablation."""
    names = set(names or ())
    if not names:
        return steps
    unknown = names - set().union(*(step_names(step) for step in steps))
    if unknown:
        known = ", ".join(sorted({type(step).__name__ for step in steps if not isinstance(step, Stage)}))
        raise CurateError(f"{path}: no step named {', '.join(sorted(unknown))} to leave out (steps: {known})")
    return [step for step in steps if not step_names(step) & names]


def split_stages(steps: list) -> list[StagePlan]:
    """The steps between Stage markers, in order: each stage runs on its own executor after every
    task of the one before it (datatrove users: one executor per stage, chained with depends=)."""
    stages = [StagePlan([])]
    for step in steps:
        if isinstance(step, Stage):
            if stages[-1].steps:
                stages.append(StagePlan([]))
            stages[-1].tasks, stages[-1].cap = step.tasks, step.cap
        else:
            stages[-1].steps.append(step)
    return [stage for stage in stages if stage.steps]


def prepare(stages: list[StagePlan], ctx: RunContext, path: str) -> list[Block]:
    """Every block's prepare(ctx), in pipeline order; ctx.columns grows block by block."""
    blocks = [contract(step) for stage in stages for step in stage.steps]
    twice = [name for name, n in Counter(block.name for block in blocks).items() if n > 1]
    if twice:
        raise CurateError(f"{path}: more than one step is named {', '.join(twice)}: give each its own "
                          "name=... (names key the funnel, the removed documents and the columns)")
    ctx.columns = {}
    for block in blocks:
        block.prepare(ctx)
        for column, dtype in block.columns.items():
            ctx.columns.setdefault(column, dtype)
    return blocks


def describe(blocks: list[Block]) -> list[dict]:
    """What `curate report` needs to know of the blocks (OUTPUT.curate/blocks.json)."""
    return [{"name": b.name, "internal": b.internal, "columns": {k: str(v) for k, v in b.columns.items()},
             "thresholds": [list(t) for t in b.thresholds()]} for b in blocks]


def stage_label(stage: StagePlan) -> str:
    blocks = [contract(step) for step in stage.steps]
    shown = [block.name for block in blocks if not block.internal] or [block.name for block in blocks]
    return shown[0] if len(shown) == 1 else f"{shown[0]} .. {shown[-1]}"


def execute(executor, logs: str, output: str) -> None:
    """Run a stage's executor; a task's failure becomes one line naming the task and its log (an
    OS error: the path, e.g. a full disk)."""
    try:
        executor.run()
    except CurateError:
        raise
    except Exception as e:
        rank = failed_task(e)
        where = f"task {rank}" if rank is not None else "a task"
        if isinstance(e, OSError) and e.strerror:
            raise CurateError(f"{where} failed: {e.strerror}: {e.filename or f'writing {output} or {logs}'}") from e
        log = os.path.join(logs, "logs", f"task_{rank:05d}.log") if rank is not None else os.path.join(logs, "logs")
        raise CurateError(f"{where} failed ({type(e).__name__}: {e}); traceback in {log}") from e
