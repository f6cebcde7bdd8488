"""One task of a stage, run curate's way on any of datatrove's executors: its own log file with
everything while the console stays as the CLI set it (datatrove's own task loop turns the console
to INFO and prints stats dumps), the documents counted for the progress display and `curate status` (its heartbeat), then its stats
and completion marker."""

from __future__ import annotations

import os
import signal
from collections import deque

from datatrove.utils.stats import PipelineStats
from loguru import logger

from curate.errors import CurateError
from curate.log import add_task_log
from curate.progress import Heartbeat, counted


DRIVER_PID = os.getpid()  # the process that imported curate first: forked workers have another


class CurateTasks:
    """Mixed into a datatrove executor class, before it."""

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1) -> PipelineStats:
        if self.is_rank_completed(rank):
            return PipelineStats()
        if os.getpid() != DRIVER_PID:  # a forked worker: die at once when the driver terminates the pool
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
        self._set_distributed_environment(node_rank)
        logfile = self.logging_dir.open(f"logs/task_{rank:05d}.log", "w")
        sink = add_task_log(logfile)
        generators = []
        try:
            beat = Heartbeat(self.logging_dir, rank)
            data = None
            for index, step in enumerate(self.pipeline):
                data = step(data, rank, self.world_size)
                generators.append(data)
                if index == 0:
                    data = counted(data, rank, beat)
            deque(data or (), maxlen=0)
            beat.save(finished=True)
            stats = PipelineStats(self.pipeline)
            if node_rank <= 0:  # a task spanning several nodes is saved and marked by its first
                with self.logging_dir.open(f"stats/.{rank:05d}.json.tmp", "w") as f:
                    stats.save_to_disk(f)
                self.logging_dir.mv(f"stats/.{rank:05d}.json.tmp", f"stats/{rank:05d}.json")
                logger.info(stats.get_repr(f"Task {rank}"))
                self.mark_rank_as_completed(rank)
            return stats
        except Exception as e:
            # to the task's log only (the driver reports the failure once); a CurateError's message
            # says it all, anything else keeps its traceback there
            logger.bind(file_only=True).opt(exception=not isinstance(e, CurateError)).error(
                f"task {rank} failed: {e if isinstance(e, CurateError) else f'{type(e).__name__}: {e}'}")
            e.add_note(f"curate task {rank}")
            raise
        finally:
            # a failed task's steps end now, while the interpreter is whole: their `finally`
            # blocks save error reports and writers drop unfinished files (left to garbage
            # collection at exit, they would fail with "name 'open' is not defined")
            for generator in reversed(generators):
                if hasattr(generator, "close"):
                    generator.close()
            logger.complete()
            logger.remove(sink)
            logfile.close()


def failed_task(error: BaseException) -> int | None:
    """The rank of the task an exception came from, when a CurateTasks task raised it."""
    for note in getattr(error, "__notes__", ()):
        if note.startswith("curate task "):
            return int(note.rsplit(" ", 1)[1])
    return None
