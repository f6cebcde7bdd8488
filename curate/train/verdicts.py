"""From an ablation's result rows to verdicts a data team can act on (summary.json and the table).

Three comparisons, one noise rule:
- each variant against the baseline;
- stage by stage (`Ablation.chain`): each variant of the chain against the one before it, the
  marginal effect of the stage it adds ("dedup: -0.066 bpb on top of heuristics");
- leave one out (`Ablation.leave_one_out`): the full recipe against the recipe without a stage.
A run's score on a metric is the mean of its last `average_last` evaluations; a replicate is a
(seed, data subsample) pair; diff = mean over replicates of one variant - the other's; noise =
the larger of the two spreads (sample standard deviation over replicates), at least NOISE_FLOOR.
A comparison of two variants trained on the same data (the same documents, or more than 99% of
their tokens shared) gets no helps/hurts verdict: it says so instead.
"""

from __future__ import annotations

import statistics
from typing import Callable

NOISE_MULTIPLE = 2.0  # a difference counts when larger than this many spreads
NOISE_FLOOR = 0.002  # with near-identical replicates, differences below this are still noise
NEAR_IDENTICAL = 0.99  # shared share of tokens above which two variants' data count as the same
LOWER_IS_BETTER = {"bpb": True, "cloze_prob": False}
VERDICT_RULE = (f"diff = mean of the variant - mean of the other (over the same seeds and subsamples); noise = the "
                f"larger of the two spreads (sample standard deviation over seeds x subsamples), at least {NOISE_FLOOR}; "
                f"'helps' if the diff is better by more than {NOISE_MULTIPLE:g} x noise (lower bpb, higher cloze "
                f"probability), 'hurts' if worse by more, else 'within noise'; variants trained on the same documents "
                f"(or > {NEAR_IDENTICAL:.0%} of tokens shared) get 'same data' instead")


