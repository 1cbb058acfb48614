"""params.yaml: load a section and validate every key, with errors that name key, value and what is allowed."""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

PARAMS_FILE = "params.yaml"


class ParamsError(ValueError):
    """A params.yaml key is missing, unknown or has a value that is not allowed."""


# ---- value rules: each returns the normalised value or raises ParamsError(where, value, allowed) ----

Rule = Callable[[str, Any], Any]


def _fail(where: str, value: Any, allowed: str) -> ParamsError:
    return ParamsError(f"{where} = {value!r} is not allowed: expected {allowed}")


def integer(lo: int | None = None, hi: int | None = None, none_ok: bool = False) -> Rule:
    """An int within [lo, hi] (bools refused); None too if `none_ok`."""
    span = f"an integer{'' if lo is None else f' >= {lo}'}{'' if hi is None else f' <= {hi}'}"
    span += " or null" if none_ok else ""

    def rule(where: str, v: Any) -> Any:
        if v is None and none_ok:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or (lo is not None and v < lo) or (hi is not None and v > hi):
            raise _fail(where, v, span)
        return v

    return rule


def number(lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> Rule:
    """A finite float within the bounds (ints accepted and converted)."""
    left = "" if lo is None else f" {'>' if lo_open else '>='} {lo:g}"
    right = "" if hi is None else f" <= {hi:g}"
    span = f"a finite number{left}{right}"

    def rule(where: str, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _fail(where, v, span)
        v = float(v)
        if not math.isfinite(v) or (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi):
            raise _fail(where, v, span)
        return v

    return rule


def choice(*options: str) -> Rule:
    """One of the given strings."""

    def rule(where: str, v: Any) -> Any:
        if v not in options:
            raise _fail(where, v, "one of " + ", ".join(options))
        return v

    return rule


def text() -> Rule:
    """A non-empty string."""

    def rule(where: str, v: Any) -> Any:
        if not isinstance(v, str) or not v:
            raise _fail(where, v, "a non-empty string")
        return v

    return rule


def list_of(item: Rule, min_len: int = 1) -> Rule:
    """A list of at least `min_len` items, each checked by `item`; returned as a tuple."""

    def rule(where: str, v: Any) -> Any:
        if not isinstance(v, list) or len(v) < min_len:
            raise _fail(where, v, f"a list of at least {min_len} item(s)")
        return tuple(item(f"{where}[{i}]", x) for i, x in enumerate(v))

    return rule


def param(rule: Rule, default: Any = dataclasses.MISSING, doc: str = "") -> Any:
    """Declare a dataclass field validated by `rule`."""
    if default is dataclasses.MISSING:
        return field(metadata={"rule": rule, "doc": doc})
    return field(default=default, metadata={"rule": rule, "doc": doc})


def from_mapping(cls: type, data: Any, where: str) -> Any:
    """Build the dataclass `cls` from a mapping, validating every field and refusing unknown keys."""
    if not isinstance(data, Mapping):
        raise ParamsError(f"{where} must be a mapping of keys to values, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ParamsError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed keys are {', '.join(fields)}")
    values = {}
    for name, f in fields.items():
        key = f"{where}.{name}"
        if name in data:
            values[name] = f.metadata["rule"](key, data[name])
        elif f.default is dataclasses.MISSING:
            raise ParamsError(f"{where}: missing key {name!r} ({f.metadata.get('doc') or 'required'})")
    try:
        return cls(**values)
    except ValueError as exc:  # cross-field checks in __post_init__
        raise ParamsError(f"{where}: {exc}") from exc


def read_params(path: str | os.PathLike = PARAMS_FILE) -> dict[str, Any]:
    """Read params.yaml as a mapping, with a clear error if it is missing or not valid YAML."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found; run from the project root or pass --params") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: must be a mapping of sections (download, split, train, ...)")
    return data


def load_section(cls: type, section: str, path: str | os.PathLike = PARAMS_FILE) -> Any:
    """Read one section of params.yaml into the validated dataclass `cls`."""
    data = read_params(path)
    if section not in data:
        raise ParamsError(f"{path}: missing section {section!r}")
    return from_mapping(cls, data[section], f"{Path(path).name}:{section}")
