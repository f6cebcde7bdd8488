"""The extraction gold set (../shared/data/extraction-gold): its pages decoded as curate's reader
decodes them, its fixed development/held-out split, and its scorer's metric.

The split: page i of gold.jsonl.gz (in file order) is held out when i % 5 == 4; the other four
fifths are for development. Tuning looks only at the development pages (`split="dev"`); the
held-out fifth is reported, not tuned on.

The metric is score.py's, imported from the gold folder itself (token precision / recall / F1 on
lower-cased `\\w+` bags of words, per page, then means).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import pickle
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Page:
    index: int
    url: str
    source: str
    html: str
    gold: str

    @property
    def held_out(self) -> bool:
        return self.index % 5 == 4


def gold_folder(data: Path) -> Path:
    return Path(data) / "extraction-gold"


def load_pages(data: Path, split: str = "all") -> list[Page]:
    """The gold pages ("dev", "held_out" or "all"), HTML decoded by curate's ReadDocuments (cached
    in the temp folder: decoding 788 pages takes a few seconds)."""
    folder = gold_folder(data)
    warc = folder / "pages.warc.gz"
    stat = warc.stat()
    cache = Path(tempfile.gettempdir()) / "curate-bench" / f"extraction-gold-{stat.st_size}-{int(stat.st_mtime)}.pickle"
    if cache.is_file():
        pages = pickle.loads(cache.read_bytes())
    else:
        from curate.io import ReadDocuments

        html = {doc.metadata["url"]: doc.text for doc in ReadDocuments([str(warc)]).run()}
        pages = []
        with gzip.open(folder / "gold.jsonl.gz", "rt", encoding="utf-8") as f:
            for index, line in enumerate(line for line in f if line.strip()):
                record = json.loads(line)
                pages.append(Page(index, record["url"], record["source"], html.get(record["url"], ""),
                                  record["gold_text"]))
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.with_suffix(".tmp").write_bytes(pickle.dumps(pages))
        cache.with_suffix(".tmp").replace(cache)
    if split == "dev":
        return [p for p in pages if not p.held_out]
    if split == "held_out":
        return [p for p in pages if p.held_out]
    return pages


def scorer(data: Path):
    """score.py of the gold folder, as a module (its `prf(gold, pred)` is the metric)."""
    spec = importlib.util.spec_from_file_location("extraction_gold_score", gold_folder(data) / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score(pages: list[Page], texts: list[str], data: Path) -> dict:
    """{"overall": {pages, precision, recall, f1}, "by_source": {...}} as score.py computes them."""
    prf = scorer(data).prf
    groups = defaultdict(list)
    for page, text in zip(pages, texts):
        p, r, f = prf(page.gold, text)
        groups["overall"].append((p, r, f))
        groups[page.source].append((p, r, f))

    def mean(rows):
        n = len(rows)
        return {"pages": n, "precision": round(sum(r[0] for r in rows) / n, 4),
                "recall": round(sum(r[1] for r in rows) / n, 4), "f1": round(sum(r[2] for r in rows) / n, 4)}

    return {"overall": mean(groups.pop("overall")), "by_source": {s: mean(rows) for s, rows in sorted(groups.items())}}
