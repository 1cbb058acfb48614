"""params.yaml: load a section and validate every key, with errors that name key, value and what is allowed."""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from pipeline.errors import PipelineError, shorten

PARAMS_FILE = "params.yaml"
# params.yaml is a few kB; anything far larger is not a params file (and is not read into memory).
MAX_PARAMS_BYTES = 1 << 20


class ParamsError(PipelineError, ValueError):
    """A params.yaml key is missing, unknown or has a value that is not allowed."""


# ---- value rules: each returns the normalised value or raises ParamsError(where, value, allowed) ----

Rule = Callable[[str, Any], Any]


def _fail(where: str, value: Any, allowed: str) -> ParamsError:
    return ParamsError(f"{where} = {shorten(value)} is not allowed: expected {allowed}")


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

    return allowing(span, rule)


def number(lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> Rule:
    """A finite float within the bounds (ints accepted and converted)."""
    left = "" if lo is None else f" {'>' if lo_open else '>='} {lo:g}"
    right = "" if hi is None else f" <= {hi:g}"
    span = f"a finite number{left}{right}"

    def rule(where: str, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _fail(where, v, span)
        try:
            v = float(v)
        except OverflowError:  # an int with hundreds of digits
            raise _fail(where, v, span) from None
        if not math.isfinite(v) or (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi):
            raise _fail(where, v, span)
        return v

    return allowing(span, rule)


def choice(*options: str) -> Rule:
    """One of the given strings."""
    span = "one of " + ", ".join(options)

    def rule(where: str, v: Any) -> Any:
        if v not in options:
            raise _fail(where, v, span)
        return v

    return allowing(span, rule)


def text(none_ok: bool = False) -> Rule:
    """A non-empty string; None too if `none_ok`."""

    def rule(where: str, v: Any) -> Any:
        if v is None and none_ok:
            return None
        if not isinstance(v, str) or not v:
            raise _fail(where, v, "a non-empty string")
        return v

    return allowing("a non-empty string" + (" or null" if none_ok else ""), rule)


def list_of(item: Rule, min_len: int = 1) -> Rule:
    """A list of at least `min_len` items, each checked by `item`; returned as a tuple."""

    def rule(where: str, v: Any) -> Any:
        if not isinstance(v, list) or len(v) < min_len:
            raise _fail(where, v, f"a list of at least {min_len} item(s)")
        return tuple(item(f"{where}[{i}]", x) for i, x in enumerate(v))

    return allowing(f"a list of at least {min_len} item(s), each {allowed(item)}", rule)


def section(cls: type) -> Rule:
    """A nested mapping validated as the dataclass `cls` (its keys are documented as `<key>.<field>`)."""

    def rule(where: str, v: Any) -> Any:
        return from_mapping(cls, v, where)

    rule.section = cls  # type: ignore[attr-defined]
    return allowing(f"a mapping of the keys below ({cls.__name__})", rule)


def allowing(description: str, rule: Rule) -> Rule:
    """Attach to `rule` the words that say what it accepts (read by the params reference, docs/params.md)."""
    rule.allowed = description  # type: ignore[attr-defined]
    return rule


def allowed(rule: Rule) -> str:
    """What `rule` accepts, in words; a rule declared without a description says so."""
    return getattr(rule, "allowed", "(undescribed rule)")


def param(rule: Rule, default: Any = dataclasses.MISSING, doc: str = "", assignment: bool = True) -> Any:
    """Declare a dataclass field validated by `rule`.

    `assignment=False` marks a setting added beyond the assignment's (read it with `is_assignment`).
    """
    metadata = {"rule": rule, "doc": doc, "assignment": assignment}
    if default is dataclasses.MISSING:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


def is_assignment(f: dataclasses.Field) -> bool:
    """False for a field declared with `param(..., assignment=False)`."""
    return f.metadata.get("assignment", True)


def from_mapping(cls: type, data: Any, where: str) -> Any:
    """Build the dataclass `cls` from a mapping, validating every field and refusing unknown keys.

    A class whose values depend on each other checks them in `__post_init__` (a ValueError), or, where
    the message must name the key it came from, in a `check(where)` method called here.
    """
    if not isinstance(data, Mapping):
        raise ParamsError(f"{where} must be a mapping of keys to values, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        shown = ", ".join(shorten(k) if not isinstance(k, str) or len(k) > 40 else k for k in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ParamsError(f"{where}: unknown key(s) {shown}{more}; allowed keys are {', '.join(fields)}")
    values = {}
    for name, f in fields.items():
        key = f"{where}.{name}"
        if name in data:
            values[name] = f.metadata["rule"](key, data[name])
        elif f.default is dataclasses.MISSING:
            raise ParamsError(f"{where}: missing key {name!r} ({f.metadata.get('doc') or 'required'})")
    try:
        obj = cls(**values)
    except ValueError as exc:  # cross-field checks in __post_init__
        raise ParamsError(f"{where}: {exc}") from exc
    if hasattr(obj, "check"):
        obj.check(where)
    return obj


def _yaml_where(path: Path, exc: MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    return f"{path}:{mark.line + 1}" if mark is not None else str(path)


def read_params(path: str | os.PathLike = PARAMS_FILE) -> dict[str, Any]:
    """Read params.yaml as DVC does (YAML 1.2 via ruamel.yaml: `1e-3` is a number; duplicate keys refused).

    Errors name the file (and line); a file over MAX_PARAMS_BYTES is refused before it is read.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_PARAMS_BYTES:
            raise ParamsError(f"{path}: {size} bytes is too large for a params file (at most {MAX_PARAMS_BYTES})")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found; run from the project root or pass --params") from None
    except IsADirectoryError:
        raise ParamsError(f"{path}: is a folder, expected the params.yaml file") from None
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not UTF-8 text (byte {exc.start}); expected a YAML file") from None
    return parse_params(text, path)


def parse_params(text: str, path: str | os.PathLike) -> dict[str, Any]:
    """The sections of params.yaml text, read as DVC does; errors name `path` (and line)."""
    path = Path(path)
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except DuplicateKeyError as exc:
        problem = (exc.problem or "").split(" with value")[0].replace("found duplicate", "duplicate")
        raise ParamsError(f"{_yaml_where(path, exc)}: {shorten(problem)[1:-1]} in the same section; "
                          "keep one (DVC refuses duplicate keys too)") from None
    except MarkedYAMLError as exc:
        raise ParamsError(f"{_yaml_where(path, exc)}: not valid YAML: {exc.problem or exc.context}") from None
    except (YAMLError, RecursionError) as exc:
        raise ParamsError(f"{path}: not valid YAML: {shorten(str(exc))}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: must be a mapping of sections (download, split, train, ...)")
    return data


def load_section(cls: type, section: str, path: str | os.PathLike = PARAMS_FILE) -> Any:
    """Read one section of params.yaml into the validated dataclass `cls`."""
    data = read_params(path)
    if section not in data:
        raise ParamsError(f"{path}: missing section {section!r}")
    return from_mapping(cls, data[section], f"{Path(path).name}:{section}")
