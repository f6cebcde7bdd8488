"""The `curate` command line: the only place that prints."""

from __future__ import annotations

import argparse
import sys

from curate.errors import CurateError


def _run(args: argparse.Namespace) -> int:
    from curate.report import format_funnel
    from curate.run import Detached, run
    from curate.settings import parse_pairs
    from curate.step import RunContext

    if args.list_settings:
        return _list_settings(args.pipeline)
    ctx = RunContext(output=args.output, inputs=args.input or [], limit=args.limit, removed=args.removed,
                     tasks=args.tasks, workers=args.workers, executor=args.executor, keep_staging=args.keep_staging,
                     executor_options=_slurm_options(args))
    display = ProgressLine(sys.stderr) if sys.stderr.isatty() else None
    try:
        result = run(args.pipeline, ctx, parse_pairs(args.set or []), progress=display, overwrite=args.overwrite)
    except Detached as submitted:
        print(f"submitted Slurm jobs {submitted}; follow the run with: curate status {args.output}")
        return 0
    print(format_funnel(result.funnel), flush=True)
    for text in result.reports:
        print(text, flush=True)
    print(f"output: {args.output} (run folder: {result.run_dir}, funnel: {result.run_dir}/funnel.json)")
    if not result.complete:
        return 1
    problems = []
    if result.failed_inputs:
        problems.append(f"{len(result.failed_inputs)} input file(s) gave no document because of an error")
    if result.empty:
        problems.append("documents were read but none reached the output")
    if problems and not args.tolerate_failures:
        print(f"curate: {'; '.join(problems)} (see above; --tolerate-failures exits 0 all the same)", file=sys.stderr)
        return 1
    return 0


def _tokenize(args: argparse.Namespace) -> int:
    """A run of the built-in pipeline curate/tokens/pipeline.py: OUT in, the shards out."""
    from curate.tokens import pipeline

    args.pipeline, args.input, args.output = pipeline.__file__, [args.documents], args.out
    args.set = [f"tokenizer={args.tokenizer}", f"format={args.format}", f"shards={args.shards}", f"seed={args.seed}"]
    args.removed, args.list_settings = None, False
    return _run(args)


def _mix(args: argparse.Namespace) -> int:
    from curate.mix import MixConfig, mix

    report = mix(MixConfig.from_toml(args.config), args.out)
    print(f"{'source':<16}{'weight':>8}{'share':>8}{'documents':>11}{'written':>11}{'tokens':>14}{'epochs':>8}")
    for name, s in report["sources"].items():
        print(f"{name:<16}{s['weight']:>8.3f}{s['share']:>8.3f}{s['documents']:>11,}{s['documents_written']:>11,}"
              f"{s['tokens']:>14,}{s['epochs']:>8.2f}")
    print(f"mix: {args.out} ({report['tokens']:,} tokens, counted with {report['tokens_counted_with']}; "
          f"report: {args.out}.curate/mix.json)")
    return 0


def _status(args: argparse.Namespace) -> int:
    """Exit 0 when the run is complete, 1 when it is not."""
    import json

    from curate.status import as_dict, format_status, status

    s = status(args.output)
    print(json.dumps(as_dict(s)) if args.json else format_status(s))
    return 0 if s.complete else 1


def _slurm_options(args: argparse.Namespace) -> dict:
    from curate.settings import parse_pairs

    return {"partition": args.partition, "time": args.time, "cpus_per_task": args.cpus_per_task,
            "mem_per_cpu_gb": args.mem_per_cpu_gb, "qos": args.qos, "env_command": args.slurm_env,
            "sbatch_args": parse_pairs(args.sbatch or []), "python": args.slurm_python, "detach": args.detach}


def _list_settings(path: str) -> int:
    from curate.run import load_pipeline_file
    from curate.settings import describe, settings_class

    rows = describe(settings_class(load_pipeline_file(path)))
    if not rows:
        print(f"{path} declares no settings")
        return 0
    print(f"settings of {path} (curate run {path} --set KEY=VALUE):")
    for row in rows:
        print(f"  {row['name']} = {row['default']!r}  ({row['type']})")
        if row["help"]:
            print(f"      {row['help']}")
    return 0


class ProgressLine:
    """The run's progress on one terminal line, rewritten in place; a finished stage keeps its line."""

    def __init__(self, stream):
        self.stream = stream

    def __call__(self, s) -> None:
        minutes, seconds = divmod(int(s.seconds), 60)
        line = (f"[{s.stage}/{s.stages}] {s.label}: {s.documents:,} documents, {s.rate:,.1f}/s, "
                f"tasks {s.tasks_done}/{s.tasks}, {minutes}:{seconds:02d}")
        self.stream.write("\r\x1b[2K" + line + ("\n" if s.finished else ""))
        self.stream.flush()


