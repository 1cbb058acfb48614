"""The package's layers (pipeline/__init__.py): no import circles, nothing imports a layer above its own."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.common.closure import import_graph, module_name

ROOT = Path(__file__).resolve().parents[1]
# Lowest first; a module may import its own layer and the ones before it.
LAYERS = (
    ("pipeline", "pipeline.errors"),
    ("pipeline.nn",),
    ("pipeline.common",),
    ("pipeline.data",),
    ("pipeline.persistence",),
    ("pipeline.training", "pipeline.evaluate"),
    ("pipeline.search", "pipeline.plotting", "pipeline.use"),
    ("pipeline.tools", "pipeline.predict", "pipeline.serve"),
)
MODULES = sorted(ROOT.glob("pipeline/**/*.py"))
GRAPH = import_graph(MODULES, ROOT)


def layer(name: str) -> int:
    """The layer of a module: the longest declared prefix wins ('pipeline.nn.model' -> 1)."""
    best = max((prefix for group in LAYERS for prefix in group if name == prefix or name.startswith(prefix + ".")),
               key=len)
    return next(i for i, group in enumerate(LAYERS) if best in group)


def test_every_module_has_a_layer_and_the_package_docstring_names_each():
    doc = (ROOT / "pipeline" / "__init__.py").read_text()
    top = {module_name(p, ROOT).split(".")[1] for p in MODULES if p.parent != ROOT / "pipeline" or p.stem != "__init__"}
    assert top == {prefix.split(".")[1] for group in LAYERS for prefix in group if "." in prefix}
    for name in top:
        assert f"\n  {name}" in doc, f"pipeline/__init__.py does not describe {name}"


def test_at_most_eight_modules_directly_under_pipeline():
    assert len(list((ROOT / "pipeline").glob("*.py"))) <= 8


@pytest.mark.parametrize("module", sorted(GRAPH), ids=str)
def test_no_module_imports_a_layer_above_its_own(module):
    above = sorted(m for m in GRAPH[module] if m.startswith("pipeline") and layer(m) > layer(module))
    assert above == [], f"{module} (layer {layer(module)}) imports {above}"


def test_nn_imports_only_the_error_types():
    outside = {m for name, imports in GRAPH.items() if name.startswith("pipeline.nn")
               for m in imports if not m.startswith("pipeline.nn")}
    assert outside <= {"pipeline", "pipeline.errors"}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle among explicit imports (package __init__ files reached implicitly left out)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):
                continue  # a package's __init__ importing its own submodules
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circles_type_only_imports_included():
    explicit = {name: {m for m in imports if not name.startswith(m + ".")} for name, imports in GRAPH.items()}
    assert _cycle(explicit) is None, " -> ".join(_cycle(explicit))


def test_the_circle_check_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
