"""Decontamination: eval passages planted, with small edits, inside real web documents are caught
through `curate run`; unrelated documents are not; the report says what matched; the index's
memory per n-gram."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.cli import main
from curate.decontam import NgramIndex

PIPELINE = """
from curate.decontam import Decontaminate
from curate.io import ReadDocuments, WriteParquet

def build(run):
    return [ReadDocuments(run.inputs), Decontaminate({{"wikitext2": {eval_path!r}}}, annotate_only={annotate}),
            WriteParquet(run.output)]
"""


def edited(words: list[str], rng: random.Random) -> list[str]:
    """Every 20th word replaced, and the case of a few changed: exact text matching misses it."""
    out = [w.upper() if rng.random() < 0.05 else w for w in words]
    for i in range(rng.randrange(20), len(out), 20):
        out[i] = rng.choice(["lorem", "ipsum", "dolor"])
    return out


@pytest.fixture(scope="module")
def planted(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("decontam")
    with open(shared_data / "wikipedia" / "wikitext2-valid.jsonl") as f:
        items = [t for line in f if len((t := json.loads(line)["text"]).split()) >= 80][:40]
    eval_path = folder / "eval.jsonl"
    eval_path.write_text("".join(json.dumps({"text": t}) + "\n" for t in items))
    with open(shared_data / "web-text" / "dclm-quality-labelled-499.jsonl") as f:
        web = [json.loads(line)["text"] for line in f][:200]
    rng = random.Random(5)
    docs, planted_ids, item_of = [], set(), {}
    for i, text in enumerate(web):
        if i % 7 == 0:  # a passage of 40-60 words of an eval item, edited, inside the web page
            item = rng.randrange(len(items))
            words = items[item].split()
            start = rng.randrange(len(words) - 60)
            passage = " ".join(edited(words[start:start + rng.randint(40, 60)], rng))
            paragraphs = text.split("\n")
            at = rng.randrange(len(paragraphs) + 1)
            text = "\n".join(paragraphs[:at] + [passage] + paragraphs[at:])
            planted_ids.add(str(i))
            item_of[str(i)] = item
        docs.append({"id": str(i), "text": text})
    (folder / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    return folder, eval_path, planted_ids, item_of


def run(folder, eval_path, annotate: bool, name: str):
    pipeline = folder / f"{name}.py"
    pipeline.write_text(PIPELINE.format(eval_path=str(eval_path), annotate=annotate))
    out = folder / name
    assert main(["run", str(pipeline), "--input", str(folder / "docs.jsonl"), "--output", str(out),
                 "--tasks", "2", "--workers", "2"]) == 0
    return out


def test_planted_eval_passages_are_caught_and_unrelated_documents_are_not(planted):
    folder, eval_path, planted_ids, item_of = planted
    out = run(folder, eval_path, False, "removed")
    kept = {r["id"] for r in pq.read_table(out).to_pylist()}
    assert len(planted_ids) == 29
    assert kept == {str(i) for i in range(200)} - planted_ids
    hits = pq.read_table(f"{out}.curate/decontaminate/hits").to_pylist()
    assert {h["id"] for h in hits} == planted_ids
    assert all(h["eval_item"] == item_of[h["id"]] and h["eval_set"] == "wikitext2" and h["ngrams"] >= 1 for h in hits)
    assert all(len(h["first_ngram"].split()) == 13 for h in hits)
    report = json.loads(open(f"{out}.curate/decontaminate/report.json").read())["wikitext2"]
    assert report["documents_hit"] == 29 and report["items"] == 40
    assert report["items_matched"] == len(set(item_of.values()))
    funnel = json.loads(open(f"{out}.curate/funnel.json").read())
    row = next(r for r in funnel["stages"] if r["stage"] == "decontaminate")
    assert row["dropped"] == {"eval:wikitext2": 29} and row["other"]["hits.wikitext2"] == 29


def test_annotate_only_keeps_every_document_and_marks_the_hits(planted):
    folder, eval_path, planted_ids, _ = planted
    out = run(folder, eval_path, True, "annotated")
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == 200
    assert {r["id"] for r in rows if r["decontaminate_eval_set"] == "wikitext2"} == planted_ids
    assert all((r["decontaminate_ngrams"] > 0) == (r["id"] in planted_ids) for r in rows)


def test_an_index_of_a_million_ngrams_takes_16_bytes_each():
    rng = random.Random(1)
    vocabulary = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6)) for _ in range(5000)]
    texts = [" ".join(rng.choice(vocabulary) for _ in range(1012)) for _ in range(1000)]  # 1,000 x 1,000 13-grams
    index = NgramIndex.build({"synthetic": texts})
    assert len(index) == 1_000_000  # random 13-grams over 5,000 words do not repeat
    assert sum(a.nbytes for a in (index.hashes, index.sets, index.items)) / len(index) == 16
    found = index.matches([texts[3][:2000], " ".join(vocabulary[:20])])
    assert found[0] is not None and found[0].item == 3 and found[1] is None
    assert np.all(np.diff(index.hashes.astype(np.float64)) >= 0)


def test_runs_of_numbers_do_not_tie_unrelated_texts(shared_data):
    # normalisation writes every number as 0: two tables of different figures would share the
    # n-gram "0 0 ... 0"; the first real case was a Wikipedia article and a web page's price list
    table = "Results: " + " ".join(str(1900 + i) for i in range(30)) + " in total."
    prices = "Our prices " + " ".join(f"{i}.99" for i in range(30)) + " per month."
    index = NgramIndex.build({"eval": [table, "the quick brown fox jumps over the lazy dog " * 3]})
    assert index.stats["eval"]["numbers_only_ngrams"] > 0
    found = index.matches([prices, "we saw the quick brown fox jumps over the lazy dog the quick brown fox jumps over",
                           "Results: 1900 1901 1902 1903 1904 1905 1906 1907 1908 1909 1910 1911 1912 1913"])
    assert found[0] is None  # numbers only: not a match
    assert found[1] is not None and found[1].item == 1
    assert found[2] is not None and found[2].item == 0  # words and numbers together still match
