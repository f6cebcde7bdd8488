"""curate.train: FLOP accounting, bits per byte, data windows, and that training learns."""

from __future__ import annotations

import math

import curate.train

curate.train.passive_openmp_waiting()  # before torch starts its threads (curate/train/__init__.py)
import numpy as np
import pytest
import torch

from curate.errors import CurateError
from curate.train.data import EvalSet, TokenStream, WindowSampler, eval_set, read_texts, tokenize
from curate.train.flops import flops_per_step, measured_flops_per_step
from curate.train.loop import Schedule, evaluate, train
from curate.train.model import GPT, PRESETS, ModelConfig, count_params, preset
from curate.train.tokenize import ByteTokenizer, HFTokenizer, bits_per_byte

TINY = ModelConfig(n_layer=2, n_head=2, d_model=32, context=32, batch_size=8, learning_rate=1e-2)


@pytest.mark.parametrize("config", [
    TINY,
    ModelConfig(n_layer=3, n_head=4, d_model=64, context=64, batch_size=2),
    PRESETS["cpu-tiny"],
    ModelConfig(n_layer=1, n_head=2, d_model=32, context=16, vocab_size=50257, batch_size=2),  # GPT-2 vocabulary
])
def test_analytic_flops_match_flop_counter(config):
    analytic, measured = flops_per_step(config), measured_flops_per_step(config)
    assert abs(analytic - measured) / measured < 0.05, (analytic, measured)


def test_flops_formula_by_hand():
    config = ModelConfig(n_layer=2, n_head=2, d_model=16, context=8, vocab_size=257, batch_size=3)
    matmul_weights = 2 * (16 * 48 + 16 * 16 + 16 * 64 + 64 * 16) + 257 * 16
    per_token = 6 * matmul_weights + 12 * 2 * 8 * 16
    assert flops_per_step(config) == per_token * 3 * 8


def test_param_count_matches_model_and_gpu_presets_build_on_meta():
    for config in (TINY, PRESETS["cpu-tiny"], PRESETS["cpu-small"]):
        assert count_params(config)["total"] == sum(p.numel() for p in GPT(config).parameters())
    for name in ("gpu-20m", "gpu-gpt2-small"):
        config = preset(name)
        assert config.device == "cuda" and config.dtype == "bfloat16"
        with torch.device("meta"):
            model = GPT(config)
        assert sum(p.numel() for p in model.parameters()) == count_params(config)["total"]
    assert 18e6 < count_params(preset("gpu-20m"))["total"] < 22e6
    # GPT-2 small's shape: 124M parameters with the GPT-2 tokenizer's vocabulary
    assert 123e6 < count_params(preset("gpu-gpt2-small").with_vocab(50257))["total"] < 125e6


def test_unknown_preset_and_bad_shape_are_user_errors():
    with pytest.raises(CurateError, match="unknown model preset"):
        preset("huge")
    with pytest.raises(CurateError, match="multiple of n_head"):
        ModelConfig(d_model=30, n_head=4)


def test_bits_per_byte_by_hand_with_a_uniform_model():
    """A model whose logits are all zero predicts every token with probability 1/257, so each
    predicted token costs ln 257 nats; bytes are the predicted tokens that are not document ends."""
    tokenizer = ByteTokenizer()
    stream = tokenize("two docs", ["abcdefgh", "ijklmnopq"], tokenizer)  # 8 + EOD + 9 + EOD = 19 tokens
    data = eval_set(stream, context=4, max_tokens=100)
    assert data.inputs.shape == (4, 4)  # (19 - 1) // 4 windows; predicted tokens 1..16
    # targets: b..h (7 bytes), EOD, i..p (8 bytes): 15 bytes in 16 predictions
    assert data.n_bytes == 15
    config = ModelConfig(n_layer=1, n_head=1, d_model=8, context=4, batch_size=1)
    model = GPT(config)
    with torch.no_grad():
        model.ln_f.weight.zero_()
        model.ln_f.bias.zero_()
    bpb = evaluate(model, data, torch.device("cpu"), lambda: torch.autocast("cpu", enabled=False), batch_size=3)
    assert bpb == pytest.approx(16 * math.log(257) / (math.log(2) * 15), rel=1e-6)
    assert bits_per_byte(16 * math.log(2), 16) == pytest.approx(1.0)


def test_hf_tokenizer_bytes_per_token_sum_to_utf8_length(shared_data):
    tokenizer = HFTokenizer(str(shared_data / "tokenizers" / "gpt2-tokenizer.json"))
    assert tokenizer.vocab_size == 50257 and tokenizer.eod == 50256
    texts = ["héllo wörld 日本語 🙂 done  ", "plain ascii", "  ", "é"]
    ids, covered = tokenizer.encode(texts)
    for text, i, c in zip(texts, ids, covered):
        assert len(i) == len(c)
        assert int(c.sum()) == len(text.encode("utf-8"))
    stream = tokenize("t", texts, tokenizer)
    assert stream.n_bytes == sum(len(t.encode("utf-8")) for t in texts)
    assert (stream.tokens == tokenizer.eod).sum() == len(texts)


def test_missing_tokenizer_file_is_user_error(tmp_path):
    with pytest.raises(CurateError, match="no such file"):
        HFTokenizer(str(tmp_path / "nope.json"))


