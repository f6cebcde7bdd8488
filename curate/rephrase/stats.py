"""Per-run rephrase stats: requests, cache hits, failures by cause, tokens, latency, cost.

Each task saves its counters and a latency histogram as JSON (STATS_DIR/<rank>.json); the run's
summary merges them, so a resumed run reports every task's last attempt. Latencies go into
logarithmic buckets 5% wide: percentiles stay within 5% at any run size, in a few hundred numbers.
"""

from __future__ import annotations

import math
from collections import Counter

from curate.storage import glob as files_in
from curate.storage import join, read_json, write_json

BUCKET_RATIO = 1.05
MIN_LATENCY = 0.001  # seconds; anything faster lands in the first bucket


def _bucket(seconds: float) -> int:
    return max(0, int(math.log(max(seconds, MIN_LATENCY) / MIN_LATENCY, BUCKET_RATIO)))


def _bucket_value(index: int) -> float:
    return MIN_LATENCY * BUCKET_RATIO ** (index + 0.5)  # the bucket's geometric middle


class RephraseStats:
    """Counters (a Counter, so tasks merge by adding) and a latency histogram of successful requests."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.latency: Counter[int] = Counter()
        self.started: float | None = None  # wall-clock of the task's first request
        self.finished: float | None = None  # and of its last answer

    # --- recording -------------------------------------------------------------------------
    def request(self, seconds: float, prompt_tokens: int, completion_tokens: int, now: float) -> None:
        self.counts["requests"] += 1
        self.counts["prompt_tokens"] += prompt_tokens
        self.counts["completion_tokens"] += completion_tokens
        self.latency[_bucket(seconds)] += 1
        self.finished = now

    def attempt_failed(self, cause: str, now: float) -> None:
        """One HTTP attempt that failed (it may be retried): counted as a request and by cause."""
        self.counts["requests"] += 1
        self.counts[f"errors.{cause}"] += 1
        self.finished = now

    def start(self, now: float) -> None:
        if self.started is None:
            self.started = now

    # --- saving and merging ----------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"counts": dict(sorted(self.counts.items())), "latency_buckets": {str(k): v for k, v in
                sorted(self.latency.items())}, "started": self.started, "finished": self.finished}

    @classmethod
    def from_dict(cls, data: dict) -> "RephraseStats":
        stats = cls()
        stats.counts.update(data.get("counts", {}))
        stats.latency.update({int(k): v for k, v in data.get("latency_buckets", {}).items()})
        stats.started, stats.finished = data.get("started"), data.get("finished")
        return stats

    def __iadd__(self, other: "RephraseStats") -> "RephraseStats":
        self.counts.update(other.counts)
        self.latency.update(other.latency)
        starts = [t for t in (self.started, other.started) if t is not None]
        ends = [t for t in (self.finished, other.finished) if t is not None]
        self.started, self.finished = (min(starts) if starts else None), (max(ends) if ends else None)
        return self

    def save(self, folder: str, rank: int) -> str:
        path = join(folder, f"{rank:05d}.json")
        write_json(path, self.to_dict())
        return path

    @classmethod
    def load_folder(cls, folder: str) -> "RephraseStats":
        total = cls()
        for path in files_in(folder, "*.json"):
            total += cls.from_dict(read_json(path))
        return total

    # --- reporting -------------------------------------------------------------------------
    def percentile(self, q: float) -> float | None:
        n = sum(self.latency.values())
        if not n:
            return None
        rank = max(1, math.ceil(q / 100 * n))
        seen = 0
        for index in sorted(self.latency):
            seen += self.latency[index]
            if seen >= rank:
                return _bucket_value(index)
        return None

    def summary(self, price_prompt_per_m: float | None = None, price_completion_per_m: float | None = None) -> dict:
        c = self.counts
        wall = (self.finished - self.started) if self.started is not None and self.finished is not None else 0.0
        cost = None
        if price_prompt_per_m is not None or price_completion_per_m is not None:
            cost = round(c["prompt_tokens"] * (price_prompt_per_m or 0) / 1e6
                         + c["completion_tokens"] * (price_completion_per_m or 0) / 1e6, 6)
        latency = {f"p{q}": (round(v, 4) if (v := self.percentile(q)) is not None else None) for q in (50, 90, 99)}
        return {
            "documents": c["documents"],
            "statuses": {k.split(".", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("status.")},
            "chunks": c["chunks"],
            "cache_hits": c["cache_hits"],
            "requests": c["requests"],
            "retries": c["retries"],
            "errors": {k.split(".", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("errors.")},
            "failed": {k.split(".", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("failed.")},
            "prompt_tokens": c["prompt_tokens"],
            "completion_tokens": c["completion_tokens"],
            "latency_s": latency,
            "wall_s": round(wall, 3),
            "completion_tokens_per_s": round(c["completion_tokens"] / wall, 2) if wall > 0 else None,
            "cost_usd": cost,
        }


def format_summary(s: dict) -> str:
    def pairs(d: dict) -> str:
        return ", ".join(f"{k}={v}" for k, v in d.items()) or "none"

    lat = s["latency_s"]
    latency = " ".join(f"{k} {v:.2f}s" for k, v in lat.items() if v is not None) or "-"
    lines = [
        f"rephrase: {s['documents']} documents ({pairs(s['statuses'])}), {s['chunks']} chunks, "
        f"{s['cache_hits']} from the cache",
        f"  requests {s['requests']} (retries {s['retries']}; errors: {pairs(s['errors'])}; "
        f"failed chunks: {pairs(s['failed'])})",
        f"  tokens: prompt {s['prompt_tokens']}, completion {s['completion_tokens']}; latency {latency}; "
        f"{s['completion_tokens_per_s'] or 0} completion tokens/s"
        + (f"; cost ${s['cost_usd']:.4f}" if s["cost_usd"] is not None else ""),
    ]
    return "\n".join(lines)
