"""The DataComp recipe: raw crawl -> extracted text -> language ID -> heuristic rules -> dedup
-> model-based quality filter -> Parquet with every score as a column.

    curate run pipelines/datacomp.py                                   # the embedded sample
    curate run pipelines/datacomp.py --input s3://commoncrawl/crawl-data/CC-MAIN-2024-22/segments/.../warc/ \
        --output out/ --tasks 64 --workers 8

Settings (`--set KEY=VALUE`): quality_model=PATH (a classifier trained with
classifiers/wikipedia_vs_web.py), and quality_threshold=T or quality_top=F (keep about the top
fraction F instead of a fixed threshold); the defaults are the constants below.
"""

import os

from curate.dedup import MinHashConfig, dedup_steps
from curate.extract import ExtractText
from curate.filters import (C4Quality, FineWebQuality, GopherQuality, GopherRepetition, LanguageFilter,
                            RefinedWebQuality)
from curate.errors import CurateError
from curate.io import ReadDocuments, WriteParquet
from curate.pipeline import RunConfig
from curate.quality import QualityClassifier
from curate.samples import SAMPLE_WARC

EXTRACTOR = "trafilatura"  # or "resiliparse": ~15x faster, slightly noisier text
LANGUAGES = ["en"]
LANGUAGE_THRESHOLD = 0.65
DEDUP_THRESHOLD = 0.8
ANNOTATE_ONLY = False  # True: keep every document, write the rule sets' columns, filter later in SQL
# None: $CURATE_QUALITY_MODEL, else the demo model trained on project-written text only (curate/samples/
# make_quality_model.py); for real data train classifiers/wikipedia_vs_web.py and name it here
QUALITY_MODEL = None
QUALITY_THRESHOLD = 0.5  # or QualityClassifier(top_fraction=0.1): DCLM keeps about the top 10%


def quality_filter(params: dict) -> QualityClassifier:
    def number(key: str) -> float | None:
        if key not in params:
            return None
        try:
            return float(params[key])
        except ValueError:
            raise CurateError(f"--set {key}={params[key]}: expected a number") from None

    top = number("quality_top")
    threshold = number("quality_threshold")
    if top is None and threshold is None:
        threshold = QUALITY_THRESHOLD
    return QualityClassifier(model_path=params.get("quality_model") or QUALITY_MODEL, threshold=threshold,
                             top_fraction=top, annotate_only=ANNOTATE_ONLY)


def build(run: RunConfig) -> list:
    return [
        ReadDocuments(run.inputs or [SAMPLE_WARC], limit=run.limit, progress=run.progress),
        ExtractText(extractor=EXTRACTOR, timeout=5.0),
        LanguageFilter(languages=LANGUAGES, threshold=LANGUAGE_THRESHOLD),
        # heuristic rules, published thresholds; one shared feature pass (docs/heuristics.md)
        GopherRepetition(annotate_only=ANNOTATE_ONLY),
        GopherQuality(annotate_only=ANNOTATE_ONLY),
        C4Quality(annotate_only=ANNOTATE_ONLY),
        FineWebQuality(annotate_only=ANNOTATE_ONLY),
        RefinedWebQuality(annotate_only=ANNOTATE_ONLY),
        # exact, then MinHash-LSH fuzzy dedup (Jaccard >= 0.8 on word 5-grams), across all tasks: the
        # runner runs the steps up to here, then one clustering task, then the rest (curate/dedup/steps.py)
        *dedup_steps(os.path.join(run.output, "_dedup"), exact=True, fuzzy=MinHashConfig(threshold=DEDUP_THRESHOLD)),
        # Wikipedia-vs-web fastText classifier: quality_score column, filter (curate/quality/block.py)
        quality_filter(run.params),
        WriteParquet(run.output),
    ]
