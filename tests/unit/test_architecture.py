"""Imports run one way: a lore_rag layer imports only layers below it, and no modules import each other.

The layers are those of ``docs/architecture.md``, from the ground up. Every import counts: at module level, inside
a function, under ``if TYPE_CHECKING:``, relative or absolute, and ``importlib.import_module("lore_rag....")`` with
a literal name. Cycles are checked on the imports that run (``TYPE_CHECKING`` blocks left out), the implicit import
of a module's parent package (which Python does first) left out too: only an import that names it counts.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: lore_rag's layers, lowest first: a module may import its own layer and the layers before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "config", "defaults", "_hashing", "_lazy", "runs", "concurrency"),
    ("models",),
    ("llm",),
    ("data",),
    ("losses", "retrieval"),
    ("evaluation",),
    ("training",),
    ("demo", "integrations"),
    ("cli", "__main__"),
)
#: Top-level packages of this repository that sit above all of lore_rag.
ABOVE_PACKAGE = ("app", "recipes", "benchmarks")
#: ``lore_rag/__init__.py`` is the public facade: it may name any layer's API (lazily, for the heavy ones); a module may
#: import it when it sits at or above every layer the facade imports when it runs.
FACADE = "lore_rag"


@dataclass(frozen=True)
class Import:
    """One import statement: who imports what, where, and whether it only runs for type checkers."""

    source: str
    target: str
    path: str
    line: int
    type_only: bool

    def where(self) -> str:
        return f"{self.path}:{self.line}: {self.source} imports {self.target}"


def module_name(package_root: Path, path: Path) -> str:
    parts = list(path.relative_to(package_root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imports_of(package_root: Path, path: Path, modules: set[str]) -> list[Import]:
    """Every import in one file, with a ``from X import y`` naming module ``X.y`` when that is a module."""
    source = module_name(package_root, path)
    is_package = path.name == "__init__.py"
    rel = path.relative_to(package_root.parent).as_posix()
    found: list[Import] = []

    def add(target: str, node: ast.AST, type_only: bool) -> None:
        found.append(Import(source, target, rel, getattr(node, "lineno", 0), type_only))

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node, type_only)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(source, is_package, node.level, node.module) if node.level else node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                add(candidate if candidate in modules else base, node, type_only)
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id == "import_module")
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            add(node.args[0].value, node, type_only)
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False)
    return found


def all_imports(package_root: Path) -> list[Import]:
    """Every import of every module under ``package_root`` (a package folder such as ``lore_rag/``)."""
    files = sorted(package_root.rglob("*.py"))
    modules = {module_name(package_root, path) for path in files}
    return [item for path in files for item in imports_of(package_root, path, modules)]


def layer_of(module: str) -> int | None:
    """Index of a lore_rag module's layer in :data:`LAYERS` (``None`` for a module no layer names)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    for index, names in enumerate(LAYERS):
        if parts[1] in names:
            return index
    return None


def facade_layer(imports: list[Import]) -> int:
    """The layer of ``lore_rag/__init__.py``: the highest layer among the modules it imports when it runs."""
    layers = [layer_of(i.target) for i in imports if i.source == FACADE and not i.type_only]
    return max((layer for layer in layers if layer is not None), default=0)


def layer_violations(package_root: Path) -> list[str]:
    """``file:line: A imports B`` for each import of a higher layer, of app/recipes/benchmarks, or by no layer."""
    problems: list[str] = []
    imports = all_imports(package_root)
    facade = facade_layer(imports)
    for item in dict.fromkeys(imports):
        top = item.target.split(".")[0]
        if top in ABOVE_PACKAGE:
            problems.append(f"{item.where()} (lore_rag must not import the top-level {top}/ package)")
            continue
        if item.source == FACADE or top != package_root.name:
            continue
        source_layer, target_layer = layer_of(item.source), layer_of(item.target)
        if source_layer is None:
            problems.append(f"{item.where()} ({item.source} is in no layer: add it to LAYERS)")
        elif item.target == FACADE and facade > source_layer:
            problems.append(f"{item.where()} (the lore_rag facade imports layer {facade}: import the defining module)")
        elif item.target == FACADE:
            continue
        elif target_layer is None:
            problems.append(f"{item.where()} ({item.target} is in no layer: add it to LAYERS)")
        elif target_layer > source_layer:
            problems.append(f"{item.where()} (layer {source_layer} imports layer {target_layer})")
    return problems


def import_cycles(package_root: Path) -> list[str]:
    """Each set of modules that import each other at run time, as ``a -> b -> a`` with the lines that do it."""
    graph: dict[str, dict[str, Import]] = {}
    for item in all_imports(package_root):
        if item.type_only or item.target.split(".")[0] != package_root.name or item.target == item.source:
            continue
        graph.setdefault(item.source, {}).setdefault(item.target, item)
    cycles = []
    for component in _strongly_connected(graph):
        if len(component) > 1:
            cycle = _cycle_through(graph, component)
            lines = "; ".join(graph[a][b].where() for a, b in zip(cycle, cycle[1:]))
            cycles.append(" -> ".join(cycle) + f" ({lines})")
    return cycles


