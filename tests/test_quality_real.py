"""The Wikipedia-vs-web classifier on real data (../shared/data): trained through
`curate classifier train classifiers/wikipedia_vs_web.py` on wikipedia/ against web pages
(web/pages.warc.gz, extracted on the fly) and web-text/ C4/CCNet/RedPajama documents; evaluated
on its held-out split and against the human labels of web-text/dclm-quality-labelled-499.jsonl
(kept out of training for that reason); and checked for artefact learning."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from curate.cli import main
from curate.quality import QualityModel, read_card

REPO = Path(__file__).resolve().parent.parent
DCLM = "web-text/dclm-quality-labelled-499.jsonl"


@pytest.fixture(scope="module")
def model(shared_data, lid_model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wikipedia_vs_web") / "wikipedia_vs_web.bin"
    code = main(["classifier", "train", str(REPO / "classifiers" / "wikipedia_vs_web.py"),
                 "--positive", str(shared_data / "wikipedia"),
                 "--negative", str(shared_data / "web" / "pages.warc.gz"),
                 str(shared_data / "web-text" / "c4-ccnet-redpajama-samples.jsonl"),
                 "--out", str(out), "--lid-model", lid_model])
    assert code == 0
    return out


def test_heldout_roc_auc_and_model_card(model):
    card = read_card(model)
    print("held-out:", json.dumps(card["heldout"]))
    assert card["heldout"]["roc_auc"] >= 0.95
    assert card["heldout"]["f1"] > 0.85
    data = card["data"]
    assert data["positive"]["documents"] == 166  # 106 enwiki + 60 WikiText articles
    assert data["negative"]["documents"] == 800  # 720 pages + 80 C4/CCNet/RedPajama documents
    assert data["negative"]["other_language"] > 200  # non-English pages are not negatives
    assert data["positive"]["train"] == data["negative"]["train"] > 300
    assert data["positive"]["heldout"] == data["negative"]["heldout"] > 50
    assert card["model_bytes"] == model.stat().st_size < 40_000_000  # bounded bucket count
    table = {row["threshold"]: row for row in card["threshold_table"]}
    assert table[0.1]["kept_fraction"] >= table[0.5]["kept_fraction"] >= table[0.9]["kept_fraction"]


def test_roc_auc_against_human_labels(model, shared_data, capsys):
    """Reported, not a target: DCLM's labels judge more than "reads like Wikipedia"."""
    assert main(["classifier", "eval", str(model), "--labelled", str(shared_data / DCLM)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    with capsys.disabled():
        print(f"\nDCLM human labels: ROC-AUC {result['roc_auc']} "
              f"({result['n_positive']} good / {result['n_negative']} bad documents)")
    assert (result["n_positive"], result["n_negative"]) == (272, 227)
    assert result["roc_auc"] > 0.5


def test_eval_positive_negative_form_on_real_files(model, shared_data, capsys):
    code = main(["classifier", "eval", str(model),
                 "--positive", str(shared_data / "wikipedia" / "wikitext2-valid.jsonl"),
                 "--negative", str(shared_data / "warc" / "wget-crawl-0000.warc.gz"),
                 str(shared_data / "web-text" / "c4-ccnet-redpajama-samples.jsonl")])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("roc_auc", "precision", "recall", "f1", "n_positive", "n_negative"):
        assert key in result
    assert result["n_positive"] == 60 and result["n_negative"] > 80  # the crawl's pages (extracted) and 80 docs
    assert result["roc_auc"] > 0.9


def _web_docs(shared_data, n=60):
    rows = [json.loads(line) for line in open(shared_data / DCLM)]  # web text the model never saw
    return [r["text"] for r in rows if len(r["text"]) > 500][:n]


def _insert_every(text: str, token: str, every: int, rng: random.Random) -> str:
    words = text.split(" ")
    for i in range(len(words) - 1, 0, -every):
        words.insert(i - rng.randrange(every // 2), token)
    return " ".join(words)


def test_wiki_artefacts_do_not_move_the_score(model, shared_data):
    """<unk>, wiki markup and title lines inserted into web documents change nothing."""
    scorer = QualityModel(str(model))
    assert not {"<unk>", "unk", "<unk", "="} & set(scorer.model.words)  # never in the vocabulary
    rng = random.Random(0)
    for text in _web_docs(shared_data):
        base = scorer.score(text)
        lines = text.split("\n")
        variants = {
            "unk": _insert_every(text, "<unk>", 12, rng),
            "wikitext_title": "= Homarus gammarus =\n" + text,
            "section_headings": "\n".join(line + "\n\n = = History = = \n" for line in lines),
            "title_line": "European lobster\n" + text,
            "plain_headings": "\n".join(["Early life"] + lines[:3] + ["Career"] + lines[3:]),
            "markup": _insert_every(text, "[[Category:Crustaceans]] [12] {{cite web}} '''", 20, rng),
        }
        for name, variant in variants.items():
            assert scorer.score(variant) == pytest.approx(base, abs=0.02), name


def test_a_model_without_the_normalisation_learns_unk(shared_data, tmp_path):
    """The control for the test above: trained on raw text, <unk> alone makes web text
    "wikipedia-like". (A tiny raw model; it is the direction that matters.)"""
    import fasttext

    from curate.quality.fit import fit

    wikitext = [json.loads(line)["text"] for line in open(shared_data / "wikipedia" / "wikitext2-valid.jsonl")]
    web = [json.loads(line)["text"] for line in open(shared_data / "web-text" / "c4-ccnet-redpajama-samples.jsonl")]
    train = tmp_path / "raw.txt"
    with open(train, "w") as f:
        for label, texts in (("wiki", wikitext), ("web", web)):
            for text in texts:
                for paragraph in text.split("\n"):
                    if len(paragraph.split()) > 20:
                        f.write(f"__label__{label} {paragraph}\n")
    fit(str(train), str(tmp_path / "raw.bin"), {"dim": 16, "epoch": 10, "lr": 0.2, "wordNgrams": 1, "bucket": 10_000,
                                                 "thread": 1, "seed": 1})
    raw = fasttext.load_model(str(tmp_path / "raw.bin"))

    def p_wiki(text):
        labels, probs = raw.predict(text.replace("\n", " "), k=2)
        return dict(zip(labels, probs))["__label__wiki"]

    rng = random.Random(0)
    jumps = [p_wiki(_insert_every(t, "<unk>", 12, rng)) - p_wiki(t) for t in _web_docs(shared_data, 30)]
    assert sum(jumps) / len(jumps) > 0.2
