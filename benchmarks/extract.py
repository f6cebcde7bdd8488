#!/usr/bin/env python
"""Main-text extraction: speed and quality of curate's extractors on real pages, in one run.

    python benchmarks/extract.py            # 3 interleaved rounds over all pages (~3 minutes)
    python benchmarks/extract.py --quick    # 1 round, web pages cut to 150 (< 1 minute, same keys)
    python benchmarks/extract.py --data /path/to/shared/data

Extractors: "blocks" (curate's own, ExtractText's default), "trafilatura" (favor_precision, as
datatrove calls it), "resiliparse" (extract_plain_text, main_content=True): the functions
ExtractText calls, one process, one page at a time.

Inputs (HTML decoded by curate's reader, in memory before timing):
- gold: ../shared/data/extraction-gold/pages.warc.gz, 788 pages from 9 benchmarks with human gold
  text; their scores use the gold folder's score.py metric (token P/R/F1, mean per page), overall,
  per source, and on the fixed split (tools/extraction_gold.py: page i is held out when i % 5 == 4;
  the extractor was tuned on the other four fifths only).
- web: ../shared/data/web/pages.warc.gz, 720 CommonCrawl pages (no gold).

Speed: each round times every extractor on every input, in an order that rotates between rounds
(so a busy spell of the machine does not fall on one extractor); per extractor the median round.
pages/s is wall-clock (time.perf_counter), CPU ms/page is process CPU time; warm-up (imports, the
first page) is not timed. `speedup_vs_trafilatura` = blocks' pages/s / trafilatura's over both
inputs together. The parsers under the extractors are timed too (parse + a walk over every node,
reading text): the reason blocks is built on lexbor (selectolax).

Human-readable lines go to stdout; the LAST line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

from common import REPO, default_data  # benchmarks/common.py

sys.path.insert(0, str(REPO))  # tools/extraction_gold.py

QUICK_WEB_PAGES = 150
EXTRACTORS = ("blocks", "trafilatura", "resiliparse")


def extractor_functions() -> dict:
    from curate.extract.extract import blocks_extract, resiliparse_extract, trafilatura_extract

    return {"blocks": blocks_extract, "trafilatura": trafilatura_extract, "resiliparse": resiliparse_extract}


def web_pages(data: Path, limit: int | None) -> list[str]:
    from curate.io import ReadDocuments

    docs = ReadDocuments([str(data / "web" / "pages.warc.gz")]).run()
    pages = [d.text for d in docs if d.metadata.get("content_kind") == "html"]
    return pages[:limit] if limit else pages


def timed(fn, pages: list[str]) -> tuple[float, float, list[str]]:
    """(wall s, CPU s, texts) of one pass; an extractor's exception counts as no text, as in ExtractText."""
    texts = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for html in pages:
        try:
            texts.append(fn(html))
        except Exception:  # noqa: BLE001
            texts.append("")
    return time.perf_counter() - wall0, time.process_time() - cpu0, texts


def measure_speed(functions: dict, inputs: dict[str, list[str]], rounds: int) -> tuple[dict, dict]:
    """Per extractor and input: the median round's pages/s and CPU ms/page; and the gold texts."""
    for fn in functions.values():
        fn(inputs["gold"][0])  # warm-up
    runs = {(name, source): [] for name in functions for source in inputs}
    texts = {}
    names = list(functions)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for source, pages in inputs.items():
            for name in order:
                wall, cpu, out = timed(functions[name], pages)
                runs[name, source].append((wall, cpu))
                if source == "gold":
                    texts.setdefault(name, out)
    speed = {}
    for name in names:
        speed[name] = {}
        for source, pages in inputs.items():
            wall = statistics.median(w for w, _ in runs[name, source])
            cpu = statistics.median(c for _, c in runs[name, source])
            speed[name][source] = {"pages": len(pages), "pages_per_s": round(len(pages) / wall, 1),
                                   "cpu_ms_per_page": round(1000 * cpu / len(pages), 3)}
        n = sum(len(p) for p in inputs.values())
        wall = statistics.median(sum(runs[name, s][r][0] for s in inputs) for r in range(rounds))
        cpu = statistics.median(sum(runs[name, s][r][1] for s in inputs) for r in range(rounds))
        speed[name]["both"] = {"pages": n, "pages_per_s": round(n / wall, 1), "cpu_ms_per_page": round(1000 * cpu / n, 3)}
    return speed, texts


