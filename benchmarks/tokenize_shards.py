"""Tokenize benchmark: tokens/s of curate's tokenize stages against the same tokenizer's
`encode_batch` in a plain loop. The last stdout line is one JSON object.

    python benchmarks/tokenize_shards.py            # ~40 MB of real text, every format
    python benchmarks/tokenize_shards.py --quick    # ~5 MB, under a minute, same keys

Input: the real documents of ../shared/data (DCLM, C4/CCNet/RedPajama, Wikipedia), repeated to
the size asked; tokenizer: ../shared/data/tokenizers/gpt2-tokenizer.json. Baseline: batches of
1,000 texts through `Tokenizer.encode_batch(texts, add_special_tokens=False)`, ids kept as lists.
curate: TokenizeDocuments (encode, append the end of document, write the task's tokens and index)
then WriteTokenShards (shuffle, write the shards), in this process, on the same documents and
batches, per format. Each curate run is paired with a baseline run just before it; ratio = the
median over --rounds of baseline seconds / curate seconds (and the range); tokens/s are medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from datatrove.data import Document  # noqa: E402

from curate.step import RunContext  # noqa: E402
from curate.tokens import FORMATS, TokenizeDocuments, WriteTokenShards  # noqa: E402

SOURCES = ["web-text/dclm-quality-labelled-499.jsonl", "web-text/c4-ccnet-redpajama-samples.jsonl",
           "wikipedia/enwiki-2016-sample.jsonl"]


def load(data: Path, megabytes: float) -> list[str]:
    texts = []
    for name in SOURCES:
        with open(data / name) as f:
            texts += [t for line in f if (t := json.loads(line).get("text"))]
    size = sum(len(t.encode()) for t in texts)
    return texts * max(1, round(megabytes * 1e6 / size))


def baseline(tokenizer, texts: list[str]) -> int:
    tokens = 0
    for i in range(0, len(texts), 1000):
        for enc in tokenizer.encode_batch(texts[i:i + 1000], add_special_tokens=False):
            tokens += len(enc.ids) + 1  # + the end of document curate appends
    return tokens


def curate_stages(path: str, texts: list[str], fmt: str, work: str) -> int:
    ctx = RunContext(output=os.path.join(work, "tokens"))
    first, second = (cls(path, format=fmt, shards=1) for cls in (TokenizeDocuments, WriteTokenShards))
    for step in (first, second):
        step.prepare(ctx)
    docs = (Document(text=t, id=str(i), metadata={"source_file": "bench"}) for i, t in enumerate(texts))
    for _ in first.run(docs, 0, 1):
        pass
    for _ in second.run(None, 0, 1):
        pass
    return int(first.stats.stats["tokens"].total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", default=os.environ.get("CURATE_SHARED_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--megabytes", type=float, default=None, help="input size (default 40, --quick 5)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds, best of (default 3, --quick 2)")
    args = parser.parse_args()
    from tokenizers import Tokenizer

    data = Path(args.data)
    path = str(data / "tokenizers" / "gpt2-tokenizer.json")
    texts = load(data, args.megabytes or (5 if args.quick else 40))
    tokenizer = Tokenizer.from_file(path)
    baseline(tokenizer, texts[:200])  # warm up
    rounds = args.rounds or (2 if args.quick else 3)
    seconds: dict[str, list[float]] = {name: [] for name in ("baseline", *FORMATS)}
    ratios: dict[str, list[float]] = {fmt: [] for fmt in FORMATS}
    tokens = {}
    # the speed of this machine drifts by ~20% over minutes (a shared host): each curate run is
    # paired with a baseline run just before it, and the ratio is the median of the pairs' ratios
    for _ in range(rounds):
        for fmt in FORMATS:
            start = time.perf_counter()
            tokens["baseline"] = baseline(tokenizer, texts)
            seconds["baseline"].append(time.perf_counter() - start)
            with tempfile.TemporaryDirectory() as work:
                start = time.perf_counter()
                tokens[fmt] = curate_stages(path, texts, fmt, work)
                seconds[fmt].append(time.perf_counter() - start)
            ratios[fmt].append(seconds["baseline"][-1] / seconds[fmt][-1])
    assert all(count == tokens["baseline"] for count in tokens.values()), tokens
    rate = {name: tokens["baseline"] / statistics.median(times) for name, times in seconds.items()}
    result = {"quick": args.quick, "documents": len(texts), "megabytes": round(sum(len(t.encode()) for t in texts) / 1e6, 1),
              "tokens": tokens["baseline"], "rounds": rounds, "cpus": os.cpu_count(),
              "baseline_tokens_per_s": round(rate["baseline"])}
    for fmt in FORMATS:
        result[f"{fmt}_tokens_per_s"] = round(rate[fmt])
        result[f"{fmt}_ratio_vs_encode_batch"] = round(statistics.median(ratios[fmt]), 3)
        result[f"{fmt}_ratio_range"] = [round(min(ratios[fmt]), 3), round(max(ratios[fmt]), 3)]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
