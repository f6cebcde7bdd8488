"""What an ablation is: variants of training data, a baseline, eval sets, a FLOP budget, seeds
and a model. Written as a small Python file (`build(settings)` returning an `Ablation`, or an
`ABLATION` object) or a TOML file with the same fields (docs/train.md, pipelines/ablate.py)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from curate.errors import CurateError
from curate.settings import make_settings, settings_class
from curate.userfile import load_python_file


@dataclass
class Texts:
    """Parquet/JSONL files or folders; `column` is the text column (e.g. rephrased_text); `where`
    keeps only rows whose columns equal these values (e.g. {"rephrase_status": "ok"}: no echoed,
    refused or cut-off rewrites)."""

    paths: list[str]
    column: str = "text"
    where: dict = field(default_factory=dict)


@dataclass
class Pipeline:
    """The Parquet a curate pipeline file writes from `inputs`, optionally with steps (class or
    stage names) left out: run into OUT/variants/<name>/ and then trained on. An input
    "variant:NAME" is what the earlier pipeline variant NAME wrote (extract once, filter often)."""

    file: str
    inputs: list[str]
    leave_out: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)  # the pipeline file's settings (typed values, as `curate run --set`)
    tasks: int = 1
    workers: int = 1
    column: str = "text"


@dataclass
class Tokens:
    """A `curate tokenize` output folder (tokens.json and its Megatron, datatrove or numpy shards):
    trained on as written, nothing tokenised. The ablation's tokenizer must be the one the shards
    were made with."""

    path: str


@dataclass
class RandomBytes:
    """A control: uniformly random bytes, in documents of `doc_bytes`. Anything trained on it
    should end far worse than real text."""

    n_bytes: int = 1_000_000
    doc_bytes: int = 2000
    seed: int = 0


@dataclass
class Mix:
    """Several sources, each training window drawn from one of them by weight (1:1 real to
    synthetic text: Mix([(real, 1), (rephrased, 1)]))."""

    parts: list[tuple[Texts | Pipeline | Tokens | RandomBytes, float]]


Source = Texts | Pipeline | Tokens | RandomBytes | Mix


@dataclass
class Cloze:
    """A cloze task from held-out text (curate/train/cloze.py): `items` sentence endings, each
    against `choices - 1` distractors from the same article, drawn by `seed`; `kind` word_order
    (the last 6 words reordered) or final_word (other words of the article)."""

    paths: list[str]
    column: str = "text"
    items: int = 200
    choices: int = 4
    seed: int = 0
    kind: str = "word_order"


@dataclass
class Ablation:
    variants: dict[str, Source]
    baseline: str
    eval_sets: dict[str, Texts]
    flops: float
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    preset: str = "cpu-tiny"
    model: dict = field(default_factory=dict)  # ModelConfig fields overriding the preset's
    tokenizer: str | None = None  # None: bytes; else a tokenizer.json path
    evals: int = 8  # evaluations per run, at evenly spaced FLOPs
    eval_tokens: int = 16384  # predicted tokens per eval set (the first windows of it)
    cloze: dict[str, Cloze] = field(default_factory=dict)  # cloze tasks scored next to bpb
    chain: list[str] = field(default_factory=list)  # variants each adding one stage: marginal effects
    leave_one_out: dict[str, str] = field(default_factory=dict)  # stage -> the full recipe without it
    full: str | None = None  # the full recipe (default: the chain's last variant)
    subsamples: int = 1  # data subsamples each variant trains on, per seed
    subsample: str = "halves"  # "halves" (disjoint seeded halves) or "bootstrap" (documents with replacement)
    average_last: int = 1  # a run's score: the mean of its last this many evaluations

    def check(self, where: str) -> "Ablation":
        if not self.variants:
            raise CurateError(f"{where}: no variants")
        if self.baseline not in self.variants:
            raise CurateError(f"{where}: baseline {self.baseline!r} is not a variant "
                              f"(variants: {', '.join(self.variants)})")
        if not self.eval_sets:
            raise CurateError(f"{where}: no eval sets")
        if self.subsamples < 1 or self.subsample not in ("halves", "bootstrap"):
            raise CurateError(f"{where}: subsamples must be at least 1 and subsample 'halves' or 'bootstrap'")
        if len(set(self.seeds)) * self.subsamples < 2:
            raise CurateError(f"{where}: give at least 2 seeds (the verdicts compare differences with the "
                              f"spread over seeds and subsamples)")
        if not self.flops or self.flops <= 0:
            raise CurateError(f"{where}: flops must be a positive FLOP budget")
        if self.evals < 1 or self.eval_tokens < 1:
            raise CurateError(f"{where}: evals and eval_tokens must be at least 1")
        if not 1 <= self.average_last <= self.evals:
            raise CurateError(f"{where}: average_last must be from 1 to evals ({self.evals})")
        named = {"chain": self.chain, "leave_one_out": list(self.leave_one_out.values()),
                 "full": [self.full] if self.full else []}
        for key, names in named.items():
            unknown = [n for n in names if n not in self.variants]
            if unknown:
                raise CurateError(f"{where}: {key} names {', '.join(map(repr, unknown))}, not a variant "
                                  f"(variants: {', '.join(self.variants)})")
        if self.leave_one_out and not (self.full or self.chain):
            raise CurateError(f"{where}: leave_one_out needs the full recipe: set full (or a chain)")
        for name, task in self.cloze.items():
            if not isinstance(task, Cloze):
                raise CurateError(f"{where}: cloze {name!r} must be Cloze(paths, column, items, choices, seed)")
        for name, variant in self.variants.items():
            if not isinstance(variant, (Texts, Pipeline, Tokens, RandomBytes, Mix)):
                raise CurateError(f"{where}: variant {name!r} is a {type(variant).__name__}; use Texts, Pipeline, "
                                  "Tokens, RandomBytes or Mix")
        for name, data in self.eval_sets.items():
            if not isinstance(data, Texts):
                raise CurateError(f"{where}: eval set {name!r} must be Texts(paths, column)")
        return self


def load_ablation(path: str, settings: dict | None = None) -> Ablation:
    """The ablation a config file describes. A Python config's `build(settings)` gets its
    `Settings` dataclass filled from `settings` (curate ablate --set KEY=VALUE, curate/settings.py)."""
    file = Path(path)
    if not file.is_file():
        raise CurateError(f"{path}: no such ablation config")
    if file.suffix == ".toml":
        if settings:
            raise CurateError(f"{path}: --set is for Python configs with Settings (a TOML config has none)")
        return _from_toml(file).check(path)
    if file.suffix != ".py":
        raise CurateError(f"{path}: an ablation config is a .py or .toml file")
    module = load_python_file(path, "ablation")
    typed = make_settings(settings_class(module), dict(settings or {}), path)
    build = vars(module).get("build")
    try:
        ablation = build(typed) if callable(build) else vars(module).get("ABLATION")
    except CurateError:
        raise
    except Exception as e:
        raise CurateError(f"{path}: build(settings) failed ({type(e).__name__}: {e})") from e
    if not isinstance(ablation, Ablation):
        raise CurateError(f"{path}: an ablation config defines build(settings) returning a "
                          "curate.train.config.Ablation (or ABLATION = Ablation(...))")
    return ablation.check(path)


def _from_toml(file: Path) -> Ablation:
    try:
        raw = tomllib.loads(file.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CurateError(f"{file}: not valid TOML ({e})") from None
    where = str(file)
    allowed = {f.name for f in fields(Ablation)}
    unknown = set(raw) - allowed
    if unknown:
        raise CurateError(f"{where}: unknown key {', '.join(sorted(unknown))} (keys: {', '.join(sorted(allowed))})")
    for key in ("variants", "baseline", "eval_sets", "flops"):
        if key not in raw:
            raise CurateError(f"{where}: missing {key!r}")
    raw["variants"] = {name: _toml_source(spec, f"{where}: variant {name!r}")
                       for name, spec in _table(raw["variants"], f"{where}: variants").items()}
    raw["eval_sets"] = {name: _toml_texts(spec, f"{where}: eval set {name!r}")
                        for name, spec in _table(raw["eval_sets"], f"{where}: eval_sets").items()}
    raw["flops"] = float(raw["flops"])
    cloze = {}
    for name, spec in _table(raw.get("cloze", {}), f"{where}: cloze").items():
        spec = dict(_table(spec, f"{where}: cloze {name!r}"))
        try:
            cloze[name] = Cloze(**{**spec, "paths": _paths(spec.get("paths"), f"{where}: cloze {name!r}")})
        except TypeError as e:
            raise CurateError(f"{where}: cloze {name!r}: {e}") from None
    raw["cloze"] = cloze
    return Ablation(**raw)


def _table(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise CurateError(f"{where}: expected a table")
    return value


def _paths(value, where: str) -> list[str]:
    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise CurateError(f"{where}: paths must be a path or a list of paths")
    expanded = [os.path.expandvars(p) for p in paths]  # ${CURATE_SHARED_DATA}/... works
    for path in expanded:
        if "$" in path:
            raise CurateError(f"{where}: {path}: set the environment variable it names")
    return expanded


def _toml_texts(spec, where: str) -> Texts:
    spec = _table(spec, where)
    if "paths" not in spec or set(spec) - {"paths", "column", "where"}:
        raise CurateError(f"{where}: expected paths and optionally column and where")
    return Texts(_paths(spec["paths"], where), spec.get("column", "text"), dict(_table(spec.get("where", {}), where)))


def _toml_source(spec, where: str) -> Source:
    spec = _table(spec, where)
    try:
        if "mix" in spec:
            parts = []
            for i, part in enumerate(spec["mix"]):
                part = dict(_table(part, f"{where} mix[{i}]"))
                weight = float(part.pop("weight", 1.0))
                parts.append((_toml_source(part, f"{where} mix[{i}]"), weight))
            return Mix(parts)
        if "pipeline" in spec:
            spec = dict(spec)
            file = spec.pop("pipeline")
            return Pipeline(file=file, **{**spec, "inputs": _paths(spec.get("inputs"), where)})
        if "tokens" in spec:
            if set(spec) != {"tokens"} or not isinstance(spec["tokens"], str):
                raise CurateError(f"{where}: tokens = \"FOLDER\" (a curate tokenize output) and nothing else")
            return Tokens(_paths(spec["tokens"], where)[0])
        if "random_bytes" in spec:
            return RandomBytes(n_bytes=int(spec["random_bytes"]), **{k: v for k, v in spec.items()
                                                                      if k != "random_bytes"})
    except TypeError as e:
        raise CurateError(f"{where}: {e}") from None
    return _toml_texts(spec, where)
