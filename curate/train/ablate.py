"""`curate ablate`: train the same model from the same seeds on the same FLOP budget on each
variant of the training data, and say which variants beat the baseline, which stage adds what on
top of the one before, and what the full recipe loses without each stage, on held-out bits per
byte and cloze tasks (curate/train/verdicts.py).

Outputs in OUT/: results.parquet (one row per variant, seed, data subsample, evaluation, eval set
and metric), summary.json, curves.png (scores against FLOPs), variants/<name>/ (what pipeline
variants wrote). Results are rewritten after every run, so an interrupted ablation keeps the
runs it finished.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import replace

import numpy as np
from loguru import logger

from curate.storage import glob as files_in
from curate.errors import CurateError
from curate.train.cache import TokenCache, default_folder, file_fingerprints, text_fingerprint
from curate.train.config import Ablation, Mix, Pipeline, RandomBytes, Source, Texts, Tokens
from curate.decontam.index import NgramIndex
from curate.train.cloze import build_cloze
from curate.train.data import (TokenStream, WindowSampler, document_counts, eval_set, read_texts, read_token_output,
                               subsample, token_output, tokenize)
from curate.train.flops import flops_per_step
from curate.train.model import ModelConfig, preset
from curate.train.verdicts import summarize

RESULT_COLUMNS = ("variant", "seed", "subsample", "step", "flops", "tokens", "epochs", "train_loss", "eval_set",
                  "metric", "value", "eval_bpb")


def model_config(ablation: Ablation, vocab_size: int, preset_name: str | None = None,
                 device: str | None = None) -> ModelConfig:
    base = preset(preset_name or ablation.preset)
    try:
        config = replace(base, **ablation.model)
    except TypeError as e:
        raise CurateError(f"model: {e} (fields: {', '.join(base.as_dict())})") from None
    config = config.with_vocab(vocab_size)
    return replace(config, device=device) if device else config


def run_ablation(ablation: Ablation, out: str, device: str | None = None, compile: bool = False,
                 progress: bool | None = None, cache: str | None = "") -> dict:
    """`cache`: the token cache folder ("" the default one, None no cache; curate/train/cache.py)."""
    from curate.train.loop import train
    from curate.train.tokenize import load_tokenizer

    os.makedirs(out, exist_ok=True)
    tokenizer = load_tokenizer(ablation.tokenizer)
    config = model_config(ablation, tokenizer.vocab_size, device=device)
    step_flops = flops_per_step(config)
    if ablation.flops < step_flops:
        raise CurateError(f"FLOP budget {ablation.flops:.3g} is less than one training step ({step_flops:.3g} FLOPs)")
    log(f"model: {config.n_layer} layers x {config.d_model}, context {config.context}, batch {config.batch_size}, "
        f"{config.device}; {step_flops:.3g} FLOPs/step, budget {ablation.flops:.3g} FLOPs = "
        f"{int(ablation.flops // step_flops)} steps; tokenizer {tokenizer.name}")

    eval_sets, eval_texts = [], {}
    for name, spec in ablation.eval_sets.items():
        texts = eval_texts[name] = read_texts(spec.paths, spec.column, where=spec.where)
        data = eval_set(tokenize(f"eval set {name}", texts, tokenizer), config.context, ablation.eval_tokens)
        data.name = name
        eval_sets.append(data)
    cloze_sets = []
    for name, task in ablation.cloze.items():
        texts = eval_texts[f"cloze {name}"] = read_texts(task.paths, task.column)
        cloze_sets.append(build_cloze(name, texts, tokenizer, config.context, task.items, task.choices, task.seed,
                                      task.kind))
    # training variants leave out every document that shares a 13-word n-gram with an eval set
    # or a cloze task: the Decontaminate block's index and rule (curate/decontam)
    held_out = NgramIndex.build(eval_texts)

    reader = SourceReader(tokenizer, held_out, out, TokenCache(default_folder() if cache == "" else cache))
    variants = {name: reader.variant(name, spec) for name, spec in ablation.variants.items()}
    data_info = {name: _describe(sources) for name, (sources, _) in variants.items()}
    for name, info in data_info.items():
        log(f"variant {name}: {info['documents']} documents, {info['tokens']} tokens"
            + (f" ({info['left_out_in_eval_sets']} documents left out: also in an eval set)"
               if info["left_out_in_eval_sets"] else "") + (" (tokens from the cache)" if info["cached"] else ""))
    shared = DataOverlap(variants, tokenizer.eod)

    rows: list[dict] = []
    runs = [(seed, part, name) for seed in ablation.seeds for part in range(ablation.subsamples)
            for name in ablation.variants]
    start = time.monotonic()
    for number, (seed, part, name) in enumerate(runs, 1):
        sources, weights = variants[name]
        if ablation.subsamples > 1:
            sources = [subsample(s, tokenizer.eod, ablation.subsample, part) for s in sources]
        sampler = WindowSampler(sources, weights, config.context, seed)
        label = f"[{number}/{len(runs)}] {name} seed {seed}" + (f" subsample {part}" if ablation.subsamples > 1 else "")
        log(f"{label}: training")
        for row in train(config, sampler, eval_sets, ablation.flops, seed, evals=ablation.evals, compile=compile,
                         progress=progress, label=label, cloze_sets=cloze_sets):
            rows.append({"variant": name, "seed": seed, "subsample": part, **row})
        write_results(rows, out)
    elapsed = time.monotonic() - start
    steps = int(ablation.flops // step_flops)
    header = {"flops": ablation.flops, "steps": steps, "flops_per_step": step_flops,
              "tokens_per_run": steps * config.batch_size * config.context, "model": config.as_dict(),
              "tokenizer": tokenizer.name,
              "eval_sets": {name: {"paths": spec.paths, "column": spec.column}
                            for name, spec in ablation.eval_sets.items()},
              "cloze": {name: {"paths": task.paths, "kind": task.kind, "items": task.items, "choices": task.choices,
                               "seed": task.seed}
                        for name, task in ablation.cloze.items()}}
    summary = summarize(rows, ablation, data_info, shared, header)
    summary["train_seconds"] = round(elapsed, 1)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    plot_curves(rows, ablation, os.path.join(out, "curves.png"))
    return summary


def log(message: str) -> None:
    logger.info(message)


class SourceReader:
    """Each variant's training tokens: read, decontaminated against the eval sets and tokenised,
    or taken from the token cache when the tokenizer, what the source holds and the eval sets are
    the ones it was cached with."""

    def __init__(self, tokenizer, held_out: NgramIndex, out: str, cache: TokenCache):
        self.tokenizer, self.held_out, self.out, self.cache = tokenizer, held_out, out, cache
        self.eval_digest = held_out.digest()

    def variant(self, name: str, spec: Source) -> tuple[list[TokenStream], list[float]]:
        """A variant's training sources and their weights."""
        if isinstance(spec, Mix):
            if not spec.parts:
                raise CurateError(f"variant {name}: an empty mix")
            sources, weights = [], []
            for i, (part, weight) in enumerate(spec.parts):
                if isinstance(part, Mix):
                    raise CurateError(f"variant {name}: a mix inside a mix")
                sources.append(self.source(f"{name}[{i}]", part))
                weights.append(float(weight))
            return sources, weights
        return [self.source(name, spec)], [1.0]

    def source(self, name: str, spec) -> TokenStream:
        if isinstance(spec, RandomBytes):
            return random_bytes(name, spec, self.tokenizer)
        if isinstance(spec, Tokens):  # shards are keyed by their files' bytes
            manifest, files = token_output(name, spec.path)
            return self.cached(name, "tokens", file_fingerprints(files), lambda: read_token_output(
                name, spec.path, manifest, self.tokenizer, exclude=self.held_out))
        if isinstance(spec, Texts):
            texts = read_texts(spec.paths, spec.column, where=spec.where)
        elif isinstance(spec, Pipeline):
            folder = run_pipeline_variant(name, spec, self.out)
            files = files_in(folder, "*.parquet")
            if not files:
                raise CurateError(f"variant {name}: {spec.file} wrote no Parquet to {folder}")
            texts = read_texts(files, spec.column)
        else:
            raise CurateError(f"variant {name}: unknown source {type(spec).__name__}")
        # text is keyed by what it says (reading it is cheap next to tokenising it), so a
        # pipeline variant rerun into another folder, whose rows name other paths, is still found
        return self.cached(name, "text", text_fingerprint(texts), lambda: tokenize(
            name, texts, self.tokenizer, exclude=self.held_out, per_token_bytes=False))

    def cached(self, name: str, kind: str, content, make) -> TokenStream:
        """The cache's entry for (tokenizer, kind, content, eval sets), else `make()`'s, stored."""
        key = self.cache.key(tokenizer=self.tokenizer.sha256, kind=kind, content=content, eval_sets=self.eval_digest)
        stream = self.cache.get(key, name)
        if stream is not None:
            stream.cached = True
            return stream
        stream = make()
        self.cache.put(key, stream)
        return stream


