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
    "ModelError",
    "Tier",
    "__version__",
]