def _strongly_connected(graph: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's algorithm, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[set[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, {}))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                result.append(component)
    return result


def _cycle_through(graph: dict[str, dict[str, Import]], component: set[str]) -> list[str]:
    """One closed path inside a strongly connected component, starting at its first module by name."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph.get(node, {})):
            if child == start:
                return paths[node] + [start]
            if child in component and child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    raise AssertionError(f"no cycle through {start}")  # a component of 2+ modules always has one


def _plant(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "lore_rag"


def test_lore_rag_imports_only_lower_layers_and_never_app_recipes_or_benchmarks() -> None:
    problems = layer_violations(ROOT / "lore_rag")
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_no_lore_rag_modules_import_each_other() -> None:
    cycles = import_cycles(ROOT / "lore_rag")
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_every_lore_rag_module_sits_in_a_layer() -> None:
    modules = {module_name(ROOT / "lore_rag", p) for p in (ROOT / "lore_rag").rglob("*.py")}
    unplaced = sorted(m for m in modules if m != FACADE and layer_of(m) is None)
    assert not unplaced, f"modules in no layer (add them to LAYERS and docs/architecture.md): {unplaced}"


def test_the_layer_check_reports_upward_imports_in_functions_relative_and_type_only(tmp_path: Path) -> None:
    root = _plant(
        tmp_path,
        {
            "lore_rag/__init__.py": "from lore_rag.cli import main\n",
            "lore_rag/data/__init__.py": "",
            "lore_rag/data/builder/__init__.py": "",
            "lore_rag/data/builder/checks.py": (
                "import json\n\ndef f():\n    from ...evaluation.qa import normalize\n    return normalize\n"
            ),
            "lore_rag/data/io.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import lore_rag.demo\n",
            "lore_rag/defaults.py": "import importlib\nimportlib.import_module('lore_rag.models.encoder')\n",
            "lore_rag/evaluation/__init__.py": "",
            "lore_rag/evaluation/qa.py": "from lore_rag.data import io\nfrom lore_rag.models import encoder\n",
            "lore_rag/models/__init__.py": "",
            "lore_rag/models/encoder.py": "from lore_rag import main\n",
            "lore_rag/demo/__init__.py": "",
            "lore_rag/cli/__init__.py": "from app import ui\nimport lore_rag\nmain = None\n",
            "lore_rag/extra.py": "",
        },
    )
    problems = layer_violations(root)
    assert any(
        p.startswith("lore_rag/data/builder/checks.py:4: lore_rag.data.builder.checks imports ") for p in problems
    )
    assert any("lore_rag.data.builder.checks imports lore_rag.evaluation.qa" in p for p in problems)
    assert any(p.startswith("lore_rag/data/io.py:3: lore_rag.data.io imports lore_rag.demo") for p in problems)
    assert any(
        p.startswith("lore_rag/defaults.py:2: lore_rag.defaults imports lore_rag.models.encoder") for p in problems
    )
    assert any(p.startswith("lore_rag/cli/__init__.py:1:") and "top-level app/" in p for p in problems)
    assert any(p.startswith("lore_rag/models/encoder.py:1:") and "facade imports layer 8" in p for p in problems)
    # Downward (evaluation -> data, models), the facade importing cli, and cli importing the facade all pass.
    assert len(problems) == 5, problems


def test_the_layer_check_flags_modules_in_no_layer(tmp_path: Path) -> None:
    root = _plant(tmp_path, {"lore_rag/__init__.py": "", "lore_rag/extra.py": "import lore_rag.errors\n"})
    assert layer_violations(root) == [
        "lore_rag/extra.py:1: lore_rag.extra imports lore_rag.errors (lore_rag.extra is in no layer: add it to LAYERS)"
    ]


def test_the_cycle_check_reports_modules_that_import_each_other_inside_functions(tmp_path: Path) -> None:
    root = _plant(
        tmp_path,
        {
            "lore_rag/__init__.py": "",
            "lore_rag/models/__init__.py": "from lore_rag.models.encoder import LoreEncoder\n",
            "lore_rag/models/encoder.py": (
                "class LoreEncoder:\n    def load(self):\n        from .checkpoint import load\n        return load()\n"
            ),
            "lore_rag/models/checkpoint.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lore_rag.models import card\n"
                "def load():\n    from lore_rag.models.encoder import LoreEncoder\n    return LoreEncoder()\n"
            ),
            "lore_rag/models/card.py": "from lore_rag.models.checkpoint import load\n",
            "lore_rag/models/hub.py": "import lore_rag.models\nimport lore_rag.models.card\n",
        },
    )
    assert import_cycles(root) == [
        "lore_rag.models.checkpoint -> lore_rag.models.encoder -> lore_rag.models.checkpoint "
        "(lore_rag/models/checkpoint.py:5: lore_rag.models.checkpoint imports lore_rag.models.encoder; "
        "lore_rag/models/encoder.py:3: lore_rag.models.encoder imports lore_rag.models.checkpoint)"
    ]


def test_a_module_importing_its_own_package_facade_is_a_cycle(tmp_path: Path) -> None:
    root = _plant(
        tmp_path,
        {
            "lore_rag/__init__.py": "",
            "lore_rag/demo/__init__.py": "from lore_rag.demo.session import run\n",
            "lore_rag/demo/session.py": "from lore_rag.demo import examples\nfrom lore_rag.demo import results\n",
            "lore_rag/demo/examples.py": "",
            "lore_rag/demo/results.py": "from lore_rag.demo import run\n",
        },
    )
    (cycle,) = import_cycles(root)
    assert cycle.startswith("lore_rag.demo -> lore_rag.demo.session -> lore_rag.demo.results -> lore_rag.demo ")


@pytest.mark.parametrize(("module", "layer"), [("lore_rag.errors", 0), ("lore_rag.data.builder.runner", 3)])
def test_layer_of_reads_the_top_package_under_lore_rag(module: str, layer: int) -> None:
    assert layer_of(module) == layer