# -- the parsers under the extractors ------------------------------------------------------------


def walk_selectolax(html: str) -> int:
    from selectolax.lexbor import LexborHTMLParser

    def walk(node) -> int:
        n = 0
        for child in node.iter(include_text=True):
            n += len(child.text_content or "") if child.tag == "-text" else walk(child)
        return n

    body = LexborHTMLParser(html.encode("utf-8", "replace")).body
    return walk(body) if body is not None else 0


def walk_resiliparse(html: str) -> int:
    from resiliparse.parse.html import HTMLTree, NodeType

    def walk(node) -> int:  # by siblings: node.child_nodes builds a list per node, ~8x slower
        n = 0
        child = node.first_child
        while child is not None:
            n += len(child.text or "") if child.type == NodeType.TEXT else walk(child)
            child = child.next
        return n

    body = HTMLTree.parse(html).body
    return walk(body) if body is not None else 0


def walk_lxml(html: str) -> int:
    import lxml.html

    try:
        root = lxml.html.document_fromstring(html.encode("utf-8", "replace"))
    except Exception:  # noqa: BLE001 - lxml refuses some documents (empty after cleaning)
        return 0
    return sum(len(e.text or "") + len(e.tail or "") for e in root.iter())


def measure_parsers(pages: list[str]) -> dict:
    parsers = {"selectolax (lexbor)": walk_selectolax, "resiliparse (lexbor)": walk_resiliparse,
               "lxml (libxml2)": walk_lxml}
    result = {}
    for name, fn in parsers.items():
        fn(pages[0])
        _, cpu, _ = timed(fn, pages)
        result[name] = round(1000 * cpu / len(pages), 3)
    return result


# -- quality ----------------------------------------------------------------------------------------


