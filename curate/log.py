"""Logging, configured in one place.

The console gets warnings and errors, one line each (`-v`: INFO too, datatrove's per-task stats
among them, and tracebacks); each task's log file under OUTPUT.curate/stage_N/logs/ gets everything.
Tracebacks never show local variables (they would print document text and LLM answers), and a
CurateError, which is the user's to fix and names what went wrong, is logged as its message alone.
"""

from __future__ import annotations

import logging
import sys

import datatrove.utils.logging  # noqa: F401 - its first import adds a DEBUG console sink: before we set ours
from loguru import logger

from curate.errors import CurateError

_verbose = False
FILE_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}\n{exception}"


def _user_errors_without_traceback(record: dict) -> None:
    exception = record["exception"]
    if exception is not None and isinstance(exception.value, CurateError):
        record["exception"] = None


def configure_logging(verbose: bool = False) -> None:
    """The console (the CLI calls this once; forked workers inherit it): curate's and datatrove's
    log (loguru) and other libraries' (the logging module) at WARNING, or INFO when verbose."""
    global _verbose
    _verbose = verbose
    logger.remove()
    logger.configure(patcher=_user_errors_without_traceback)
    console_format = "{message}\n{exception}" if verbose else "{message}\n"
    logger.add(sys.stderr, level="INFO" if verbose else "WARNING", format=lambda record: console_format,
               filter=lambda record: not record["extra"].get("file_only"), colorize=False, backtrace=False,
               diagnose=False)
    # libraries that use the logging module (trafilatura, htmldate, urllib3, ...) through the same
    # sinks; the extraction libraries' per-page complaints only with -v (failed pages are counted)
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.INFO if verbose else logging.WARNING, force=True)
    for noisy in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.CRITICAL)


def show_info_from(module: str) -> None:
    """A command's own progress lines (INFO from `module`, e.g. "curate.train") on the console too."""
    if not _verbose:
        logger.add(sys.stderr, level="INFO", format="{message}", colorize=False,
                   filter=lambda record: record["name"].startswith(module) and record["level"].no < 30)


def add_task_log(file) -> int:
    """Everything (DEBUG and up, with tracebacks) into a task's log file; returns the sink's id."""
    return logger.add(file, level="DEBUG", format=FILE_FORMAT, colorize=False, backtrace=False, diagnose=False)


class _ToLoguru(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelname if record.levelname in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "INFO"
        logger.opt(exception=record.exc_info).log(level, f"{record.name}: {record.getMessage()}")
