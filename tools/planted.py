"""Planted near-duplicates with known Jaccard similarity, for tests and benchmarks.

`mutate` edits real text the ways web copies differ (word edits, insertions, boilerplate
changes, reordered paragraphs); `jaccard_exact` measures the exact Jaccard similarity of the
two texts' word 5-gram sets under the same normalisation as the signatures.
"""

from __future__ import annotations

import random

from curate.dedup.normalise import normalise

KINDS = ("word_edits", "insertions", "boilerplate", "reorder")
BOILERPLATE = [
    "Share this article on Facebook Twitter LinkedIn and email it to a friend",
    "Copyright 2024 the publisher all rights reserved terms of use privacy policy",
    "We use cookies to improve your experience on our site by continuing you accept our cookie policy",
    "Subscribe to our newsletter for the latest news offers and updates delivered to your inbox every week",
    "Related posts you may also like the following articles from our archive",
    "Leave a comment your email address will not be published required fields are marked",
    "Skip to main content home about contact search menu login register",
    "Posted in news and updates tagged with community events local stories and more",
]
VOCABULARY = ("time people way year day thing man world life hand part child eye woman place work week case point "
              "government company number group problem fact water money story month lot right study book job word "
              "business issue side kind head house service friend father power hour game line end member law car "
              "city community name president team minute idea kid body information back parent face others level").split()


def shingle_set(text: str, n: int = 5) -> set:
    words = normalise(text).split()
    if len(words) < n:
        return {tuple(words)} if words else set()
    return set(zip(*(words[i:] for i in range(n))))


def jaccard_exact(a: str, b: str, n: int = 5) -> float:
    sa, sb = shingle_set(a, n), shingle_set(b, n)
    return len(sa & sb) / len(sa | sb) if sa or sb else 1.0


def mutate(text: str, rng: random.Random, kind: str, rate: float) -> str:
    """A copy of `text` changed by `kind` with strength `rate` (about the fraction of words)."""
    lines = text.split("\n")
    if kind == "word_edits":
        out = []
        for line in lines:
            words = line.split(" ")
            for i in range(len(words)):
                if words[i] and rng.random() < rate:
                    words[i] = rng.choice(VOCABULARY)
            out.append(" ".join(words))
        return "\n".join(out)
    if kind == "insertions":
        out = []
        for line in lines:
            words = line.split(" ")
            for _ in range(sum(rng.random() < rate for _ in words)):
                words.insert(rng.randrange(len(words) + 1), rng.choice(VOCABULARY))
            out.append(" ".join(words))
        return "\n".join(out)
    if kind == "boilerplate":
        total = max(1, len(text.split()))
        added, head, tail = 0, [], []
        while added < rate * total:
            line = rng.choice(BOILERPLATE)
            (head if rng.random() < 0.5 else tail).append(line)
            added += len(line.split())
        return "\n".join(head + lines + tail)
    if kind == "reorder":
        paragraphs = [p for p in text.split("\n") if p.strip()]
        swaps = max(1, int(rate * len(paragraphs)))
        for _ in range(swaps):
            i, j = rng.randrange(len(paragraphs)), rng.randrange(len(paragraphs))
            paragraphs[i], paragraphs[j] = paragraphs[j], paragraphs[i]
        return "\n".join(paragraphs)
    raise ValueError(f"unknown mutation {kind!r}")
