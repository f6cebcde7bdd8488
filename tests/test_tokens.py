"""Token shards (curate tokenize / tokenize_steps): every format read back by a reader written
here from the published layouts, decoded to the original texts; the shuffle is the same for any
task count; counts add up."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from curate.cli import main
from curate.tokens import read_shard, token_dtype, write_shard


def megatron_documents(prefix: Path) -> list[np.ndarray]:
    """Megatron-LM's MMIDIDX layout, read with numpy alone."""
    index = (prefix.parent / f"{prefix.name}.idx").read_bytes()
    assert index[:9] == b"MMIDIDX\x00\x00" and struct.unpack("<Q", index[9:17])[0] == 1
    dtype = {8: np.uint16, 4: np.int32}[index[17]]
    sequences, doc_count = struct.unpack("<QQ", index[18:34])
    sizes = np.frombuffer(index, np.int32, sequences, 34)
    pointers = np.frombuffer(index, np.int64, sequences, 34 + 4 * sequences)
    doc_idx = np.frombuffer(index, np.int64, doc_count, 34 + 12 * sequences)
    assert len(index) == 34 + 12 * sequences + 8 * doc_count and doc_idx[0] == 0 and doc_idx[-1] == sequences
    data = np.memmap(prefix.parent / f"{prefix.name}.bin", dtype=dtype, mode="r")
    item = np.dtype(dtype).itemsize
    return [np.asarray(data[p // item: p // item + s]) for p, s in zip(pointers, sizes)]


def datatrove_documents(prefix: Path) -> list[np.ndarray]:
    """datatrove's DocumentTokenizer layout: .ds tokens, .ds.index document ends (uint64)."""
    token_bytes = int((prefix.parent / f"{prefix.name}.ds.metadata").read_text().split("\n")[0].rsplit("|", 1)[1])
    tokens = np.fromfile(prefix.parent / f"{prefix.name}.ds", {2: np.uint16, 4: np.uint32}[token_bytes])
    ends = np.fromfile(prefix.parent / f"{prefix.name}.ds.index", np.uint64).astype(np.int64)
    assert (not len(ends) and not len(tokens)) or ends[-1] == len(tokens)
    return np.split(tokens, ends[:-1]) if len(ends) else []


def numpy_documents(prefix: Path) -> list[np.ndarray]:
    meta = json.loads((prefix.parent / f"{prefix.name}.json").read_text())
    tokens = np.memmap(prefix.parent / f"{prefix.name}.tokens", dtype=meta["dtype"], mode="r") \
        if meta["tokens"] else np.zeros(0, meta["dtype"])
    return np.split(np.asarray(tokens), meta["doc_ends"][:-1]) if meta["documents"] else []


READERS = {"megatron": megatron_documents, "datatrove": datatrove_documents, "numpy": numpy_documents}


@pytest.fixture(scope="module")
def texts(shared_data) -> list[str]:
    with open(shared_data / "web-text" / "dclm-quality-labelled-499.jsonl") as f:
        return [json.loads(line)["text"] for line in f][:200]


def tokenize(tmp_path: Path, shared_data: Path, texts: list[str], fmt: str, *options: str, name: str = "t") -> Path:
    source = tmp_path / "docs.jsonl"
    if not source.exists():
        source.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / name
    assert main(["tokenize", str(source), "--tokenizer", str(shared_data / "tokenizers" / "gpt2-tokenizer.json"),
                 "--format", fmt, "--out", str(out), *options]) == 0
    return out


def shards_of(out: Path, fmt: str) -> list[list[np.ndarray]]:
    manifest = json.loads((out / "tokens.json").read_text())
    return [READERS[fmt](out / shard["prefix"]) for shard in manifest["shards"]]


@pytest.mark.parametrize("fmt", ["megatron", "datatrove", "numpy"])
def test_every_format_reads_back_to_the_original_texts(tmp_path, shared_data, texts, fmt):
    from tokenizers import Tokenizer

    out = tokenize(tmp_path, shared_data, texts, fmt, "--shards", "3", "--tasks", "2")
    tokenizer = Tokenizer.from_file(str(shared_data / "tokenizers" / "gpt2-tokenizer.json"))
    eod = tokenizer.token_to_id("<|endoftext|>")
    shards = shards_of(out, fmt)
    documents = [doc for shard in shards for doc in shard]
    assert all(doc.dtype == np.uint16 for doc in documents)  # GPT-2's 50,257 ids fit
    assert all(doc[-1] == eod and eod not in doc[:-1] for doc in documents)  # one end of document each, never split
    decoded = [tokenizer.decode(doc[:-1].tolist(), skip_special_tokens=False) for doc in documents]
    assert sorted(decoded) == sorted(texts)
    assert decoded != texts  # shuffled
    # curate's own reader (the trainer's) agrees with the independent one
    manifest = json.loads((out / "tokens.json").read_text())
    for shard, entry in zip(shards, manifest["shards"]):
        ours = read_shard(str(out / entry["prefix"]), fmt)
        assert len(ours) == len(shard) == entry["documents"] and all(np.array_equal(a, b) for a, b in zip(ours, shard))
        assert entry["tokens"] == sum(map(len, shard))
    assert manifest["documents"] == len(texts) and manifest["tokens"] == sum(map(len, documents))
    assert manifest["dtype"] == "uint16" and manifest["eod"] == eod


def test_the_shuffle_is_global_seeded_and_the_same_for_any_task_count(tmp_path, shared_data, texts):
    one = shards_of(tokenize(tmp_path, shared_data, texts, "numpy", "--shards", "4", name="one"), "numpy")
    many = shards_of(tokenize(tmp_path, shared_data, texts, "numpy", "--shards", "4", "--tasks", "3", "--workers", "2",
                              name="many"), "numpy")
    other = shards_of(tokenize(tmp_path, shared_data, texts, "numpy", "--shards", "4", "--seed", "1", name="seed1"),
                      "numpy")
    flat = lambda shards: [doc.tolist() for shard in shards for doc in shard]  # noqa: E731
    assert flat(one) == flat(many)
    assert flat(one) != flat(other) and sorted(flat(one)) == sorted(flat(other))
    assert all(len(shard) > 20 for shard in one)  # the 200 documents spread over the 4 shards


def test_tokens_are_counted_per_source_and_per_shard_in_the_funnel(tmp_path, shared_data, texts):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("".join(json.dumps({"id": f"a{i}", "text": t}) + "\n" for i, t in enumerate(texts[:50])))
    second.write_text("".join(json.dumps({"id": f"b{i}", "text": t}) + "\n" for i, t in enumerate(texts[50:80])))
    out = tmp_path / "toks"
    assert main(["tokenize", str(tmp_path / "*.jsonl"), "--tokenizer",
                 str(shared_data / "tokenizers" / "gpt2-tokenizer.json"), "--out", str(out), "--shards", "2"]) == 0
    manifest = json.loads((out / "tokens.json").read_text())
    assert {k: v["documents"] for k, v in manifest["sources"].items() if k} == {str(first): 50, str(second): 30}
    funnel = json.loads((tmp_path / "toks.curate" / "funnel.json").read_text())
    rows = {row["stage"]: row for row in funnel["stages"]}
    counted = rows["tokenize"]["other"]
    assert counted["tokens"] == manifest["tokens"] == sum(v["tokens"] for v in manifest["sources"].values())
    assert counted["tokens.source.a.jsonl"] == manifest["sources"][str(first)]["tokens"]
    shard_counts = [rows["token_shards"]["other"][f"tokens.shard.{s}"] for s in range(2)]
    assert shard_counts == [s["tokens"] for s in manifest["shards"]]


def test_a_missing_tokenizer_is_a_one_line_error(tmp_path, capsys):
    source = tmp_path / "docs.jsonl"
    source.write_text(json.dumps({"id": "1", "text": "hello"}) + "\n")
    assert main(["tokenize", str(source), "--tokenizer", str(tmp_path / "nope.json"), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.json" in err[0] and "Traceback" not in err[0]


@pytest.mark.parametrize("fmt", ["megatron", "datatrove", "numpy"])
def test_large_vocabularies_take_four_byte_tokens(tmp_path, fmt):
    dtype = token_dtype(200_000, fmt)
    assert dtype == (np.int32 if fmt == "megatron" else np.uint32) and token_dtype(50_257, fmt) == np.uint16
    documents = [np.array([70_000, 5, 199_999], np.int64), np.array([199_999], np.int64), np.array([1, 2], np.int64)]
    write_shard(str(tmp_path / "s"), fmt, documents, dtype, "big.json", 199_999)
    assert [d.tolist() for d in READERS[fmt](tmp_path / "s")] == [d.tolist() for d in documents]
