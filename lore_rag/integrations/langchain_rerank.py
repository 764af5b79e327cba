"""LangChain document compressor that reranks retrieved documents with a sentence-transformers CrossEncoder.

Install with ``pip install 'lore-rag[langchain]'``. It is a ``BaseDocumentCompressor``, the form LangChain's
``ContextualCompressionRetriever`` takes, so it wraps any retriever (LORE or not) the usual way: fetch
``fetch_k`` documents with the base retriever, keep the ``top_n`` the cross-encoder scores best.

```python
from langchain_classic.retrievers import ContextualCompressionRetriever
from lore_rag.integrations.langchain import LoreEmbeddings, LoreRetriever
from lore_rag.integrations.langchain_rerank import LoreRerankCompressor

base = LoreRetriever(store=store, encoder=LoreEmbeddings("runs/lore"), k=20)       # fetch_k = 20
reranker = LoreRerankCompressor(model="cross-encoder/ms-marco-MiniLM-L6-v2", top_n=3)
retriever = ContextualCompressionRetriever(base_compressor=reranker, base_retriever=base)
docs = retriever.invoke("who directed ...")     # metadata["relevance_score"]: the cross-encoder's score
```
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

try:
    from langchain_core.callbacks import Callbacks
    from langchain_core.documents import Document
    from langchain_core.documents.compressor import BaseDocumentCompressor
    from pydantic import ConfigDict, Field, PrivateAttr
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "lore_rag.integrations.langchain_rerank needs LangChain: pip install 'lore-rag[langchain]'"
    ) from exc

from lore_rag.retrieval.rerank import Reranker, open_reranker

__all__ = ["LoreRerankCompressor"]


class LoreRerankCompressor(BaseDocumentCompressor):
    """Rerank documents with a cross-encoder and keep the ``top_n`` best (a LangChain document compressor).

    Each returned document is a copy whose ``metadata["relevance_score"]`` is the cross-encoder's score (the
    name LangChain's own rerankers use); the input documents are not changed.

    Args:
        model: A Hugging Face id or local folder of a cross-encoder, or a loaded
            :class:`~lore_rag.retrieval.rerank.Reranker`.
        top_n: Documents kept.
        device: Torch device when ``model`` is loaded here.
        batch_size: Pairs per forward pass when ``model`` is loaded here.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model: str = Field(description="cross-encoder: Hugging Face id or local folder")
    top_n: int = Field(default=3, ge=1, description="documents kept after reranking")
    _reranker: Reranker = PrivateAttr()

    def __init__(
        self,
        model: str | os.PathLike[str] | Reranker,
        *,
        top_n: int = 3,
        device: str | None = None,
        batch_size: int = 32,
        **kwargs: Any,
    ) -> None:
        reranker, name = open_reranker(model, device=device, batch_size=batch_size)
        super().__init__(model=name, top_n=top_n, **kwargs)  # type: ignore[call-arg]  # pydantic fields
        self._reranker = reranker

    @property
    def reranker(self) -> Reranker:
        """The underlying :class:`~lore_rag.retrieval.rerank.Reranker`."""
        return self._reranker

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """The ``top_n`` documents by cross-encoder score, best first, each with ``relevance_score`` metadata."""
        if not documents:
            return []
        ranked = self._reranker.rank(query, [d.page_content for d in documents], self.top_n)
        out = []
        for index, score in ranked:
            doc = documents[index]
            out.append(
                Document(
                    page_content=doc.page_content,
                    metadata={**doc.metadata, "relevance_score": score},
                    id=doc.id,
                )
            )
        return out
