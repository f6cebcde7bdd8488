"""The quality classifier without shared data: normalisation, metrics, passage splitting, the
recipe loader, `curate classifier train|eval` on project-written text, the QualityClassifier
block's three modes, the shipped demo model and its place in pipelines/datacomp.py."""

from __future__ import annotations

import json
import math
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
from datatrove.data import Document

from curate.cli import main
from curate.errors import CurateError
from curate.quality import QualityClassifier, QualityModel, Recipe, load_recipe, normalize, read_card
from curate.quality.block import SAMPLE_STAT, THRESHOLD_STAT
from curate.quality.metrics import at_threshold, evaluate, roc_auc, threshold_table
from curate.quality.text import split_passages
from curate.samples import QUALITY_MODEL
from tools.make_quality_model import write_training_data

REPO = Path(__file__).resolve().parent.parent
PROSE = ("A river is a natural stream of water that flows towards an ocean, a lake or another river. Most rivers "
         "begin in uplands, where rain and melting snow gather into small channels.\nAs the channels join, the "
         "flow grows larger and the river carves a valley into the land over thousands of years.")
BOILERPLATE = ("Home | Shop | Blog | Contact | Login\nFree shipping on all orders over $50! Use code SAVE20 now.\n"
               "Subscribe to our newsletter and get 10% off!\nBuy now and save 30% today only!!!")


# ---- normalisation: one function for training and prediction
def test_normalize_removes_wiki_artefacts_and_titles():
    text = ("= Homarus gammarus =\n"
            "Homarus gammarus is a species of <unk> lobster [3] from the [[Atlantic Ocean|eastern Atlantic]] "
            "{{cite web|url=x}} and it is '''large''' @-@ sized , growing to 60 cm .\n"
            "== Description ==\nHistory\nthumb|200px|A lobster shown on a plate in a restaurant\n"
            "Adults are usually 23 to 50 cm long [citation needed].")
    out = normalize(text)
    assert out.split() == ("homarus gammarus is a species of lobster from the eastern atlantic and it is large "
                           "-sized , growing to 00 cm . adults are usually 00 to 00 cm long .").split()
    for artefact in ("unk", "<", "[", "{", "=", "'''", "@", "history", "description", "thumb", "citation"):
        assert artefact not in out


def test_normalize_is_one_line_of_tokens_and_idempotent_on_words():
    out = normalize("Hello, World! It's 2024 - and prices rose by 5%.\tTabs\rand\x0bfeeds are spaces too here")
    assert "\n" not in out and "\t" not in out and "\r" not in out
    assert out.split() == ["hello", ",", "world", "!", "it's", "0000", "-", "and", "prices", "rose", "by", "0",
                           "%", ".", "tabs", "and", "feeds", "are", "spaces", "too", "here"]
    assert normalize(out).split() == out.split()
    assert normalize("") == "" and normalize("Short title") == "" and normalize("Home\nAbout us\nLogin") == ""
    assert len(normalize("word " * 10_000)) <= 20_000  # only the first MAX_CHARS characters count


def test_split_passages_follow_the_given_lengths_at_paragraph_boundaries():
    paragraphs = [f"Paragraph {i}" + " word" * random.Random(i).randint(20, 120) for i in range(60)]
    article = "\n".join(paragraphs)
    passages = split_passages(article, [800, 1500], random.Random(0), min_chars=200)
    assert len(passages) > 5
    assert all(len(p) >= 200 for p in passages)
    assert all(len(p) < 1500 + 130 * 5 for p in passages)  # a passage ends at the first paragraph past its target
    joined = "\n".join(passages)
    assert article.startswith(joined) and len(article) - len(joined) < 1500  # consecutive, only a short tail left


# ---- metrics
def test_roc_auc_matches_pairwise_counting_with_ties():
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 5, 40) / 4, rng.integers(0, 4, 30) / 4  # many ties
    pairwise = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert roc_auc(pos, neg) == pytest.approx(pairwise)
    assert roc_auc([0.9, 0.8], [0.1, 0.2]) == 1.0 and roc_auc([0.1], [0.9]) == 0.0
    assert roc_auc([0.5, 0.5], [0.5]) == 0.5 and math.isnan(roc_auc([], [0.1]))


