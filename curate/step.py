"""The block contract: what a pipeline step may declare to the runner, and the base of curate's
per-document blocks.

Every block is a datatrove PipelineStep, so it composes with datatrove's readers, writers and
executors. Beyond that, a block talks to `curate run` (curate/run.py) through exactly this:

    name      its identity, settable per instance (`GopherQuality(name="gopher_strict")`): its funnel
              row, `removed_by` of the documents it removes, and the prefix of its columns
    columns   the columns it adds to every document (name -> pyarrow type), final after prepare()
    internal  True for machinery serving another block (dedup's hashing, staging and clustering):
              no funnel row of its own; its CPU seconds count in the next block's row
    thresholds()  the columns it filters on and the values, for `curate report`
    prepare(ctx)  driver side, once per run before any task, in pipeline order
    report(ctx)   driver side, after the run: a summary for the console, or None

and the `Stage` marker in the step list, where every task of the steps before it must finish before
any step after it starts. A datatrove step that is not a curate block runs as one without hooks.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.logging import logger

from curate.errors import CurateError

# keys of the funnel row each block records in its datatrove stats
DOCS_IN, DOCS_OUT, BYTES_IN, BYTES_OUT, CPU_S = "docs_in", "docs_out", "bytes_in", "bytes_out", "cpu_s"
DROPPED = "dropped."  # prefix: dropped.<reason>
SKIPPED = "skipped."  # prefix for readers: records that never became documents
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class RunContext:
    """What one run is: given to the pipeline file's build(run) and to every block's prepare/report.

    The output folder holds the documents and nothing else, so every Parquet client reads it as a
    dataset; everything else the run keeps (funnel, logs, stats, completion markers, error
    reports, caches, staging) is in its run folder beside it, OUTPUT.curate/ (README, "Layout")."""

    output: str = "out"
    inputs: list[str] = field(default_factory=list)  # --input; empty: each reader's own default
    limit: int | None = None  # --limit: at most this many documents per reader and task
    removed: str | None = None  # --removed: also write removed documents there
    tasks: int = 1
    workers: int = 1
    executor: str = "local"
    keep_staging: bool = False  # --keep-staging: leave the staging files after a complete run
    executor_options: dict = field(default_factory=dict)  # Slurm's partition, time, ... (curate run --help)
    settings: Any = None  # the pipeline file's Settings, typed (curate/settings.py)
    # the columns the run's blocks declare, in pipeline order: while blocks are prepared, those of
    # the blocks before the one being prepared; complete once all are (the removed-documents writer
    # reads it at run time)
    columns: dict = field(default_factory=dict)
    # what the readers listed in prepare (block name -> files): part of the run's identity
    inputs_resolved: dict = field(default_factory=dict)

    @property
    def run_dir(self) -> str:
        """OUTPUT.curate: the run's own files, beside the output."""
        return run_dir_of(self.output)

    def stage_dir(self, number: int) -> str:
        """Stage `number`'s datatrove logging folder: task logs, stats, completion markers."""
        return os.path.join(self.run_dir, f"stage_{number}")

    def folder(self, name: str) -> str:
        """A block's own folder in the run folder, kept between runs (e.g. the rephrase cache)."""
        return os.path.join(self.run_dir, name)

    def staging(self, name: str) -> str:
        """A block's intermediate files (e.g. dedup's), removed when the run completes."""
        return os.path.join(self.run_dir, STAGING, name)


STAGING = "staging"


def run_dir_of(output: str) -> str:
    """The run folder of an output folder: OUTPUT.curate beside it."""
    if "://" in output:
        return output.rstrip("/") + ".curate"
    return os.path.abspath(output) + ".curate"


class Block:
    """The hooks a block may have (see the module docstring). Mixed into curate's steps."""

    name: str = "block"
    columns: dict = {}
    internal: bool = False
    ctx: RunContext | None = None  # set by prepare(); None when a block runs outside `curate run`

    def prepare(self, ctx: RunContext) -> None:
        """Once per run in the driver, before any task: check configuration and services, list
        inputs, fix `columns`. Runs in pipeline order, so ctx.columns holds the earlier blocks'."""
        self.ctx = ctx

    def report(self, ctx: RunContext) -> str | None:
        """Once per run in the driver, after the last stage: a summary to print, or None."""
        return None

    def thresholds(self) -> list[tuple[str, str, float]]:
        """The columns this block filters on: (column, ">=" or "<=", value), a document being kept
        when `column op value` (`curate report` marks them and lets a reader try others)."""
        return []

    def set_name(self, name: str | None) -> None:
        if name is None:
            return
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise CurateError(f"{type(self).__name__}: name must be letters, digits and _, got {name!r}")
        self.name = name
        if isinstance(self, PipelineStep):
            self.stats.name = str(self)  # datatrove named the stats at construction


class _Foreign(Block):
    """A datatrove step (or function) that is not a curate block: its own name, and no hooks but
    one: the columns of a datatrove reader are learnt from the metadata of its first documents, so
    that curate's writer keeps them (datatrove declares none)."""

    def __init__(self, step):
        self.step = step
        self.name = getattr(step, "name", None) or getattr(step, "__name__", type(step).__name__)

    def prepare(self, ctx: RunContext) -> None:
        from datatrove.pipeline.readers.base import BaseReader

        if isinstance(self.step, BaseReader):
            from curate.io.columns import sample_columns

            self.columns = sample_columns(self.step)


