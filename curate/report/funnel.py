"""The run funnel: per stage, documents and bytes in and out, CPU seconds, and why documents
were dropped, summed over every task's saved stats (so a resumed run reports the whole run)."""

from __future__ import annotations

import json
import os

from datatrove.utils.stats import PipelineStats

from curate.files import files_in
from curate.step import BYTES_IN, BYTES_OUT, CPU_S, DOCS_IN, DOCS_OUT, DROPPED, SKIPPED


def _total(stats: dict, key: str) -> float:
    value = stats.get(key, 0)
    return value.get("total", 0) if isinstance(value, dict) else value


def collect_funnel(logging_dir: str, world_size: int | None = None) -> dict:
    stat_files = files_in(logging_dir, "stats/*.json")
    merged = PipelineStats()
    for path in stat_files:
        with open(path) as f:
            merged += PipelineStats.from_json(json.load(f))
    stages = []
    for block in merged.stats:
        stats = block.stats.to_dict()
        dropped = {k[len(DROPPED):]: _total(stats, k) for k in stats if k.startswith(DROPPED)}
        skipped = {k[len(SKIPPED):]: _total(stats, k) for k in stats if k.startswith(SKIPPED)}
        known = {DOCS_IN, DOCS_OUT, BYTES_IN, BYTES_OUT, CPU_S}
        other = {k: _total(stats, k) for k in stats if k not in known and not k.startswith((DROPPED, SKIPPED))}
        if DOCS_IN not in stats:  # a datatrove block: use its own counters
            docs_in = _total(stats, "total") or _total(stats, "documents")
            docs_out = _total(stats, "forwarded") or docs_in - _total(stats, "dropped")
        else:
            docs_in, docs_out = _total(stats, DOCS_IN), _total(stats, DOCS_OUT)
        stages.append({
            "stage": block.name.split(": ", 1)[-1],
            "docs_in": int(docs_in),
            "docs_out": int(docs_out),
            "bytes_in": int(_total(stats, BYTES_IN)),
            "bytes_out": int(_total(stats, BYTES_OUT)),
            "cpu_s": round(float(_total(stats, CPU_S)) or block.time_stats.total, 3),
            "dropped": dict(sorted(dropped.items())),
            "skipped": dict(sorted(skipped.items())),
            "other": dict(sorted(other.items())),
        })
    errors = []
    for path in files_in(logging_dir, "errors/*.jsonl"):
        with open(path) as f:
            errors.extend(json.loads(line) for line in f if line.strip())
    return {"tasks_reported": len(stat_files), "tasks": world_size, "stages": stages, "file_errors": errors}


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def format_funnel(funnel: dict) -> str:
    """A plain-text table (the console and logs both read it)."""
    header = f"{'stage':<16}{'docs in':>10}{'docs out':>10}{'kept':>8}{'bytes in':>11}{'bytes out':>11}{'cpu s':>9}"
    lines = [header, "-" * len(header)]
    for s in funnel["stages"]:
        kept = f"{100 * s['docs_out'] / s['docs_in']:.1f}%" if s["docs_in"] else "-"
        lines.append(f"{s['stage']:<16}{s['docs_in']:>10}{s['docs_out']:>10}{kept:>8}"
                     f"{_size(s['bytes_in']):>11}{_size(s['bytes_out']):>11}{s['cpu_s']:>9.2f}")
        for label, reasons in (("skipped", s["skipped"]), ("dropped", s["dropped"])):
            if reasons:
                top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
                lines.append(f"  {label}: " + ", ".join(f"{k}={int(v)}" for k, v in top))
    if funnel["file_errors"]:
        lines.append(f"file errors ({len(funnel['file_errors'])}):")
        lines.extend(f"  {e['file']}: {e['error']}" for e in funnel["file_errors"])
    return "\n".join(lines)


def write_funnel(funnel: dict, output_dir: str) -> str:
    path = os.path.join(output_dir, "funnel.json")
    with open(path, "w") as f:
        json.dump(funnel, f, indent=2)
    return path
