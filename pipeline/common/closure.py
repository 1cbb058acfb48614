"""The code a module runs: its import closure within the project (`pipeline/` and `stages/`).

Every `import` statement anywhere in a file counts (inside functions and `TYPE_CHECKING` blocks too),
plus the `__init__.py` of every package on the way, since Python runs it. dvc.yaml's code deps
(`python -m pipeline.tools.deps`) and the trial store's code key (`pipeline.search.store`) are both
this closure, so DVC and the store agree on what code decides a result. An import of a project
module that does not exist is an error, never skipped.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from pipeline.errors import PipelineError

PACKAGES = ("pipeline", "stages")  # top-level names whose modules are project code
ROOT = Path(__file__).resolve().parents[2]


class ImportClosureError(PipelineError, ValueError):
    """A project import that resolves to no file, or a dvc.yaml stage whose script is missing."""


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The source file of the project module `name` (a package's __init__.py), or None."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path, root: Path = ROOT) -> str:
    """'pipeline/nn/model.py' -> 'pipeline.nn.model'; a package's __init__.py -> the package."""
    parts = list(path.resolve().relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _packages_of(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@lru_cache(maxsize=None)
def _imports(path: Path, root: Path) -> tuple[str, ...]:
    """Project modules imported anywhere in the file at `path` (absolute names)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append(target)
            # `from package import name` imports the submodule `name` when there is one
            found += [f"{target}.{alias.name}" for alias in node.names
                      if module_file(f"{target}.{alias.name}", root) is not None]
    return tuple(m for m in found if m.split(".")[0] in PACKAGES)


def import_graph(start: list[Path], root: Path = ROOT) -> dict[str, set[str]]:
    """{module: the project modules it imports} for every module reachable from the files `start`."""
    graph: dict[str, set[str]] = {}
    todo = [module_name(p, root) for p in start]
    files = {module_name(p, root): p.resolve() for p in start}
    while todo:
        name = todo.pop()
        if name in graph:
            continue
        path = files.get(name) or module_file(name, root)
        if path is None:
            raise ImportClosureError(f"{name}: imported but no such module under {root}; fix the import or add the module")
        targets = set()
        for imported in _imports(path, root):
            if module_file(imported, root) is None:
                raise ImportClosureError(f"{path.relative_to(root)}: imports {imported}, which is no module of the project")
            targets.add(imported)
            targets.update(p for p in _packages_of(imported) if module_file(p, root) is not None)
        targets.discard(name)  # a package's __init__ reaching its own name through a submodule
        graph[name] = targets
        todo += sorted(targets - graph.keys())
    return graph


def import_closure(start: list[Path], root: Path = ROOT) -> list[Path]:
    """The files of `start` and of every project module they reach, with the packages' __init__.py; sorted."""
    graph = import_graph(start, root)
    names = set(graph)
    for name in list(names):
        names.update(p for p in _packages_of(name) if module_file(p, root) is not None)
    files = {module_file(n, root) or next(p for p in start if module_name(p, root) == n) for n in names}
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())
