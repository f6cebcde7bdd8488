"""Wikipedia-vs-web quality classifier (the GPT-3 / DCLM idea): a fastText model that scores how
much a web document reads like reference text rather than random web text.

    curate classifier train classifiers/wikipedia_vs_web.py \
        --positive ../shared/data/wikipedia \
        --negative ../shared/data/web/pages.warc.gz ../shared/data/web-text/c4-ccnet-redpajama-samples.jsonl \
        --out models/wikipedia_vs_web.bin
    curate classifier eval models/wikipedia_vs_web.bin --labelled ../shared/data/web-text/dclm-quality-labelled-499.jsonl

Positives: Wikipedia articles (JSONL/Parquet, field text), cut into passages whose lengths follow
the negatives' lengths. Negatives: random web documents (a curate run's Parquet output, JSONL, or
WARC, extracted on the fly). Both classes: English only, normalised by
curate.quality.text.normalize (the function prediction uses: no <unk>, markup, headings or
titles left to learn), exact-deduplicated, balanced, with a held-out split by source document.
Apply the model with curate.quality.QualityClassifier (pipelines/datacomp.py).
"""

from curate.quality import Recipe

RECIPE = Recipe(
    name="wikipedia_vs_web",
    positive_label="wiki",
    negative_label="web",
    split_positives=True,
    min_chars=200,
    min_tokens=30,
    language="en",  # the pipeline identifies language first; a model trained across languages learns "English"
    extractor="resiliparse",  # HTML negatives: ~6x faster than trafilatura; its extra boilerplate is web-like
    heldout_fraction=0.15,
    seed=1,
    # bucket bounds the model size: (words + bucket) * dim * 4 bytes, ~18 MB here (2M buckets: ~260 MB)
    fasttext={"dim": 32, "epoch": 30, "lr": 0.5, "wordNgrams": 2, "bucket": 100_000, "minCount": 2,
              "loss": "softmax"},
)
