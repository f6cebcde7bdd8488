"""Which of the DataComp recipe's stages give better training data per unit of compute?

    curate ablate pipelines/ablate.py --out out-ablate          # ~5 min on 2 CPU cores
    curate ablate pipelines/ablate.py --out out-ablate --set rephrased=out-rephrase   # + the rephrase mix
    curate ablate pipelines/ablate.py --out out-ablate --set leave_one_out=1           # + each filter left out

Each variant is what pipelines/datacomp.py writes from the 720 real pages of the shared data's
web/pages.warc.gz with stages left out, so the variants differ only in what curate's own blocks
removed:
    raw          extraction only (every language, nothing filtered)
    +language    + fastText language ID (English)
    +heuristics  + the Gopher, C4, FineWeb and RefinedWeb rule sets
    +dedup       + exact and MinHash near-duplicate removal
    +classifier  + the quality classifier: the whole recipe (its demo model unless
                 $CURATE_QUALITY_MODEL names a trained one, see pipelines/datacomp.py)
The same tiny model (preset cpu-tiny) trains from the same seeds on the same FLOP budget on each,
and is scored in bits per byte on two held-out sets that none of the variants contains:
WikiText-2 validation articles, and C4/CCNet/RedPajama web documents, and on a word-order cloze
task from the WikiText-2 articles. Smaller variants are repeated more often within the budget; summary.json reports the epochs. The
verdicts compare each stage with the variant before it (and, with leave_one_out, the full recipe
with it left out), each run scored by the mean of its last 2 evaluations.

Settings (`--set KEY=VALUE`, see the Settings class below): data, rephrased (adds "+rephrase mix",
the full recipe's output and the rephrased text 1:1), leave_one_out (adds the full recipe with each
heuristic rule set, the dedup and the classifier left out in turn), and the recipe's quality
settings, passed to pipelines/datacomp.py as they are, e.g. a model trained on the shared data's
Wikipedia articles against these pages, keeping the top half:

    curate classifier train classifiers/wikipedia_vs_web.py --positive ../shared/data/wikipedia/enwiki-2016-sample.jsonl \
        --negative ../shared/data/web/pages.warc.gz --out models/wiki_vs_pages.bin
    curate ablate pipelines/ablate.py --out out-ablate --set quality_model=models/wiki_vs_pages.bin --set quality_top=0.5
"""

import os
from dataclasses import dataclass
from pathlib import Path

from curate.settings import setting
from curate.train.config import Ablation, Cloze, Mix, Pipeline, Texts

REPO = Path(__file__).resolve().parent.parent
RECIPE = str(REPO / "pipelines" / "datacomp.py")

LANGUAGE = ["LanguageFilter"]
HEURISTICS = ["GopherRepetition", "GopherQuality", "C4Quality", "FineWebQuality", "RefinedWebQuality"]
DEDUP = ["ExactDedupFilter", "FuzzyDedupFilter"]
CLASSIFIER = ["QualityClassifier"]


@dataclass
class Settings:
    data: str | None = setting(None, "the shared data folder (default $CURATE_SHARED_DATA, else ../shared/data)")
    rephrased: str | None = setting(None, "Parquet with a rephrased_text column: adds the '+rephrase mix' variant")
    leave_one_out: bool = setting(False, "add the full recipe with each filter left out in turn")
    subsamples: int = setting(1, "data subsamples per seed (disjoint halves): noise from the data as well", min=1)
    quality_model: str | None = setting(None, "pipelines/datacomp.py's quality_model")
    quality_threshold: float | None = setting(None, "pipelines/datacomp.py's quality_threshold", min=0, max=1)
    quality_top: float | None = setting(None, "pipelines/datacomp.py's quality_top", min=0.0001, max=1)


def build(s: Settings) -> Ablation:
    data = Path(s.data or os.environ.get("CURATE_SHARED_DATA") or REPO.parent / "shared" / "data")
    pages = [str(data / "web" / "pages.warc.gz")]
    quality = {"quality_model": s.quality_model, "quality_threshold": s.quality_threshold,
               "quality_top": s.quality_top}

    def recipe(*leave_out: list[str]) -> Pipeline:
        # the pages are extracted once (variant raw); the other variants filter that text
        # ("variant:raw"), which extraction passes through unchanged
        return Pipeline(RECIPE, inputs=["variant:raw"], leave_out=[step for group in leave_out for step in group],
                        settings=quality)

    variants = {
        "raw": Pipeline(RECIPE, inputs=pages, leave_out=LANGUAGE + HEURISTICS + DEDUP + CLASSIFIER),
        "+language": recipe(HEURISTICS, DEDUP, CLASSIFIER),
        "+heuristics": recipe(DEDUP, CLASSIFIER),
        "+dedup": recipe(CLASSIFIER),
        "+classifier": recipe(),
    }
    if s.rephrased:
        # only rewrites that passed the checks: echoed, refused or cut-off answers stay out
        rephrased = Texts([s.rephrased], column="rephrased_text", where={"rephrase_status": "ok"})
        variants["+rephrase mix"] = Mix([(recipe(), 1.0), (rephrased, 1.0)])
    leave_one_out = {}
    if s.leave_one_out:
        for step in HEURISTICS + [DEDUP, CLASSIFIER]:
            names = step if isinstance(step, list) else [step]
            stage = "dedup" if names == DEDUP else names[0]
            variants[f"full -{stage}"] = recipe(names)
            leave_one_out[stage] = f"full -{stage}"
    return Ablation(
        variants=variants,
        baseline="raw",
        chain=["raw", "+language", "+heuristics", "+dedup", "+classifier"],  # each adds one stage
        full="+classifier",
        leave_one_out=leave_one_out,
        eval_sets={
            "wikipedia": Texts([str(data / "wikipedia" / "wikitext2-valid.jsonl")]),
            "web": Texts([str(data / "web-text" / "c4-ccnet-redpajama-samples.jsonl")]),
        },
        # the sentence endings of the same held-out articles, in and out of order
        cloze={"wikipedia order": Cloze([str(data / "wikipedia" / "wikitext2-valid.jsonl")], items=200)},
        flops=1.2e12,  # cpu-tiny: 198 steps of 16 x 128 bytes (405k tokens), ~1.5 min per run on 2 cores
        seeds=[0, 1],
        subsamples=s.subsamples,
        preset="cpu-tiny",
        evals=6,
        average_last=2,  # each run's score: the mean of its last 2 evaluations
        eval_tokens=8192,
    )
