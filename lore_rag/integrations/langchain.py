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
import threading
from dataclasses import dataclass, replace
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

__all__ = [
    "SEARCH_KWARGS",
    "SEARCH_TYPES",
    "LoreChatModel",
    "LoreEmbeddings",
    "LoreRetriever",
    "SearchOptions",
    "hit_to_document",
    "lore_chroma",
    "search_options",
]


_LOAD_KEYS_CHECKPOINT = frozenset({"device"})
_HF_DEFAULT_ENCODE = {"normalize_embeddings": True}


class LoreEmbeddings(BaseModel, Embeddings):
    """A LangChain :class:`~langchain_core.embeddings.Embeddings` backed by a :class:`LoreEncoder`.

    ``embed_query`` / ``aembed_query`` use the tuned query encoder; ``embed_documents`` / ``aembed_documents`` use
    the original document encoder, so a vector store built with the original model stays valid.

    The arguments ``HuggingFaceEmbeddings`` users write by habit work the same way: ``model_name`` (an alias of
    ``checkpoint``), ``model_kwargs`` (passed to ``SentenceTransformer(...)``), ``encode_kwargs`` (passed to
    ``encode`` for documents, and for queries unless ``query_encode_kwargs`` is given) and ``show_progress``.
    Vectors are L2-normalised unless ``encode_kwargs`` says ``normalize_embeddings=False``; each side's prompt
    from the model's config (e.g. bge's or Qwen3-Embedding's ``query`` prompt) is applied unless ``prompt`` or
    ``prompt_name`` is given.

    Args:
        checkpoint: LORE checkpoint folder, ``"raw"`` (the bundled model) or ``"raw:MODEL"``; a plain model id or
            folder that is not a LORE checkpoint is loaded as a raw model.
        model_name: Same as ``checkpoint`` (the ``HuggingFaceEmbeddings`` name); give one of the two.
        encoder: An already loaded encoder (then ``checkpoint`` is only a label).
        document_model: Override of the checkpoint's base model (a folder), for a base model that moved.
        device: Torch device (CPU unless given; ``model_kwargs={"device": ...}`` is the same).
        batch_size: Texts per encoding batch (``encode_kwargs={"batch_size": ...}`` is the same).
        model_kwargs: Keyword arguments of ``SentenceTransformer(...)`` (``device``, ``trust_remote_code``,
            ``revision``, ``truncate_dim``...). A LORE checkpoint takes ``device`` only.
        encode_kwargs: Keyword arguments of ``SentenceTransformer.encode`` for documents (and queries).
        query_encode_kwargs: Keyword arguments of ``encode`` for queries; default ``encode_kwargs``.
        show_progress: Show encoding progress bars.

    Raises:
        ModelError: for a checkpoint or model that cannot be loaded.
        ValueError: for contradictory arguments (``model_name`` and ``checkpoint`` differ, ``model_kwargs`` a
            checkpoint cannot take, ``multi_process=True``).
    """

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    checkpoint: str = Field(default="raw", description="LORE checkpoint folder, 'raw' or 'raw:MODEL'.")
    document_model: str | None = Field(
        default=None, description="Override of the checkpoint's base (document) model folder."
    )
    device: str | None = Field(default=None, description="Torch device; CPU when unset.")
    batch_size: int = Field(default=64, gt=0, description="Texts per encoding batch.")
    model_kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of SentenceTransformer.")
    encode_kwargs: dict[str, Any] = Field(default_factory=dict, description="encode() arguments for documents.")
    query_encode_kwargs: dict[str, Any] | None = Field(
        default=None, description="encode() arguments for queries; default encode_kwargs."
    )
    show_progress: bool = Field(default=False, description="Show encoding progress bars.")

    _encoder: LoreEncoder = PrivateAttr()
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        checkpoint: str | os.PathLike[str] | None = None,
        *,
        model_name: str | os.PathLike[str] | None = None,
        encoder: LoreEncoder | None = None,
        document_model: str | os.PathLike[str] | None = None,
        device: str | None = None,
        batch_size: int | None = None,
        model_kwargs: dict[str, Any] | None = None,
        encode_kwargs: dict[str, Any] | None = None,
        query_encode_kwargs: dict[str, Any] | None = None,
        show_progress: bool = False,
        multi_process: bool = False,
        cache_folder: str | None = None,
    ) -> None:
        if checkpoint is not None and model_name is not None and str(checkpoint) != str(model_name):
            raise ValueError(f"give checkpoint or model_name, not both ({checkpoint!s} vs {model_name!s})")
        if multi_process:
            raise ValueError("multi_process=True is not supported: LoreEmbeddings encodes in this process")
        spec = str(checkpoint if checkpoint is not None else model_name if model_name is not None else "raw")
        model_kwargs = dict(model_kwargs or {})
        encode_kwargs = dict(encode_kwargs or {})
        if cache_folder is not None:
            model_kwargs.setdefault("cache_folder", cache_folder)
        if device is not None and model_kwargs.get("device", device) != device:
            raise ValueError(f"device={device!r} and model_kwargs['device']={model_kwargs['device']!r} differ")
        device = device if device is not None else model_kwargs.get("device")
        if batch_size is None:
            batch_size = int(encode_kwargs.get("batch_size", 64))
        label = spec if encoder is None else str(encoder.manifest.get("path") or encoder.name)
        super().__init__(
            checkpoint=label,
            document_model=str(document_model) if document_model is not None else None,
            device=device,
            batch_size=batch_size,
            model_kwargs=model_kwargs,
            encode_kwargs=encode_kwargs,
            query_encode_kwargs=dict(query_encode_kwargs) if query_encode_kwargs is not None else None,
            show_progress=show_progress,
        )
        # Private attributes must be set after BaseModel.__init__, which would otherwise reset them.
        self._encoder = encoder if encoder is not None else self._load(spec)

    def _load(self, spec: str) -> LoreEncoder:
        kwargs = {k: v for k, v in self.model_kwargs.items() if k != "device"}
        is_raw = spec == "raw" or spec.startswith("raw:") or not _is_checkpoint(spec)
        if is_raw:
            name = None if spec == "raw" else spec.removeprefix("raw:")
            if not kwargs:
                raw_spec = "raw" if name is None else f"raw:{name}"
                return LoreEncoder.load(
                    raw_spec, document_model=self.document_model, device=self.device, batch_size=self.batch_size
                )
            from sentence_transformers import SentenceTransformer

            from lore_rag.errors import ModelError
            from lore_rag.models.encoder import resolve_model

            try:
                model = SentenceTransformer(resolve_model(name), device=self.device or "cpu", **kwargs)
            except TypeError as exc:
                raise ValueError(f"model_kwargs: {exc}") from None
            except Exception as exc:  # noqa: BLE001 - many loaders, one clear message
                raise ModelError(f"cannot load model {name or 'all-MiniLM-L6-v2'}: {exc}") from exc
            return LoreEncoder(model, name="raw", batch_size=self.batch_size)
        if kwargs:
            raise ValueError(
                f"model_kwargs {sorted(kwargs)}: a LORE checkpoint loads with 'device' only "
                "(its base model is the one named in its manifest)"
            )
        return LoreEncoder.load(
            spec, document_model=self.document_model, device=self.device, batch_size=self.batch_size
        )

    @property
    def encoder(self) -> LoreEncoder:
        """The underlying encoder pair."""
        return self._encoder

    def _encode(self, model: Any, texts: list[str], side: str, options: dict[str, Any]) -> list[list[float]]:
        from lore_rag.models.encoder import document_prompt, query_prompt

        kwargs: dict[str, Any] = {
            "batch_size": self.batch_size,
            "show_progress_bar": self.show_progress,
            **_HF_DEFAULT_ENCODE,
            **options,
            "convert_to_numpy": True,
            "convert_to_tensor": False,
        }
        if "prompt" not in kwargs and "prompt_name" not in kwargs:
            prompt = query_prompt(model) if side == "query" else document_prompt(model)
            if prompt:
                kwargs["prompt"] = prompt
        if not texts:
            return []
        with self._lock:
            vectors = model.encode(list(texts), **kwargs)
        return [[float(x) for x in row] for row in vectors]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents with the original (document) encoder."""
        if isinstance(texts, str):
            raise TypeError("pass a list of strings, not a single string")
        if not self.encode_kwargs:
            vectors = self._encoder.embed_documents(
                list(texts), show_progress=self.show_progress, batch_size=self.batch_size
            )
            return vectors.tolist()
        return self._encode(self._encoder.document_model, list(texts), "document", self.encode_kwargs)

    def embed_query(self, text: str) -> list[float]:
        """Embed a query with the tuned (query) encoder."""
        options = self.query_encode_kwargs if self.query_encode_kwargs is not None else self.encode_kwargs
        if not options:
            return self._encoder.embed_queries([text], show_progress=False)[0].tolist()
        return self._encode(self._encoder.query_model, [text], "query", options)[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async :meth:`embed_documents` (runs in a worker thread)."""
        return await asyncio.to_thread(self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Async :meth:`embed_query` (runs in a worker thread)."""
        return await asyncio.to_thread(self.embed_query, text)


def _is_checkpoint(spec: str) -> bool:
    """True when ``spec`` is a folder holding a LORE checkpoint (a manifest, or a run folder with best/ or last/)."""
    from lore_rag.models.checkpoint import find_checkpoint

    try:
        find_checkpoint(spec)
    except Exception:  # noqa: BLE001 - not a checkpoint: a model id or a plain model folder
        return False
    return True


def hit_to_document(hit: Hit) -> Document:
    """A LangChain document of a hit, its score, rank and id in ``metadata``."""
    metadata = {**hit.metadata, "score": hit.score, "rank": hit.rank, "id": hit.id}
    return Document(page_content=hit.text, metadata=metadata, id=hit.id)


#: ``search_type`` values, as ``VectorStoreRetriever`` has them.
SEARCH_TYPES = ("similarity", "mmr", "similarity_score_threshold")
#: ``search_kwargs`` keys, as ``VectorStoreRetriever`` passes them to a vector store.
SEARCH_KWARGS = ("k", "filter", "fetch_k", "lambda_mult", "score_threshold")


@dataclass(frozen=True)
class SearchOptions:
    """One search's settings, after the construction-time and per-call values are merged and checked.

    Attributes:
        search_type: ``similarity``, ``mmr`` or ``similarity_score_threshold``.
        k: Documents returned.
        filter: Chroma metadata filter (``where``), or ``None``.
        fetch_k: Candidates fetched before MMR picks ``k`` of them (MMR only).
        lambda_mult: MMR trade-off: 1 ranks by similarity alone, 0 by diversity alone.
        score_threshold: Lowest cosine similarity kept, or ``None``.
    """

    search_type: str = "similarity"
    k: int = 4
    filter: dict[str, Any] | None = None
    fetch_k: int = 20
    lambda_mult: float = 0.5
    score_threshold: float | None = None


def search_options(
    search_type: str, search_kwargs: dict[str, Any], *, default_k: int = 4, where: dict[str, Any] | None = None
) -> SearchOptions:
    """Check and merge ``search_type`` / ``search_kwargs`` into :class:`SearchOptions`.

    Raises:
        ValueError: for an unknown search type or key, a value of the wrong type or range, or
            ``similarity_score_threshold`` without a ``score_threshold``.
    """
    if search_type not in SEARCH_TYPES:
        raise ValueError(f"search_type must be one of {', '.join(SEARCH_TYPES)}, got {search_type!r}")
    unknown = sorted(set(search_kwargs) - set(SEARCH_KWARGS))
    if unknown:
        raise ValueError(
            f"search_kwargs: unknown key(s) {', '.join(map(repr, unknown))} (known: {', '.join(SEARCH_KWARGS)})"
        )
    k = search_kwargs.get("k", default_k)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"search_kwargs['k'] must be an integer >= 1, got {k!r}")
    fetch_k = search_kwargs.get("fetch_k", max(20, k))
    if isinstance(fetch_k, bool) or not isinstance(fetch_k, int) or fetch_k < 1:
        raise ValueError(f"search_kwargs['fetch_k'] must be an integer >= 1, got {fetch_k!r}")
    lambda_mult = search_kwargs.get("lambda_mult", 0.5)
    if isinstance(lambda_mult, bool) or not isinstance(lambda_mult, (int, float)) or not 0 <= lambda_mult <= 1:
        raise ValueError(f"search_kwargs['lambda_mult'] must be a number in [0, 1], got {lambda_mult!r}")
    threshold = search_kwargs.get("score_threshold")
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not -1 <= threshold <= 1
    ):
        raise ValueError(f"search_kwargs['score_threshold'] must be a cosine similarity in [-1, 1], got {threshold!r}")
    if search_type == "similarity_score_threshold" and threshold is None:
        raise ValueError("search_type 'similarity_score_threshold' needs search_kwargs['score_threshold'] (a float)")
    flt = search_kwargs.get("filter", where)
    if flt is not None and not isinstance(flt, dict):
        raise ValueError(f"search_kwargs['filter'] must be a Chroma where-dict, got {type(flt).__name__}")
    return SearchOptions(
        search_type=search_type,
        k=k,
        filter=flt or None,
        fetch_k=max(fetch_k, k),
        lambda_mult=float(lambda_mult),
        score_threshold=float(threshold) if threshold is not None else None,
    )


class LoreRetriever(BaseRetriever):
    """A LangChain retriever over a :class:`ChromaStore`, searching with a LORE (or raw) query encoder.

    It takes ``search_type`` and ``search_kwargs`` as LangChain's ``VectorStoreRetriever`` does, at construction
    and per call (``retriever.invoke(q, k=1, filter={...})`` or ``retriever.invoke(q, search_kwargs={...})``):

    * ``search_type="similarity"`` (default): the ``k`` nearest chunks;
    * ``"mmr"``: maximal marginal relevance: ``fetch_k`` nearest chunks, ``k`` of them picked for relevance and
      diversity (``lambda_mult``: 1 relevance only, 0 diversity only);
    * ``"similarity_score_threshold"``: the ``k`` nearest whose cosine similarity is at least ``score_threshold``
      (required; any search type honours it when given).

    ``filter`` is a Chroma metadata filter (``{"source": "a.md"}``, ``{"year": {"$gte": 2020}}``). Each returned
    document carries ``score`` (cosine similarity), ``rank`` and ``id`` in its metadata. The store's recorded
    document encoder is checked when the retriever is made.

    Args:
        store: The collection to search.
        encoder: A :class:`LoreEncoder` or :class:`LoreEmbeddings`.
        k: Documents per query (``search_kwargs["k"]`` wins when both are given).
        search_type: ``similarity``, ``mmr`` or ``similarity_score_threshold``.
        search_kwargs: ``k``, ``filter``, ``fetch_k``, ``lambda_mult``, ``score_threshold``.
        where: Chroma metadata filter applied to every search (older name of ``search_kwargs["filter"]``).

    Raises:
        StoreError: when the store was built by another document encoder.
        ValueError: for an unknown search type or search_kwargs key, or a value out of range.
    """

    store: ChromaStore = Field(description="The Chroma collection to search.")
    encoder: Any = Field(description="LoreEncoder (or LoreEmbeddings) whose query side embeds the queries.")
    k: int = Field(default=4, gt=0, description="Documents per query.")
    search_type: str = Field(default="similarity", description="similarity, mmr or similarity_score_threshold.")
    search_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="k, filter, fetch_k, lambda_mult, score_threshold."
    )
    where: dict[str, Any] | None = Field(default=None, description="Chroma metadata filter (alias of filter).")

    _retriever: Retriever = PrivateAttr()

    def __init__(self, **data: Any) -> None:
        encoder = data.get("encoder")
        if isinstance(encoder, LoreEmbeddings):
            data["encoder"] = encoder.encoder
        elif not isinstance(encoder, LoreEncoder):
            raise TypeError(f"encoder must be a LoreEncoder or LoreEmbeddings, got {type(encoder).__name__}")
        super().__init__(**data)
        self.options()  # refuse bad settings now, not at the first query
        self._retriever = Retriever(self.store, self.encoder, k=self.k)

    def options(self, **overrides: Any) -> SearchOptions:
        """The settings of one search: the construction-time ones, with per-call ``overrides`` on top.

        ``overrides`` may hold ``search_type``, ``search_kwargs`` (a dict) and any ``search_kwargs`` key.

        Raises:
            ValueError: for an unknown or out-of-range setting.
        """
        overrides = dict(overrides)
        search_type = overrides.pop("search_type", None) or self.search_type
        merged = {**self.search_kwargs, **(overrides.pop("search_kwargs", None) or {}), **overrides}
        return search_options(search_type, merged, default_k=self.k, where=self.where)

    def search(self, query: str, options: SearchOptions) -> list[Hit]:
        """The hits of one query under ``options``, best first (ranks renumbered after MMR or a threshold)."""
        if options.search_type == "mmr":
            hits = self._mmr(query, options)
        else:
            hits = self._retriever.search(query, options.k, where=options.filter)
        if options.score_threshold is not None:
            hits = [h for h in hits if h.score >= options.score_threshold]
        return [replace(h, rank=i + 1) for i, h in enumerate(hits)]

    def _mmr(self, query: str, options: SearchOptions) -> list[Hit]:
        from langchain_core.vectorstores.utils import maximal_marginal_relevance

        vector = self.encoder.embed_queries([query], show_progress=False)[0]
        candidates = self.store.query(vector, options.fetch_k, where=options.filter)[0]
        if options.score_threshold is not None:
            candidates = [h for h in candidates if h.score >= options.score_threshold]
        if not candidates:
            return []
        vectors = self.store.vectors([h.id for h in candidates])
        picked = maximal_marginal_relevance(vector, vectors.tolist(), lambda_mult=options.lambda_mult, k=options.k)
        return [candidates[i] for i in picked]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return [hit_to_document(h) for h in self.search(query, self.options(**kwargs))]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = await asyncio.to_thread(self.search, query, self.options(**kwargs))
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