def test_precision_recall_f1_and_threshold_table():
    pos, neg = [0.9, 0.8, 0.4, 0.3], [0.7, 0.2, 0.1, 0.05]
    point = at_threshold(pos, neg, 0.5)
    assert (point["precision"], point["recall"]) == (round(2 / 3, 4), 0.5)
    assert point["f1"] == round(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5), 4) and point["kept_fraction"] == 3 / 8
    result = evaluate(pos, neg)
    assert {"roc_auc", "precision", "recall", "f1", "n_positive", "n_negative"} <= result.keys()
    assert (result["n_positive"], result["n_negative"]) == (4, 4)
    table = threshold_table(pos, neg, thresholds=(0.0, 0.5, 1.0))
    assert [row["kept_fraction"] for row in table] == [1.0, 3 / 8, 0.0]


# ---- recipes, training and evaluation through the CLI (project-written text)
def test_the_wikipedia_recipe_loads_and_bad_recipes_are_one_line_errors(tmp_path, capsys):
    recipe = load_recipe(str(REPO / "classifiers" / "wikipedia_vs_web.py"))
    assert recipe.label(True) == "__label__wiki" and recipe.fasttext["bucket"] <= 200_000
    assert recipe.clean_positive("Intro text here.\nMore text.\nReferences\nA. Author (2001)") == \
        "Intro text here.\nMore text."
    bad = tmp_path / "bad.py"
    bad.write_text("RECIPE = 3\n")
    with pytest.raises(CurateError, match="must define RECIPE"):
        load_recipe(str(bad))
    assert main(["classifier", "train", str(bad), "--positive", "x", "--negative", "y", "--out", "m.bin"]) == 2
    assert "must define RECIPE" in capsys.readouterr().err


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo_data")
    positive, negative = write_training_data(folder, n=150, seed=3)
    return str(positive), str(negative)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, demo_data):
    """`curate classifier train` on project-written text with a small recipe."""
    folder = tmp_path_factory.mktemp("trained")
    recipe = folder / "recipe.py"
    recipe.write_text("from curate.quality import Recipe\n"
                      "RECIPE = Recipe(name='tiny', language=None, split_positives=False, min_chars=100,\n"
                      "                min_tokens=15, heldout_fraction=0.2,\n"
                      "                fasttext={'dim': 8, 'epoch': 5, 'lr': 0.1, 'bucket': 5000, 'minCount': 1})\n")
    model = folder / "tiny.bin"
    code = main(["classifier", "train", str(recipe), "--positive", demo_data[0], "--negative", demo_data[1],
                 "--out", str(model)])
    assert code == 0
    return model


def test_train_writes_model_and_card(trained, capsys):
    card = read_card(trained)
    assert (trained.parent / "tiny.card.json").is_file() and card["model"] == "tiny.bin"
    assert card["labels"] == {"positive": "__label__wiki", "negative": "__label__web"}
    data = card["data"]
    for side in ("positive", "negative"):
        assert data[side]["documents"] == 150
        assert data[side]["train"] + data[side]["heldout"] <= 150
    assert data["positive"]["train"] == data["negative"]["train"] > 100  # balanced
    assert data["positive"]["heldout"] == data["negative"]["heldout"] > 10
    assert card["hyperparameters"]["bucket"] == 5000 and card["hyperparameters"]["wordNgrams"] == 2
    for key in ("roc_auc", "precision", "recall", "f1", "n_positive", "n_negative"):
        assert key in card["heldout"]
    assert card["heldout"]["roc_auc"] > 0.95
    assert [row["threshold"] for row in card["threshold_table"]][:3] == [0.05, 0.1, 0.2]
    assert {"kept_fraction", "precision"} <= card["threshold_table"][0].keys()
    assert card["model_bytes"] == trained.stat().st_size < 2_000_000


def test_training_dedups_and_balances(tmp_path, demo_data):
    from curate.quality.train import build_dataset

    lines = Path(demo_data[1]).read_text().splitlines()
    dup = tmp_path / "neg.jsonl"
    dup.write_text("\n".join(lines + lines[:20] + [json.dumps({"id": "p", "text": json.loads(
        Path(demo_data[0]).read_text().splitlines()[0])["text"]})]) + "\n")  # 20 repeats, 1 text in both classes
    recipe = Recipe(language=None, split_positives=False, min_chars=100, min_tokens=15)
    _, base = build_dataset(recipe, [demo_data[0]], [demo_data[1]])
    dataset, stats = build_dataset(recipe, [demo_data[0]], [str(dup)])
    added = {key: stats["negative"].get(key, 0) - base["negative"].get(key, 0) for key in ("duplicates", "too_short")}
    assert added["duplicates"] + added["too_short"] == 20 and added["duplicates"] > 10  # every repeat dropped
    assert stats["negative"]["in_both_classes"] == 1
    assert stats["positive"]["in_both_classes"] == 1
    keys = [" ".join(line.split()) for split in dataset.values() for _, _, line in split]
    assert len(keys) == len(set(keys))
    for rows in dataset.values():
        assert sum(side for side, _, _ in rows) * 2 == len(rows)
    train_ids = {item.id for _, item, _ in dataset["train"]}
    assert not train_ids & {item.id for _, item, _ in dataset["heldout"]}
    # the trainer's lines are exactly what prediction computes
    assert all(line == normalize(item.text) for _, item, line in dataset["heldout"])


