"""FLOPs of one training step, counted analytically.

A multiply-add is 2 FLOPs. Per token, the forward pass does 2 FLOPs per weight of every matmul
(the blocks' four projections and the LM head; embedding lookups, LayerNorms, biases and GELU are
not matmuls and are left out) plus attention's two matmuls against the context, QK^T and AV:
2 x 2 x context x d_model per layer. The backward pass costs twice the forward (gradients for
both the inputs and the weights), so a training step is 3x the forward:

    flops/token = 6 x (block matmul weights + LM head weights) + 12 x n_layer x context x d_model

The attention term counts the full context x context score matrix: that is what the kernels
compute (the causal mask discards half of it afterwards) and what torch.utils.flop_counter
counts. tests/test_train.py checks this against FlopCounterMode over a real forward+backward.
"""

from __future__ import annotations

from curate.train.model import ModelConfig, count_params


def flops_per_token(config: ModelConfig) -> int:
    params = count_params(config)
    matmul = 6 * (params["block_matmul"] + params["lm_head"])
    attention = 12 * config.n_layer * config.context * config.d_model
    return matmul + attention


def flops_per_step(config: ModelConfig, batch_size: int | None = None) -> int:
    """Training FLOPs (forward + backward) of one step of `batch_size` full-context windows."""
    batch = config.batch_size if batch_size is None else batch_size
    return flops_per_token(config) * batch * config.context


def measured_flops_per_step(config: ModelConfig, batch_size: int | None = None) -> int:
    """FLOPs torch.utils.flop_counter counts over one real forward + backward on the CPU.

    Attention runs on SDPA's math backend here: the counter has no formula for the fused CPU
    kernel (it would count zero), while the math backend's matmuls are counted one by one."""
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from curate.train.model import GPT

    batch = config.batch_size if batch_size is None else batch_size
    torch.manual_seed(0)
    model = GPT(config)
    idx = torch.randint(0, config.vocab_size, (batch, config.context))
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        logits = model(idx)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), idx.view(-1))
        loss.backward()
    return int(counter.get_total_flops())
