"""LlamaIndex embedding that sends queries through the LORE query encoder and documents through the original one.

Install with ``pip install 'lore-rag[llama-index]'``.

```python
from llama_index.core import Settings, VectorStoreIndex
from llama_index.vector_stores.chroma import ChromaVectorStore
from lore_rag.integrations.llama_index import LoreEmbedding, lore_vector_store
from lore_rag.retrieval import ChromaStore

Settings.embed_model = LoreEmbedding("runs/lore")       # was: HuggingFaceEmbedding("all-MiniLM-L6-v2")
store = ChromaStore("index/")                            # the collection built with the original model
index = VectorStoreIndex.from_vector_store(lore_vector_store(store, Settings.embed_model))
```

Notes for LlamaIndex users:

* With only ``llama-index-core`` installed, ``Settings.embed_model`` and ``Settings.llm`` default to OpenAI
  classes that are not installed: set the embed model (and an LLM, or pass ``llm=`` to ``as_query_engine``).
* :class:`LoreLLM` wraps a :class:`lore_rag.llm.LLMClient` (any OpenAI-compatible endpoint, or the bundled
  offline model via ``lore_rag.llm.connect()``) as a LlamaIndex LLM, for ``Settings.llm``.
* LlamaIndex embeds a node's metadata together with its text (``MetadataMode.EMBED``). Exclude it
  (``excluded_embed_metadata_keys``) when the same collection is also filled by ``lore-rag index``, which embeds
  the text alone, or the two kinds of vectors will not be comparable.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
    from llama_index.core.bridge.pydantic import Field, PrivateAttr
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "lore_rag.integrations.llama_index needs LlamaIndex: pip install 'lore-rag[llama-index]' "
        "(llama-index-core and llama-index-vector-stores-chroma)"
    ) from exc

from lore_rag.models.encoder import LoreEncoder

if TYPE_CHECKING:
    from lore_rag.retrieval.store import ChromaStore

__all__ = ["LoreEmbedding", "LoreLLM", "lore_vector_store"]


class LoreEmbedding(BaseEmbedding):
    """A :class:`~llama_index.core.base.embeddings.base.BaseEmbedding` backed by a :class:`LoreEncoder`.

    ``_get_query_embedding`` / ``_aget_query_embedding`` use the tuned query encoder; ``_get_text_embedding(s)``
    use the original document encoder, so an index built with the original model stays valid.

    Args:
        checkpoint: LORE checkpoint folder, ``"raw"`` (the bundled model) or ``"raw:MODEL"``.
        encoder: An already loaded encoder (then ``checkpoint`` is only a label).
        document_model: Override of the checkpoint's base model (a folder), for a base model that moved.
        device: Torch device (CPU unless given).
        embed_batch_size: Texts per encoding batch.
        **kwargs: Other :class:`BaseEmbedding` fields (``callback_manager``, ``num_workers``...).

    Raises:
        ModelError: for a checkpoint that cannot be loaded.
    """

    checkpoint: str = Field(default="raw", description="LORE checkpoint folder, 'raw' or 'raw:MODEL'.")
    document_model: str | None = Field(
        default=None, description="Override of the checkpoint's base (document) model folder."
    )
    device: str | None = Field(default=None, description="Torch device; CPU when unset.")

    _encoder: LoreEncoder = PrivateAttr()

    def __init__(
        self,
        checkpoint: str | os.PathLike[str] = "raw",
        *,
        encoder: LoreEncoder | None = None,
        document_model: str | os.PathLike[str] | None = None,
        device: str | None = None,
        embed_batch_size: int = 64,
        **kwargs: Any,
    ) -> None:
        label = str(checkpoint) if encoder is None else str(encoder.manifest.get("path") or encoder.name)
        super().__init__(  # type: ignore[call-arg]  # the fields of this class, which mypy does not see
            checkpoint=label,
            document_model=str(document_model) if document_model is not None else None,
            device=device,
            embed_batch_size=embed_batch_size,
            model_name=kwargs.pop("model_name", None) or (encoder.name if encoder is not None else label),
            **kwargs,
        )
        # Private attributes must be set after BaseModel.__init__, which would otherwise reset them.
        self._encoder = (
            encoder
            if encoder is not None
            else LoreEncoder.load(
                checkpoint, document_model=self.document_model, device=device, batch_size=embed_batch_size
            )
        )

    @classmethod
    def class_name(cls) -> str:
        """Name used by LlamaIndex serialisation."""
        return "LoreEmbedding"

    @property
    def encoder(self) -> LoreEncoder:
        """The underlying encoder pair."""
        return self._encoder

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._encoder.embed_queries([query], show_progress=False)[0].tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._encoder.embed_documents([text], show_progress=False)[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        vectors = self._encoder.embed_documents(list(texts), show_progress=False, batch_size=self.embed_batch_size)
        return vectors.tolist()

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)


def lore_vector_store(store: ChromaStore, embed_model: LoreEmbedding | LoreEncoder) -> Any:
    """A LlamaIndex ``ChromaVectorStore`` over ``store``'s collection, after checking the document encoder.

    A new (empty) collection records the embedding's document fingerprint, so later LORE queries are checked
    against it.

    Raises:
        StoreError: when the collection was built by another document encoder.
        ImportError: without ``llama-index-vector-stores-chroma``.
    """
    try:
        from llama_index.vector_stores.chroma import ChromaVectorStore
    except ImportError as exc:
        raise ImportError(
            "lore_vector_store needs llama-index-vector-stores-chroma: pip install 'lore-rag[llama-index]'"
        ) from exc
    encoder = embed_model.encoder if isinstance(embed_model, LoreEmbedding) else embed_model
    if store.count() == 0:
        store.record_encoder(encoder)
    else:
        store.check_encoder(encoder)
    return ChromaVectorStore(chroma_collection=store.collection)


try:
    from llama_index.core.base.llms.types import (
        ChatMessage,
        ChatResponse,
        CompletionResponse,
        CompletionResponseGen,
        LLMMetadata,
        MessageRole,
    )
    from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
    from llama_index.core.llms.custom import CustomLLM
except ImportError as exc:  # pragma: no cover - same package as above
    raise ImportError("lore_rag.integrations.llama_index needs llama-index-core >= 0.12") from exc


class LoreLLM(CustomLLM):
    """A LlamaIndex LLM that answers through a :class:`lore_rag.llm.LLMClient`.

    Args:
        client: The client (e.g. from ``with lore_rag.llm.connect() as client:``).
        max_tokens: Reply length limit; ``None`` keeps the client's.
        context_window: Context size LlamaIndex plans prompts for (tokens).
    """

    max_tokens: int | None = Field(default=None, description="Reply length limit; None keeps the client's.")
    context_window: int = Field(default=4096, description="Context size in tokens that prompts are fitted to.")

    _client: Any = PrivateAttr()

    def __init__(self, client: Any, *, max_tokens: int | None = None, context_window: int = 4096, **kwargs: Any):
        super().__init__(max_tokens=max_tokens, context_window=context_window, **kwargs)
        # Private attributes must be set after BaseModel.__init__, which would otherwise reset them.
        self._client = client

    @classmethod
    def class_name(cls) -> str:
        """Name used by LlamaIndex serialisation."""
        return "LoreLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """What LlamaIndex needs to know to build prompts for this model."""
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens or int(getattr(self._client, "max_tokens", 256)),
            is_chat_model=True,
            model_name=str(getattr(self._client, "configured_model", None) or "lore-rag-llm"),
        )

    @llm_chat_callback()
    def chat(self, messages: Any, **kwargs: Any) -> ChatResponse:
        """Send chat messages with their roles; returns the assistant's reply."""
        payload = [{"role": _role(m.role), "content": m.content or ""} for m in messages]
        text = self._client.chat(payload, max_tokens=self.max_tokens)
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Send one prompt as a user message."""
        return CompletionResponse(
            text=self._client.chat([{"role": "user", "content": prompt}], max_tokens=self.max_tokens)
        )

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """The whole reply as one streamed piece (the client does not stream)."""
        response = self.complete(prompt, formatted=formatted, **kwargs)
        yield CompletionResponse(text=response.text, delta=response.text)


def _role(role: Any) -> str:
    value = getattr(role, "value", role)
    return value if value in ("system", "user", "assistant") else "user"
