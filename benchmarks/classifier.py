"""Quality classifier throughput: the QualityClassifier block against a plain fastText predict
loop and datatrove's FastTextClassifierFilter, same model, same documents, one process, one run.
Prints progress lines and, last, one JSON object.

    python benchmarks/classifier.py            # 720 pages of web/pages.warc.gz + web-text/ + wiki passages
    python benchmarks/classifier.py --quick    # 120 pages + 240 web-text documents, under a minute

The model is classifiers/wikipedia_vs_web.py trained on the shared data (cached in the temp
folder after the first run; or --model PATH). Contenders, each scoring every document:
- block: QualityClassifier(annotate_only=True).run() over Documents (normalisation, scoring,
  the score column, the funnel counters);
- plain_loop: `model.predict(normalize(text))` for each text: the loop you would write by hand for
  this model (its inputs must be normalised as in training) -- the goal is block >= 0.9x this;
- plain_loop_raw: `model.predict(text.replace("\\n", " "))`: no normalisation (not what the model
  was trained on; shows what normalisation costs);
- datatrove: FastTextClassifierFilter(model, save_labels_in_metadata=True, newline_replacement=" "),
  which predicts on the raw text (all labels, k=-1).
Timing is CPU time (time.process_time) per round, rounds interleaved; docs/s from the median round
(on a shared machine single rounds vary by +-20%; the best round is reported too).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import default_data, extracted_pages  # benchmarks/common.py

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "classifiers" / "wikipedia_vs_web.py"




def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)




def load_texts(data: Path, quick: bool) -> list[str]:
    texts = [text for _, text in extracted_pages(data / "web" / "pages.warc.gz", 120 if quick else -1)]
    web_text = [json.loads(line)["text"] for path in sorted((data / "web-text").glob("*.jsonl"))
                for line in path.read_text().splitlines()]
    texts += web_text[::2][:240] if quick else web_text
    if not quick:  # reference-like text too: Wikipedia cut at blank lines into ~2k-character passages
        for path in sorted((data / "wikipedia").glob("*.jsonl")):
            for line in path.read_text().splitlines():
                article, chunk = json.loads(line)["text"], []
                for paragraph in article.split("\n"):
                    chunk.append(paragraph)
                    if sum(map(len, chunk)) > 2000:
                        texts.append("\n".join(chunk))
                        chunk = []
    return texts


def trained_model(data: Path) -> str:
    """classifiers/wikipedia_vs_web.py trained on the shared data, cached by recipe and code version."""
    from curate.quality.text import NORMALIZATION

    key = hashlib.sha1(RECIPE.read_bytes() + NORMALIZATION.encode() + str(data).encode()).hexdigest()[:12]
    model = Path(tempfile.gettempdir()) / "curate-bench" / f"wikipedia_vs_web-{key}.bin"
    if not model.is_file():
        from curate.quality import load_recipe, train

        log(f"training {RECIPE.name} on {data} (once; cached at {model})")
        train(load_recipe(str(RECIPE)), [str(data / "wikipedia")],
              [str(data / "web" / "pages.warc.gz"), str(data / "web-text" / "c4-ccnet-redpajama-samples.jsonl")],
              str(model), lid_model=str(data / "models" / "lid.176.ftz"))
    return str(model)


def cpu_times(contenders: dict, rounds: int) -> dict[str, list[float]]:
    """CPU seconds of each contender per round; rounds interleave the contenders, so load changes
    on a shared machine hit all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.process_time()
            fn()
            times[name].append(time.process_time() - start)
    return times


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data(), help="shared data folder ($CURATE_SHARED_DATA)")
    parser.add_argument("--quick", action="store_true", help="a subset, under a minute")
    parser.add_argument("--model", help="a trained quality model (default: train classifiers/wikipedia_vs_web.py)")
    parser.add_argument("--rounds", type=int, help="interleaved timed rounds per contender (default 9)")
    parser.add_argument("--repeat", type=int, help="score the document list this many times per round "
                                                   "(default 1, --quick 2)")
    args = parser.parse_args(argv)
    rounds = args.rounds or 9
    wall = time.perf_counter()

    from datatrove.data import Document

    from curate.quality import QualityClassifier, QualityModel, normalize

    model_path = args.model or trained_model(args.data)
    args.repeat = args.repeat or (2 if args.quick else 1)
    texts = load_texts(args.data, args.quick) * args.repeat  # long enough rounds for a steady CPU-time reading
    log(f"{len(texts)} documents, {sum(map(len, texts)) / 1e6:.1f} M characters; model {model_path}")
    scorer = QualityModel(model_path)
    model = scorer.model
    results: dict[str, dict] = {}

    def plain_loop():
        return [model.predict(normalize(t)) for t in texts]

    def plain_loop_raw():
        return [model.predict(t.replace("\n", " ")) for t in texts]

    block = QualityClassifier(model_path=model_path, annotate_only=True)
    block.setup(0, 1)
    documents = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]

    def run_block():
        return list(block.run(iter(documents)))

    contenders = {"plain_loop": plain_loop, "plain_loop_raw": plain_loop_raw, "block": run_block}
    try:
        import datatrove.pipeline.base as datatrove_base
        from datatrove.pipeline.filters import FastTextClassifierFilter

        # datatrove insists on the `fasttext-numpy2-wheel` distribution; curate installs
        # `fasttext-numpy2`, which provides the same `fasttext` module (with both installed, the
        # last one wins). Only that distribution-name check is relaxed; the code run is datatrove's.
        check = datatrove_base.check_required_dependencies
        datatrove_base.check_required_dependencies = lambda name, deps: check(
            name, [("fasttext", "fasttext-numpy2") if d == ("fasttext", "fasttext-numpy2-wheel") else d for d in deps])
        try:
            # keep_labels=(positive, 0.0) keeps and annotates every document, as annotate_only does
            # (with neither keep_labels nor remove_labels, datatrove 0.10.1 fails loading the model)
            datatrove_block = FastTextClassifierFilter(model_url=model_path, save_labels_in_metadata=True,
                                                       keep_labels=(scorer.positive_label.removeprefix("__label__"), 0.0),
                                                       newline_replacement=" ")
        finally:
            datatrove_base.check_required_dependencies = check
        datatrove_block.model  # load outside the timing, as ours
        datatrove_docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
        contenders["datatrove"] = lambda: list(datatrove_block.run(iter(datatrove_docs)))
    except Exception as e:  # noqa: BLE001 - e.g. its `fasteners` dependency missing
        results["datatrove"] = {"error": f"{type(e).__name__}: {e}"}

    for name, seconds in cpu_times(contenders, rounds).items():
        median, best = statistics.median(seconds), min(seconds)
        results[name] = {"cpu_s_median": round(median, 4), "cpu_s_min": round(best, 4),
                         "docs_per_s": round(len(texts) / median, 1), "docs_per_s_best": round(len(texts) / best, 1)}
        log(f"{name:>16}: {results[name]['docs_per_s']:>10.1f} docs/s (median of {rounds}; best "
            f"{results[name]['docs_per_s_best']:.1f})")

    # same model, same normalisation: the block's scores are the plain loop's
    plain = []
    for labels, probs in plain_loop():
        p = float(probs[0]) if labels and labels[0] == scorer.positive_label else 1.0 - float(probs[0]) if labels else 0.0
        plain.append(min(max(p, 0.0), 1.0))
    ours = [d.metadata["quality_score"] for d in documents]
    differences = [abs(a - b) for a, b, t in zip(ours, plain, texts) if normalize(t).strip()]

    rate = {name: r.get("docs_per_s") for name, r in results.items()}
    result = {
        "benchmark": "quality_classifier",
        "quick": args.quick,
        "documents": len(texts),
        "characters": sum(map(len, texts)),
        "model": {"path": model_path, "bytes": os.path.getsize(model_path),
                  "dim": model.get_dimension(), "labels": list(model.labels)},
        "rounds": rounds,
        "repeat": args.repeat,
        "contenders": results,
        "block_vs_plain_loop": round(rate["block"] / rate["plain_loop"], 3),
        "block_vs_plain_loop_best_rounds": round(results["block"]["docs_per_s_best"] /
                                                 results["plain_loop"]["docs_per_s_best"], 3),
        "block_vs_plain_loop_raw": round(rate["block"] / rate["plain_loop_raw"], 3),
        "block_vs_datatrove": round(rate["block"] / rate["datatrove"], 3) if rate.get("datatrove") else None,
        "goal_block_vs_plain_loop": 0.9,
        "max_score_difference_block_vs_plain_loop": round(max(differences), 7) if differences else None,
        "wall_s": round(time.perf_counter() - wall, 1),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
