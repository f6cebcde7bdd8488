"""Listing the files a run wrote into its own folders."""

from __future__ import annotations

import glob
import os


def files_in(folder: str, pattern: str) -> list[str]:
    """Sorted paths below `folder` matching the glob `pattern` (e.g. "stats/*.json"). The folder
    is taken literally: output and variant folders may hold glob characters ("+mix[0]")."""
    return sorted(glob.glob(os.path.join(glob.escape(folder), pattern)))
