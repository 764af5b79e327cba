"""Query-encoder fine-tuning on sentence-transformers' ``SentenceTransformerTrainer``.

``from lore_rag.training import train, TrainConfig`` (or ``from lore_rag import train``): one training path for
files, ``datasets.Dataset`` and in-memory examples.
"""

from __future__ import annotations

from lore_rag.training.args import TrainConfig
from lore_rag.training.trainer import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
