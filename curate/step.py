"""Base classes for curate's pipeline blocks.

Every block is a datatrove PipelineStep (so it composes with datatrove's readers, writers and
executors) that also keeps one row of the run's funnel: documents and bytes in and out, CPU
seconds spent in the block itself (not upstream or downstream), and why documents were dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from typing import Iterator

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.logging import logger

# keys of the funnel row each block records in its datatrove stats
DOCS_IN, DOCS_OUT, BYTES_IN, BYTES_OUT, CPU_S = "docs_in", "docs_out", "bytes_in", "bytes_out", "cpu_s"
DROPPED = "dropped."  # prefix: dropped.<reason>
SKIPPED = "skipped."  # prefix for readers: records that never became documents


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


class CurateStep(PipelineStep):
    """A block that maps each document to itself (possibly changed) or drops it.

    Subclasses implement `process(doc) -> None | str`: None keeps the document, a string drops
    it and is the reason. `setup()` runs once per task inside the worker, the place to load
    models that cannot be pickled. `columns` names the output columns the block adds (name ->
    pyarrow type), so the Parquet writer's schema is known before any document is seen.
    """

    type = "curate"
    stage: str = "step"
    columns: dict = {}

    def __init__(self) -> None:
        super().__init__()
        self.removed_writer = None  # set by the runner when removed documents are kept
        self.report_dir: str | None = None  # set by the runner: where file-level errors go

    def setup(self, rank: int, world_size: int) -> None:
        """Per-task initialisation inside the worker."""

    def process(self, doc: Document) -> str | None:
        raise NotImplementedError

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.setup(rank, world_size)
        funnel = Funnel()
        counts = funnel.counts
        writer_cm = self.removed_writer if self.removed_writer is not None else contextlib.nullcontext()
        try:
            with writer_cm as removed:
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
                        if removed is not None:
                            doc.metadata["removed_by"] = self.stage
                            doc.metadata["removed_reason"] = reason
                            removed.write(doc, rank)
                        funnel.cpu_s += time.process_time() - start
        finally:
            funnel.flush(self)


class ErrorReport:
    """One-line reports of file-level failures: logged at once, and saved per task for the
    run's funnel so the failures outlive the console."""

    def __init__(self, step: PipelineStep, report_dir: str | None, rank: int):
        self.step, self.report_dir, self.rank = step, report_dir, rank
        self.errors: list[dict] = []

    def add(self, path: str, reason: str) -> None:
        logger.warning(f"{path}: {reason}")
        self.errors.append({"file": path, "error": reason})
        self.step.stat_update("file_errors")

    def save(self) -> None:
        if not self.report_dir:
            return
        os.makedirs(self.report_dir, exist_ok=True)
        with open(os.path.join(self.report_dir, f"{self.rank:05d}.jsonl"), "w") as f:
            for error in self.errors:
                f.write(json.dumps(error) + "\n")


def timed(iterator: Iterator, funnel: Funnel) -> Iterator:
    """Yield from `iterator`, adding the CPU time spent producing each item to the funnel."""
    start = time.process_time()
    for item in iterator:
        funnel.cpu_s += time.process_time() - start
        yield item
        start = time.process_time()
