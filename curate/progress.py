"""Documents counted across a local run's worker processes, for one progress display.

Each task counts the documents its first step yields into its slot of a shared array; the forked
workers inherit the array, so nothing is pickled or sent. The driver reads the slots every half
second and hands a snapshot to whoever shows it (the CLI, on a terminal). Under Ray the workers run
elsewhere and nothing is counted.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from curate import storage

_slots = None  # per-task document counts of the stage running now (set by Ticker.stage)


def counted(docs, rank: int) -> Iterator:
    slots = _slots
    if slots is None or docs is None or rank >= len(slots):
        yield from docs or ()
        return
    n = 0
    for doc in docs:
        n += 1
        slots[rank] = n
        yield doc


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
