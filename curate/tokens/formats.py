"""Token shard layouts that trainers read without curate. Each shard is a few files sharing a
prefix; documents are whole (end-of-document token included) and in the order written.

megatron   PREFIX.bin: the tokens, little-endian. PREFIX.idx: Megatron-LM's MMIDIDX index, as
           Megatron-Core's IndexedDataset and NeMo read it: the 9-byte magic b"MMIDIDX\\0\\0",
           version (u64 = 1), dtype code (u8: 8 uint16, 4 int32), sequence count (u64), document
           index count (u64, documents + 1), then the sequence lengths (int32), their byte offsets
           in .bin (int64) and the document index (int64: document d is sequences
           doc_idx[d]..doc_idx[d+1]; one sequence per document here).
datatrove  PREFIX.ds: the tokens (uint16 or uint32, little-endian). PREFIX.ds.index: every
           document's end, in tokens (uint64). PREFIX.ds.metadata: "TOKENIZER|TOKEN_BYTES", the
           token count and the same in words: what datatrove's DocumentTokenizer writes and
           nanotron's DatatroveFolderDataset reads.
numpy      PREFIX.tokens: the tokens (np.memmap(PREFIX.tokens, dtype=index["dtype"])), and
           PREFIX.json: {"dtype", "documents", "tokens", "eod", "tokenizer", "doc_ends"}.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from curate import storage
from curate.errors import CurateError

FORMATS = ("megatron", "datatrove", "numpy")
MEGATRON_MAGIC = b"MMIDIDX\x00\x00"
MEGATRON_DTYPE_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}


def token_dtype(vocab_size: int, format: str) -> np.dtype:
    """The narrowest dtype holding every id: uint16 below 65,536 ids, else uint32 (int32 for
    Megatron, whose index has no uint32 code)."""
    if vocab_size <= 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.int32 if format == "megatron" else np.uint32)


def shard_files(prefix: str, format: str) -> list[str]:
    return {"megatron": [f"{prefix}.bin", f"{prefix}.idx"],
            "datatrove": [f"{prefix}.ds", f"{prefix}.ds.index", f"{prefix}.ds.metadata"],
            "numpy": [f"{prefix}.tokens", f"{prefix}.json"]}[format]


def write_shard(prefix: str, format: str, documents: list[np.ndarray], dtype: np.dtype, tokenizer: str,
                eod: int) -> None:
    """One shard of whole documents (each an array of ids ending with eod). Every file appears
    whole or not at all; the index or metadata file is written last."""
    if format not in FORMATS:
        raise CurateError(f"token format must be one of {', '.join(FORMATS)}, got {format!r}")
    lengths = np.fromiter(map(len, documents), np.int64, len(documents))
    ends = np.cumsum(lengths)
    data, *index_files = shard_files(prefix, format)
    with storage.writing(data) as f:
        for doc in documents:
            f.write(np.ascontiguousarray(doc, dtype=dtype.newbyteorder("<")).tobytes())
    if format == "megatron":
        header = MEGATRON_MAGIC + struct.pack("<Q", 1) + struct.pack("<B", MEGATRON_DTYPE_CODES[dtype]) \
            + struct.pack("<Q", len(documents)) + struct.pack("<Q", len(documents) + 1)
        pointers = np.concatenate(([0], ends[:-1])) * dtype.itemsize if len(documents) else np.zeros(0, np.int64)
        storage.write_bytes(index_files[0], header + lengths.astype("<i4").tobytes() + pointers.astype("<i8").tobytes()
                            + np.arange(len(documents) + 1, dtype="<i8").tobytes())
    elif format == "datatrove":
        total = int(ends[-1]) if len(ends) else 0
        storage.write_bytes(index_files[0], ends.astype("<u8").tobytes())
        storage.write_bytes(index_files[1], f"{tokenizer}|{dtype.itemsize}\n{total}\n{_human(total)}".encode())
    else:
        storage.write_bytes(index_files[0], json.dumps({
            "dtype": dtype.name, "documents": len(documents), "tokens": int(ends[-1]) if len(ends) else 0,
            "eod": eod, "tokenizer": tokenizer, "doc_ends": ends.tolist()}).encode())


def read_shard(prefix: str, format: str) -> list[np.ndarray]:
    """The documents of a shard written by `write_shard` (curate's own reader: `curate ablate`)."""
    data, *index_files = shard_files(prefix, format)
    with storage.open_file(index_files[0]) as f:
        index = f.read()
    if format == "megatron":
        if index[:9] != MEGATRON_MAGIC:
            raise CurateError(f"{index_files[0]}: not a Megatron MMIDIDX index")
        code, count = index[17], struct.unpack("<Q", index[18:26])[0]
        dtype = {c: d for d, c in MEGATRON_DTYPE_CODES.items()}[code]
        lengths = np.frombuffer(index, "<i4", count, 34).astype(np.int64)
    elif format == "datatrove":
        with storage.open_file(index_files[1]) as f:
            dtype = np.dtype(np.uint16 if f.read().split(b"\n")[0].endswith(b"|2") else np.uint32)
        lengths = np.diff(np.frombuffer(index, "<u8").astype(np.int64), prepend=0)
    else:
        meta = json.loads(index)
        dtype = np.dtype(meta["dtype"])
        lengths = np.diff(np.asarray(meta["doc_ends"], np.int64), prepend=0)
    with storage.open_file(data) as f:
        tokens = np.frombuffer(f.read(), dtype.newbyteorder("<"))
    return np.split(tokens, np.cumsum(lengths)[:-1]) if len(lengths) else []


def _human(count: int) -> str:
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= size:
            return f"{count / size:.1f}{unit} tokens"
    return f"{count} tokens"
