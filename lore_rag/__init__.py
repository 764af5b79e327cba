"""lore-rag: Logic-ORiented Retriever Enhancement (LORE, arXiv 2602.01116) for RAG retrievers.

A LORE checkpoint tunes only the query encoder so that it stops ranking distractor chunks (chunks that
share words with a query but do not answer it) above the evidence; documents keep the original encoder,
so an existing vector index stays valid.
"""

from __future__ import annotations

__version__ = "0.1.0"

from lore_rag.data.schema import RELATIONS, Example, Tier
from lore_rag.errors import ConfigError, DataError, LoreError, ModelError
from lore_rag.models.encoder import LoreEncoder

__all__ = [
    "RELATIONS",
    "ConfigError",
    "DataError",
    "Example",
    "LoreEncoder",
    "LoreError",
    "LoreEvaluator",
    "LoreLoss",
    "ModelError",
    "Tier",
    "TrainConfig",
    "TrainResult",
    "__version__",
    "train",
]

# Imported on first use: the loss pulls in torch, the evaluator and trainer sentence-transformers.
_LAZY = {
    "LoreLoss": "lore_rag.losses.lore_loss",
    "LoreEvaluator": "lore_rag.evaluation.evaluator",
    "TrainConfig": "lore_rag.training.args",
    "TrainResult": "lore_rag.training.trainer",
    "train": "lore_rag.training.trainer",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lore_rag' has no attribute {name!r}")
