"""The training loop: one model, one seed, a fixed FLOP budget, held-out bits per byte.

steps = budget // flops_per_step (curate/train/flops.py), AdamW with linear warmup then cosine
decay to a tenth of the peak rate, gradients clipped at norm 1. Evaluation runs at evenly spaced
steps (so at regular FLOP intervals) on fixed windows of each eval set, in eval mode without
autograd. On the CPU, a seed gives the same losses every time.

What makes it faster than the plain loop of the same model (benchmarks/train.py measures it):
the fused AdamW kernel (one pass over all parameters instead of a Python loop of per-tensor
ops), the batch moved to the device once, and, on CUDA, bf16 autocast, TF32 matmuls and
optionally torch.compile.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from loguru import logger

from curate.errors import CurateError
from curate.train.data import EvalSet, WindowSampler
from curate.train.flops import flops_per_step
from curate.train.model import GPT, ModelConfig


@dataclass(frozen=True)
class Schedule:
    steps: int
    peak_lr: float
    warmup: int
    min_ratio: float = 0.1

    def lr(self, step: int) -> float:
        """Learning rate for step `step` (0-based)."""
        if step < self.warmup:
            return self.peak_lr * (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.steps - self.warmup)
        return self.peak_lr * (self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float = 0.1, fused: bool = True):
    """AdamW with weight decay on the 2-D weights only (as nanoGPT: matmuls and embeddings, the
    tied embedding being the LM head too), not on biases and LayerNorms."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8, fused=fused or None)


def resolve_device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise CurateError(f"device {name}: CUDA is not available here (use --device cpu or a cpu-* preset)")
    if name not in ("cpu", "mps") and not name.startswith("cuda"):
        raise CurateError(f"device {name!r}: use cpu, cuda[:N] or mps")
    return torch.device(name)


@torch.no_grad()
def token_logprobs(model: GPT, inputs: np.ndarray, targets: np.ndarray, device: torch.device, autocast,
                   batch_size: int = 64) -> np.ndarray:
    """The log-probability, in nats, of every target token given the inputs before it: (rows,
    context), in eval mode without autograd. What bpb and the cloze tasks are both made of."""
    was_training = model.training
    model.eval()
    out = np.empty(targets.shape, np.float64)
    for start in range(0, len(inputs), batch_size):
        batch = torch.from_numpy(inputs[start:start + batch_size]).to(device)
        wanted = torch.from_numpy(targets[start:start + batch_size]).to(device)
        with autocast():
            logits = model(batch)
        logp = -F.cross_entropy(logits.float().transpose(1, 2), wanted, reduction="none")
        out[start:start + len(batch)] = logp.double().cpu().numpy()
    model.train(was_training)
    return out


def evaluate(model: GPT, data: EvalSet, device: torch.device, autocast, batch_size: int = 64) -> float:
    """Bits per byte of `data`'s fixed windows: summed NLL in nats / (ln 2 x bytes covered)."""
    nll = -token_logprobs(model, data.inputs, data.targets, device, autocast, batch_size).sum()
    return float(nll / (math.log(2) * data.n_bytes))


def train(config: ModelConfig, sampler: WindowSampler, eval_sets: list[EvalSet], flop_budget: float, seed: int,
          evals: int = 8, device: str | None = None, compile: bool = False, progress: bool | None = None,
          label: str = "", warmup_fraction: float = 0.05, cloze_sets: list | None = None) -> list[dict]:
    """Train a fresh model from `seed` for the steps `flop_budget` pays for; return one row per
    (evaluation, eval set, metric): step, flops, tokens, epochs, train_loss (mean since the last
    evaluation), eval_set, metric ("bpb" for eval sets, "cloze_prob" and "cloze_acc" for cloze
    sets, curate/train/cloze.py), value, and eval_bpb (the value of bpb rows). progress: None shows
    a bar on a terminal and a log line per evaluation otherwise, True a bar, False nothing."""
    from curate.train.cloze import score_cloze

    dev = resolve_device(device or config.device)
    step_flops = flops_per_step(config)
    steps = int(flop_budget // step_flops)
    if steps < 1:
        raise CurateError(f"FLOP budget {flop_budget:.3g} is less than one training step ({step_flops:.3g} FLOPs)")
    eval_steps = sorted({max(1, round(steps * k / evals)) for k in range(1, evals + 1)})
    schedule = Schedule(steps, config.learning_rate, warmup=max(1, int(steps * warmup_fraction)))

    torch.manual_seed(seed)  # same seed, same initial weights, whatever the variant
    model = GPT(config).to(dev)
    optimizer = make_optimizer(model, config.learning_rate, fused=dev.type in ("cpu", "cuda"))
    forward = model
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if compile:  # pays off on long GPU runs; on a small CPU run the compile time dominates
        forward = torch.compile(model)
    use_bf16 = config.dtype == "bfloat16" and dev.type == "cuda"

    def autocast():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_bf16)

    rows: list[dict] = []
    show = _Progress(steps, label, "bar" if sys.stderr.isatty() else "log") if progress is None else \
        _Progress(steps, label, "bar" if progress else "off")
    losses = torch.zeros((), device=dev)
    since_eval = 0
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = schedule.lr(step)
        inputs, targets = sampler.batch(config.batch_size)
        inputs = torch.from_numpy(inputs).to(dev, non_blocking=True)
        targets = torch.from_numpy(targets).to(dev, non_blocking=True)
        with autocast():
            logits = forward(inputs)
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses += loss.detach()  # no .item(): no device sync per step
        since_eval += 1
        done = step + 1
        if done in eval_steps:
            train_loss = losses.item() / since_eval
            losses.zero_()
            since_eval = 0
            base = {"step": done, "flops": done * step_flops, "tokens": done * config.batch_size * config.context,
                    "epochs": sampler.epochs(), "train_loss": train_loss}
            scores = {data.name: evaluate(model, data, dev, autocast) for data in eval_sets}
            found = [{**base, "eval_set": name, "metric": "bpb", "value": bpb, "eval_bpb": bpb}
                     for name, bpb in scores.items()]
            for data in cloze_sets or []:
                found += [{**base, "eval_set": data.name, "metric": metric, "value": value, "eval_bpb": None}
                          for metric, value in score_cloze(model, data, dev, autocast).items()]
            # no eval sets: the training curve alone
            rows += found or [{**base, "eval_set": None, "metric": None, "value": None, "eval_bpb": None}]
            show.eval(done, train_loss, scores)
        show.step(done)
    show.close()
    return rows


class _Progress:
    """A tqdm bar ("bar", on a terminal), a log line at each evaluation ("log"), or nothing."""

    def __init__(self, steps: int, label: str, mode: str):
        self.steps, self.label, self.start, self.mode = steps, label, time.monotonic(), mode
        self.bar = None
        if mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(total=steps, desc=label or "train", unit="step", leave=False, dynamic_ncols=True)

    def step(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def eval(self, done: int, train_loss: float, bpb: dict) -> None:
        scores = ", bpb " + " ".join(f"{name} {value:.3f}" for name, value in bpb.items()) if bpb else ""
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {train_loss:.3f}{scores}")
        elif self.mode == "log":
            elapsed = time.monotonic() - self.start
            logger.info(f"{self.label} step {done}/{self.steps} ({elapsed:.0f}s): train loss {train_loss:.3f}{scores}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
