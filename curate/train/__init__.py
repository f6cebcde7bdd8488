"""A small decoder-only LM and a fixed-FLOP training loop, to measure what a data filter does to
held-out loss per unit of compute (`curate ablate`, docs/train.md)."""

from curate.train.flops import flops_per_step, flops_per_token
from curate.train.model import GPT, PRESETS, ModelConfig, preset
from curate.train.tokenize import ByteTokenizer, HFTokenizer, bits_per_byte, load_tokenizer

__all__ = ["GPT", "PRESETS", "ModelConfig", "preset", "flops_per_step", "flops_per_token", "ByteTokenizer",
           "HFTokenizer", "bits_per_byte", "load_tokenizer"]
