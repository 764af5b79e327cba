"""Moved to :mod:`lore_rag.models.doc_cache` (training and evaluation both use it); kept as an alias."""

from lore_rag.models.doc_cache import DocEmbeddingCache, text_key

__all__ = ["DocEmbeddingCache", "text_key"]
