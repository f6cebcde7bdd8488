"""Errors that are the user's to fix: the CLI prints them as one line, without a traceback."""

from __future__ import annotations

import importlib
from types import ModuleType


class CurateError(Exception):
    """A problem with how curate was called or configured."""


class InputError(CurateError):
    """An input path or URI that cannot be read."""


class ModelNotFound(CurateError):
    """A model file that is not where it was said to be."""


def need(module: str, extra: str, feature: str) -> ModuleType:
    """Import `module`, which the optional extra `extra` installs, or say how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise CurateError(f"{feature} needs {module.split('.')[0]}, which is not installed: "
                          f"pip install 'curate[{extra}]'") from None