def add_run_options(p: argparse.ArgumentParser) -> None:
    """How a run runs: `curate run` and the commands that are runs of a built-in pipeline (tokenize)."""
    p.add_argument("--executor", choices=("local", "ray", "slurm"), default="local",
                   help="local processes, a Ray cluster ($RAY_ADDRESS), or Slurm job arrays (sbatch)")
    p.add_argument("--workers", type=int, default=1, help="tasks run at once (default 1)")
    p.add_argument("--tasks", type=int, default=1, help="shards the input is split into (default 1)")
    p.add_argument("--limit", type=int, metavar="N", help="read at most N (>= 1) documents per task")
    p.add_argument("--overwrite", action="store_true",
                   help="the output holds another run's results: remove them and start clean")
    p.add_argument("--tolerate-failures", action="store_true",
                   help="exit 0 even when input files failed entirely or no document reached the output")
    p.add_argument("--keep-staging", action="store_true",
                   help="keep the intermediate files (dedup's) in OUTPUT.curate/staging after the run, for debugging")
    p.add_argument("-v", "--verbose", action="store_true", help="also show INFO logs and datatrove's task stats")
    slurm = p.add_argument_group("Slurm (--executor slurm)")
    slurm.add_argument("--partition", help="partition (default: the cluster's default)")
    slurm.add_argument("--time", help="time limit per task, e.g. 04:00:00 (default 24:00:00)")
    slurm.add_argument("--cpus-per-task", type=int, help="CPUs per task (default 1)")
    slurm.add_argument("--mem-per-cpu-gb", type=int, help="memory per CPU in GB (default 2)")
    slurm.add_argument("--qos", help="quality of service (left out when not given)")
    slurm.add_argument("--sbatch", action="append", metavar="KEY=VALUE",
                       help="any other sbatch option, e.g. --sbatch account=myproject; N:KEY=VALUE for stage N only, "
                            "e.g. --sbatch 2:mem-per-cpu=180G; repeatable")
    slurm.add_argument("--slurm-env", metavar="COMMAND",
                       help="a shell command each job runs first, e.g. 'source /shared/venv/bin/activate'")
    slurm.add_argument("--slurm-python", metavar="COMMAND",
                       help="how a job runs Python, e.g. 'apptainer exec /shared/curate.sif python' (default: `python` "
                            "when --slurm-env is given, else this Python's path, which every node must see)")
    slurm.add_argument("--detach", action="store_true",
                       help="return once the jobs are submitted (curate status OUT follows them)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="curate", description="Curate web-scale pre-training data.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a pipeline file")
    run.add_argument("pipeline", help="a pipeline file, e.g. pipelines/datacomp.py")
    run.add_argument("--input", action="append", metavar="URI",
                     help="file, folder, glob or URI (s3://, http(s)://, hf://); repeatable. "
                          "Default: the pipeline's own input (datacomp.py: its embedded sample)")
    run.add_argument("--output", default="out", help="output folder (default: out)")
    run.add_argument("--removed", metavar="DIR", help="also write removed documents, with stage and reason, here")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="a setting of the pipeline file (see --list-settings); repeatable")
    run.add_argument("--list-settings", action="store_true", help="print the pipeline's settings and exit")
    add_run_options(run)
    run.set_defaults(func=_run)
    tokenize = sub.add_parser("tokenize", help="documents (a curated output folder) -> token shards for a trainer")
    tokenize.add_argument("documents", metavar="OUT", help="a curated output folder, or any input `curate run` reads")
    tokenize.add_argument("--tokenizer", required=True, metavar="PATH", help="a tokenizers tokenizer.json")
    tokenize.add_argument("--format", choices=("megatron", "datatrove", "numpy"), default="megatron",
                          help="megatron: .bin/.idx; datatrove: .ds/.ds.index (nanotron); numpy: .tokens + .json")
    tokenize.add_argument("--out", required=True, metavar="TOKENS", help="folder for the shards and tokens.json")
    tokenize.add_argument("--shards", type=int, default=1, help="token shards to write (default 1)")
    tokenize.add_argument("--seed", type=int, default=0, help="seed of the global document shuffle (default 0)")
    add_run_options(tokenize)
    tokenize.set_defaults(func=_tokenize)
    mix = sub.add_parser("mix", help="a weighted mix of curated outputs, by tokens, with duplicate-aware repetition")
    mix.add_argument("config", help="a mix config (TOML; curate/mix.py shows one)")
    mix.add_argument("--out", required=True, metavar="MIXED", help="a new folder for the mix (Parquet)")
    mix.set_defaults(func=_mix)
    from curate.quality.cli import add_parser as add_classifier_parser

    add_classifier_parser(sub)  # curate classifier train|eval
    from curate.train.cli import add_parser as add_ablate_parser

    add_ablate_parser(sub)  # curate ablate CONFIG --out DIR
    from curate.llm.cli import add_parser as add_llm_parser

    add_llm_parser(sub)  # curate llm-serve MODEL.gguf
    status = sub.add_parser("status", help="where a run stands: per stage the tasks done, running, failed and pending")
    status.add_argument("output", metavar="OUT", help="the run's output folder or URL (its --output)")
    status.add_argument("--json", action="store_true", help="print it as one JSON object")
    status.set_defaults(func=_status)
    from curate.report.cli import add_parser as add_report_parsers

    add_report_parsers(sub)  # curate report OUT --html FILE; curate sql OUT QUERY
    args = parser.parse_args(argv)
    from curate.log import configure_logging

    configure_logging(getattr(args, "verbose", False))
    from curate.guard import Interrupted

    try:
        return args.func(args)
    except Interrupted as e:
        print(f"curate: {e}", file=sys.stderr)
        return 128 + e.signum
    except CurateError as e:
        print(f"curate: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the driver's own files: a full disk, a read-only folder
        print(f"curate: error: {e.filename + ': ' if e.filename else ''}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("curate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
