"""Pipeline files: plain Python files with a `build(run) -> list[PipelineStep]` function.

`load_pipeline` imports the file; `finalize` wires what the runner owns (the writer's schema,
where removed documents and file errors go) so pipeline files stay short recipes.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from curate.errors import CurateError
from curate.io.parquet import REMOVED_COLUMNS, WriteParquet
from curate.step import CurateStep


@dataclass
class RunConfig:
    """What `curate run` passes to a pipeline file's build()."""

    inputs: list[str] = field(default_factory=list)  # empty: the pipeline's embedded default
    output: str = "out"
    limit: int = -1
    removed: str | None = None  # folder for removed documents, or None to drop them
    progress: bool = False
    storage_options: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # `curate run --set KEY=VALUE`: pipeline-specific settings

    @property
    def logging_dir(self) -> str:
        return os.path.join(self.output, "_logs")


def load_pipeline(path: str) -> ModuleType:
    file = Path(path)
    if not file.is_file():
        raise CurateError(f"{path}: no such pipeline file")
    name = f"curate_pipeline_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # forked local workers then find classes defined in the file
    try:
        spec.loader.exec_module(module)
    except CurateError:
        raise
    except Exception as e:
        raise CurateError(f"{path}: failed to load ({type(e).__name__}: {e})") from e
    if not callable(getattr(module, "build", None)):
        raise CurateError(f"{path}: a pipeline file must define build(run) returning a list of steps")
    return module


def finalize(steps: list, run: RunConfig) -> list:
    """Give each writer the columns declared by the blocks before it, point blocks at the
    run's error-report folder, and attach removed-document writers when asked for."""
    columns: dict = {}
    for step in steps:
        if isinstance(step, WriteParquet):
            step.set_columns({**columns, **step.extra_columns})
        columns.update(getattr(step, "columns", {}) or {})
        if hasattr(step, "report_dir"):
            step.report_dir = os.path.join(run.logging_dir, "errors")
    if run.removed:
        for step in steps:
            if isinstance(step, CurateStep):
                step.removed_writer = WriteParquet(run.removed, extra_columns={**columns, **REMOVED_COLUMNS},
                                                   output_filename=f"{step.stage}/${{rank}}.parquet")
    return steps


def step_names(step) -> set[str]:
    """What a step answers to when a run leaves steps out: its class name and its stage name."""
    return {type(step).__name__, str(getattr(step, "stage", "") or ""), str(getattr(step, "name", "") or "")} - {""}


def leave_out_steps(built, names, path: str):
    """What build(run) returned, less the steps named in `names` (class or stage names, e.g.
    "C4Quality" or "c4"): the same pipeline with those filters left out. A name that matches no
    step is an error, so a typo cannot pass for an ablation."""
    names = set(names or ())
    if not names:
        return built
    nested = isinstance(built, list) and bool(built) and all(isinstance(stage, list) for stage in built)
    steps = [step for stage in built for step in stage] if nested else list(built or [])
    unknown = names - set().union(*(step_names(step) for step in steps))
    if unknown:
        known = ", ".join(sorted({type(step).__name__ for step in steps}))
        raise CurateError(f"{path}: no step named {', '.join(sorted(unknown))} to leave out (steps: {known})")
    if nested:
        return [kept for stage in built if (kept := [s for s in stage if not step_names(s) & names])]
    return [step for step in built if not step_names(step) & names]

