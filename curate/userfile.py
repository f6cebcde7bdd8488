"""A user's Python file (a pipeline or an ablation config), loaded as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from curate.errors import CurateError


def load_python_file(path: str, kind: str) -> ModuleType:
    """Import the file at `path` as module curate_<kind>_<stem>; a missing file or an error while
    importing it is one line naming the file."""
    file = Path(path)
    if not file.is_file():
        raise CurateError(f"{path}: no such {kind.replace('_', ' ')} file")
    name = f"curate_{kind}_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    # registered: forked workers find the classes the file defines, and dataclasses their module
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except CurateError:
        raise
    except Exception as e:
        raise CurateError(f"{path}: failed to load ({type(e).__name__}: {e})") from e
    return module
