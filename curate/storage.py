"""Files of a run, local or remote: the output, its run folder and staging through fsspec, so
`--output s3://bucket/prefix` (or any fsspec URL) works like a local folder.

Atomic writes: a file is written under a hidden temporary name and moved into place. On a local
disk the move is a rename; on S3 it is a server-side copy and a delete, and an object appears
whole or not at all, so in both cases a reader never sees a partial file under the final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath

import fsspec
from fsspec.core import url_to_fs


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def fs_of(path: str):
    """(filesystem, path inside it)."""
    return url_to_fs(path)


def join(base: str, *parts: str) -> str:
    return posixpath.join(base, *parts) if is_remote(base) else os.path.join(base, *parts)


def exists(path: str) -> bool:
    fs, inner = fs_of(path)
    return fs.exists(inner)


def isdir(path: str) -> bool:
    fs, inner = fs_of(path)
    return fs.isdir(inner)


def isfile(path: str) -> bool:
    fs, inner = fs_of(path)
    return fs.isfile(inner)


def listdir(path: str) -> list[str]:
    """The names in a folder, sorted ([] when it does not exist)."""
    if not is_remote(path):
        return sorted(os.listdir(path)) if os.path.isdir(path) else []
    fs, inner = fs_of(path)
    try:
        return sorted(posixpath.basename(p.rstrip("/")) for p in fs.ls(inner, detail=False)
                      if p.rstrip("/") != inner.rstrip("/"))
    except FileNotFoundError:
        return []


def glob(folder: str, pattern: str) -> list[str]:
    """Sorted paths below `folder` matching `pattern` (the folder itself taken literally)."""
    if not is_remote(folder):
        import glob as local

        return sorted(local.glob(os.path.join(local.escape(folder), pattern)))
    fs, inner = fs_of(folder)
    return sorted(fs.unstrip_protocol(p) for p in fs.glob(posixpath.join(inner, pattern)))


def makedirs(path: str) -> None:
    fs, inner = fs_of(path)
    fs.makedirs(inner, exist_ok=True)


def remove(path: str, recursive: bool = False) -> None:
    """Remove a file or (recursive) a folder; nothing when it is not there."""
    fs, inner = fs_of(path)
    try:
        fs.rm(inner, recursive=recursive)
    except FileNotFoundError:
        pass


def open_file(path: str, mode: str = "rb"):
    return fsspec.open(path, mode).open()


def read_ranges(path: str, starts, ends) -> list[bytes]:
    """Bytes [start, end) of a file for each pair: positioned reads of a local file, ranged
    requests (concurrent, fsspec's cat_ranges) on an object store; never the whole file."""
    starts, ends = [int(s) for s in starts], [int(e) for e in ends]
    if is_remote(path):
        fs, inner = fs_of(path)
        return fs.cat_ranges([inner] * len(starts), starts, ends)
    with open(fs_of(path)[1], "rb") as f:
        return [os.pread(f.fileno(), end - start, start) for start, end in zip(starts, ends)]


@contextlib.contextmanager
def writing(path: str):
    """A binary file to write that appears whole or not at all: written under a hidden temporary
    name, moved into place when the block ends without an error, removed when it raises."""
    fs, inner = fs_of(path)
    folder, name = posixpath.split(inner)
    temp = posixpath.join(folder, f".{name}.tmp")
    fs.makedirs(folder, exist_ok=True)
    try:
        with fs.open(temp, "wb") as f:
            yield f
    except BaseException:
        if fs.exists(temp):
            fs.rm(temp)
        raise
    fs.mv(temp, inner)


def write_bytes(path: str, data: bytes) -> None:
    """Whole or not at all (`writing`)."""
    with writing(path) as f:
        f.write(data)


def read_json(path: str):
    """The JSON in a file; None when there is no such file, {} when it does not parse."""
    try:
        with fsspec.open(path, "rt") as f:
            return json.load(f)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError):
        return {}


def read_jsons(paths: list[str]) -> list:
    """The JSON in each file (concurrent requests on an object store; a file that is gone or does
    not parse is left out)."""
    if not paths:
        return []
    fs, _ = fs_of(paths[0])
    contents = fs.cat([fs_of(p)[1] for p in paths], on_error="omit")
    records = []
    for data in contents.values():
        try:
            records.append(json.loads(data))
        except ValueError:
            pass
    return records


def write_json(path: str, data) -> None:
    write_bytes(path, json.dumps(data, indent=2, sort_keys=True).encode())
