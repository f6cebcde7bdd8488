"""Texts for training and evaluation from any input `curate run` reads: JSONL(.gz), Parquet or
folders of them (field `text`, e.g. a curate run's output), and WARC/ARC archives, whose HTML
is extracted on the fly with the same ExtractText block the pipelines use."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

from curate.extract import ExtractText
from curate.io.reader import ReadDocuments



@dataclass
class Text:
    id: str
    text: str
    group: str = ""  # passages of one article share a group, so they land in the same split
    meta: dict = field(default_factory=dict)


def read_texts(paths: list[str], extractor: str = "blocks", counts: Counter | None = None,
               text_key: str = "text", limit: int | None = None) -> Iterator[Text]:
    """Every document in `paths` as text (HTML extracted). `counts` collects what was skipped."""
    counts = Counter() if counts is None else counts
    extract = ExtractText(extractor=extractor, timeout=5.0)
    reader = ReadDocuments(paths, text_key=text_key, limit=limit)
    for doc in reader.run():
        counts["documents"] += 1
        if doc.metadata.get("content_kind", "text") == "html":
            reason = extract.process(doc)
            if reason is not None:
                counts[f"extract:{reason}"] += 1
                continue
        if not doc.text.strip():
            counts["empty"] += 1
            continue
        name = str(doc.metadata.get("source_file", "")).rsplit("/", 1)[-1]  # not the folder: splits stay put
        yield Text(id=str(doc.id), text=doc.text, group=f"{name}#{doc.id}",
                   meta=dict(doc.metadata))


def read_labelled(paths: list[str], label_key: str = "label", text_key: str = "text") -> Iterator[tuple[str, int]]:
    """(text, 0/1 label) from JSONL(.gz) or Parquet files that carry a label field."""
    import json

    import fsspec

    from curate.errors import CurateError
    from curate.io.inputs import expand_inputs, file_format

    for path in expand_inputs(paths):
        if file_format(path) == "parquet":
            import pyarrow.parquet as pq

            with fsspec.open(path, "rb") as f:
                rows = pq.read_table(f, columns=[text_key, label_key]).to_pylist()
        elif file_format(path) == "jsonl":
            with fsspec.open(path, "rt", compression="infer", encoding="utf-8") as f:
                rows = [json.loads(line) for line in f if line.strip()]
        else:
            raise CurateError(f"{path}: --labelled reads JSONL or Parquet files with a {label_key!r} field")
        for row in rows:
            if row.get(label_key) is None:
                raise CurateError(f"{path}: a row has no {label_key!r} field")
            if isinstance(row.get(text_key), str) and row[text_key].strip():
                yield row[text_key], int(row[label_key])
