"""`curate ablate` on token shards that `curate tokenize` wrote, and the token cache: the same
documents and tokens as the text they came from, eval documents left out, nothing tokenised twice."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.cli import main
from curate.errors import CurateError
from curate.train.ablate import run_ablation
from curate.train.config import Ablation, Texts, Tokens
from curate.train.data import read_texts

MODEL = {"n_layer": 1, "n_head": 2, "d_model": 32, "context": 32, "batch_size": 4, "learning_rate": 0.01}


@pytest.fixture(scope="module")
def corpus(shared_data, tmp_path_factory):
    """80 Wikipedia articles and one web document that quotes an eval article (WikiText-2
    validation) at length, as Parquet, and the same documents as Megatron and numpy shards."""
    tmp = tmp_path_factory.mktemp("ablate-tokens")
    texts = read_texts([str(shared_data / "wikipedia" / "enwiki-2016-sample.jsonl")])[:80]
    quoted = read_texts([str(shared_data / "wikipedia" / "wikitext2-valid.jsonl")])[3]
    texts.append("From a forum post, copied:\n" + " ".join(quoted.split()[:60]) + "\nWhat do you think?")
    parquet = tmp / "docs.parquet"
    pq.write_table(pa.table({"id": [str(i) for i in range(len(texts))], "text": texts}), parquet)
    tokenizer = str(shared_data / "tokenizers" / "gpt2-tokenizer.json")
    shards = {}
    for fmt in ("megatron", "numpy"):
        shards[fmt] = tmp / fmt
        assert main(["tokenize", str(parquet), "--tokenizer", tokenizer, "--format", fmt, "--out", str(shards[fmt]),
                     "--shards", "3"]) == 0
    return tmp, parquet, shards, tokenizer, len(texts)


def ablation(shared_data, corpus, **variants) -> Ablation:
    _, _, _, tokenizer, _ = corpus
    return Ablation(variants=variants, baseline=next(iter(variants)),
                    eval_sets={"wikitext2": Texts([str(shared_data / "wikipedia" / "wikitext2-valid.jsonl")])},
                    flops=5e9, seeds=[0, 1], model=MODEL, tokenizer=tokenizer, evals=2, eval_tokens=512).check("test")


def test_token_shards_train_on_exactly_the_documents_of_their_text(shared_data, corpus, tmp_path):
    tmp, parquet, shards, _, n_texts = corpus
    config = ablation(shared_data, corpus, text=Texts([str(parquet)]), megatron=Tokens(str(shards["megatron"])),
                      numpy=Tokens(str(shards["numpy"])))
    summary = run_ablation(config, str(tmp_path / "out"), progress=False, cache=None)
    data = {name: summary["variants"][name]["data"] for name in ("text", "megatron", "numpy")}
    manifest = json.loads((shards["megatron"] / "tokens.json").read_text())
    for name, info in data.items():
        # the web document quoting an eval article is left out of every variant, shards included
        assert info["left_out_in_eval_sets"] == 1, name
        assert info["documents"] == n_texts - 1, name
        assert not info["cached"]
    # shards hold the same tokens as tokenising the text (shuffled: same count, same bytes)
    assert data["megatron"]["tokens"] == data["numpy"]["tokens"] == data["text"]["tokens"]
    assert data["megatron"]["bytes"] == data["numpy"]["bytes"] == data["text"]["bytes"]
    assert manifest["documents"] == n_texts and manifest["tokens"] > data["text"]["tokens"]
    for name in data:
        assert 0 < summary["variants"][name]["eval"]["wikitext2"]["mean"] < 20


def test_the_cache_serves_a_repeated_ablation_and_misses_when_the_text_changes(shared_data, corpus, tmp_path):
    tmp, parquet, shards, _, n_texts = corpus
    text = tmp_path / "text.parquet"
    text.write_bytes(parquet.read_bytes())
    config = ablation(shared_data, corpus, text=Texts([str(text)]), numpy=Tokens(str(shards["numpy"])))
    cache = str(tmp_path / "cache")
    first = run_ablation(config, str(tmp_path / "first"), progress=False, cache=cache)
    assert len(list(Path(cache).glob("*.npz"))) == 2
    again = run_ablation(config, str(tmp_path / "again"), progress=False, cache=cache)
    for name in ("text", "numpy"):
        assert not first["variants"][name]["data"]["cached"] and again["variants"][name]["data"]["cached"]
        assert {k: v for k, v in again["variants"][name]["data"].items() if k != "cached"} == \
            {k: v for k, v in first["variants"][name]["data"].items() if k != "cached"}
        # same tokens, same seeds: the same model, to the last digit
        assert again["variants"][name]["eval"] == first["variants"][name]["eval"]
    # the text file rewritten with fewer documents: tokenised again, not served stale
    table = pq.read_table(text)
    pq.write_table(table.slice(0, 40), text)
    changed = run_ablation(config, str(tmp_path / "changed"), progress=False, cache=cache)
    assert not changed["variants"]["text"]["data"]["cached"] and changed["variants"]["numpy"]["data"]["cached"]
    assert changed["variants"]["text"]["data"]["documents"] == 40
    # another eval set leaves out other documents: a different entry
    config.eval_sets = {"other": Texts([str(shared_data / "web-text" / "c4-ccnet-redpajama-samples.jsonl")])}
    other = run_ablation(config, str(tmp_path / "other"), progress=False, cache=cache)
    assert not other["variants"]["numpy"]["data"]["cached"]
    assert other["variants"]["numpy"]["data"]["documents"] == n_texts  # the quoting document stays in


def test_shards_of_another_tokenizer_are_refused(shared_data, corpus, tmp_path):
    _, _, shards, _, _ = corpus
    config = ablation(shared_data, corpus, numpy=Tokens(str(shards["numpy"])), other=Tokens(str(shards["numpy"])))
    config.tokenizer = None  # bytes
    with pytest.raises(CurateError, match="was tokenized with .*gpt2-tokenizer.json, not the ablation's tokenizer"):
        run_ablation(config, str(tmp_path / "out"), progress=False, cache=None)
    config = ablation(shared_data, corpus, numpy=Tokens(str(tmp_path)), other=Tokens(str(shards["numpy"])))
    with pytest.raises(CurateError, match="is not a `curate tokenize` output"):
        run_ablation(config, str(tmp_path / "out"), progress=False, cache=None)


def test_a_toml_config_names_token_shards(tmp_path):
    from curate.train.config import load_ablation

    config = tmp_path / "a.toml"
    config.write_text('baseline = "t"\nflops = 1e9\n[variants.t]\ntokens = "shards/"\n'
                      '[eval_sets.e]\npaths = ["e.jsonl"]\n')
    assert load_ablation(str(config)).variants["t"] == Tokens("shards/")
    config.write_text('baseline = "t"\nflops = 1e9\n[variants.t]\ntokens = "shards/"\ncolumn = "x"\n'
                      '[eval_sets.e]\npaths = ["e.jsonl"]\n')
    with pytest.raises(CurateError, match="tokens = "):
        load_ablation(str(config))
