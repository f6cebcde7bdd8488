"""A per-call wall-clock limit via SIGALRM.

In-process (no child process, no copying pages through a pipe), so the block's CPU time is its
own. Signals only reach the main thread; datatrove's local and Ray workers run tasks there.
Elsewhere the call runs without a limit (a warning says so once).
"""

from __future__ import annotations

import contextlib
import signal
import threading

from datatrove.utils.logging import logger


class TimeLimitExceeded(BaseException):
    """Not an Exception: extractors catch Exception in their fallbacks (trafilatura does), and
    would swallow the limit and return a half-done page's text instead of stopping."""


def _raise(signum, frame):
    raise TimeLimitExceeded()


_warned = False


@contextlib.contextmanager
def time_limit(seconds: float):
    global _warned
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        if seconds > 0 and not _warned:
            _warned = True
            logger.warning("extraction time limit disabled: not running on the main thread")
        yield
        return
    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
