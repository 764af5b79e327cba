"""Adapters for host frameworks, each an optional extra imported only when used.

* LlamaIndex (``pip install 'lore-rag[llama-index]'``): :class:`~lore_rag.integrations.llama_index.LoreEmbedding`,
  :func:`~lore_rag.integrations.llama_index.lore_vector_store`, :class:`~lore_rag.integrations.llama_index.LoreLLM`.
* Fine-tuning the LlamaIndex way: :class:`~lore_rag.integrations.finetune.LoreFinetuneEngine` (the shape of
  ``SentenceTransformersFinetuneEngine``; tiered JSONL or an ``EmbeddingQAFinetuneDataset``).
* LangChain (``pip install 'lore-rag[langchain]'``): :class:`~lore_rag.integrations.langchain.LoreEmbeddings`,
  :class:`~lore_rag.integrations.langchain.LoreRetriever`, :func:`~lore_rag.integrations.langchain.lore_chroma`,
  :class:`~lore_rag.integrations.langchain.LoreChatModel`.
* Rerankers (a cross-encoder over the top ``fetch_k``): LangChain's document compressor
  :class:`~lore_rag.integrations.langchain_rerank.LoreRerankCompressor` and LlamaIndex's node postprocessor
  :class:`~lore_rag.integrations.llama_index_rerank.LoreRerankPostprocessor`.

``import lore_rag.integrations`` works without either framework; asking for one of these names without its
framework raises ImportError saying what to install.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "LoreChatModel",
    "LoreEmbedding",
    "LoreEmbeddings",
    "LoreFinetuneEngine",
    "LoreLLM",
    "LoreRerankCompressor",
    "LoreRerankPostprocessor",
    "LoreRetriever",
    "lore_chroma",
    "lore_vector_store",
]

_WHERE = {
    "LoreEmbedding": "llama_index",
    "lore_vector_store": "llama_index",
    "LoreLLM": "llama_index",
    "LoreFinetuneEngine": "finetune",
    "LoreChatModel": "langchain",
    "LoreEmbeddings": "langchain",
    "LoreRetriever": "langchain",
    "lore_chroma": "langchain",
    "LoreRerankCompressor": "langchain_rerank",
    "LoreRerankPostprocessor": "llama_index_rerank",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