def test_read_texts_parquet_column_and_jsonl(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a", "b", None], "rephrased_text": ["A", "", "C"]}), tmp_path / "1.parquet")
    (tmp_path / "0.jsonl").write_text('{"text": "x"}\nnot json\n{"other": 1}\n{"text": "y"}\n')
    from collections import Counter

    skipped = Counter()
    assert read_texts([str(tmp_path)], "text", skipped) == ["x", "y", "a", "b"]  # sorted file order
    assert skipped == Counter(bad_json=1, empty_or_null=2)
    with pytest.raises(CurateError, match="no column 'rephrased'"):
        read_texts([str(tmp_path / "1.parquet")], "rephrased")
    assert read_texts([str(tmp_path / "1.parquet")], "rephrased_text") == ["A", "C"]
    with pytest.raises(CurateError, match="no such file"):
        read_texts([str(tmp_path / "missing.parquet")])


def test_sampler_is_seeded_and_counts_epochs():
    stream = TokenStream("s", np.arange(1000, dtype=np.uint16) % 257, np.ones(1000, dtype=np.int32), 1)
    a, b = WindowSampler([stream], [1.0], 16, seed=3), WindowSampler([stream], [1.0], 16, seed=3)
    x1, y1 = a.batch(4)
    x2, y2 = b.batch(4)
    assert (x1 == x2).all() and (y1 == y2).all()
    assert (x1[:, 1:] == y1[:, :-1]).all()  # targets are the inputs shifted by one
    for _ in range(24):
        a.batch(4)
    assert a.epochs() == pytest.approx(25 * 4 * 16 / 1000)
    with pytest.raises(CurateError, match="fewer than one window"):
        WindowSampler([stream], [1.0], 1000, seed=0)


def test_mix_sampler_draws_by_weight():
    ones = TokenStream("a", np.ones(5000, dtype=np.uint16), np.ones(5000, dtype=np.int32), 1)
    twos = TokenStream("b", np.full(500, 2, dtype=np.uint16), np.ones(500, dtype=np.int32), 1)
    sampler = WindowSampler([ones, twos], [1, 1], 8, seed=0)
    x, _ = np.concatenate([sampler.batch(100)[0] for _ in range(10)]), None
    share = (x[:, 0] == 2).mean()
    assert 0.45 < share < 0.55
    assert sampler.epochs() == pytest.approx(sampler.drawn[1] / 500)  # the small source repeats most


def test_schedule_warms_up_then_decays():
    s = Schedule(steps=100, peak_lr=1.0, warmup=10)
    assert s.lr(0) == pytest.approx(0.1) and s.lr(9) == pytest.approx(1.0)
    assert s.lr(99) == pytest.approx(0.1, abs=0.01)
    assert all(s.lr(i) >= s.lr(i + 1) for i in range(10, 99))


@pytest.fixture(scope="module")
def wiki(shared_data):
    tokenizer = ByteTokenizer()
    train_text = read_texts([str(shared_data / "wikipedia" / "enwiki-2016-sample.jsonl")])
    held_out = tokenize("wikitext2", read_texts([str(shared_data / "wikipedia" / "wikitext2-valid.jsonl")]),
                        tokenizer)
    return tokenize("enwiki", train_text[:30], tokenizer), eval_set(held_out, TINY.context, 4096)


def _run(stream: TokenStream, held_out: EvalSet, seed: int, steps: int = 120) -> list[dict]:
    sampler = WindowSampler([stream], [1.0], TINY.context, seed)
    return train(TINY, sampler, [held_out], steps * flops_per_step(TINY), seed, evals=4, progress=False)


def test_training_learns_real_text_and_is_deterministic(wiki):
    stream, held_out = wiki
    rows = _run(stream, held_out, seed=1)
    assert [r["step"] for r in rows] == [30, 60, 90, 120]
    assert rows[0]["flops"] == 30 * flops_per_step(TINY) and rows[-1]["tokens"] == 120 * 8 * 32
    losses = [r["train_loss"] for r in rows]
    assert losses[-1] < losses[0] - 0.3 and losses[-1] < 3.4  # uniform over 257 tokens: ln 257 = 5.55
    assert rows[-1]["eval_bpb"] < rows[0]["eval_bpb"] and rows[-1]["eval_bpb"] < 5.0  # uniform: 8.0
    assert rows[-1]["epochs"] == pytest.approx(120 * 8 * 32 / len(stream.tokens))
    again = _run(stream, held_out, seed=1)
    assert [r["train_loss"] for r in again] == losses
    assert [r["eval_bpb"] for r in again] == [r["eval_bpb"] for r in rows]
    other_seed = _run(stream, held_out, seed=2)
    assert [r["train_loss"] for r in other_seed] != losses


def test_random_bytes_train_worse_than_real_text_at_equal_flops(wiki):
    stream, held_out = wiki
    rng = np.random.default_rng(0)
    noise = TokenStream("random bytes", rng.integers(0, 256, len(stream.tokens)).astype(np.uint16),
                        np.ones(len(stream.tokens), dtype=np.int32), 1)
    real = _run(stream, held_out, seed=0)[-1]
    random = _run(noise, held_out, seed=0)[-1]
    assert real["flops"] == random["flops"]
    # uniform over 256 bytes is 8 bits per byte: the noise-trained model cannot beat it by much
    assert random["eval_bpb"] > 7.0 and real["eval_bpb"] < random["eval_bpb"] - 2.5, (real, random)


def test_budget_below_one_step_is_user_error(wiki):
    stream, held_out = wiki
    with pytest.raises(CurateError, match="less than one training step"):
        train(TINY, WindowSampler([stream], [1.0], TINY.context, 0), [held_out], 10.0, 0)
