"""A small decoder-only transformer LM, written to be read (after nanoGPT).

Pre-LayerNorm blocks, causal self-attention through F.scaled_dot_product_attention (the fused
kernel on GPU, the memory-efficient path on CPU), a GELU MLP of 4x width, learned positional
embeddings, and the output projection tied to the input embedding. `PRESETS` names the sizes
`curate ablate --preset` offers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from curate.errors import CurateError


@dataclass(frozen=True)
class ModelConfig:
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 128
    context: int = 128  # tokens per training window
    vocab_size: int = 257  # byte-level default: 256 bytes + end-of-document
    # what the preset assumes about the machine; the loop follows these unless told otherwise
    batch_size: int = 16
    learning_rate: float = 3e-3
    device: str = "cpu"
    dtype: str = "float32"  # "bfloat16": autocast on CUDA

    def __post_init__(self):
        if self.d_model % self.n_head:
            raise CurateError(f"model: d_model {self.d_model} is not a multiple of n_head {self.n_head}")
        for name in ("n_layer", "n_head", "d_model", "context", "vocab_size", "batch_size"):
            if getattr(self, name) < 1:
                raise CurateError(f"model: {name} must be at least 1")

    def with_vocab(self, vocab_size: int) -> "ModelConfig":
        return replace(self, vocab_size=vocab_size)

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, ModelConfig] = {
    # a whole pipelines/ablate.py ablation (several variants x 2 seeds) in under ~20 min on 2 CPU cores
    "cpu-tiny": ModelConfig(n_layer=2, n_head=4, d_model=128, context=128, batch_size=16, learning_rate=3e-3),
    # a bit more model for a CPU with more cores or more patience
    "cpu-small": ModelConfig(n_layer=4, n_head=4, d_model=256, context=256, batch_size=16, learning_rate=2e-3),
    # GPU presets: CUDA, bf16 autocast. Not run on a GPU in development (see docs/train.md).
    # gpu-20m: 19M parameters; gpu-gpt2-small: GPT-2 small's shape (85M with bytes, 124M with the GPT-2 vocabulary)
    "gpu-20m": ModelConfig(n_layer=6, n_head=8, d_model=512, context=512, batch_size=32, learning_rate=1e-3,
                           device="cuda", dtype="bfloat16"),
    "gpu-gpt2-small": ModelConfig(n_layer=12, n_head=12, d_model=768, context=1024, batch_size=32, learning_rate=6e-4,
                            device="cuda", dtype="bfloat16"),
}


def preset(name: str) -> ModelConfig:
    if name not in PRESETS:
        raise CurateError(f"unknown model preset {name!r}: choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


class CausalSelfAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, time, channels = x.shape
        q, k, v = self.qkv(x).split(channels, dim=2)
        # (batch, heads, time, head_dim)
        q, k, v = (t.view(batch, time, self.n_head, channels // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(batch, time, channels))


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.up = nn.Linear(config.d_model, 4 * config.d_model)
        self.down = nn.Linear(4 * config.d_model, config.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.context, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # tied: one matrix reads and writes tokens
        self.apply(self._init_weights)
        # GPT-2: residual projections scaled down by depth so the residual stream starts small
        for name, param in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.down.weight")):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (batch, time, vocab) for token ids (batch, time)."""
        positions = torch.arange(idx.shape[1], device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(positions)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def count_params(config: ModelConfig) -> dict:
    """Parameter counts without building the model: total (tied embedding counted once), and
    the part that does matmuls per token (everything but the embedding tables and LayerNorms)."""
    d, layers, vocab = config.d_model, config.n_layer, config.vocab_size
    per_block_matmul = (d * 3 * d) + (d * d) + (d * 4 * d) + (4 * d * d)  # qkv, proj, mlp up, mlp down
    per_block_other = 3 * d + d + 4 * d + d + 4 * d  # biases of qkv, proj, up, down + 2 LayerNorms (2d each)
    total = vocab * d + config.context * d + layers * (per_block_matmul + per_block_other) + 2 * d
    return {"total": total, "block_matmul": layers * per_block_matmul, "lm_head": vocab * d}
