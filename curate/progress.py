"""Documents counted as tasks read them, for two readers:

- the live progress line of a local run: each task counts the documents its first step yields into
  its slot of a shared array; the forked workers inherit the array, so nothing is pickled or sent.
  The driver reads the slots every half second and hands a snapshot to whoever shows it (the CLI,
  on a terminal).
- `curate status`, from anywhere and for any executor: each task saves a heartbeat,
  OUTPUT.curate/stage_N/progress/RANK.json (documents so far, when, peak memory, and where it
  runs: host, pid, Slurm array task, Ray node), at its start, at its first document, every
  HEARTBEAT_S seconds and at its end.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import resource
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from loguru import logger

from curate import storage

HEARTBEAT_S = 30.0  # on an object store, one small PUT per task per interval
_slots = None  # per-task document counts of the stage running now (set by Ticker.stage)


def counted(docs, rank: int, beat: "Heartbeat | None" = None) -> Iterator:
    slots = _slots if _slots is not None and rank < len(_slots) else None
    n = 0
    for doc in docs or ():
        n += 1
        if slots is not None:
            slots[rank] = n
        if beat is not None:
            beat.count(n)
        yield doc


class Heartbeat:
    """One task's progress file (stage_N/progress/RANK.json), written whole under a hidden name
    and moved into place. `folder` is the stage's datatrove DataFolder (local or remote)."""

    def __init__(self, folder, rank: int):
        self.folder, self.rank = folder, rank
        self.started, self.documents, self.saved_at, self.broken = time.time(), 0, 0.0, False
        self.where = where_this_runs()
        self.save()

    def count(self, documents: int) -> None:
        self.documents = documents
        if documents == 1 or time.monotonic() - self.saved_at >= HEARTBEAT_S:
            self.save()

    def save(self, finished: bool = False) -> None:
        self.saved_at = time.monotonic()
        record = {"rank": self.rank, "documents": self.documents, "started": self.started, "updated": time.time(),
                  "finished": finished, "peak_rss_mb": peak_rss_mb(), **self.where}
        hidden, final = f"progress/.{self.rank:05d}.json.tmp", f"progress/{self.rank:05d}.json"
        try:
            with self.folder.open(hidden, "w") as f:
                json.dump(record, f)
            self.folder.mv(hidden, final)
        except OSError as e:  # only `curate status` loses sight of the task; the task goes on
            if not self.broken:
                logger.warning(f"task {self.rank}: cannot save its progress file {final}: {e}")
            self.broken = True


def peak_rss_mb() -> int:
    """The peak resident memory of this process so far (a forked worker's includes the pages it
    shares with the driver it was forked from). Linux's VmHWM where there is one: getrusage's
    ru_maxrss survives exec, so a process started by a large one would report its parent's peak."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) // 1024
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux


def where_this_runs() -> dict:
    """host and pid; the Slurm array task ("JOB_INDEX") or job; the Ray node's id."""
    where = {"host": socket.gethostname(), "pid": os.getpid()}
    if "SLURM_ARRAY_JOB_ID" in os.environ:
        where["slurm_job"] = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
    elif "SLURM_JOB_ID" in os.environ:
        where["slurm_job"] = os.environ["SLURM_JOB_ID"]
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        where["ray_node"] = ray.get_runtime_context().get_node_id()
    return where


@dataclass
class Snapshot:
    stage: int  # 1-based
    stages: int
    label: str  # what the stage does
    documents: int  # read by the stage's first step so far (this session)
    tasks_done: int
    tasks: int
    seconds: float
    finished: bool = False

    @property
    def rate(self) -> float:
        return self.documents / self.seconds if self.seconds > 0 else 0.0


class Ticker:
    """Calls `show(snapshot)` every `interval` seconds while a stage runs, and once when it ends."""

    def __init__(self, show: Callable[[Snapshot], None], stages: int, interval: float = 0.5):
        self.show, self.stages, self.interval = show, stages, interval

    @contextlib.contextmanager
    def stage(self, number: int, label: str, tasks: int, completions: str):
        global _slots
        _slots = multiprocessing.RawArray("q", tasks)
        start, stop = time.monotonic(), threading.Event()

        def snapshot(finished: bool = False) -> Snapshot:
            done = len(storage.listdir(completions))
            return Snapshot(number, self.stages, label, sum(_slots), min(done, tasks), tasks,
                            time.monotonic() - start, finished)

        def tick():
            while not stop.wait(self.interval):
                self.show(snapshot())

        thread = threading.Thread(target=tick, name="curate-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.show(snapshot(finished=True))
            _slots = None
