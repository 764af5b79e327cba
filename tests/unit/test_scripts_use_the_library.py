"""Recipes and benchmarks use library functions, never the command line's modules (``lore_rag.cli``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def cli_imports(path: Path) -> list[str]:
    """``file:line: import`` for every import of ``lore_rag.cli`` in a Python file, inside functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        if any(name == "lore_rag.cli" or name.startswith("lore_rag.cli.") for name in names):
            found.append(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{node.lineno}: {names[0]}")
    return found


@pytest.mark.parametrize("folder", ["recipes", "benchmarks"])
def test_no_recipe_or_benchmark_imports_the_cli(folder: str) -> None:
    files = sorted((REPO / folder).rglob("*.py"))
    assert files
    bad = [line for path in files for line in cli_imports(path)]
    assert not bad, "use library functions, not lore_rag.cli:\n" + "\n".join(bad)


def test_the_check_finds_every_spelling_of_a_cli_import(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        "import lore_rag.cli.qa_eval\n"
        "from lore_rag import cli\n"
        "def main():\n"
        "    from lore_rag.cli.qa_eval import run\n"
        "from lore_rag.evaluation import qa_args\n"
        "from lore_rag.client import x\n",
        encoding="utf-8",
    )
    assert [line.split(": ", 1)[0].rsplit(":", 1)[1] for line in cli_imports(script)] == ["1", "2", "4"]