def test_eval_prints_one_json_object_last(trained, demo_data, capsys):
    code = main(["classifier", "eval", str(trained), "--positive", demo_data[0], "--negative", demo_data[1]])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["n_positive"], result["n_negative"]) == (150, 150)
    assert result["roc_auc"] > 0.95 and 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1
    assert 0 <= result["f1"] <= 1


def test_eval_with_a_labelled_file_and_errors(trained, demo_data, tmp_path, capsys):
    labelled = tmp_path / "labelled.jsonl"
    rows = [{"text": json.loads(line)["text"], "label": label} for label, path in ((1, demo_data[0]), (0, demo_data[1]))
            for line in Path(path).read_text().splitlines()[:30]]
    labelled.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert main(["classifier", "eval", str(trained), "--labelled", str(labelled)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["n_positive"], result["n_negative"]) == (30, 30)
    assert main(["classifier", "eval", str(trained), "--positive", demo_data[0]]) == 2
    assert "--negative" in capsys.readouterr().err
    assert main(["classifier", "eval", str(tmp_path / "missing.bin"), "--labelled", str(labelled)]) == 2


# ---- the block
def docs(texts):
    return [Document(text=t, id=str(i)) for i, t in enumerate(texts)]


def run_block(block, texts):
    kept = list(block.run(iter(docs(texts))))
    return kept, {key: value.total for key, value in block.stats.stats.items()}


def test_block_threshold_mode_scores_and_filters():
    block = QualityClassifier(threshold=0.5)
    assert block.model_path == QUALITY_MODEL and block.columns == {"quality_score": block.columns["quality_score"]}
    kept, stats = run_block(block, [PROSE, BOILERPLATE, ""])
    assert [d.text for d in kept] == [PROSE]
    assert kept[0].metadata["quality_score"] > 0.5
    assert stats["dropped.quality_score"] == 2 and stats["docs_out"] == 1


def test_block_annotate_only_and_custom_column():
    block = QualityClassifier(annotate_only=True, column="wiki_score")
    assert list(block.columns) == ["wiki_score"]
    kept, _ = run_block(block, [PROSE, BOILERPLATE])
    assert len(kept) == 2 and kept[0].metadata["wiki_score"] > 0.5 > kept[1].metadata["wiki_score"]
    model = QualityModel(QUALITY_MODEL)
    assert kept[1].metadata["wiki_score"] == round(model.score(BOILERPLATE), 6)


def test_block_top_fraction_estimates_the_threshold_on_a_sample():
    rng = random.Random(1)
    sentences = PROSE.split(". ") + BOILERPLATE.split("\n")
    texts = [" ".join(rng.sample(sentences, 4)) + " " + " ".join(rng.sample(sentences, 3)) for _ in range(200)]
    block = QualityClassifier(top_fraction=0.1, sample_size=100)
    kept, stats = run_block(block, texts)
    model = QualityModel(QUALITY_MODEL)
    scores = [model.score(t) for t in texts]
    threshold = sorted(scores[:100], reverse=True)[9]  # the sample: the first 100 documents
    assert stats[THRESHOLD_STAT] == pytest.approx(threshold) and stats[SAMPLE_STAT] == 100
    assert len(kept) == sum(s >= threshold for s in scores)
    assert sum(s >= threshold for s in scores[:100]) == 10  # exactly the top 10% of the sample
    assert [d.id for d in kept] == [str(i) for i, s in enumerate(scores) if s >= threshold]  # order kept
    assert stats["docs_in"] == 200 and stats["docs_out"] + stats["dropped.quality_score"] == 200


def test_block_pickles_without_its_model_and_checks_arguments(tmp_path):
    block = QualityClassifier()
    block.setup(0, 1)
    clone = pickle.loads(pickle.dumps(block))
    assert clone._model is None
    clone.setup(0, 1)
    assert clone.score(PROSE) == block.score(PROSE)
    with pytest.raises(CurateError):
        QualityClassifier(threshold=0.5, top_fraction=0.1)
    with pytest.raises(CurateError):
        QualityClassifier(top_fraction=1.5)
    with pytest.raises(CurateError, match="not found"):
        QualityClassifier(model_path=str(tmp_path / "none.bin"))


# ---- the demo model shipped with curate
def test_demo_model_is_small_project_made_and_rebuildable(tmp_path):
    from tools.make_quality_model import build

    card = read_card(QUALITY_MODEL)
    assert Path(QUALITY_MODEL).stat().st_size < 2_000_000
    assert all(p.startswith("tools/make_quality_model.py") for p in card["inputs"]["positive"] +
               card["inputs"]["negative"])
    rebuilt = build(tmp_path / "demo.bin")
    assert rebuilt["heldout"] == card["heldout"]
    assert (tmp_path / "demo.bin").read_bytes() == Path(QUALITY_MODEL).read_bytes()  # deterministic training


def test_datacomp_pipeline_ends_with_the_quality_classifier(lid_model, monkeypatch):
    from curate.io import WriteParquet
    from curate.run import plan, prepare
    from curate.step import RunContext

    monkeypatch.setenv("CURATE_LID_MODEL", lid_model)
    ctx = RunContext()
    stages = plan(str(REPO / "pipelines" / "datacomp.py"), ctx)[1]
    steps = [step for stage in stages for step in stage.steps]
    kinds = [type(step).__name__ for step in steps]
    assert kinds[-2:] == ["QualityClassifier", "WriteParquet"]
    assert kinds.index("RefinedWebQuality") < kinds.index("QualityClassifier")
    prepare(stages, ctx, "datacomp.py")
    assert isinstance(steps[-1], WriteParquet) and "quality_score" in steps[-1].schema.names


def test_top_fraction_threshold_is_recorded_in_the_run_funnel(tmp_path, demo_data):
    """Through `curate run` (forked workers, two tasks): each task estimates its threshold and the
    funnel and stats files record it. (Per-task estimates assume every task sees the same mix,
    as shards of one crawl do: here both files mix the two kinds of text.)"""
    from curate.run import run
    from curate.step import RunContext

    rows = [line for path in demo_data for line in Path(path).read_text().splitlines()]
    random.Random(0).shuffle(rows)
    inputs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    inputs[0].write_text("\n".join(rows[:150]) + "\n")
    inputs[1].write_text("\n".join(rows[150:]) + "\n")

    pipeline = tmp_path / "quality_only.py"
    pipeline.write_text(
        "from curate.io import ReadDocuments, WriteParquet\n"
        "from curate.quality import QualityClassifier\n"
        "def build(run):\n"
        "    return [ReadDocuments(run.inputs), QualityClassifier(top_fraction=0.25, sample_size=1000),\n"
        "            WriteParquet(run.output)]\n")
    ctx = RunContext(inputs=[str(p) for p in inputs], output=str(tmp_path / "out"), tasks=2, workers=2)
    funnel = run(str(pipeline), ctx).funnel
    quality = next(s for s in funnel["stages"] if s["stage"] == "quality")
    assert quality["docs_in"] == 300 and quality["other"]["top_fraction.sample_docs"] == 300
    assert 1.0 < quality["other"]["top_fraction.threshold"] < 2  # the sum of the two tasks' (high) thresholds
    assert 2 * 150 * 0.25 <= quality["docs_out"] <= 2 * 150 * 0.25 + 10  # ties aside, the top quarter per task
    import pyarrow.parquet as pq

    table = pq.read_table(sorted((tmp_path / "out").glob("*.parquet")))
    assert table.num_rows == quality["docs_out"] and min(table.column("quality_score").to_pylist()) > 0.5


def test_datacomp_recipe_takes_the_quality_settings_from_set(tmp_path):
    from curate.run import plan
    from curate.step import RunContext

    recipe = str(Path(__file__).resolve().parent.parent / "pipelines" / "datacomp.py")

    def quality_step(**params) -> QualityClassifier:
        steps = [step for stage in plan(recipe, RunContext(output=str(tmp_path)), params)[1] for step in stage.steps]
        return next(step for step in steps if isinstance(step, QualityClassifier))

    default = quality_step()
    assert (default.threshold, default.top_fraction, default.model_path) == (0.5, None, str(QUALITY_MODEL))
    top = quality_step(quality_top="0.25", quality_model=str(QUALITY_MODEL))
    assert (top.threshold, top.top_fraction) == (None, 0.25)
    assert quality_step(quality_threshold="0.8").threshold == 0.8
    with pytest.raises(CurateError, match="--set quality_top=half: expected a number"):
        quality_step(quality_top="half")
    with pytest.raises(CurateError, match="threshold or top_fraction, not both"):
        quality_step(quality_top="0.5", quality_threshold="0.5")
    with pytest.raises(CurateError, match="nope.bin"):
        quality_step(quality_model=str(tmp_path / "nope.bin"))
