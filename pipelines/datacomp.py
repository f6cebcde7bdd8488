"""The DataComp recipe: raw crawl -> extracted text -> language ID -> heuristic rules -> dedup
-> model-based quality filter -> Parquet with every score as a column.

    curate run pipelines/datacomp.py                                   # the embedded sample
    curate run pipelines/datacomp.py --input s3://commoncrawl/crawl-data/CC-MAIN-2024-22/segments/.../warc/ \
        --output out/ --tasks 64 --workers 8
    curate run pipelines/datacomp.py --list-settings                   # what --set KEY=VALUE takes
"""

from dataclasses import dataclass
from typing import Literal

from curate.dedup import MinHashConfig, dedup_steps
from curate.extract import ExtractText
from curate.filters import (C4Quality, FineWebQuality, GopherQuality, GopherRepetition, LanguageFilter,
                            RefinedWebQuality)
from curate.io import ReadDocuments, WriteParquet
from curate.quality import QualityClassifier
from curate.samples import SAMPLE_WARC
from curate.settings import setting
from curate.step import RunContext


@dataclass
class Settings:
    extractor: Literal["blocks", "trafilatura", "resiliparse"] = setting(
        "blocks", "main-text extractor (docs/extract.md): blocks, curate's own, has trafilatura's precision at ~10x "
                  "its speed; resiliparse is faster still and keeps more boilerplate")
    languages: list[str] = setting(["en"], "lid.176 languages to keep, comma-separated")
    language_threshold: float = setting(0.65, "keep documents whose language score is at least this", min=0, max=1)
    dedup_threshold: float = setting(0.8, "MinHash near-duplicate threshold (Jaccard of word 5-grams)", min=0.01,
                                     max=1)
    annotate_only: bool = setting(False, "keep every document: write the rule sets' and classifier's columns, "
                                         "filter later in SQL")
    quality_model: str | None = setting(None, "a classifier trained with classifiers/wikipedia_vs_web.py (default: "
                                              "$CURATE_QUALITY_MODEL, else the demo model)")
    quality_threshold: float | None = setting(None, "keep documents whose quality score is at least this "
                                                    "(default: the classifier's, 0.5)", min=0, max=1)
    quality_top: float | None = setting(None, "keep about this top fraction instead of a threshold (DCLM: 0.1)",
                                        min=0.0001, max=1)


def build(run: RunContext) -> list:
    s: Settings = run.settings
    return [
        ReadDocuments(SAMPLE_WARC),  # --input replaces the embedded sample
        ExtractText(extractor=s.extractor, timeout=5.0),
        LanguageFilter(languages=s.languages, threshold=s.language_threshold),
        # heuristic rules, published thresholds; one shared feature pass (docs/heuristics.md)
        GopherRepetition(annotate_only=s.annotate_only),
        GopherQuality(annotate_only=s.annotate_only),
        C4Quality(annotate_only=s.annotate_only),
        FineWebQuality(annotate_only=s.annotate_only),
        RefinedWebQuality(annotate_only=s.annotate_only),
        # exact, then MinHash-LSH fuzzy dedup (Jaccard >= 0.8 on word 5-grams, candidates verified),
        # across all tasks: signatures, then clustering stages that each run as many tasks as the
        # run, then the filters (docs/dedup.md)
        *dedup_steps(exact=True, fuzzy=MinHashConfig(threshold=s.dedup_threshold)),
        # Wikipedia-vs-web fastText classifier: quality_score column, filter (curate/quality/block.py)
        QualityClassifier(model_path=s.quality_model, threshold=s.quality_threshold, top_fraction=s.quality_top,
                          annotate_only=s.annotate_only),
        WriteParquet(run.output),
    ]
