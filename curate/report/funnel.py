"""The run funnel: per block, documents and bytes in and out, CPU seconds, and why documents were
dropped, summed over every task's saved stats (so a resumed run reports the whole run).

Blocks marked `internal` (dedup's hashing, staging and clustering) get no row: their CPU seconds
and counters are added to the next block's row (their counters prefixed with their name).
"""

from __future__ import annotations

import json

from datatrove.utils.stats import PipelineStats

from curate.storage import glob as files_in
from curate.storage import join, open_file, read_json, write_json
from curate.step import BYTES_IN, BYTES_OUT, CPU_S, DOCS_IN, DOCS_OUT, DROPPED, SKIPPED, contract

# reader counters that mean damage or unreadable input: printed with the funnel
NOTABLE = ("file_errors", "resync", "bad_content_length", "content_length_mismatch", "truncated_records",
           "cut_at_next_record", "corrupt_gzip_members", "leading_garbage", "bad_values", "too_large_lines",
           "charset_override", "not_regular_files")


def _total(stats: dict, key: str) -> float:
    value = stats.get(key, 0)
    return value.get("total", 0) if isinstance(value, dict) else value


def collect_stage(logging_dir: str, steps: list, tasks: int) -> dict:
    """One stage's rows (one per step, internal ones marked) and task count."""
    stat_files = files_in(logging_dir, "stats/*.json")
    merged = PipelineStats()
    for path in stat_files:
        merged += PipelineStats.from_json(read_json(path))
    # datatrove saves stats for the steps that have them (plain functions have none)
    blocks = [contract(step) for step in steps if hasattr(step, "stats")]
    rows = [_row(block.name, block.internal, stats.stats.to_dict(), stats.time_stats.total)
            for block, stats in zip(blocks, merged.stats)]
    return {"tasks": tasks, "tasks_reported": len(stat_files), "rows": rows}


def collect_errors(folder: str) -> list[dict]:
    """The file-level failures the run's readers saved (one JSON line each)."""
    errors = []
    for path in files_in(folder, "*.jsonl"):
        with open_file(path, "rt") as f:
            errors.extend(json.loads(line) for line in f if line.strip())
    return errors


def _row(name: str, internal: bool, stats: dict, seconds: float) -> dict:
    known = {DOCS_IN, DOCS_OUT, BYTES_IN, BYTES_OUT, CPU_S}
    if DOCS_IN not in stats:  # a datatrove block: use its own counters
        docs_in = _total(stats, "total") or _total(stats, "documents")
        docs_out = _total(stats, "forwarded") or docs_in - _total(stats, "dropped")
    else:
        docs_in, docs_out = _total(stats, DOCS_IN), _total(stats, DOCS_OUT)
    return {
        "stage": name,
        "internal": internal,
        "docs_in": int(docs_in),
        "docs_out": int(docs_out),
        "bytes_in": int(_total(stats, BYTES_IN)),
        "bytes_out": int(_total(stats, BYTES_OUT)),
        "cpu_s": round(float(_total(stats, CPU_S)) or seconds, 3),
        "dropped": {k[len(DROPPED):]: _total(stats, k) for k in sorted(stats) if k.startswith(DROPPED)},
        "skipped": {k[len(SKIPPED):]: _total(stats, k) for k in sorted(stats) if k.startswith(SKIPPED)},
        "other": {k: _total(stats, k) for k in sorted(stats) if k not in known and not k.startswith((DROPPED, SKIPPED))},
    }


def run_funnel(stages: list[dict], tasks: int, file_errors: list[dict]) -> dict:
    """One funnel for a run of one or more stages (those that never ran count as 0 tasks done).
    `tasks_reported` is the run's share of `tasks` done in its least complete stage."""
    done = min(stage["tasks_reported"] / stage["tasks"] for stage in stages)
    return {"tasks_reported": int(done * tasks), "tasks": tasks,
            "stages": fold_internal([row for stage in stages for row in stage["rows"]]),
            "file_errors": file_errors,
            "stage_tasks": [{"tasks": s["tasks"], "tasks_reported": s["tasks_reported"]} for s in stages]}


def fold_internal(rows: list[dict]) -> list[dict]:
    shown, pending_cpu, pending_other = [], 0.0, {}
    for index, row in enumerate(rows):
        row = dict(row)
        if row.pop("internal") and index < len(rows) - 1:
            pending_cpu += row["cpu_s"]
            pending_other[f"{row['stage']}.cpu_s"] = row["cpu_s"]
            pending_other.update({f"{row['stage']}.{k}": v for k, v in row["other"].items()})
            continue
        row["cpu_s"] = round(row["cpu_s"] + pending_cpu, 3)
        row["other"] = {**row["other"], **pending_other}
        pending_cpu, pending_other = 0.0, {}
        shown.append(row)
    return shown


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
        notable = {k: v for k, v in s["other"].items() if k in NOTABLE and v}
        for label, reasons in (("skipped", s["skipped"]), ("dropped", s["dropped"]), ("damage", notable)):
            if reasons:
                top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
                lines.append(f"  {label}: " + ", ".join(f"{k}={int(v)}" for k, v in top))
    if funnel["tasks_reported"] < funnel["tasks"]:
        lines.append(f"incomplete: {funnel['tasks_reported']} of {funnel['tasks']} tasks finished; "
                     "rerun the same command to resume")
    if funnel["file_errors"]:
        lines.append(f"file errors ({len(funnel['file_errors'])}):")
        lines.extend(f"  {e['file']}: {e['error']}" for e in funnel["file_errors"])
    return "\n".join(lines)


def write_funnel(funnel: dict, run_dir: str) -> str:
    path = join(run_dir, "funnel.json")
    write_json(path, funnel)
    return path
