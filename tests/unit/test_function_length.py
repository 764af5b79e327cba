"""No function in lore_rag/ is over 70 lines: a long body is several jobs a reader must hold in mind at once.

A body is counted from its first statement after the docstring to its last line (blank and comment lines
included, decorators and the docstring not). Excluded: ``lore_rag/models/card.py``, whose body is one Markdown
template.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "lore_rag"
MAX_BODY_LINES = 70
EXCLUDED = ("models/card.py",)


def body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of ``node``'s body without its docstring."""
    body = node.body
    first = body[0]
    if len(body) > 1 and isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        if isinstance(first.value.value, str):
            body = body[1:]
    assert node.end_lineno is not None
    return node.end_lineno - body[0].lineno + 1


class _Collector(ast.NodeVisitor):
    def __init__(self, where: str, limit: int) -> None:
        self.where = where
        self.limit = limit
        self.scope: list[str] = []
        self.found: list[str] = []

    def _scoped(self, node: ast.AST, name: str) -> None:
        self.scope.append(name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node, node.name)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        lines = body_lines(node)
        if lines > self.limit:
            self.found.append(f"{self.where}:{node.lineno}:{'.'.join([*self.scope, node.name])} ({lines} lines)")
        self._scoped(node, node.name)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function


def long_functions(package: Path, *, limit: int = MAX_BODY_LINES, excluded: tuple[str, ...] = EXCLUDED) -> list[str]:
    """``file:line:qualified.name (N lines)`` for every function under ``package`` whose body is over ``limit``."""
    found: list[str] = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if any(relative == e or (e.endswith("/") and relative.startswith(e)) for e in excluded):
            continue
        collector = _Collector(f"{package.name}/{relative}", limit)
        collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found.extend(collector.found)
    return found


def test_no_function_in_lore_rag_has_a_body_over_70_lines():
    long = long_functions(PACKAGE)
    assert not long, f"split these into functions of one job each (at most {MAX_BODY_LINES} lines):\n" + "\n".join(long)


def _function_source(name: str, statements: int, *, indent: str = "", docstring_lines: int = 0) -> str:
    lines = [f"{indent}def {name}():"]
    if docstring_lines:
        lines += [
            f'{indent}    """Doc.',
            *[f"{indent}    more" for _ in range(docstring_lines - 2)],
            f'{indent}    """',
        ]
    lines += [f"{indent}    x{i} = {i}" for i in range(statements)]
    return "\n".join(lines) + "\n"


def test_the_check_names_a_planted_long_function_by_file_line_and_name(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "mod.py").write_text(
        _function_source("fits", MAX_BODY_LINES, docstring_lines=30)  # 70 lines: allowed, its docstring not counted
        + "\n\nclass Holder:\n"
        + _function_source("too_long", MAX_BODY_LINES + 1, indent="    ")
    )
    found = long_functions(package)
    line = 1 + MAX_BODY_LINES + 30 + 2 + 1 + 1  # fits, its docstring, two blank lines, the class line
    assert found == [f"pkg/sub/mod.py:{line}:Holder.too_long ({MAX_BODY_LINES + 1} lines)"]


def test_the_check_sees_nested_functions_and_skips_only_the_excluded_paths(tmp_path):
    package = tmp_path / "pkg"
    for folder in ("training", "models", "evaluation"):
        (package / folder).mkdir(parents=True)
    long_body = _function_source("inner", MAX_BODY_LINES + 5, indent="    ")
    (package / "training" / "trainer.py").write_text(_function_source("train", MAX_BODY_LINES + 20))
    (package / "models" / "card.py").write_text(_function_source("model_card", MAX_BODY_LINES + 20))
    (package / "models" / "cardinal.py").write_text(_function_source("not_excluded", MAX_BODY_LINES + 1))
    (package / "evaluation" / "run.py").write_text("def outer():\n    pass\n" + long_body)
    found = long_functions(package)
    assert found == [
        f"pkg/evaluation/run.py:1:outer ({MAX_BODY_LINES + 7} lines)",
        f"pkg/evaluation/run.py:3:outer.inner ({MAX_BODY_LINES + 5} lines)",
        f"pkg/models/cardinal.py:1:not_excluded ({MAX_BODY_LINES + 1} lines)",
        f"pkg/training/trainer.py:1:train ({MAX_BODY_LINES + 20} lines)",
    ]


def test_the_check_reads_the_real_package_and_its_methods():
    # guards the first test against passing on an empty scan: with no limit every function is listed
    every = {
        entry.split(":")[0] + ":" + entry.split(":")[2].split(" ")[0] for entry in long_functions(PACKAGE, limit=0)
    }
    assert "lore_rag/data/builder/runner.py:build_data" in every
    assert "lore_rag/retrieval/store.py:ChromaStore.add_texts" in every
    assert "lore_rag/training/trainer.py:train" in every
    assert not any(entry.startswith("lore_rag/models/card.py") for entry in every)