def run_pipeline_variant(name: str, spec: Pipeline, out: str) -> str:
    """Run the pipeline file into OUT/variants/<name>/ (a rerun skips completed tasks)."""
    from curate.report import format_funnel
    from curate.run import run
    from curate.step import RunContext

    folder = variant_folder(out, name)
    left_out = f" without {', '.join(spec.leave_out)}" if spec.leave_out else ""
    log(f"variant {name}: running {spec.file}{left_out} -> {folder}")
    inputs = []
    for uri in spec.inputs:  # "variant:NAME": what an earlier pipeline variant wrote (extract once, filter often)
        if uri.startswith("variant:"):
            files = files_in(variant_folder(out, uri[len("variant:"):]), "*.parquet")
            if not files:
                raise CurateError(f"variant {name}: input {uri} names no earlier pipeline variant's output")
            inputs += files
        else:
            inputs.append(uri)
    ctx = RunContext(output=folder, inputs=inputs, tasks=spec.tasks, workers=spec.workers)
    # overwrite: a variant folder is recomputed when the config changed, resumed when it did not
    funnel = run(spec.file, ctx, spec.settings, leave_out=tuple(spec.leave_out), overwrite=True).funnel
    log(f"variant {name}: funnel\n{format_funnel(funnel)}")
    if funnel["tasks_reported"] < funnel["tasks"]:
        raise CurateError(f"variant {name}: {spec.file} did not complete ({funnel['tasks_reported']} of "
                          f"{funnel['tasks']} tasks; logs in {folder}.curate)")
    return folder


