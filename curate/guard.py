"""What keeps an output folder true to the run that wrote it.

- Identity: OUTPUT.curate/run.json records what a run is (the pipeline file's content, its
  settings, the inputs as resolved, --tasks, --limit, --removed, steps left out, curate's version).
  A rerun with the same identity resumes; any difference is refused in one line that says what
  differs, unless --overwrite starts clean.
- Ownership: a folder that holds files but no run folder is not curate's, and is never written
  to, with --overwrite or without.
- One run at a time: OUTPUT.curate/lock names the run (pid, host) that holds the folder; a lock
  whose process is gone from this host is taken over.
- A run stopped by SIGTERM or SIGINT ends as an exception, so executors terminate their workers and
  helpers and writers drop what they had not finished.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import signal
import socket
import threading
import time

from curate import __version__
from curate import storage
from curate.errors import CurateError
from curate.settings import identifying
from curate.storage import read_json, write_json

IDENTITY = "run.json"
LOCK = "lock"


def identity(pipeline_path: str, settings, ctx, leave_out) -> dict:
    """What makes the run this run (ctx.inputs_resolved: what the readers listed in prepare)."""
    with open(pipeline_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"pipeline": {"file": os.path.abspath(pipeline_path), "sha256": digest},
            "settings": identifying(settings),
            "inputs": {name: files for name, files in sorted(ctx.inputs_resolved.items())},
            "tasks": ctx.tasks, "limit": ctx.limit, "removed": ctx.removed, "leave_out": sorted(leave_out),
            "curate": __version__}


def claim(ctx, wanted: dict, overwrite: bool) -> dict:
    """Make the output folder this run's: new, resumed (same identity) or, with overwrite, cleared.
    Returns the recorded state (identity plus what the run noted, e.g. staging removed)."""
    output, run_dir = ctx.output, ctx.run_dir
    recorded_path = storage.join(run_dir, IDENTITY)
    recorded = read_json(recorded_path)
    if recorded is None and (storage.listdir(output) or set(storage.listdir(run_dir)) - {LOCK}):
        raise CurateError(f"{output}: holds files but no record of the curate run that wrote them "
                          f"({recorded_path}): choose a new or empty --output")
    if recorded is not None and recorded.get("identity") != wanted:
        if not overwrite:
            raise CurateError(f"{output} was written by a different run ({differences(recorded.get('identity') or {}, wanted)}): "
                              "rerun with --overwrite to start clean, or choose another --output")
        clear(ctx)
        recorded = None
    if recorded is None:
        recorded = {"identity": wanted}
        save(ctx, recorded)
    return recorded


def save(ctx, state: dict) -> None:
    write_json(storage.join(ctx.run_dir, IDENTITY), state)


def clear(ctx) -> None:
    """Remove what an earlier run left: the output's shards and the run folder (not the lock)."""
    for folder, keep in ((ctx.output, set()), (ctx.run_dir, {LOCK})):
        for name in storage.listdir(folder):
            if name not in keep:
                storage.remove(storage.join(folder, name), recursive=True)


def differences(old: dict, new: dict, prefix: str = "") -> str:
    """'tasks 2 -> 4, settings.quality_top none -> 0.5, ...' (the first few)."""
    found = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            found.append(differences(a, b, f"{prefix}{key}."))
        elif isinstance(a, list) and isinstance(b, list) and len(a) + len(b) > 4:
            found.append(f"{prefix}{key}: {len(set(map(str, b)) - set(map(str, a)))} added, "
                         f"{len(set(map(str, a)) - set(map(str, b)))} gone")
        else:
            found.append(f"{prefix}{key} {_short(a)} -> {_short(b)}")
    return ", ".join(part for part in found if part)


def _short(value) -> str:
    text = "none" if value is None else str(value)
    return text if len(text) <= 60 else text[:28] + "..." + text[-28:]


@contextlib.contextmanager
def locked(run_dir: str):
    """Hold OUTPUT.curate/lock for the run; another live run on it is refused. On a local disk the
    lock is created exclusively (O_EXCL); object stores have no such operation, so there two runs
    started within the same second could both take it (docs/cluster.md)."""
    try:
        storage.makedirs(run_dir)
    except OSError as e:
        raise CurateError(f"cannot create {run_dir}: {e.strerror or e}") from None
    path = storage.join(run_dir, LOCK)
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    for _ in range(2):
        holder = _take(path, mine)
        if holder is None:
            break
        if holder.get("host") == mine["host"] and not process_alive(holder.get("pid")):
            storage.remove(path)  # a run that was killed: its lock is stale
            continue
        raise CurateError(f"another curate run (pid {holder.get('pid')} on {holder.get('host')}, since "
                          f"{holder.get('started')}) is using {run_dir}; if it is gone, delete {path}")
    try:
        yield
    finally:
        if (read_json(path) or {}).get("pid") == mine["pid"]:
            storage.remove(path)


def _take(path: str, mine: dict) -> dict | None:
    """Create the lock; None when taken, else what the existing lock says."""
    if storage.is_remote(path):
        holder = read_json(path)
        if holder is not None:
            return holder
        write_json(path, mine)
        return None
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return read_json(path) or {}
    with os.fdopen(fd, "w") as f:
        json.dump(mine, f)
    return None


class Interrupted(CurateError):
    """SIGTERM or SIGINT stopped the run."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}: nothing half-written is left where "
                         "readers look; rerun the same command to resume")


@contextlib.contextmanager
def stopped_by_signals():
    """SIGTERM (what kill, schedulers and docker stop send) and SIGINT end the run as an exception:
    executors terminate their workers and shut their helpers down on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def refuse_overlap(inputs: list[str], ctx) -> None:
    """An output equal to or inside an input, or an input inside the output or its run folder,
    would read what the run writes (or write over what it reads)."""
    def where(path: str) -> str:
        return path.rstrip("/") if storage.is_remote(path) else os.path.realpath(path.removeprefix("file://"))

    written = [where(ctx.output), where(ctx.run_dir)]
    for uri in inputs:
        path = where(uri)
        for out in written:
            if path == out or out.startswith(path + "/") or path.startswith(out + "/"):
                raise CurateError(f"--output {ctx.output} overlaps the input {uri}: the run would read what it "
                                  "writes; choose an output outside the inputs")


def process_alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError as e:
        return e.errno == errno.EPERM
    return True



