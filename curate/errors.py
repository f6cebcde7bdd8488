"""Errors that are the user's to fix: the CLI prints them as one line, without a traceback."""


class CurateError(Exception):
    """A problem with how curate was called or configured."""


class InputError(CurateError):
    """An input path or URI that cannot be read."""


class ModelNotFound(CurateError):
    """A model file that is not where it was said to be."""
