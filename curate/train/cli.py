"""`curate ablate CONFIG --out DIR`: the trainer's command line (wired into curate.cli)."""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    parser = sub.add_parser("ablate", help="train a small LM on each data variant at a fixed FLOP budget and "
                                           "compare held-out bits per byte")
    parser.add_argument("config", help="an ablation config (.py or .toml), e.g. pipelines/ablate.py")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder: results.parquet, summary.json, curves.png, variants/")
    parser.add_argument("--seeds", metavar="S,S,...", help="seeds, comma-separated (at least 2; default: the config's)")
    parser.add_argument("--flops", type=float, help="FLOP budget per run, e.g. 2e13 (default: the config's)")
    parser.add_argument("--preset", help="model preset: cpu-tiny, cpu-small, gpu-20m, gpu-gpt2-small "
                                         "(default: the config's)")
    parser.add_argument("--device", help="cpu, cuda, cuda:N (default: the preset's)")
    parser.add_argument("--tokenizer", metavar="PATH", help="a tokenizers tokenizer.json (default: the config's, "
                                                            "else bytes)")
    parser.add_argument("--evals", type=int, help="evaluations per run (default: the config's)")
    parser.add_argument("--subsamples", type=int, metavar="N",
                        help="train each variant on N data subsamples per seed, for noise from the data as well "
                             "(default: the config's, else 1)")
    parser.add_argument("--subsample", choices=("halves", "bootstrap"),
                        help="halves: disjoint seeded halves; bootstrap: documents drawn with replacement")
    parser.add_argument("--average-last", type=int, metavar="N",
                        help="score each run by the mean of its last N evaluations (default: the config's, else 1)")
    parser.add_argument("--only", action="append", metavar="VARIANT",
                        help="train only these variants (and the baseline); repeatable. Stage-by-stage "
                             "effects need every variant of the chain")
    parser.add_argument("--cache", metavar="DIR", help="where tokenised variants are cached, per tokenizer and "
                                                       "source (default $CURATE_CACHE_DIR/tokens, else "
                                                       "~/.cache/curate/tokens)")
    parser.add_argument("--no-cache", action="store_true", help="tokenise every variant again and cache nothing")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (worth it on a GPU)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="a setting of a Python config (its Settings dataclass); repeatable")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show the pipeline variants' INFO logs")
    parser.set_defaults(func=_ablate)


def _ablate(args: argparse.Namespace) -> int:
    from curate.errors import need
    from curate.settings import parse_pairs
    from curate.train import passive_openmp_waiting

    passive_openmp_waiting()  # before torch starts its threads
    for module in ("torch", "tokenizers", "matplotlib"):
        need(module, "ablate", "curate ablate")
    from curate.errors import CurateError
    from curate.log import show_info_from
    from curate.train.ablate import run_ablation
    from curate.train.verdicts import format_table
    from curate.train.config import load_ablation

    show_info_from("curate.train")  # the trainer's progress; the pipeline variants' blocks: warnings only
    ablation = load_ablation(args.config, parse_pairs(args.set or []))
    if args.seeds:
        try:
            ablation.seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        except ValueError:
            raise CurateError(f"--seeds {args.seeds!r}: expected integers, e.g. 0,1") from None
    if args.flops is not None:
        ablation.flops = args.flops
    if args.preset:
        ablation.preset = args.preset
    if args.tokenizer:
        ablation.tokenizer = args.tokenizer
    if args.evals is not None:
        ablation.evals = args.evals
    for option in ("subsamples", "subsample", "average_last"):
        if getattr(args, option) is not None:
            setattr(ablation, option, getattr(args, option))
    if args.only:
        unknown = set(args.only) - set(ablation.variants)
        if unknown:
            raise CurateError(f"--only {', '.join(sorted(unknown))}: no such variant "
                              f"(variants: {', '.join(ablation.variants)})")
        ablation.variants = {k: v for k, v in ablation.variants.items() if k in args.only or k == ablation.baseline}
        # comparisons among the variants kept; a chain with a link missing would compare stages
        # that are not one apart, so it goes whole
        if not set(ablation.chain) <= set(ablation.variants):
            ablation.chain = []
        ablation.leave_one_out = {stage: name for stage, name in ablation.leave_one_out.items()
                                  if name in ablation.variants}
        if ablation.full not in ablation.variants:
            ablation.full = None
        if not (ablation.full or ablation.chain):
            ablation.leave_one_out = {}
    ablation.check(args.config)
    summary = run_ablation(ablation, args.out, device=args.device, compile=args.compile,
                           cache=None if args.no_cache else (args.cache or ""))
    print(format_table(summary))
    print(f"output: {args.out}/results.parquet, {args.out}/summary.json, {args.out}/curves.png")
    print(json.dumps({name: {e: v.get("verdict", "baseline") for e, v in info["eval"].items()}
                      for name, info in summary["variants"].items()}))
    return 0
