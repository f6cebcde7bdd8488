"""Typed settings of a pipeline or ablation file.

A file declares its settings once, as a dataclass named `Settings` whose fields carry their type,
default and a line of help:

    @dataclass
    class Settings:
        extractor: Literal["blocks", "trafilatura"] = setting("blocks", "main-text extractor")
        language_threshold: float = setting(0.65, "keep documents whose language score is at least this",
                                            min=0, max=1)

`curate run FILE --set KEY=VALUE` (and `curate ablate`, and a `Pipeline(settings={...})` variant)
converts each value by its field's type here, and nowhere else: strings from the command line are
parsed, typed values from TOML or Python are checked. An unknown key or a bad value is a one-line
error that names the known keys.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from typing import Any, Literal

from curate.errors import CurateError

TRUE, FALSE, NONE = ("true", "yes", "on", "1"), ("false", "no", "off", "0"), ("none", "null", "")


def setting(default: Any, help: str, *, min: float | None = None, max: float | None = None,
            operational: bool = False):
    """A settings field: its default, one line of help, optionally the range of a number.
    operational=True: it changes how the run runs, not what it writes (a server's address, a
    timeout, a concurrency), so it is not part of the run's identity and a resumed run may change it."""
    meta = {"help": help, "min": min, "max": max, "operational": operational}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class NoSettings:
    """The settings of a file that declares none."""


def settings_class(namespace: object) -> type:
    """The `Settings` dataclass a loaded pipeline/ablation module declares, else NoSettings."""
    cls = vars(namespace).get("Settings")
    return cls if isinstance(cls, type) and dataclasses.is_dataclass(cls) else NoSettings


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """["key=value", ...] from the command line -> {key: "value"} (values stay strings)."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CurateError(f"--set {pair!r}: expected KEY=VALUE")
        values[key.strip()] = value.strip()
    return values


def make_settings(cls: type, values: dict[str, Any], where: str) -> Any:
    """An instance of `cls` from `values` (strings are parsed, other values type-checked)."""
    hints = _hints(cls, where)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        listed = ", ".join(known) if known else "none: the file declares no Settings"
        raise CurateError(f"{where}: unknown setting {', '.join(unknown)} (settings: {listed})")
    converted = {name: convert(name, hints[name], value, known[name].metadata) for name, value in values.items()}
    return cls(**converted)


def identifying(settings: Any) -> dict:
    """The settings that decide what a run writes (all but the operational ones), as JSON values."""
    return {f.name: _json_value(getattr(settings, f.name)) for f in dataclasses.fields(settings)
            if not f.metadata.get("operational")}


def _json_value(value):
    return value if isinstance(value, (str, int, float, bool, type(None), list)) else str(value)


def describe(cls: type) -> list[dict]:
    """One row per setting: name, type, default and help (what `--list-settings` prints)."""
    hints = _hints(cls, cls.__name__)
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        rows.append({"name": f.name, "type": type_name(hints[f.name]), "default": default,
                     "help": f.metadata.get("help", "")})
    return rows


def type_name(kind) -> str:
    args = typing.get_args(kind)
    if typing.get_origin(kind) is Literal:
        return "|".join(str(a) for a in args)
    if _is_optional(kind):
        return type_name(next(a for a in args if a is not type(None))) + " or none"
    if typing.get_origin(kind) is list:
        return f"list of {type_name(args[0])} (comma-separated)"
    return getattr(kind, "__name__", str(kind))


def convert(name: str, kind, value: Any, meta: dict | typing.Mapping = types.MappingProxyType({})) -> Any:
    """`value` as `kind` (str, int, float, bool, list[...], Literal[...], X | None), or CurateError."""
    # strings come from the command line: name them as typed there
    said = f"--set {name}={value}" if isinstance(value, str) else f"setting {name}={value!r}"
    try:
        result = _convert(kind, value)
    except (TypeError, ValueError) as e:
        raise CurateError(f"{said}: {e}") from None
    low, high = meta.get("min"), meta.get("max")
    if isinstance(result, (int, float)) and not isinstance(result, bool):
        if (low is not None and result < low) or (high is not None and result > high):
            span = f"between {low} and {high}" if low is not None and high is not None else (
                f"at least {low}" if low is not None else f"at most {high}")
            raise CurateError(f"{said}: must be {span}")
    return result


def _convert(kind, value):
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    text = value.strip() if isinstance(value, str) else None
    if _is_optional(kind):
        if value is None or (text is not None and text.lower() in NONE):
            return None
        return _convert(next(a for a in args if a is not type(None)), value)
    if origin is Literal:
        for choice in args:
            if value == choice or (text is not None and text == str(choice)):
                return choice
        raise ValueError(f"expected one of {', '.join(map(str, args))}")
    if origin is list:
        items = [part.strip() for part in text.split(",") if part.strip()] if text is not None else value
        if not isinstance(items, (list, tuple)):
            raise ValueError("expected a list")
        return [_convert(args[0], item) for item in items]
    if kind is bool:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in TRUE + FALSE:
            return text.lower() in TRUE
        raise ValueError("expected true or false")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if text is not None and text.lstrip("+-").isdigit():
            return int(text)
        raise ValueError("expected an integer")
    if kind is float:
        try:
            number = float(text) if text is not None else value
        except ValueError:
            raise ValueError("expected a number") from None
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValueError("expected a number")
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        return float(number)
    if kind is str:
        if isinstance(value, str):
            return value
        raise ValueError("expected a string")
    raise TypeError(f"settings of type {type_name(kind)} are not supported")


def _is_optional(kind) -> bool:
    return typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind)


def _hints(cls: type, where: str) -> dict:
    try:
        return typing.get_type_hints(cls)
    except Exception as e:  # noqa: BLE001 - a name the annotations use is not defined
        raise CurateError(f"{where}: cannot read the Settings types ({type(e).__name__}: {e})") from None
