"""A per-call time limit, counted in CPU time, with a wall-clock backstop.

In-process (no child process, no copying pages through a pipe), so the block's CPU time is its
own. The limit counts the process's CPU seconds (ITIMER_PROF), not wall-clock seconds: a paused
(SIGSTOP) or loaded machine gives the same pages the same verdict, so the output does not depend
on machine load. A wall-clock backstop (ITIMER_REAL, `backstop` x the limit, at least a minute)
still ends a call that hangs without using the CPU. Signals only reach the main thread;
datatrove's local and Ray workers run tasks there. Elsewhere the call runs without a limit (a
warning says so once).
"""

from __future__ import annotations

import contextlib
import signal
import threading

from datatrove.utils.logging import logger

BACKSTOP = 10  # the wall-clock limit, as a multiple of the CPU limit
MIN_BACKSTOP_S = 60.0


class TimeLimitExceeded(BaseException):
    """Not an Exception: extractors catch Exception in their fallbacks (trafilatura does), and
    would swallow the limit and return a half-done page's text instead of stopping."""


_warned = False


@contextlib.contextmanager
def time_limit(cpu_seconds: float):
    global _warned
    if cpu_seconds <= 0 or threading.current_thread() is not threading.main_thread():
        if cpu_seconds > 0 and not _warned:
            _warned = True
            logger.warning("extraction time limit disabled: not running on the main thread")
        yield
        return
    fired = []

    def _raise(signum, frame):
        fired.append(signum)
        raise TimeLimitExceeded()

    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGPROF, signal.SIGALRM)}
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    signal.setitimer(signal.ITIMER_REAL, max(MIN_BACKSTOP_S, BACKSTOP * cpu_seconds))
    try:
        yield
        # the exception raised by the handler can be swallowed where Python ignores exceptions
        # (a weakref callback or __del__ that the garbage collector ran at that moment; seen in
        # CI): the limit passed all the same
        if fired:
            raise TimeLimitExceeded()
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
