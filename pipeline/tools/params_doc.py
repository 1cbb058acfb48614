"""docs/params.md, the reference of every params.yaml key, generated from the `param(...)` declarations.

    python -m pipeline.tools.params_doc            # rewrite docs/params.md (also: make docs)
    python -m pipeline.tools.params_doc --check    # exit 1 if docs/params.md differs from what the code says

Which dataclass reads a section comes from the stage scripts' `load_section(Class, "section")` calls;
which stage reads it, and whether DVC tracks a key, from the `params:` of each stage in dvc.yaml. Types,
defaults and docs come from the dataclass fields; allowed values from the words each rule carries.
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

from ruamel.yaml import YAML

from pipeline.common.closure import ROOT
from pipeline.common.fileio import write_text
from pipeline.common.params import allowed
from pipeline.errors import PipelineError
from pipeline.tools.deps import DVC_YAML, stage_scripts

OUTPUT = "docs/params.md"


class ParamsDocError(PipelineError):
    """The stages or dvc.yaml do not say which class reads a params.yaml section."""


@dataclass(frozen=True)
class Section:
    """A params.yaml section: the stage that loads it, the dataclass it is read into, and dvc.yaml's tracked keys."""

    name: str
    stage: str
    cls: type
    tracked: tuple[str, ...]


@dataclass(frozen=True)
class Key:
    """One documented key (dotted path) of params.yaml."""

    path: str
    type: str
    default: str
    allowed: str
    doc: str


def _resolve(node: ast.expr, imported: dict[str, str]) -> Any:
    """The object a stage script's `Class` or `module.Class` expression names, through its imports."""
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, imported)
        if isinstance(base, ModuleType) and not hasattr(base, node.attr):  # a submodule not imported yet
            return importlib.import_module(f"{base.__name__}.{node.attr}")
        return getattr(base, node.attr)
    if isinstance(node, ast.Name) and node.id in imported:
        module, _, attr = imported[node.id].rpartition(":")
        return getattr(importlib.import_module(module), attr) if module else importlib.import_module(attr)
    raise LookupError(ast.unparse(node))


def loaded_sections(script: Path) -> Iterator[tuple[str, type]]:
    """(section, dataclass) for every `load_section(Class, "section", ...)` call in a stage script."""
    tree = ast.parse(script.read_text(encoding="utf-8"), str(script))
    imported: dict[str, str] = {}  # name in the script -> "module:attr" (from-import) or "module" (import)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.update({a.asname or a.name: f"{node.module}:{a.name}" for a in node.names})
        elif isinstance(node, ast.Import):
            imported.update({a.asname or a.name.split(".")[0]: a.name if a.asname else a.name.split(".")[0]
                             for a in node.names})
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "load_section"):
            continue
        if len(node.args) < 2 or not (isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            raise ParamsDocError(f"{script}:{node.lineno}: load_section needs the dataclass and the section name "
                                 "as its first two arguments, the name as a literal string")
        try:
            cls = _resolve(node.args[0], imported)
        except (LookupError, AttributeError, ImportError):
            raise ParamsDocError(f"{script}: load_section({ast.unparse(node.args[0])}, ...) names a class the "
                                 "script does not import") from None
        yield node.args[1].value, cls


def sections(root: Path = ROOT) -> list[Section]:
    """Every params.yaml section a stage reads, in dvc.yaml's stage order."""
    text = (root / DVC_YAML).read_text(encoding="utf-8")
    stages = YAML(typ="safe", pure=True).load(text)["stages"]
    found = []
    for stage, script in stage_scripts(text).items():
        params = stages[stage].get("params") or []
        tracked = tuple(p for p in params if isinstance(p, str))
        tracked += tuple(k for p in params if isinstance(p, dict) for k in p.get("params.yaml") or ())
        for name, cls in loaded_sections(root / script):
            found.append(Section(name, stage, cls, tracked))
    return found


def _yaml(value: Any) -> str:
    """A value as it would be written in params.yaml (flow style)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


def _defaults(cls: type) -> Any:
    """An instance with every default (post-init values included), or None when some key is required."""
    try:
        return cls()
    except TypeError:
        return None


def keys(cls: type, prefix: str, instance: Any = None) -> Iterator[Key]:
    """The documented keys of dataclass `cls` under `prefix`; a nested section's keys follow its own row."""
    instance = instance if instance is not None else _defaults(cls)
    for f in dataclasses.fields(cls):
        rule = f.metadata["rule"]
        if instance is not None:
            default = getattr(instance, f.name)
        else:
            default = f.default if f.default is not dataclasses.MISSING else dataclasses.MISSING
        nested = getattr(rule, "section", None)
        shown = "required" if default is dataclasses.MISSING else ("see below" if nested else _yaml(default))
        yield Key(f"{prefix}.{f.name}", str(f.type), shown, allowed(rule), f.metadata.get("doc", ""))
        if nested is not None:
            yield from keys(nested, f"{prefix}.{f.name}", None if default is dataclasses.MISSING else default)


def _tracked(key: str, tracked: tuple[str, ...]) -> bool:
    return any(key == t or key.startswith(t + ".") for t in tracked)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(root: Path = ROOT) -> str:
    """The whole of docs/params.md."""
    lines = [
        "# Parameters (`params.yaml`)",
        "",
        "<!-- Generated by `python -m pipeline.tools.params_doc` (or `make docs`) from the `param(...)`",
        "     declarations; edit the code, not this page. tests/tools/test_params_doc.py checks it is current. -->",
        "",
        "Every key is validated when the stage that reads it starts; a bad value stops the stage with a",
        "one-line error naming the key, the value and what is allowed. A key left out of `params.yaml` takes",
        "its default. **DVC** says whether the key is one of the stage's `params` in `dvc.yaml`",
        "(*tracked*: changing it reruns the stage) or not (*runtime*: it changes how the stage runs, never",
        "what it writes, so changing it leaves `dvc status` clean).",
        "",
    ]
    for sec in sections(root):
        module = sys.modules[sec.cls.__module__].__file__ or ""
        where = Path(module).resolve().relative_to(root.resolve()) if module else sec.cls.__module__
        doc = (sec.cls.__doc__ or "").strip().splitlines()[0]
        lines += [f"## `{sec.name}`", "",
                  f"Read by the `{sec.stage}` stage into `{sec.cls.__name__}` (`{where}`): {doc}", "",
                  "| key | type | default | allowed | DVC | meaning |", "|---|---|---|---|---|---|"]
        for key in keys(sec.cls, sec.name):
            dvc = "tracked" if _tracked(key.path, sec.tracked) else "runtime"
            lines.append(f"| `{key.path}` | `{_cell(key.type)}` | `{_cell(key.default)}` | {_cell(key.allowed)} "
                         f"| {dvc} | {_cell(key.doc)} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.params_doc", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help=f"only compare; exit 1 if {OUTPUT} is out of date")
    parser.add_argument("--output", default=str(ROOT / OUTPUT), help="the page to write or check")
    args = parser.parse_args(argv)
    path = Path(args.output)
    try:
        text = render()
    except PipelineError as exc:
        print(f"params_doc: error: {exc}", file=sys.stderr)
        return 1
    if args.check:
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            print(f"params_doc: {path} is out of date; run: python -m pipeline.tools.params_doc", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, text)
    print(f"params_doc: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
