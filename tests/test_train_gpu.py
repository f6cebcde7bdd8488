"""The gpu-* presets end to end on CUDA: bf16 autocast, TF32, fused AdamW, the cloze and bpb
evaluations, with the GPT-2 tokenizer. Skipped, with the reason, where no CUDA device is present
(the project builds and passes its tests without one); run it where one is:
    python -m pytest tests/test_train_gpu.py"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device on this machine: the gpu-* presets run only on one")


@pytest.mark.parametrize("name", ["gpu-20m", "gpu-gpt2-small"])
def test_a_gpu_preset_trains_and_evaluates_on_cuda(name, shared_data, tmp_path):
    from curate.train.ablate import run_ablation
    from curate.train.config import Ablation, Cloze, RandomBytes, Texts
    from curate.train.flops import flops_per_step
    from curate.train.model import preset
    from curate.train.tokenize import load_tokenizer

    tokenizer = str(shared_data / "tokenizers" / "gpt2-tokenizer.json")
    config = preset(name).with_vocab(load_tokenizer(tokenizer).vocab_size)
    wiki = str(shared_data / "wikipedia" / "wikitext2-valid.jsonl")
    ablation = Ablation(
        variants={"wiki": Texts([str(shared_data / "wikipedia" / "enwiki-2016-sample.jsonl")]),
                  "random": RandomBytes(n_bytes=2_000_000)},
        baseline="wiki", eval_sets={"wikitext2": Texts([wiki])}, cloze={"order": Cloze([wiki], items=100)},
        flops=60 * flops_per_step(config), seeds=[0, 1], preset=name, tokenizer=tokenizer, evals=3,
        eval_tokens=8 * config.context, average_last=1).check("test")
    summary = run_ablation(ablation, str(tmp_path / "out"), device="cuda", progress=False, cache=None)
    assert summary["model"]["device"] == "cuda" and summary["model"]["dtype"] == "bfloat16"
    wiki_bpb = summary["variants"]["wiki"]["eval"]["wikitext2"]
    assert all(math.isfinite(v) for v in wiki_bpb["final"].values())
    assert summary["variants"]["random"]["eval"]["wikitext2"]["verdict"] == "hurts"
    assert 0 < summary["variants"]["wiki"]["eval"]["order"]["mean"] < 1
