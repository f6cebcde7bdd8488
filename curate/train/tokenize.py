"""Tokenisers for training: UTF-8 bytes by default (nothing to download), or any HF `tokenizers`
tokenizer.json given by path.

Every tokeniser also says how many bytes of text each token covers, so the loss can be reported
as bits per byte whatever the vocabulary: bpb = sum of token NLL (nats) / (ln 2 x UTF-8 bytes
those tokens cover). The end-of-document token covers no bytes.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
from pathlib import Path

import numpy as np

from curate.errors import CurateError


class ByteTokenizer:
    """One token per UTF-8 byte (0-255), and 256 ends a document."""

    name = sha256 = "bytes"
    vocab_size = 257
    eod = 256

    def encode(self, texts: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Token ids and bytes covered per token, one array each per text."""
        ids = [np.frombuffer(t.encode("utf-8", "surrogatepass"), dtype=np.uint8).astype(np.uint16) for t in texts]
        return ids, [np.ones(len(i), dtype=np.uint8) for i in ids]

    def decode(self, ids: list[np.ndarray]) -> list[str]:
        return [np.asarray(i, dtype=np.uint8).tobytes().decode("utf-8", "surrogatepass") for i in ids]


class HFTokenizer:
    """A `tokenizers` tokenizer.json. Its end-of-text token ends documents when it has one
    (<|endoftext|>, </s>, <eos>), else one more id is added for it."""

    EOD_NAMES = ("<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>")

    def __init__(self, path: str):
        from tokenizers import Tokenizer

        if not Path(path).is_file():
            raise CurateError(f"tokenizer {path}: no such file")
        try:
            self.tokenizer = Tokenizer.from_file(path)
        except Exception as e:  # noqa: BLE001 - the Rust side raises plain Exception
            raise CurateError(f"tokenizer {path}: not a tokenizers JSON file ({e})") from None
        self.name = path
        with open(path, "rb") as f:
            self.sha256 = hashlib.sha256(f.read()).hexdigest()  # the tokenizer's identity, wherever it lies
        size = self.tokenizer.get_vocab_size()
        known = [self.tokenizer.token_to_id(n) for n in self.EOD_NAMES]
        known = [i for i in known if i is not None]
        self.eod = known[0] if known else size
        self.vocab_size = max(size, self.eod + 1)

    def encode(self, texts: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        ids, covered = [], []
        for text, enc in zip(texts, self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids.append(np.asarray(enc.ids, dtype=np.int64))
            covered.append(_bytes_per_token(text, enc.offsets))
        return ids, covered

    def decode(self, ids: list[np.ndarray]) -> list[str]:
        return self.tokenizer.decode_batch([np.asarray(i).tolist() for i in ids], skip_special_tokens=False)


def _bytes_per_token(text: str, offsets: list[tuple[int, int]]) -> np.ndarray:
    """Bytes each token adds, from character offsets: a token covers the text from where the
    tokens before it ended to where it ends. Byte-fallback tokens that share one character
    (its UTF-8 bytes split over several tokens) then count it once, and the counts of a text sum
    to its UTF-8 length."""
    if not offsets:
        return np.zeros(0, dtype=np.int32)
    char_ends = np.maximum.accumulate(np.asarray([end for _, end in offsets], dtype=np.int64))
    if text.isascii():
        byte_ends = char_ends
    else:
        char_bytes = np.fromiter((len(c.encode("utf-8", "surrogatepass")) for c in text), dtype=np.int64,
                                 count=len(text))
        cumulative = np.concatenate([[0], np.cumsum(char_bytes)])
        byte_ends = cumulative[char_ends]
    covered = np.diff(byte_ends, prepend=0)
    covered[-1] += len(text.encode("utf-8", "surrogatepass")) - byte_ends[-1]  # trailing text no token ended at
    return covered.astype(np.int32)


def load_tokenizer(spec: str | None):
    """None or "bytes": the byte tokenizer; otherwise a tokenizer.json path, loaded once per process
    (a GPT-2 tokenizer takes ~0.09 s to load; the tokenize stages of one worker share it)."""
    if spec in (None, "", "bytes"):
        return ByteTokenizer()
    try:
        found = os.stat(spec)
    except OSError:
        return HFTokenizer(spec)  # says what is wrong
    return _loaded(spec, found.st_mtime_ns, found.st_size)


@functools.lru_cache(maxsize=4)
def _loaded(path: str, mtime_ns: int, size: int) -> "HFTokenizer":
    return HFTokenizer(path)


def bits_per_byte(nll_nats: float, n_bytes: int) -> float:
    if n_bytes <= 0:
        raise ValueError("bits per byte of zero bytes")
    return nll_nats / (math.log(2) * n_bytes)
