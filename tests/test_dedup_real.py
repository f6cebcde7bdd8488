"""Dedup on real documents (../shared/data) with planted near duplicates of known Jaccard."""

from __future__ import annotations

import itertools
import json
import random

import pyarrow.parquet as pq
from datatrove.data import Document

from curate.dedup import DedupClusters, DedupSignatures, MinHashConfig
from curate.dedup.steps import StageDocuments
from tools.planted import KINDS, jaccard_exact, mutate
from curate.step import Funnel


def test_planted_near_duplicates_of_real_documents(shared_data, tmp_path):
    with open(shared_data / "web-text" / "dclm-quality-labelled-499.jsonl") as f:
        bases = [json.loads(line)["text"] for line in f][:150]
    rng = random.Random(7)
    docs, family = [], []
    for i, base in enumerate(bases):
        docs.append(base)
        family.append(i)
        kind = KINDS[i % len(KINDS)]
        docs.append(mutate(base, rng, kind, {"word_edits": 0.01, "insertions": 0.01, "boilerplate": 0.1,
                                               "reorder": 0.5}[kind]))
        family.append(i)
    config = MinHashConfig()
    work = str(tmp_path)
    tasks = 3
    for rank in range(tasks):  # documents dealt over 3 tasks: twins sit in different tasks
        hashed = DedupSignatures(work, fuzzy=config).run(
            (Document(text=docs[i], id=f"{i:04d}") for i in range(rank, len(docs), tasks)), rank, tasks)
        list(StageDocuments(work).run(hashed, rank, tasks))  # the texts, for the exact check of close pairs
    DedupClusters(work, fuzzy=config).cluster(Funnel())
    kept_id = {}
    for rank in range(tasks):
        table = pq.read_table(tmp_path / "clusters" / f"{rank:05d}.parquet").to_pydict()
        mine = list(range(rank, len(docs), tasks))
        for row, kept in zip(table["row"], table["kept_id"]):
            kept_id[mine[row]] = int(kept)
    # every cluster's kept document is in the cluster, and the cluster is one family (real
    # documents of the DCLM sample are not near duplicates of each other)
    for doc, kept in kept_id.items():
        assert kept_id[kept] == kept and family[kept] == family[doc]
    pairs = [(2 * i, 2 * i + 1) for i in range(len(bases))]
    similar = [p for p in pairs if jaccard_exact(docs[p[0]], docs[p[1]]) >= 0.9]
    found = [p for p in similar if p[0] in kept_id and kept_id.get(p[1]) == kept_id[p[0]]]
    assert len(similar) >= 60 and len(found) / len(similar) >= 0.95
    dissimilar = [p for p in pairs if jaccard_exact(docs[p[0]], docs[p[1]]) < 0.5]
    merged = [p for p in dissimilar if p[0] in kept_id and kept_id.get(p[1]) == kept_id[p[0]]]
    assert len(merged) <= max(1, len(dissimilar) // 20)
    assert not any(family[a] != family[b] for a, b in itertools.combinations(kept_id, 2)
                   if kept_id[a] == kept_id[b])
