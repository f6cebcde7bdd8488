"""Helpers the benchmarks share: where the shared data is, and real pages extracted once."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def default_data() -> Path:
    return Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))


def extracted_pages(warc: Path, limit: int) -> list[tuple[str, str]]:
    """(id, text) of the archive's pages, extracted with curate's default extractor once and cached
    in the temp folder."""
    from curate.extract import ExtractText

    extract = ExtractText()
    stat = warc.stat()
    cache = Path(tempfile.gettempdir()) / "curate-bench" / \
        f"{warc.stem}-{stat.st_size}-{int(stat.st_mtime)}-{limit}-{extract.extractor}.jsonl"
    if not cache.is_file():
        from curate.io import ReadDocuments

        docs = extract.run(ReadDocuments([str(warc)], limit=limit).run())
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        with tmp.open("w") as f:
            for doc in docs:
                f.write(json.dumps({"id": doc.id, "text": doc.text}) + "\n")
        tmp.replace(cache)
    return [(r["id"], r["text"]) for r in map(json.loads, cache.read_text().splitlines())]
