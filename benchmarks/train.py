"""Trainer throughput: curate.train's loop against a plain PyTorch loop of the same model, same
data, same steps, in one process, rounds interleaved. Also checks the analytic FLOP count
against torch.utils.flop_counter. Prints progress lines and, last, one JSON object.

    python benchmarks/train.py            # preset cpu-tiny, 6 rounds of 30 steps each
    python benchmarks/train.py --quick    # 3 rounds of 10 steps, under a minute
    python benchmarks/train.py --preset cpu-small --device cpu

Input: byte-tokenised English Wikipedia (../shared/data/wikipedia/enwiki-2016-sample.jsonl, or
$CURATE_SHARED_DATA), windows drawn by the same seeded sampler for both contenders.
- trainer: curate.train.loop.train() (fused AdamW, no per-step device sync, bf16 autocast and
  TF32 on CUDA), no evaluation;
- plain_torch: the loop one writes first: the same GPT, torch.optim.AdamW(model.parameters())
  with default flags, zero_grad / forward / cross-entropy / backward / clip / step, loss.item()
  each step, the same learning-rate schedule.
Tokens/s are per CPU second of this process (time.process_time: on a shared machine wall time
mostly measures the neighbours; wall-time figures are reported too), from the median round of
each; the best rounds are reported too. On CUDA, wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import curate.train  # noqa: E402

curate.train.passive_openmp_waiting()  # first: before torch starts its threads
import torch
import torch.nn.functional as F

from common import default_data  # benchmarks/common.py


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def plain_loop(config, sampler, steps: int, seed: int, device: str) -> None:
    from curate.train.loop import Schedule
    from curate.train.model import GPT

    torch.manual_seed(seed)
    model = GPT(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=(0.9, 0.95), weight_decay=0.1)
    schedule = Schedule(steps, config.learning_rate, warmup=max(1, steps // 20))
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = schedule.lr(step)
        inputs, targets = sampler.batch(config.batch_size)
        inputs, targets = torch.from_numpy(inputs).to(device), torch.from_numpy(targets).to(device)
        optimizer.zero_grad()
        logits = model(inputs)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss.item()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 10 steps (under a minute)")
    parser.add_argument("--preset", default="cpu-tiny")
    parser.add_argument("--device", default=None, help="default: the preset's")
    parser.add_argument("--data", default=None, help="shared data folder (default ../shared/data)")
    args = parser.parse_args()

    from curate.train.data import WindowSampler, read_texts, tokenize
    from curate.train.flops import flops_per_step, measured_flops_per_step
    from curate.train.loop import train
    from curate.train.model import preset
    from curate.train.tokenize import ByteTokenizer

    data = default_data() if args.data is None else __import__("pathlib").Path(args.data)
    source = data / "wikipedia" / "enwiki-2016-sample.jsonl"
    config = preset(args.preset)
    device = args.device or config.device
    rounds, steps = (3, 10) if args.quick else (6, 30)
    stream = tokenize("enwiki", read_texts([str(source)]), ByteTokenizer())
    step_flops = flops_per_step(config)

    analytic = step_flops
    measured_config = config if config.device == "cpu" else config.__class__(**{**config.as_dict(), "batch_size": 1})
    measured = measured_flops_per_step(measured_config)
    analytic_measured = flops_per_step(measured_config)
    flops_rel_error = abs(analytic_measured - measured) / measured
    log(f"FLOPs/step ({args.preset}): analytic {analytic:.4g}; on batch {measured_config.batch_size}: "
        f"analytic {analytic_measured:.4g}, flop_counter {measured:.4g} (rel. error {flops_rel_error:.4f})")

    def run_trainer() -> None:
        sampler = WindowSampler([stream], [1.0], config.context, seed=0)
        train(config, sampler, [], steps * step_flops, seed=0, evals=1, device=device, progress=False)

    def run_plain() -> None:
        plain_loop(config, WindowSampler([stream], [1.0], config.context, seed=0), steps, 0, device)

    cuda = device.startswith("cuda")

    def timed(fn) -> tuple[float, float]:
        if cuda:
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - wall, time.process_time() - cpu

    timed(run_trainer), timed(run_plain)  # warm-up: allocator, kernels, thread pools
    times: dict[str, list[float]] = {"trainer": [], "plain_torch": []}
    walls: dict[str, list[float]] = {"trainer": [], "plain_torch": []}
    for r in range(rounds):
        order = [("trainer", run_trainer), ("plain_torch", run_plain)]
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            wall, cpu = timed(fn)
            walls[name].append(wall)
            times[name].append(wall if cuda else cpu)
        log(f"round {r + 1}/{rounds}: trainer {walls['trainer'][-1]:.2f}s wall {times['trainer'][-1]:.2f}s timed, "
            f"plain {walls['plain_torch'][-1]:.2f}s wall {times['plain_torch'][-1]:.2f}s timed")
    tokens = steps * config.batch_size * config.context
    median = {k: tokens / statistics.median(v) for k, v in times.items()}
    best = {k: tokens / min(v) for k, v in times.items()}
    median_wall = {k: tokens / statistics.median(v) for k, v in walls.items()}
    result = {
        "benchmark": "train",
        "input": f"{source} (byte tokens, {len(stream.tokens)} in all)",
        "preset": args.preset, "device": device, "threads": torch.get_num_threads(),
        "rounds": rounds, "steps_per_round": steps, "tokens_per_round": tokens,
        "trainer_tokens_per_s": round(median["trainer"], 1),
        "plain_torch_tokens_per_s": round(median["plain_torch"], 1),
        "speedup_vs_plain_torch": round(median["trainer"] / median["plain_torch"], 3),
        "speedup_best_rounds": round(best["trainer"] / best["plain_torch"], 3),
        "timing": "wall" if cuda else "process CPU time",
        "speedup_wall_time": round(median_wall["trainer"] / median_wall["plain_torch"], 3),
        "trainer_tokens_per_wall_s": round(median_wall["trainer"], 1),
        "plain_torch_tokens_per_wall_s": round(median_wall["plain_torch"], 1),
        "trainer_gflops_per_s": round(median["trainer"] * step_flops / (config.batch_size * config.context) / 1e9, 2),
        "flops_per_step_analytic": analytic,
        "flops_per_step_measured": measured if measured_config is config else None,
        "flops_rel_error": round(flops_rel_error, 6),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
