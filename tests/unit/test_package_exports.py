"""Each package's __init__ names its public API, resolved lazily, so users import from the package, not deep paths."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ["lore_rag.models", "lore_rag.data", "lore_rag.evaluation", "lore_rag.retrieval", "lore_rag.losses"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_resolves_to_the_object_its_module_defines(package: str) -> None:
    module = importlib.import_module(package)
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        value = getattr(module, name)
        home = getattr(module, "_EXPORTS", {}).get(name)
        if home is not None:
            assert value is getattr(importlib.import_module(home), name)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018


def test_the_documented_imports_work_and_keep_their_old_paths() -> None:
    from lore_rag.evaluation import run_qa_eval
    from lore_rag.evaluation.qa_run import run_qa_eval as deep
    from lore_rag.models import LoreEncoder, load_checkpoint
    from lore_rag.models.encoder import LoreEncoder as deep_encoder
    from lore_rag.models.encoder import bundled_model_path, load_model, model_fingerprint  # noqa: F401

    assert run_qa_eval is deep and LoreEncoder is deep_encoder
    assert LoreEncoder.from_checkpoint.__func__.__qualname__ == "LoreEncoder.from_checkpoint"  # type: ignore[attr-defined]
    assert callable(load_checkpoint)


def test_importing_the_package_facades_loads_neither_torch_nor_chroma() -> None:
    code = (
        "import sys, lore_rag.models, lore_rag.data, lore_rag.evaluation\n"
        "heavy = sorted(m for m in ('torch', 'chromadb', 'sentence_transformers') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == ""
