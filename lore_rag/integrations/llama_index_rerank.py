"""LlamaIndex node postprocessor that reranks retrieved nodes with a sentence-transformers CrossEncoder.

Install with ``pip install 'lore-rag[llama-index]'``. It has the shape of LlamaIndex's own
``SentenceTransformerRerank`` (``top_n``, ``model``, ``keep_retrieval_score``) and goes where any node
postprocessor goes: fetch ``similarity_top_k`` nodes (the fetch_k), keep the ``top_n`` the cross-encoder scores
best.

```python
from llama_index.core import VectorStoreIndex
from lore_rag.integrations.llama_index import LoreEmbedding, lore_vector_store
from lore_rag.integrations.llama_index_rerank import LoreRerankPostprocessor

embed = LoreEmbedding("runs/lore")
index = VectorStoreIndex.from_vector_store(lore_vector_store(store, embed), embed_model=embed)
rerank = LoreRerankPostprocessor(model="cross-encoder/ms-marco-MiniLM-L6-v2", top_n=3)
nodes = rerank.postprocess_nodes(index.as_retriever(similarity_top_k=20).retrieve(q), query_str=q)
engine = index.as_query_engine(similarity_top_k=20, node_postprocessors=[rerank], llm=...)
```
"""

from __future__ import annotations

import os
from typing import Any

try:
    from llama_index.core.bridge.pydantic import Field, PrivateAttr
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "lore_rag.integrations.llama_index_rerank needs LlamaIndex: pip install 'lore-rag[llama-index]'"
    ) from exc

from lore_rag.retrieval.rerank import Reranker, open_reranker

__all__ = ["LoreRerankPostprocessor"]


class LoreRerankPostprocessor(BaseNodePostprocessor):
    """Rerank nodes with a cross-encoder and keep the ``top_n`` best (a LlamaIndex node postprocessor).

    Each kept node's ``score`` becomes the cross-encoder's score; with ``keep_retrieval_score`` the first
    stage's score is kept in the node's metadata as ``retrieval_score``. The node text is read as LlamaIndex
    reads it for an LLM (``MetadataMode.EMBED``), as ``SentenceTransformerRerank`` does.

    Args:
        model: A Hugging Face id or local folder of a cross-encoder, or a loaded
            :class:`~lore_rag.retrieval.rerank.Reranker`.
        top_n: Nodes kept.
        keep_retrieval_score: Keep the first stage's score in ``metadata["retrieval_score"]``.
        device: Torch device when ``model`` is loaded here.
        batch_size: Pairs per forward pass when ``model`` is loaded here.
    """

    model: str = Field(description="cross-encoder: Hugging Face id or local folder")
    top_n: int = Field(default=3, ge=1, description="nodes kept after reranking")
    keep_retrieval_score: bool = Field(default=False, description="keep the first stage's score in metadata")
    _reranker: Reranker = PrivateAttr()

    def __init__(
        self,
        model: str | os.PathLike[str] | Reranker,
        *,
        top_n: int = 3,
        keep_retrieval_score: bool = False,
        device: str | None = None,
        batch_size: int = 32,
        **kwargs: Any,
    ) -> None:
        reranker, name = open_reranker(model, device=device, batch_size=batch_size)
        super().__init__(  # type: ignore[call-arg]  # the fields of this class, which mypy does not see
            model=name, top_n=top_n, keep_retrieval_score=keep_retrieval_score, **kwargs
        )
        self._reranker = reranker

    @classmethod
    def class_name(cls) -> str:
        """LlamaIndex's serialisation name."""
        return "LoreRerankPostprocessor"

    @property
    def reranker(self) -> Reranker:
        """The underlying :class:`~lore_rag.retrieval.rerank.Reranker`."""
        return self._reranker

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if query_bundle is None:
            raise ValueError("reranking needs the query: pass query_str= or query_bundle=")
        if not nodes:
            return []
        texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        out = []
        for index, score in self._reranker.rank(query_bundle.query_str, texts, self.top_n):
            item = nodes[index]
            if self.keep_retrieval_score:
                item.node.metadata["retrieval_score"] = item.score
            out.append(NodeWithScore(node=item.node, score=score))
        return out
