"""The `curate` command line."""

from __future__ import annotations

import argparse
import sys

from curate.errors import CurateError


def _run(args: argparse.Namespace) -> int:
    from curate.pipeline import RunConfig
    from curate.runner import run_pipeline

    run = RunConfig(inputs=args.input or [], output=args.output, limit=args.limit, removed=args.removed,
                    progress=args.executor == "local" and sys.stderr.isatty(), params=_params(args.set or []))
    funnel = run_pipeline(args.pipeline, run, executor=args.executor, tasks=args.tasks, workers=args.workers)
    print(f"output: {args.output} (funnel: {args.output}/funnel.json)")
    incomplete = funnel["tasks"] - funnel["tasks_reported"]
    return 1 if incomplete > 0 else 0


def _params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CurateError(f"--set {pair!r}: expected KEY=VALUE")
        params[key.strip()] = value
    return params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="curate", description="Curate web-scale pre-training data.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a pipeline file")
    run.add_argument("pipeline", help="a pipeline file, e.g. pipelines/datacomp.py")
    run.add_argument("--input", action="append", metavar="URI",
                     help="file, folder, glob or URI (s3://, http(s)://, hf://); repeatable. "
                          "Default: the pipeline's embedded sample")
    run.add_argument("--output", default="out", help="output folder (default: out)")
    run.add_argument("--executor", choices=("local", "ray"), default="local")
    run.add_argument("--workers", type=int, default=1, help="tasks run at once (default 1)")
    run.add_argument("--tasks", type=int, default=1, help="shards the input is split into (default 1)")
    run.add_argument("--limit", type=int, default=-1, help="read at most N documents per task")
    run.add_argument("--removed", metavar="DIR", help="also write removed documents, with stage and reason, here")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="a pipeline-specific setting, read by the pipeline file as run.params[KEY]; repeatable")
    run.set_defaults(func=_run)
    from curate.quality.cli import add_parser as add_classifier_parser

    add_classifier_parser(sub)  # curate classifier train|eval
    from curate.train.cli import add_parser as add_ablate_parser

    add_ablate_parser(sub)  # curate ablate CONFIG --out DIR
    from curate.llm.cli import add_parser as add_llm_parser

    add_llm_parser(sub)  # curate llm-serve MODEL.gguf
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CurateError as e:
        print(f"curate: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("curate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
