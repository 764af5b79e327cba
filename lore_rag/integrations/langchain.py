"""LangChain embeddings and retriever that send queries through the LORE query encoder, documents through the original.

Install with ``pip install 'lore-rag[langchain]'``.

```python
from langchain_chroma import Chroma
from lore_rag.integrations.langchain import LoreEmbeddings, LoreRetriever
from lore_rag.retrieval import ChromaStore

embeddings = LoreEmbeddings("runs/lore")                   # was: HuggingFaceEmbeddings(model_name=...)
store = ChromaStore("index/")                              # built with the original model
vectorstore = Chroma(client=store.client, collection_name=store.collection_name, embedding_function=embeddings)
retriever = LoreRetriever(store=store, encoder=embeddings, k=4)   # scores in metadata["score"]
chain = retriever | format_docs | prompt | llm
```
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

try:
    from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_core.retrievers import BaseRetriever
    from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "lore_rag.integrations.langchain needs LangChain: pip install 'lore-rag[langchain]' "
        "(langchain-core and langchain-chroma)"
    ) from exc

from lore_rag.models.encoder import LoreEncoder
from lore_rag.retrieval.retriever import Retriever
from lore_rag.retrieval.store import ChromaStore, Hit

__all__ = ["LoreChatModel", "LoreEmbeddings", "LoreRetriever", "hit_to_document", "lore_chroma"]


class LoreEmbeddings(BaseModel, Embeddings):
    """A LangChain :class:`~langchain_core.embeddings.Embeddings` backed by a :class:`LoreEncoder`.

    ``embed_query`` / ``aembed_query`` use the tuned query encoder; ``embed_documents`` / ``aembed_documents`` use
    the original document encoder, so a vector store built with the original model stays valid.

    Args:
        checkpoint: LORE checkpoint folder, ``"raw"`` (the bundled model) or ``"raw:MODEL"``.
        encoder: An already loaded encoder (then ``checkpoint`` is only a label).
        document_model: Override of the checkpoint's base model (a folder), for a base model that moved.
        device: Torch device (CPU unless given).
        batch_size: Texts per encoding batch.

    Raises:
        ModelError: for a checkpoint that cannot be loaded.
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    checkpoint: str = Field(default="raw", description="LORE checkpoint folder, 'raw' or 'raw:MODEL'.")
    document_model: str | None = Field(
        default=None, description="Override of the checkpoint's base (document) model folder."
    )
    device: str | None = Field(default=None, description="Torch device; CPU when unset.")
    batch_size: int = Field(default=64, gt=0, description="Texts per encoding batch.")

    _encoder: LoreEncoder = PrivateAttr()

    def __init__(
        self,
        checkpoint: str | os.PathLike[str] = "raw",
        *,
        encoder: LoreEncoder | None = None,
        document_model: str | os.PathLike[str] | None = None,
        device: str | None = None,
        batch_size: int = 64,
    ) -> None:
        label = str(checkpoint) if encoder is None else str(encoder.manifest.get("path") or encoder.name)
        super().__init__(
            checkpoint=label,
            document_model=str(document_model) if document_model is not None else None,
            device=device,
            batch_size=batch_size,
        )
        # Private attributes must be set after BaseModel.__init__, which would otherwise reset them.
        if encoder is None:
            spec = str(checkpoint)
            kwargs: dict[str, Any] = {"device": device, "batch_size": batch_size}
            if self.document_model is not None and spec != "raw" and not spec.startswith("raw:"):
                kwargs["document_model"] = self.document_model
            encoder = LoreEncoder.load(spec, **kwargs)
        self._encoder = encoder

    @property
    def encoder(self) -> LoreEncoder:
        """The underlying encoder pair."""
        return self._encoder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents with the original (document) encoder."""
        vectors = self._encoder.embed_documents(list(texts), show_progress=False, batch_size=self.batch_size)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed a query with the tuned (query) encoder."""
        return self._encoder.embed_queries([text], show_progress=False)[0].tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents` (runs in a worker thread)."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query` (runs in a worker thread)."""
        return await asyncio.to_thread(self.embed_query, text)


def hit_to_document(hit: Hit) -> Document:
    """A LangChain document of a hit, its score, rank and id in ``metadata``."""
    metadata = {**hit.metadata, "score": hit.score, "rank": hit.rank, "id": hit.id}
    return Document(page_content=hit.text, metadata=metadata, id=hit.id)


class LoreRetriever(BaseRetriever):
    """A LangChain retriever over a :class:`ChromaStore`, searching with a LORE (or raw) query encoder.

    Each returned document carries ``score`` (cosine similarity), ``rank`` and ``id`` in its metadata. The
    store's recorded document encoder is checked when the retriever is made.

    Args:
        store: The collection to search.
        encoder: A :class:`LoreEncoder` or :class:`LoreEmbeddings`.
        k: Documents per query.
        where: Chroma metadata filter applied to every search.

    Raises:
        StoreError: when the store was built by another document encoder.
    """

    store: ChromaStore = Field(description="The Chroma collection to search.")
    encoder: Any = Field(description="LoreEncoder (or LoreEmbeddings) whose query side embeds the queries.")
    k: int = Field(default=4, gt=0, description="Documents per query.")
    where: dict[str, Any] | None = Field(default=None, description="Chroma metadata filter.")

    _retriever: Retriever = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        encoder = data.get("encoder")
        if isinstance(encoder, LoreEmbeddings):
            data["encoder"] = encoder.encoder
        elif not isinstance(encoder, LoreEncoder):
            raise TypeError(f"encoder must be a LoreEncoder or LoreEmbeddings, got {type(encoder).__name__}")
        super().__init__(**data)
        self._retriever = Retriever(self.store, self.encoder, k=self.k)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [hit_to_document(h) for h in self._retriever.search(query, self.k, where=self.where)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = await asyncio.to_thread(self._retriever.search, query, self.k, where=self.where)
        return [hit_to_document(h) for h in hits]


def lore_chroma(store: ChromaStore, embeddings: LoreEmbeddings, **kwargs: Any) -> Any:
    """A ``langchain_chroma.Chroma`` vector store over ``store``'s collection, after checking the document encoder.

    A new (empty) collection records the embeddings' document fingerprint.

    Args:
        store: The collection.
        embeddings: The LORE embeddings.
        **kwargs: Passed to ``Chroma`` (e.g. ``relevance_score_fn``).

    Raises:
        StoreError: when the collection was built by another document encoder.
        ImportError: without ``langchain-chroma``.
    """
    try:
        from langchain_chroma import Chroma
    except ImportError as exc:
        raise ImportError("lore_chroma needs langchain-chroma: pip install 'lore-rag[langchain]'") from exc
    if store.count() == 0:
        store.record_encoder(embeddings.encoder)
    else:
        store.check_encoder(embeddings.encoder)
    store.collection  # noqa: B018 - create it in cosine space before Chroma() would create it in l2
    return Chroma(client=store.client, collection_name=store.collection_name, embedding_function=embeddings, **kwargs)


_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class LoreChatModel(BaseChatModel):
    """A LangChain chat model that answers through a :class:`lore_rag.llm.LLMClient`.

    Any OpenAI-compatible endpoint, or the bundled offline model (``with lore_rag.llm.connect() as client:``),
    can then be the ``llm`` of an LCEL chain without another LangChain package.

    Args:
        client: The client.
        max_tokens: Reply length limit; ``None`` keeps the client's.
    """

    client: Any = Field(description="A lore_rag.llm.LLMClient.", exclude=True)
    max_tokens: int | None = Field(default=None, description="Reply length limit; None keeps the client's.")

    @property
    def _llm_type(self) -> str:
        return "lore-rag-llm"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        payload = [{"role": _ROLES.get(m.type, "user"), "content": str(m.text)} for m in messages]
        text = self.client.chat(payload, max_tokens=self.max_tokens, stop=stop)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
