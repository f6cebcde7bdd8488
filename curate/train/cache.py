"""Tokenised training text, cached per (tokenizer, source), so that repeated ablations do not
tokenise the same variant again.

An entry is one .npz in the cache folder, named by a SHA-256 of everything the tokens depend on:
the tokenizer (its file's bytes, or "bytes"), the kind of source, what it holds (for text: the
texts themselves, read and hashed, since reading is cheap next to tokenising; for token shards: the
bytes of their files, remote ones by size and ETag) and the eval sets' n-gram index (the documents left out depend on
it). Change any of them and the name changes, so a stale entry is never read; entries are written
under a temporary name and renamed, so a crash leaves no half-written one. The folder is
`--cache DIR`, else $CURATE_CACHE_DIR/tokens, else ~/.cache/curate/tokens; entries are never
removed by curate (delete the folder to reclaim the space).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter

import numpy as np

from curate import storage
from curate.train.data import TokenStream


def default_folder() -> str:
    root = os.environ.get("CURATE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "curate")
    return os.path.join(root, "tokens")


def file_fingerprints(paths: list[str]) -> list:
    """What each file holds: a local file by its bytes (xxh3-128, ~1 s per 5 GB, so the same data
    written again into another folder is still found), a remote one by its size and ETag or
    modification time (not downloaded for this)."""
    import xxhash

    found = []
    for path in paths:
        if storage.is_remote(path):
            fs, inner = storage.fs_of(path)
            info = fs.info(inner)
            found.append([path, info.get("size"), str(info.get("ETag") or info.get("mtime") or info.get("LastModified"))])
            continue
        digest = xxhash.xxh3_128()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 24):
                digest.update(chunk)
        found.append(digest.hexdigest())
    return found


def text_fingerprint(texts: list[str]) -> str:
    """The texts, in order, as one xxh3-128 digest."""
    import xxhash

    digest = xxhash.xxh3_128()
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


class TokenCache:
    def __init__(self, folder: str | None):
        self.folder = folder

    def key(self, **parts) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def get(self, key: str, name: str) -> TokenStream | None:
        if not self.folder:
            return None
        path = os.path.join(self.folder, key + ".npz")
        try:
            with np.load(path) as entry:
                stream = TokenStream(name, entry["tokens"], entry["covered"] if "covered" in entry else None,
                                     int(entry["documents"]), Counter(json.loads(str(entry["skipped"]))),
                                     byte_count=int(entry["n_bytes"]))
        except (FileNotFoundError, ValueError, KeyError, OSError):  # absent, or damaged: tokenise again
            return None
        return stream

    def put(self, key: str, stream: TokenStream) -> None:
        if not self.folder:
            return
        os.makedirs(self.folder, exist_ok=True)
        arrays = {"tokens": stream.tokens, "documents": np.int64(stream.documents), "n_bytes": np.int64(stream.n_bytes),
                  "skipped": np.str_(json.dumps(dict(stream.skipped)))}
        if stream.covered is not None:
            arrays["covered"] = stream.covered
        tmp = os.path.join(self.folder, f".{key}.{os.getpid()}.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, os.path.join(self.folder, key + ".npz"))