def contract(step) -> Block:
    """The runner's view of a pipeline step."""
    return step if isinstance(step, Block) else _Foreign(step)


class Stage(Block, PipelineStep):
    """A marker in a pipeline's step list: a new stage starts here, after every task of the steps
    before it has finished (dedup needs every task's signatures before removing anything).
    `tasks` caps the number of tasks of the new stage at the run's `--tasks` (dedup's index is one
    task); with `cap=False` the stage runs exactly `tasks` tasks, more than the run's if asked
    (dedup's clustering: its memory per task falls with its own task count)."""

    name = "stage"
    type = "curate"

    def __init__(self, tasks: int | None = None, cap: bool = True):
        super().__init__()
        if tasks is not None and (not isinstance(tasks, int) or isinstance(tasks, bool) or tasks < 1):
            raise CurateError(f"Stage: tasks must be a positive integer or None, got {tasks!r}")
        self.tasks, self.cap = tasks, cap

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        raise CurateError(
            "this pipeline has stages (Stage markers, e.g. from dedup_steps()): run it with `curate run`, or "
            "split it with curate.run.split_stages() and run one executor per stage, each with depends= on the last")


def utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class Funnel:
    """Counters for one task of one block, written into the block's stats once at the end
    (per-document stat updates would cost more than some blocks' work)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.cpu_s = 0.0

    def flush(self, step: PipelineStep) -> None:
        for key, value in sorted(self.counts.items()):
            step.stat_update(key, value=value)
        step.stat_update(CPU_S, value=round(self.cpu_s, 6), unit="task")
        self.counts.clear()
        self.cpu_s = 0.0


class CurateStep(Block, PipelineStep):
    """A block that maps each document to itself (possibly changed) or drops it.

    Subclasses implement `process(doc) -> None | str`: None keeps the document, a string drops
    it and is the reason. `setup()` runs once per task inside the worker, the place to load
    models that cannot be pickled. With `curate run --removed DIR`, dropped documents are also
    written to DIR/<name>/ with `removed_by` and `removed_reason`.
    """

    type = "curate"

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.set_name(name)

    def setup(self, rank: int, world_size: int) -> None:
        """Per-task initialisation inside the worker."""

    def process(self, doc: Document) -> str | None:
        raise NotImplementedError

    def removed_sink(self):
        """A context manager giving the writer of removed documents (None when not kept)."""
        if self.ctx is None or not self.ctx.removed:
            return contextlib.nullcontext()
        from curate.io.parquet import REMOVED_COLUMNS, WriteParquet

        return WriteParquet(self.ctx.removed, extra_columns={**self.ctx.columns, **REMOVED_COLUMNS},
                            output_filename=f"{self.name}/${{rank}}.parquet", infer_columns=False)

    def drop(self, doc: Document, reason: str, removed, rank: int) -> None:
        """Record why `doc` was dropped on the document, for the removed-documents writer."""
        if removed is not None:
            doc.metadata["removed_by"] = self.name
            doc.metadata["removed_reason"] = reason
            removed.write(doc, rank)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.setup(rank, world_size)
        funnel = Funnel()
        counts = funnel.counts
        try:
            with self.removed_sink() as removed:
                for doc in data or ():
                    start = time.process_time()
                    counts[DOCS_IN] += 1
                    counts[BYTES_IN] += utf8_len(doc.text)
                    reason = self.process(doc)
                    if reason is None:
                        counts[DOCS_OUT] += 1
                        counts[BYTES_OUT] += utf8_len(doc.text)
                        funnel.cpu_s += time.process_time() - start
                        yield doc
                    else:
                        counts[DROPPED + reason] += 1
                        self.drop(doc, reason, removed, rank)
                        funnel.cpu_s += time.process_time() - start
        finally:
            funnel.flush(self)


class ErrorReport:
    """One-line reports of file-level failures: logged at once, and saved per task for the
    run's funnel so the failures outlive the console."""

    def __init__(self, step: PipelineStep, report_dir: str | None, rank: int):
        self.step, self.report_dir, self.rank = step, report_dir, rank
        self.name = f"{getattr(step, 'name', 'step')}-{rank:05d}.jsonl"
        self.errors: list[dict] = []

    def add(self, path: str, reason: str, documents: int | None = None) -> None:
        """`documents`: how many the file gave in all (0: it failed entirely), None: not known yet."""
        logger.warning(f"{path}: {reason}")
        self.errors.append({"file": path, "error": reason, "documents": documents})
        self.step.stat_update("file_errors")

    def save(self) -> None:
        if not self.report_dir:
            return
        from curate.storage import join, write_bytes

        write_bytes(join(self.report_dir, self.name), "".join(json.dumps(e) + "\n" for e in self.errors).encode())


def timed(iterator: Iterator, funnel: Funnel) -> Iterator:
    """Yield from `iterator`, adding the CPU time spent producing each item to the funnel."""
    start = time.process_time()
    for item in iterator:
        funnel.cpu_s += time.process_time() - start
        yield item
        start = time.process_time()