def variant_folder(out: str, name: str) -> str:
    return os.path.join(out, "variants", name.replace("/", "_"))


def random_bytes(name: str, spec: RandomBytes, tokenizer) -> TokenStream:
    rng = np.random.default_rng(spec.seed)
    data = rng.integers(0, 256, spec.n_bytes, dtype=np.uint8)
    if tokenizer.name == "bytes":  # exactly uniform bytes, one token each
        docs = [data[i:i + spec.doc_bytes] for i in range(0, len(data), spec.doc_bytes)]
        parts = [np.append(d.astype(np.uint16), np.uint16(tokenizer.eod)) for d in docs]
        covered = [np.append(np.ones(len(d), dtype=np.int32), 0) for d in docs]
        return TokenStream(name, np.concatenate(parts), np.concatenate(covered), len(docs))
    texts = [data[i:i + spec.doc_bytes].tobytes().decode("latin-1") for i in range(0, len(data), spec.doc_bytes)]
    return tokenize(name, texts, tokenizer)


def _describe(sources: list[TokenStream]) -> dict:
    return {"documents": sum(s.documents for s in sources), "tokens": int(sum(len(s.tokens) for s in sources)),
            "cached": all(s.cached for s in sources),
            "bytes": int(sum(s.n_bytes for s in sources)),
            "left_out_in_eval_sets": int(sum(s.skipped.get("in_eval_set", 0) for s in sources)),
            "sources": [{"name": s.name, "documents": s.documents, "tokens": int(len(s.tokens))} for s in sources]}


def write_results(rows: list[dict], out: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("variant", pa.string()), ("seed", pa.int64()), ("subsample", pa.int64()),
                        ("step", pa.int64()), ("flops", pa.float64()), ("tokens", pa.int64()),
                        ("epochs", pa.float64()), ("train_loss", pa.float64()), ("eval_set", pa.string()),
                        ("metric", pa.string()), ("value", pa.float64()), ("eval_bpb", pa.float64())])
    table = pa.Table.from_pylist([{k: row[k] for k in RESULT_COLUMNS} for row in rows], schema=schema)
    tmp = os.path.join(out, "results.parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, os.path.join(out, "results.parquet"))


class DataOverlap:
    """shared(a, b): the share of tokens two variants' training data have in common (documents
    compared by a hash of their tokens): 1.0 for the same documents. Mixes count as the same only
    when every part and weight is (None otherwise: no overlap is claimed)."""

    def __init__(self, variants: dict, eod: int):
        self.counts = {}
        for name, (sources, weights) in variants.items():
            counts = [document_counts(s, eod) for s in sources]
            self.counts[name] = counts[0] if len(counts) == 1 else \
                tuple((w, frozenset(c.items())) for w, c in zip(weights, counts))

    def __call__(self, a: str, b: str) -> float | None:
        x, y = self.counts[a], self.counts[b]
        if isinstance(x, tuple) or isinstance(y, tuple):
            return 1.0 if x == y else None
        common = sum(min(tokens, y[h]) for h, tokens in x.items() if h in y)
        return common / max(sum(x.values()), sum(y.values()), 1)


def plot_curves(rows: list[dict], ablation: Ablation, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(name, "bpb") for name in ablation.eval_sets] + [(name, "cloze_prob") for name in ablation.cloze]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (eval_name, metric) in zip(axes[0], panels):
        for i, variant in enumerate(ablation.variants):
            colour = colours[i % len(colours)]
            by_flops: dict[float, list[float]] = {}
            for seed, part in {(r["seed"], r["subsample"]) for r in rows}:
                points = sorted((r["flops"], r["value"]) for r in rows
                                if r["variant"] == variant and (r["seed"], r["subsample"]) == (seed, part)
                                and r["eval_set"] == eval_name and r["metric"] == metric)
                if points:
                    ax.plot(*zip(*points), color=colour, alpha=0.3, linewidth=0.8)
                for x, y in points:
                    by_flops.setdefault(x, []).append(y)
            xs = sorted(by_flops)
            label = variant + (" (baseline)" if variant == ablation.baseline else "")
            ax.plot(xs, [statistics.fmean(by_flops[x]) for x in xs], color=colour, marker="o", markersize=3,
                    label=label, linewidth=1.8 if variant == ablation.baseline else 1.2)
        ax.set_title(f"held-out: {eval_name}" if metric == "bpb" else f"cloze: {eval_name}")
        ax.set_xlabel("training FLOPs")
        ax.set_ylabel("bits per byte" if metric == "bpb" else "probability of the true word")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{ablation.flops:.3g} FLOPs per run, seeds {', '.join(map(str, ablation.seeds))}: mean (thick) "
                 "and each run (thin)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