def spread(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def verdict(diff: float, noise: float, lower_is_better: bool = True) -> str:
    threshold = NOISE_MULTIPLE * max(noise, NOISE_FLOOR)
    better = -diff if lower_is_better else diff
    if better > threshold:
        return "helps"
    if better < -threshold:
        return "hurts"
    return "within noise"


def final_scores(rows: list[dict], average_last: int, subsamples: int = 1) -> dict[tuple, dict[str, float]]:
    """{(variant, eval_set, metric): {replicate: mean of the run's last `average_last` values}};
    a replicate is named by its seed, or "seed/subsample" when there are data subsamples."""
    series: dict[tuple, dict[str, list[tuple[int, float]]]] = {}
    for row in rows:
        if row.get("metric") is None:
            continue
        replicate = f"{row['seed']}/{row.get('subsample', 0)}" if subsamples > 1 else f"{row['seed']}"
        series.setdefault((row["variant"], row["eval_set"], row["metric"]), {}).setdefault(replicate, []).append(
            (row["step"], row["value"]))
    return {key: {r: statistics.fmean(v for _, v in sorted(points)[-average_last:]) for r, points in by_run.items()}
            for key, by_run in series.items()}


class Comparer:
    """Compares two variants on every scored metric, with the data relation between them."""

    def __init__(self, scores: dict, metrics: list[tuple[str, str]], shared: Callable[[str, str], float | None]):
        self.scores, self.metrics, self.shared = scores, metrics, shared

    def __call__(self, variant: str, other: str) -> dict:
        overlap = self.shared(variant, other)
        same = overlap is not None and overlap > NEAR_IDENTICAL
        out = {"vs": other, "shared_tokens": None if overlap is None else round(overlap, 4), "eval": {}}
        for eval_name, metric in self.metrics:
            mine, theirs = self.scores[(variant, eval_name, metric)], self.scores[(other, eval_name, metric)]
            common = sorted(set(mine) & set(theirs))
            diff = statistics.fmean(mine[r] for r in common) - statistics.fmean(theirs[r] for r in common)
            noise = max(spread([mine[r] for r in common]), spread([theirs[r] for r in common]), NOISE_FLOOR)
            out["eval"][eval_name] = {"metric": metric, "diff": round(diff, 5), "noise": round(noise, 5),
                                      "verdict": ("same data" if overlap == 1.0 else "near-identical data") if same
                                      else verdict(diff, noise, LOWER_IS_BETTER[metric])}
        return out


def removed(data: dict, before: dict) -> dict:
    """What a stage removed: the documents and tokens of `before` that `data` no longer has."""
    docs, tokens = before["documents"] - data["documents"], before["tokens"] - data["tokens"]
    return {"documents": docs, "tokens": tokens,
            "documents_pct": round(100 * docs / max(before["documents"], 1), 2),
            "tokens_pct": round(100 * tokens / max(before["tokens"], 1), 2)}


def summarize(rows: list[dict], ablation, data_info: dict, shared: Callable[[str, str], float | None],
              header: dict) -> dict:
    """summary.json: per variant its scores and its comparison with the baseline; the chain's
    stage-by-stage effects; the leave-one-out effects."""
    scores = final_scores(rows, ablation.average_last, ablation.subsamples)
    metrics = [(name, "bpb") for name in ablation.eval_sets] + [(name, "cloze_prob") for name in ablation.cloze]
    compare = Comparer(scores, metrics, shared)
    epochs: dict[str, list[float]] = {}
    last: dict[tuple, tuple[int, float]] = {}
    for row in rows:
        key = (row["variant"], row["seed"], row.get("subsample", 0))
        if row["step"] >= last.get(key, (-1, 0.0))[0]:
            last[key] = (row["step"], row["epochs"])
    for (variant, *_), (_, value) in last.items():
        epochs.setdefault(variant, []).append(value)

    variants = {}
    for name in ablation.variants:
        per_set = {}
        for eval_name, metric in metrics:
            by_run = scores[(name, eval_name, metric)]
            values = list(by_run.values())
            per_set[eval_name] = {"metric": metric, "final": {r: round(v, 5) for r, v in by_run.items()},
                                  "mean": round(statistics.fmean(values), 5), "spread": round(spread(values), 5)}
            if metric == "cloze_prob":
                accuracy = list(scores[(name, eval_name, "cloze_acc")].values())
                per_set[eval_name]["accuracy"] = round(statistics.fmean(accuracy), 4)
        entry = {"eval": per_set, "epochs": round(statistics.fmean(epochs[name]), 4), "data": data_info[name]}
        if name != ablation.baseline:
            versus = compare(name, ablation.baseline)
            entry["vs_baseline"] = versus
            for eval_name, result in versus["eval"].items():  # also flat beside the scores, as before
                per_set[eval_name].update({"diff_vs_baseline": result["diff"], "noise": result["noise"],
                                           "verdict": result["verdict"]})
        variants[name] = entry

    chain = []
    for before, after in zip(ablation.chain, ablation.chain[1:]):
        chain.append({"stage": after, **compare(after, before),
                      "removed": removed(data_info[after], data_info[before])})
    leave_one_out = []
    for stage, without in ablation.leave_one_out.items():
        full = ablation.full or ablation.chain[-1]
        leave_one_out.append({"stage": stage, "full": full, **compare(full, without),
                              "removed": removed(data_info[full], data_info[without])})
    return {**header, "baseline": ablation.baseline, "seeds": list(ablation.seeds),
            "subsamples": ablation.subsamples, "subsample": ablation.subsample,
            "average_last": ablation.average_last, "verdict_rule": VERDICT_RULE, "variants": variants,
            "stages": chain, "leave_one_out": leave_one_out}


def _effects(result: dict) -> str:
    parts = []
    for eval_name, e in result["eval"].items():
        unit = "bpb" if e["metric"] == "bpb" else "p"
        parts.append(f"{eval_name} {e['diff']:+.4f} {unit} ({e['verdict']})")
    return ", ".join(parts)


def format_table(summary: dict) -> str:
    eval_names = list(next(iter(summary["variants"].values()))["eval"])
    header = f"{'variant':<24} {'epochs':>7} {'documents':>10} {'tokens':>11}"
    for name in eval_names:
        header += f" | {name[:16]:>16} {'diff':>8} {'verdict':<12}"
    lines = [header, "-" * len(header)]
    for variant, info in summary["variants"].items():
        line = f"{variant[:24]:<24} {info['epochs']:>7.2f} {info['data']['documents']:>10,} {info['data']['tokens']:>11,}"
        for name in eval_names:
            e = info["eval"][name]
            score = f"{e['mean']:.4f}±{e['spread']:.4f}"
            if variant == summary["baseline"]:
                line += f" | {score:>16} {'':>8} {'(baseline)':<12}"
            else:
                line += f" | {score:>16} {e['diff_vs_baseline']:>+8.4f} {e['verdict']:<12}"
        lines.append(line)
    if summary["stages"]:
        lines += ["", "Stage by stage (each variant against the one before it; bpb: lower is better, "
                      "cloze p: higher is better):"]
        for s in summary["stages"]:
            r = s["removed"]
            lines.append(f"  {s['stage']} on top of {s['vs']}: {_effects(s)}; removed {r['documents_pct']:.1f}% of "
                         f"documents, {r['tokens_pct']:.1f}% of tokens")
    if summary["leave_one_out"]:
        lines += ["", "Leave one out (the full recipe against it without the stage):"]
        for s in summary["leave_one_out"]:
            r = s["removed"]
            lines.append(f"  {s['stage']} ({s['full']} vs {s['vs']}): {_effects(s)}; the stage removes "
                         f"{r['documents_pct']:.1f}% of documents, {r['tokens_pct']:.1f}% of tokens on top of the rest")
    replicates = f"seeds {summary['seeds']}" + (f" x {summary['subsamples']} {summary['subsample']} data subsamples"
                                                if summary["subsamples"] > 1 else "")
    lines.append(f"\nScores: mean±spread over {replicates}, each run's mean of its last {summary['average_last']} "
                 f"evaluation(s), at {summary['flops']:.3g} FLOPs. {summary['verdict_rule']}.")
    return "\n".join(lines)