def quality(pages, texts: list[str], data: Path) -> dict:
    from tools.extraction_gold import score

    everything = score(pages, texts, data)
    dev = score([p for p in pages if not p.held_out], [t for p, t in zip(pages, texts) if not p.held_out], data)
    held = score([p for p in pages if p.held_out], [t for p, t in zip(pages, texts) if p.held_out], data)
    return {"all": everything["overall"], "dev": dev["overall"], "held_out": held["overall"],
            "by_source": {source: {"all": everything["by_source"][source], "dev": dev["by_source"].get(source),
                                   "held_out": held["by_source"].get(source)}
                          for source in everything["by_source"]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="the shared data folder (default: $CURATE_SHARED_DATA or <repo>/../shared/data)")
    parser.add_argument("--quick", action="store_true",
                        help=f"one round, the first {QUICK_WEB_PAGES} web pages (< 1 minute, same keys)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 3; --quick: 1)")
    args = parser.parse_args()

    data = Path(args.data) if args.data else default_data()
    gold_warc = data / "extraction-gold" / "pages.warc.gz"
    for needed in (gold_warc, data / "web" / "pages.warc.gz"):
        if not needed.is_file():
            print(f"error: {needed} not found (pass --data or set CURATE_SHARED_DATA)", file=sys.stderr)
            return 2
    rounds = args.rounds or (1 if args.quick else 3)

    from tools.extraction_gold import load_pages

    gold = load_pages(data, "all")
    inputs = {"gold": [p.html for p in gold], "web": web_pages(data, QUICK_WEB_PAGES if args.quick else None)}
    print(f"inputs: {gold_warc} ({len(inputs['gold'])} pages), {data / 'web' / 'pages.warc.gz'} "
          f"({len(inputs['web'])} HTML pages); {rounds} round(s)")
    load0 = os.getloadavg()[0]

    speed, texts = measure_speed(extractor_functions(), inputs, rounds)
    for name in EXTRACTORS:
        cells = "  ".join(f"{source} {s['pages_per_s']:7.1f} pages/s {s['cpu_ms_per_page']:6.2f} ms CPU"
                          for source, s in speed[name].items())
        print(f"{name:<12} {cells}")
    parsers = measure_parsers(inputs["gold"][:200] if args.quick else inputs["gold"])
    print("parse + walk, CPU ms/page: " + ", ".join(f"{k} {v}" for k, v in parsers.items()))

    scores = {name: quality(gold, texts[name], data) for name in EXTRACTORS}
    print(f"{'gold F1':<12} {'all':>7} {'dev':>7} {'held':>7}   (P / R over all pages)")
    for name in EXTRACTORS:
        s = scores[name]
        print(f"{name:<12} {s['all']['f1']:7.4f} {s['dev']['f1']:7.4f} {s['held_out']['f1']:7.4f}   "
              f"({s['all']['precision']:.4f} / {s['all']['recall']:.4f})")
    sources = list(scores["blocks"]["by_source"])
    print(f"{'source':<24} {'pages':>5}  " + "  ".join(f"{n:>22}" for n in EXTRACTORS) + "   (F1 all, dev, held-out)")
    won = {"all": 0, "dev": 0, "held_out": 0}
    for source in sources:
        cells = []
        for name in EXTRACTORS:
            s = scores[name]["by_source"][source]
            cells.append(" ".join(f"{s[h]['f1']:.3f}" if s[h] else "  -  " for h in ("all", "dev", "held_out")))
        ours, theirs = scores["blocks"]["by_source"][source], scores["trafilatura"]["by_source"][source]
        for half in won:
            won[half] += bool(ours[half] and theirs[half] and ours[half]["f1"] >= theirs[half]["f1"])
        print(f"{source:<24} {ours['all']['pages']:>5}  " + "  ".join(f"{c:>22}" for c in cells))
    print(f"blocks >= trafilatura on {won['all']} of {len(sources)} sources (dev {won['dev']}, held-out {won['held_out']})")

    ratio = round(speed["blocks"]["both"]["pages_per_s"] / speed["trafilatura"]["both"]["pages_per_s"], 2)
    cpu_ratio = round(speed["trafilatura"]["both"]["cpu_ms_per_page"] / speed["blocks"]["both"]["cpu_ms_per_page"], 2)
    print(f"blocks is {ratio}x trafilatura's pages/s ({cpu_ratio}x in CPU time)")
    result = {
        "benchmark": "extract",
        "inputs": {"gold": str(gold_warc), "web": str(data / "web" / "pages.warc.gz")},
        "quick": args.quick,
        "rounds": rounds,
        "pages": {source: len(pages) for source, pages in inputs.items()},
        "speedup_vs_trafilatura": ratio,
        "speedup_vs_trafilatura_cpu": cpu_ratio,
        "f1": scores["blocks"]["all"]["f1"],
        "trafilatura_f1": scores["trafilatura"]["all"]["f1"],
        "resiliparse_f1": scores["resiliparse"]["all"]["f1"],
        "f1_dev": scores["blocks"]["dev"]["f1"],
        "f1_held_out": scores["blocks"]["held_out"]["f1"],
        "trafilatura_f1_dev": scores["trafilatura"]["dev"]["f1"],
        "trafilatura_f1_held_out": scores["trafilatura"]["held_out"]["f1"],
        "sources_at_least_trafilatura": won,
        "sources": len(sources),
        "speed": speed,
        "parse_walk_cpu_ms_per_page": parsers,
        "scores": scores,
        "timing": "pages/s: wall clock of the median round (rounds interleave the extractors); cpu_ms_per_page: "
                  "process CPU time; one process, one page at a time; warm-up excluded",
        "versions": {"python": platform.python_version(),
                     **{name: version(name) for name in ("trafilatura", "resiliparse", "selectolax", "lxml")}},
        "cpus": os.cpu_count(),
        "loadavg_1m": [round(load0, 2), round(os.getloadavg()[0], 2)],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
