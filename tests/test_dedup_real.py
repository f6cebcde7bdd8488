"""Dedup on real documents (../shared/data) with planted near duplicates of known Jaccard."""

from __future__ import annotations

import itertools
import json
import random

from curate.dedup import MinHasher, dedup_in_process, normalise
from curate.io.reader import ReadDocuments
from tools.planted import KINDS, jaccard_exact, mutate


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
    # documents dealt over 3 tasks: twins sit in different tasks
    kept_id = {doc: kept for doc, (kept, _) in dedup_in_process(docs, str(tmp_path), tasks=3).items()}
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


def _planted(shared_data, bases_wanted: int = 160, seed: int = 11) -> list[str]:
    """Real DCLM documents, each with 0-3 copies mutated at random rates (J spread around 0.8)."""
    with open(shared_data / "web-text" / "dclm-quality-labelled-499.jsonl") as f:
        bases = [t for t in (json.loads(line)["text"] for line in f) if 60 <= len(t.split()) <= 1500][:bases_wanted]
    rng = random.Random(seed)
    rates = {"word_edits": (0.0, 0.06), "insertions": (0.0, 0.06), "boilerplate": (0.0, 0.5), "reorder": (0.0, 1.0)}
    docs = []
    for base in bases:
        docs.append(base)
        for _ in range(rng.choice([0, 1, 2, 3])):
            kind = rng.choice(KINDS)
            docs.append(mutate(base, rng, kind, rng.uniform(*rates[kind])))
    rng.shuffle(docs)
    return docs


def _dedup(docs: list[str], work, tasks: int) -> dict[int, int]:
    """Every dedup stage in process with `tasks` tasks (documents dealt round-robin); the kept
    document (an index into docs) of every removed one."""
    return {doc: kept for doc, (kept, how) in dedup_in_process(docs, str(work), tasks=tasks).items() if how}


def test_the_kept_set_is_the_same_for_1_4_and_16_tasks_and_every_removal_is_right(shared_data, tmp_path):
    """Clustering across tasks (edges by key range, label propagation, keepers by label range)
    keeps the same documents whatever the number of tasks; document-level precision and recall
    against the exact Jaccard >= 0.8 of the planted set meet the dedup goals (0.97 / 0.95)."""
    docs = _planted(shared_data)
    runs = {tasks: _dedup(docs, tmp_path / f"t{tasks}", tasks) for tasks in (1, 4, 16)}
    assert runs[1] == runs[4] == runs[16]
    removed = runs[1]
    assert len(removed) >= 100
    correct = sum(jaccard_exact(docs[doc], docs[kept]) >= 0.8 for doc, kept in removed.items())
    kept = [i for i in range(len(docs)) if i not in removed]
    words = [set(d.split()) for d in docs]
    missed = 0
    for a, b in itertools.combinations(kept, 2):  # a kept pair of twins: one should have gone
        if len(words[a] & words[b]) > 0.5 * min(len(words[a]), len(words[b])) and \
                jaccard_exact(docs[a], docs[b]) >= 0.8:
            missed += 1
    assert correct / len(removed) >= 0.97
    assert correct / (correct + missed) >= 0.95


def test_normalise_and_signatures_match_the_plain_definition_on_real_text(shared_data):
    from test_dedup import reference_normalise, reference_signature

    texts = []
    for name in ("web-text/dclm-quality-labelled-499.jsonl", "web-text/c4-ccnet-redpajama-samples.jsonl",
                 "wikipedia/enwiki-2016-sample.jsonl"):
        with open(shared_data / name) as f:
            texts += [json.loads(line)["text"] for line in itertools.islice(f, 200)]
    # 26 languages, Greek and Cyrillic among them
    texts += [doc.text for doc in ReadDocuments([str(shared_data / "multilingual" / "debian-handbook-26-languages.warc.gz")]).run()]
    assert sum(not t.isascii() for t in texts) > 300
    assert [normalise(t) for t in texts] == [reference_normalise(t) for t in texts]
    hasher = MinHasher(num_perm=8)
    assert hasher.signatures(texts[::10]).tolist() == [reference_signature(t, hasher) for t in texts[::10]]
