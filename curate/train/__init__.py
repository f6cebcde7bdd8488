"""A small decoder-only LM and a fixed-FLOP training loop, to measure what a data filter does to
held-out loss per unit of compute (`curate ablate`, docs/train.md).

Names are imported lazily: `curate --help` and the other subcommands should not pay for torch.
"""

import os
from importlib import import_module


def passive_openmp_waiting() -> None:
    """OpenMP threads that spin while waiting for each other collapse when another process holds
    a core: measured on 2 shared cores, 2 spinning threads ran a cpu-tiny step 4x slower than 1
    thread; passive waiting brought 2 threads back to within 15% of 1 thread (docs/train.md).
    Takes effect only if torch has not started its threads yet; OMP_WAIT_POLICY set by the user
    wins. `curate ablate` calls it first thing."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


_EXPORTS = {
    "GPT": "model", "PRESETS": "model", "ModelConfig": "model", "preset": "model",
    "flops_per_step": "flops", "flops_per_token": "flops",
    "ByteTokenizer": "tokenize", "HFTokenizer": "tokenize", "bits_per_byte": "tokenize", "load_tokenizer": "tokenize",
    "train": "loop",
    "Ablation": "config", "Texts": "config", "Pipeline": "config", "Mix": "config", "RandomBytes": "config",
    "load_ablation": "config", "run_ablation": "ablate",
}
__all__ = sorted(_EXPORTS) + ["passive_openmp_waiting"]


def __getattr__(name: str):
    if name in _EXPORTS:
        from curate.errors import need

        need("torch", "ablate", f"curate.train.{name}")
        return getattr(import_module(f"curate.train.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'curate.train' has no attribute {name!r}")
