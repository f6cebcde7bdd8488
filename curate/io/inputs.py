"""Input URIs -> a sorted list of files, and streaming opens, through fsspec.

Local paths, directories, globs, http(s)://, s3:// and hf:// all go through the same code. A
directory contributes the files with a known crawl/text extension, recursively.
"""

from __future__ import annotations

import io
import json
import os
import stat
from typing import BinaryIO

import fsspec
from fsspec.core import url_to_fs

from curate.errors import InputError
from curate.io.gzipstream import ResilientGzipReader

ARCHIVE_EXTS = (".warc", ".warc.gz", ".warc.zst", ".warc.lz4", ".arc", ".arc.gz", ".arc.lz4", ".wet", ".wet.gz",
                ".wat", ".wat.gz")
JSONL_EXTS = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz", ".json.zst", ".ndjson", ".ndjson.gz")
PARQUET_EXTS = (".parquet",)
_REMOTE_STREAM = ("http", "https")


def file_format(path: str) -> str | None:
    """'archive', 'jsonl', 'parquet' by file name, or None if the name does not say."""
    name = path.lower().rsplit("/", 1)[-1]
    if path.split("://", 1)[0] in _REMOTE_STREAM:
        name = name.split("?")[0]  # a URL's query is not part of the name (a local "what?.jsonl" is)
    for fmt, exts in (("archive", ARCHIVE_EXTS), ("jsonl", JSONL_EXTS), ("parquet", PARQUET_EXTS)):
        if name.endswith(exts):
            return fmt
    return None


def expand_inputs(uris: list[str], storage_options: dict | None = None, skipped: list | None = None) -> list[str]:
    """Resolve every URI to files; raise InputError naming the first URI that matches nothing.
    FIFOs, sockets and devices found in folders are left out (reading a FIFO would wait forever)
    and listed in `skipped`."""
    files: set[str] = set()
    for uri in uris:
        files.update(_expand_one(uri, storage_options or {}, skipped if skipped is not None else []))
    return sorted(files)


def _regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _internal(found: str, folder: str) -> bool:
    """Below a folder, names starting with "_" or "." are bookkeeping, not data (as in Spark and
    Hadoop): _SUCCESS markers, _metadata, .ipynb_checkpoints, hidden temporary files."""
    relative = found[len(folder.rstrip("/")):].strip("/")
    return any(part.startswith(("_", ".")) for part in relative.split("/"))


def _expand_one(uri: str, storage_options: dict, skipped: list) -> list[str]:
    protocol = uri.split("://", 1)[0] if "://" in uri else "file"
    if protocol in _REMOTE_STREAM:
        # plain HTTP has no listing: a URL names one file; ask for it now (HEAD), so a wrong
        # URL or an unreachable server is one clear error rather than an empty run
        try:
            fsspec.filesystem(protocol, **storage_options).info(uri)
        except Exception as e:  # noqa: BLE001 - aiohttp and fsspec raise many types
            cause = e.__cause__ or e  # fsspec says FileNotFoundError for refused connections too
            raise InputError(f"{uri}: cannot read ({type(cause).__name__}: {cause})") from None
        return [uri]
    try:
        fs, path = url_to_fs(uri, **storage_options)
    except (ImportError, ValueError) as e:
        raise InputError(f"{uri}: cannot open this kind of URI ({e})") from None
    try:
        # a path that exists is taken literally, even with glob characters ("variant[0]/")
        if fs.isdir(path):
            found = [p for p in fs.find(path) if file_format(p) is not None and not _internal(p, path)]
            if protocol == "file":
                skipped += [p for p in found if not _regular(p)]
                found = [p for p in found if _regular(p)]
            if not found:
                raise InputError(f"{uri}: directory has no .warc/.arc/.wet/.jsonl/.parquet files")
        elif fs.isfile(path):
            found = [path]
        elif protocol == "file" and os.path.exists(path):
            raise InputError(f"{uri}: not a regular file (a device, FIFO or socket)")
        elif any(ch in path for ch in "*?["):
            if protocol == "file":  # (fs.isfile is False for a FIFO: it would vanish unlisted)
                found = [p for p in fs.glob(path) if not os.path.isdir(p)]
                irregular = [p for p in found if not _regular(p)]
                skipped += irregular
                found = [p for p in found if p not in irregular]
                if irregular and not found:
                    raise InputError(f"{uri}: matches only what is not a regular file (a device, FIFO or socket)")
            else:
                found = [p for p in fs.glob(path) if fs.isfile(p)]
        else:
            found = []
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - network and permission errors come in many types
        raise InputError(f"{uri}: cannot list input ({type(e).__name__}: {e})") from None
    if not found:
        raise InputError(f"{uri}: no such file or directory")
    return [fs.unstrip_protocol(p) if protocol != "file" else p for p in found]


def open_binary(uri: str, storage_options: dict | None = None) -> BinaryIO:
    """Open a file for streaming reads (remote files are fetched in blocks as they are read)."""
    options = dict(storage_options or {})
    if uri.split("://", 1)[0] in _REMOTE_STREAM:
        # one streamed GET: reads are sequential, and block reads need Range support, which
        # many servers (python -m http.server among them) lack
        options.setdefault("block_size", 0)
    return fsspec.open(uri, "rb", **options).open()


class CountingReader(io.RawIOBase):
    """Counts the bytes read from the underlying (compressed) stream."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self.raw.seekable()  # Parquet reads its footer first

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        return n

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()


def decompressed(raw: BinaryIO, name: str) -> tuple[BinaryIO, ResilientGzipReader | None]:
    """Wrap a raw stream in the decompressor its magic bytes ask for (gzip, zstd, LZ4 or none).
    Returns the buffered stream and, for gzip, the reader that knows about corrupt members."""
    buffered = io.BufferedReader(raw, 1 << 20)
    magic = buffered.peek(4)[:4]
    if magic[:2] == b"\x1f\x8b" or _gzip_after_garbage(buffered.peek(1 << 20)):
        gz = ResilientGzipReader(buffered, name)
        return io.BufferedReader(gz, 1 << 20), gz
    if magic == b"\x28\xb5\x2f\xfd":
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(buffered), 1 << 20), None
    if magic == b"\x04\x22\x4d\x18":  # LZ4 frames, as FastWARC writes .warc.lz4
        from fastwarc.stream_io import Lz4Reader  # FastWARC comes with resiliparse

        return io.BufferedReader(_ReadOnly(Lz4Reader(buffered, fsspec_args=False)), 1 << 20), None
    return buffered, None


def _gzip_after_garbage(head: bytes) -> bool:
    """Bytes that start with no known format but hold a gzip member before any record header:
    a gzipped archive behind garbage (the gzip reader skips to the member and counts the bytes)."""
    start = head.find(b"\x1f\x8b\x08")
    if start <= 0:
        return False
    text = head[:start]
    return b"WARC/" not in text and b"filedesc:" not in text and not text.startswith(b"{") and not _json_lines(text)


def _json_lines(text: bytes) -> bool:
    """Whether a whole line of `text` is a JSON object: JSON lines, not garbage. (A line that only
    starts with "{" is no sign: binary garbage holds about one per 64 KiB.)"""
    for line in text.split(b"\n")[:-1]:  # the last piece runs into the gzip member
        if line.lstrip().startswith(b"{"):
            try:
                if isinstance(json.loads(line), dict):
                    return True
            except (ValueError, RecursionError):
                pass
    return False


class _ReadOnly(io.RawIOBase):
    """A stream with read(n) only, as the raw stream of an io.BufferedReader."""

    def __init__(self, source):
        self.source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.source.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)
