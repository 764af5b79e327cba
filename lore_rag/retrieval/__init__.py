"""Chroma-backed storage and retrieval.

Chunk files, index them once with the original document encoder, and search them with a raw or a LORE query
encoder.

```python
from lore_rag import LoreEncoder
from lore_rag.retrieval import ChromaStore, Retriever

store = ChromaStore("index/")                     # embedded; ChromaStore(host="127.0.0.1", port=8000) for a server
store.add_texts(chunks, LoreEncoder.raw())        # stable ids: a re-run adds nothing twice
hits = Retriever(store, LoreEncoder.load("runs/lore")).search("who directed ...", k=5)
```
"""

from __future__ import annotations

from lore_rag.retrieval.chunking import Chunk, Document, chunk_documents, chunk_id, chunk_text, iter_documents
from lore_rag.retrieval.rerank import DEFAULT_FETCH_K, Reranker
from lore_rag.retrieval.retriever import (
    IndexReport,
    Retriever,
    compare,
    index_paths,
    name_encoders,
    raw_counterpart,
    side_by_side,
)
from lore_rag.retrieval.store import DEFAULT_COLLECTION, ChromaStore, Hit, StoreError, default_store_path

__all__ = [
    "DEFAULT_COLLECTION",
    "DEFAULT_FETCH_K",
    "ChromaStore",
    "Chunk",
    "Document",
    "Hit",
    "IndexReport",
    "Reranker",
    "Retriever",
    "StoreError",
    "chunk_documents",
    "chunk_id",
    "chunk_text",
    "compare",
    "default_store_path",
    "index_paths",
    "iter_documents",
    "name_encoders",
    "raw_counterpart",
    "side_by_side",
]
