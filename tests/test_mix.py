"""curate mix: token shares follow the weights, rehydration follows the cluster sizes, the mix
is deterministic by seed and feeds curate tokenize."""

from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.cli import main
from curate.errors import CurateError
from curate.mix import MixConfig


def write_config(tmp_path, body: str):
    path = tmp_path / "mix.toml"
    path.write_text(body)
    return path


def test_token_shares_match_the_weights_within_one_percent(tmp_path, shared_data):
    from tokenizers import Tokenizer

    tokenizer_path = shared_data / "tokenizers" / "gpt2-tokenizer.json"
    config = write_config(tmp_path, f"""
seed = 3
tokenizer = "{tokenizer_path}"
tokens = 700000

[[source]]
name = "web"
paths = ["{shared_data / 'web-text' / 'dclm-quality-labelled-499.jsonl'}"]
weight = 0.6

[[source]]
name = "wiki"
paths = ["{shared_data / 'wikipedia' / 'enwiki-2016-sample.jsonl'}"]
weight = 0.4
""")
    out = tmp_path / "mixed"
    assert main(["mix", str(config), "--out", str(out)]) == 0
    report = json.loads((tmp_path / "mixed.curate" / "mix.json").read_text())
    rows = pq.read_table(out).to_pylist()
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    counted = Counter()
    for row in rows:  # the written rows, tokenized again: the report tells the truth
        counted[row["mix_source"]] += len(tokenizer.encode(row["text"], add_special_tokens=False).ids) + 1
    total = sum(counted.values())
    assert {k: round(v / total, 3) for k, v in counted.items()} == \
        {k: round(s["share"], 3) for k, s in report["sources"].items()}
    assert abs(counted["web"] / total - 0.6) < 0.01 and abs(counted["wiki"] / total - 0.4) < 0.01
    assert abs(total - 700000) / 700000 < 0.01
    # the web source is repeated (more tokens wanted than it has), Wikipedia subsampled or not
    assert report["sources"]["web"]["epochs"] > 1 and report["sources"]["web"]["documents"] == 499
    copies = Counter((r["mix_source"], r["id"]) for r in rows)
    assert max(copies.values()) >= 2


def test_rehydration_repeats_documents_by_cluster_size(tmp_path):
    sizes = [None, 1, 2, 3, 4, 50, 500, 5000]
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(len(sizes))],
                             "text": [f"document number {i} " * 20 for i in range(len(sizes))],
                             "dup_cluster_size": pa.array(sizes, pa.int64())}), tmp_path / "docs.parquet")
    config = write_config(tmp_path, """
[[source]]
name = "web"
paths = ["docs.parquet"]
weight = 1
repeat_column = "dup_cluster_size"
repeat = {"1" = 1, "2" = 2, "3" = 3, "4" = 3, "5-99" = 5, "100-999" = 8, "1000+" = 1}
""")
    assert main(["mix", str(config), "--out", str(tmp_path / "mixed")]) == 0
    copies = Counter(r["id"] for r in pq.read_table(tmp_path / "mixed").to_pylist())
    assert [copies[f"d{i}"] for i in range(len(sizes))] == [1, 1, 2, 3, 3, 5, 8, 1]


def test_the_mix_is_deterministic_by_seed_and_feeds_tokenize(tmp_path, shared_data):
    def make(seed: int, name: str):
        config = write_config(tmp_path, f"""
seed = {seed}
tokens = 400000

[[source]]
name = "web"
paths = ["{shared_data / 'web-text' / 'dclm-quality-labelled-499.jsonl'}"]
weight = 1
""")
        assert main(["mix", str(config), "--out", str(tmp_path / name)]) == 0
        return [(r["id"], r["mix_copy"]) for r in pq.read_table(tmp_path / name).to_pylist()]

    first, again, other = make(0, "a"), make(0, "b"), make(1, "c")
    assert first == again and first != other
    tokens = tmp_path / "tokens"
    assert main(["tokenize", str(tmp_path / "a"), "--tokenizer", str(shared_data / "tokenizers" / "gpt2-tokenizer.json"),
                 "--format", "numpy", "--out", str(tokens)]) == 0
    manifest = json.loads((tokens / "tokens.json").read_text())
    assert manifest["documents"] == len(first)
    meta = json.loads((tokens / "shard_00000_of_00001.json").read_text())
    assert meta["documents"] == len(first)


def test_config_mistakes_are_one_line_errors(tmp_path, capsys):
    config = write_config(tmp_path, "[[source]]\nname = 'x'\npaths = ['a']\nweight = 1\ncolour = 'red'\n")
    with pytest.raises(CurateError, match="unknown key"):
        MixConfig.from_toml(str(config))
    assert main(["mix", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "m")]) == 2
    assert "no such mix config" in capsys.readouterr().err
