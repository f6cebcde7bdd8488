"""Heuristic filters: curate's rule-set blocks against datatrove's filters, same documents, same
process, one run. Prints progress lines and, last, one JSON object.

    python benchmarks/heuristics.py            # 720 pages of web/pages.warc.gz + all of web-text/
    python benchmarks/heuristics.py --quick    # 120 pages + 240 web-text documents, under a minute

Documents are real: pages extracted with curate's ReadDocuments + ExtractText (cached in a temp
folder after the first run) plus the already-extracted web-text JSONL files. Both sides start
cold (our word cache is empty) and compute every rule set on every document (datatrove's filters
each get a fresh Document; its word cache helps it across its filters as in a pipeline);
`speedup` compares the cold runs, `speedup_warm` our second pass (the steady state of a long
run, where most words are cached). Timing is CPU time (time.process_time) of this one process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import default_data, extracted_pages  # benchmarks/common.py

REPO = Path(__file__).resolve().parent.parent
RULE_SETS = ("gopher_rep", "gopher_quality", "c4", "fineweb")






def load_documents(data: Path, quick: bool) -> list[tuple[str, str]]:
    docs = extracted_pages(data / "web" / "pages.warc.gz", 120 if quick else -1)
    web_text = []
    for path in sorted((data / "web-text").glob("*.jsonl")):
        for i, line in enumerate(path.read_text().splitlines()):
            web_text.append((f"{path.stem}/{i}", json.loads(line)["text"]))
    return docs + (web_text[::2][:240] if quick else web_text)


def run_ours(docs) -> tuple[dict, float, float]:
    """Decisions {(rule set, doc index): failed rule or None}, CPU seconds for the four rule sets
    datatrove has, and for RefinedWeb's line rules (which datatrove lacks) on their own."""
    from datatrove.data import Document

    from curate.filters.heuristics import heuristic_filters

    *blocks, refinedweb = heuristic_filters(annotate_only=True)  # every statistic, every document
    decisions = {}
    start = time.process_time()
    for i, (doc_id, text) in enumerate(docs):
        doc = Document(text=text, id=doc_id)
        for block in blocks:
            block.process(doc)
            decisions[block.name, i] = doc.metadata[f"{block.name}_failed"]
    four = time.process_time() - start
    start = time.process_time()
    for doc_id, text in docs:
        refinedweb.process(Document(text=text, id=doc_id))
    return decisions, four, time.process_time() - start


def run_datatrove(docs) -> tuple[dict, float]:
    from datatrove.data import Document
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter)

    filters = dict(zip(RULE_SETS, (GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(),
                                   FineWebQualityFilter())))
    decisions = {}
    start = time.process_time()
    for i, (doc_id, text) in enumerate(docs):
        for name, f in filters.items():
            result = f.filter(Document(text=text, id=doc_id))
            decisions[name, i] = None if result is True else result[1]
    return decisions, time.process_time() - start


def cause(text: str, ours: str | None, theirs: str | None) -> str:
    """Why one document's decisions differ: a word-split difference, or the two reasons."""
    from datatrove.utils.text import split_into_words

    from curate.filters.heuristics.tokenizer import VOCAB

    our_words, their_words = VOCAB.words_of(text), split_into_words(text)
    if our_words != their_words:
        at = next((i for i, (a, b) in enumerate(zip(our_words, their_words)) if a != b), min(map(len, (our_words, their_words))))
        return f"word split differs at word {at}: ours {our_words[at:at + 3]} vs spaCy {their_words[at:at + 3]}"
    return f"same words; ours failed {ours!r}, datatrove failed {theirs!r}"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data(), help="shared data folder ($CURATE_SHARED_DATA)")
    parser.add_argument("--quick", action="store_true", help="a subset, under a minute")
    args = parser.parse_args(argv)
    import spacy  # noqa: F401  (datatrove's word tokeniser: fail early with a clear message)

    docs = load_documents(args.data, args.quick)
    print(f"{len(docs)} documents, {sum(len(t) for _, t in docs) / 1e6:.1f} M characters", flush=True)
    ours, ours_s, refinedweb_s = run_ours(docs)
    ours_all_s = ours_s + refinedweb_s
    print(f"curate: {ours_s:.2f} s CPU (four rule sets), RefinedWeb {refinedweb_s:.2f} s more", flush=True)
    _, warm_s, _ = run_ours(docs)  # again, word cache warm: the steady state of a long run
    print(f"curate, second pass: {warm_s:.2f} s CPU", flush=True)
    theirs, theirs_s = run_datatrove(docs)
    print(f"datatrove: {theirs_s:.2f} s CPU", flush=True)

    agreement, disagreements = {}, []
    for name in RULE_SETS:
        differ = [i for i in range(len(docs)) if (ours[name, i] is None) != (theirs[name, i] is None)]
        agreement[name] = round(1 - len(differ) / len(docs), 5)
        for i in differ:
            disagreements.append({"rule_set": name, "doc": docs[i][0], "ours": ours[name, i],
                                  "datatrove": theirs[name, i], "cause": cause(docs[i][1], ours[name, i], theirs[name, i])})
    same_reason = {name: round(sum(ours[name, i] == theirs[name, i] for i in range(len(docs))) / len(docs), 5)
                   for name in RULE_SETS}
    kept = {name: round(sum(ours[name, i] is None for i in range(len(docs))) / len(docs), 4) for name in RULE_SETS}
    result = {
        "benchmark": "heuristics", "quick": args.quick, "docs": len(docs),
        "ours_docs_per_s": round(len(docs) / ours_s, 1),
        "ours_docs_per_s_with_refinedweb": round(len(docs) / ours_all_s, 1),
        "datatrove_docs_per_s": round(len(docs) / theirs_s, 1),
        "speedup": round(theirs_s / ours_s, 2),
        "ours_warm_docs_per_s": round(len(docs) / warm_s, 1), "speedup_warm": round(theirs_s / warm_s, 2),
        "agreement": agreement, "same_failing_rule": same_reason, "kept_fraction": kept,
        "disagreements": disagreements,
        "timing": "CPU seconds of one process; both sides cold (warm: our second pass over the same documents); "
                  "every rule set on every document",
    }
    for d in disagreements:
        print(f"disagreement {d['rule_set']} {d['doc']}: {d['cause']}", flush=True)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
