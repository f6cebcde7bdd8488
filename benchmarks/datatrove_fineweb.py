"""datatrove's FineWeb-style pipeline: the baseline of benchmarks/pipeline.py.

Runs in its own virtual environment (datatrove[processing]==0.10.1 with its own trafilatura 1.11,
and spaCy, which datatrove's word-tokenising filters need), never with curate installed:

    WarcReader -> Trafilatura(favour_precision) -> LanguageFilter(en, 0.65)
      -> GopherRepetitionFilter -> GopherQualityFilter -> C4QualityFilter(no terminal-punct rule)
      -> FineWebQualityFilter -> ParquetWriter

as datatrove's examples/fineweb.py chains them (less its URL filter and the dedup that FineWeb runs
as separate jobs), on one task with one worker. The language model is the same lid.176 file curate
uses, put where datatrove's downloader would leave it, so nothing is fetched.

    python datatrove_fineweb.py INPUT_FOLDER OUTPUT_FOLDER --logs DIR --lid-model lid.176.ftz [--limit N]

Prints one JSON line: documents read and kept, and each step's seconds from datatrove's stats.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path


def place_lid_model(model: Path, hf_home: Path) -> None:
    """Where datatrove.io.cached_asset_path_or_download looks for lid.176.bin, with its marker."""
    folder = hf_home / "assets" / "datatrove" / "lid" / "ft176"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "https:__dl.fbaipublicfiles.com_fasttext_supervised-models_lid.176.bin"
    if not target.exists():
        shutil.copyfile(model, target)
    Path(f"{target}.completed").touch()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input_folder")
    parser.add_argument("output_folder")
    parser.add_argument("--logs", required=True)
    parser.add_argument("--lid-model", required=True)
    parser.add_argument("--limit", type=int, default=-1)
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()

    hf_home = Path(args.logs) / "hf-home"
    place_lid_model(Path(args.lid_model), hf_home)
    os.environ["HF_HOME"] = str(hf_home)  # before datatrove is imported: it reads the cache path then

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter, LanguageFilter)
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import ParquetWriter

    pipeline = [
        WarcReader(args.input_folder, glob_pattern="*.warc.gz", limit=args.limit),
        Trafilatura(favour_precision=True, timeout=args.timeout),
        LanguageFilter(languages=["en"], language_threshold=0.65),
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
        ParquetWriter(args.output_folder),
    ]
    LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=str(Path(args.logs) / "logs")).run()

    def count(counters: dict, key: str) -> int:  # datatrove writes a counter as a number or {"total": ...}
        value = counters.get(key, 0)
        return int(value["total"] if isinstance(value, dict) else value)

    # a step's "time_stats" total: wall seconds spent inside the step itself (datatrove times each
    # step's own work, not the steps before it in the generator chain)
    stats = json.loads((Path(args.logs) / "logs" / "stats.json").read_text())
    steps = [{"name": step["name"], "seconds": round(step.get("time_stats", {}).get("total", 0.0), 3),
              "dropped": count(step.get("stats", {}), "dropped")} for step in stats]
    print(json.dumps({"docs_read": count(stats[0]["stats"], "documents"), "kept": count(stats[-1]["stats"], "total"),
                      "steps": steps}))


if __name__ == "__main__":
    main()
