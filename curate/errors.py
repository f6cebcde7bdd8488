"""Errors that are the user's to fix: the CLI prints them as one line, without a traceback."""


class CurateError(Exception):
    """A problem with how curate was called or configured."""


class InputError(CurateError):
    """An input path or URI that cannot be read."""


class ModelNotFound(CurateError):
    """A model file that is not where it was said to be."""


def _no_traceback_for_user_errors(record: dict) -> None:
    # datatrove logs a failed task's exception with its full traceback (and local variables) to
    # the terminal; for a CurateError the message already names the file/server and the fix
    exception = record["exception"]
    if exception is not None and isinstance(exception.value, CurateError):
        record["exception"] = None


def _install_log_patcher() -> None:
    # here, not in the CLI: every block imports this module, so Ray and forked workers get it too
    try:
        from loguru import logger
    except ImportError:  # pragma: no cover - loguru comes with datatrove
        return
    logger.configure(patcher=_no_traceback_for_user_errors)


_install_log_patcher()
