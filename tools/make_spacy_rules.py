"""Developer tool: regenerate spacy_en.json, the English tokeniser rules our word splitter
replays (prefix/suffix/infix/URL patterns, special cases, sentencizer punctuation).

    python tools/make_spacy_rules.py   # needs `pip install spacy`

The rules are spaCy's (MIT licence, (c) ExplosionAI GmbH); datatrove's Gopher, C4 and FineWeb
filters tokenise with `spacy.blank("en")`, so replaying them gives the same words without
importing spaCy at run time.
"""

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "curate" / "filters" / "heuristics" / "spacy_en.json"


def main() -> None:
    import spacy
    from spacy.pipeline.sentencizer import Sentencizer
    from spacy.symbols import ORTH

    tok = spacy.blank("en").tokenizer
    rules = {key: [piece[ORTH] for piece in pieces] for key, pieces in tok.rules.items()}
    data = {
        "source": f"spaCy {spacy.__version__} English tokenizer (MIT licence, (c) ExplosionAI GmbH)",
        "prefix": tok.prefix_search.__self__.pattern,
        "suffix": tok.suffix_search.__self__.pattern,
        "infix": tok.infix_finditer.__self__.pattern,
        "url": tok.url_match.__self__.pattern,
        "special_cases": dict(sorted(rules.items())),
        "sentence_punct": list(Sentencizer.default_punct_chars),
    }
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(rules)} special cases)")


if __name__ == "__main__":
    main()
