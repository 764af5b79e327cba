"""Top-k retrieval with a :class:`~lore_rag.models.encoder.LoreEncoder`, raw vs LORE side by side, indexing files."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lore_rag.errors import ConfigError, DataError
from lore_rag.retrieval.chunking import MAX_CHUNK_CHARS, Chunk, TokenCounter, read_chunks
from lore_rag.retrieval.store import ChromaStore, Hit

if TYPE_CHECKING:
    from lore_rag.models.encoder import LoreEncoder
    from lore_rag.retrieval.rerank import Reranker

__all__ = [
    "IndexReport",
    "Retriever",
    "SearchTimings",
    "compare",
    "format_hits",
    "format_side_by_side",
    "index_chunks",
    "index_paths",
    "name_encoders",
    "raw_counterpart",
    "side_by_side",
]

logger = logging.getLogger(__name__)

_QUERY_BATCH = 256


@dataclass
class SearchTimings:
    """Wall time of searches made one query at a time, as a deployed retriever serves them.

    Attributes:
        retrieval: Seconds per query of the first stage (query encoding and the vector search).
        rerank: Seconds per query of the reranker (all zero without one).
    """

    retrieval: list[float] = field(default_factory=list)
    rerank: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """Latency in milliseconds: ``ms/query`` (mean), ``ms/query p50`` / ``ms/query p95`` and ``rerank ms/query``.

        The first three are of the whole search (first stage plus reranker); the last is the reranker's mean share.
        """
        import numpy as np

        if not self.retrieval:
            return {"ms/query": float("nan"), "ms/query p50": float("nan"), "ms/query p95": float("nan"),
                    "rerank ms/query": float("nan")}  # fmt: skip
        total = 1000.0 * (np.asarray(self.retrieval) + np.asarray(self.rerank))
        return {
            "ms/query": float(total.mean()),
            "ms/query p50": float(np.percentile(total, 50)),
            "ms/query p95": float(np.percentile(total, 95)),
            "rerank ms/query": float(1000.0 * np.mean(self.rerank)),
        }


class Retriever:
    """Search a :class:`ChromaStore` with an encoder's query side, optionally reranking with a cross-encoder.

    Args:
        store: The collection to search.
        encoder: Its query side embeds the queries; its document side must be the one that built the store.
        k: Default number of hits.
        reranker: A :class:`~lore_rag.retrieval.rerank.Reranker`: the store's top ``fetch_k`` chunks are
            rescored by it and the best ``k`` kept (``None``: the encoder's ranking as it is).
        fetch_k: Chunks fetched for the reranker (default
            :data:`~lore_rag.retrieval.rerank.DEFAULT_FETCH_K`; never fewer than the ``k`` asked for).

    Raises:
        StoreError: when the store was built by another document encoder.
        ConfigError: for ``k`` or ``fetch_k`` below 1.
    """

    def __init__(
        self,
        store: ChromaStore,
        encoder: LoreEncoder,
        *,
        k: int = 10,
        reranker: Reranker | None = None,
        fetch_k: int | None = None,
    ) -> None:
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        if fetch_k is not None and fetch_k < 1:
            raise ConfigError(f"fetch_k must be at least 1, got {fetch_k}")
        store.check_encoder(encoder)
        self.store = store
        self.encoder = encoder
        self.k = k
        self.reranker = reranker
        self.fetch_k = fetch_k

    @property
    def name(self) -> str:
        """The encoder's name, with the reranker's when there is one."""
        return self.encoder.name if self.reranker is None else f"{self.encoder.name} + {self.reranker.name}"

    def fetch_depth(self, k: int) -> int:
        """Chunks fetched from the store for ``k`` hits: ``k`` alone, or ``max(fetch_k, k)`` with a reranker."""
        if self.reranker is None:
            return k
        from lore_rag.retrieval.rerank import DEFAULT_FETCH_K

        return max(self.fetch_k or DEFAULT_FETCH_K, k)

    def search(self, query: str, k: int | None = None, *, where: dict[str, Any] | None = None) -> list[Hit]:
        """The top-``k`` chunks for one query, best first (reranked when the retriever has a reranker)."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, got {type(query).__name__}")
        return self.search_many([query], k, where=where)[0]

    def search_many(
        self, queries: Sequence[str], k: int | None = None, *, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        """The top-``k`` chunks for each query (queries embedded in batches, pairs reranked in batches)."""
        self._check_queries(queries)
        k = k or self.k
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        depth = self.fetch_depth(k)
        results: list[list[Hit]] = []
        for start in range(0, len(queries), _QUERY_BATCH):
            part = list(queries[start : start + _QUERY_BATCH])
            vectors = self.encoder.embed_queries(part, show_progress=False)
            first = self.store.query(vectors, depth, where=where)
            if self.reranker is not None:
                results.extend([list[Hit](hits) for hits in self.reranker.rerank_many(part, first, k)])
            else:
                results.extend(first)
        return results

    def search_timed(
        self,
        queries: Sequence[str],
        k: int | None = None,
        *,
        where: dict[str, Any] | None = None,
        show_progress: bool = False,
    ) -> tuple[list[list[Hit]], SearchTimings]:
        """:meth:`search_many` one query at a time, timing the first stage and the reranker of each query.

        This is the latency a user of a deployed retriever sees (no batching across queries); the hits are the
        same as :meth:`search_many`'s. ``show_progress`` shows a progress bar over the queries.
        """
        from tqdm.auto import tqdm

        self._check_queries(queries)
        k = k or self.k
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        depth = self.fetch_depth(k)
        timings = SearchTimings()
        results: list[list[Hit]] = []
        for query in tqdm(queries, desc=f"search {self.name}", disable=not show_progress, leave=False):
            started = time.perf_counter()
            vector = self.encoder.embed_queries([query], show_progress=False)
            hits = self.store.query(vector, depth, where=where)[0]
            fetched = time.perf_counter()
            timings.retrieval.append(fetched - started)
            if self.reranker is not None:
                hits = list(self.reranker.rerank(query, hits, k))
                timings.rerank.append(time.perf_counter() - fetched)
            else:
                timings.rerank.append(0.0)
            results.append(hits)
        return results, timings

    @staticmethod
    def _check_queries(queries: Sequence[str]) -> None:
        if isinstance(queries, str):
            raise TypeError("pass a list of queries, not a single string")
        for i, query in enumerate(queries):
            if not isinstance(query, str) or not query.strip():
                raise DataError(f"query {i} is empty or not a string")


def raw_counterpart(encoder: LoreEncoder, *, name: str = "raw") -> LoreEncoder:
    """The untuned model of ``encoder`` on both sides, sharing its document encoder (so the same index serves both).

    For a LORE checkpoint this is its base model; for a raw encoder it is the encoder itself.
    """
    from lore_rag.models.encoder import LoreEncoder

    if encoder.is_raw:
        return encoder
    return LoreEncoder(encoder.document_model, name=name, batch_size=encoder.batch_size)


def compare(
    store: ChromaStore,
    encoders: Mapping[str, LoreEncoder] | Sequence[LoreEncoder],
    queries: Sequence[str],
    k: int = 10,
    *,
    where: dict[str, Any] | None = None,
    reranker: Reranker | None = None,
    fetch_k: int | None = None,
) -> list[dict[str, list[Hit]]]:
    """Search the same store with several encoders (e.g. raw and LORE), for side-by-side display.

    Args:
        store: The collection all encoders search.
        encoders: ``{name: encoder}`` or a list (named by ``encoder.name``).
        queries: The queries.
        k: Hits per query and encoder.
        where: Chroma metadata filter.
        reranker: When given, each encoder's top ``fetch_k`` is reranked by it (see :class:`Retriever`).
        fetch_k: Chunks fetched for the reranker.

    Returns:
        One dict per query, mapping each encoder's name to its hits.

    Raises:
        StoreError: when an encoder's document side did not build the store.
    """
    retrievers = side_by_side(store, encoders, k=k, reranker=reranker, fetch_k=fetch_k)
    per_model = {name: r.search_many(queries, k, where=where) for name, r in retrievers.items()}
    return [{name: per_model[name][i] for name in retrievers} for i in range(len(queries))]


def side_by_side(
    store: ChromaStore,
    encoders: Mapping[str, LoreEncoder] | Sequence[LoreEncoder],
    *,
    k: int = 10,
    reranker: Reranker | None = None,
    fetch_k: int | None = None,
) -> dict[str, Retriever]:
    """One :class:`Retriever` per encoder over the same store, same ``k`` and reranker: the raw-vs-LORE set-up.

    :func:`compare`, ``lore-rag query --compare`` and the app's :class:`~lore_rag.demo.DemoSession` all search
    through these.

    Args:
        store: The collection every encoder searches.
        encoders: ``{name: encoder}`` or a list (named by ``encoder.name``, see :func:`name_encoders`).
        k: Default hits per search.
        reranker: When given, each retriever's top ``fetch_k`` is reranked by it.
        fetch_k: Chunks fetched for the reranker.

    Raises:
        StoreError: when an encoder's document side did not build the store.
    """
    return {
        name: Retriever(store, enc, k=k, reranker=reranker, fetch_k=fetch_k)
        for name, enc in name_encoders(encoders).items()
    }


def name_encoders(encoders: Mapping[str, LoreEncoder] | Sequence[LoreEncoder]) -> dict[str, LoreEncoder]:
    """``{name: encoder}`` from a mapping (as it is) or a list (by ``encoder.name``, made unique with -2, -3...)."""
    if isinstance(encoders, Mapping):
        return dict(encoders)
    named: dict[str, LoreEncoder] = {}
    for enc in encoders:
        name = enc.name
        n = 2
        while name in named:
            name = f"{enc.name}-{n}"
            n += 1
        named[name] = enc
    return named


@dataclass
class IndexReport:
    """What :func:`index_paths` did.

    Attributes:
        files: Input files read.
        chunks: Chunks made (before removing duplicates).
        unique: Distinct chunks (by text).
        added: Chunks newly added to the store.
        total: Chunks in the collection afterwards.
    """

    files: int
    chunks: int
    unique: int
    added: int
    total: int

    @property
    def skipped(self) -> int:
        """Distinct chunks already in the store before this run."""
        return self.unique - self.added


def index_paths(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    store: ChromaStore,
    encoder: LoreEncoder,
    *,
    chunk_size: int | None = None,
    overlap: int | None = None,
    unit: str = "tokens",
    long_chunks: str = "split",
    max_chunk_chars: int = MAX_CHUNK_CHARS,
    text_field: str = "text",
    metadata_fields: Sequence[str] | None = None,
    id_field: str | None = None,
    batch_size: int = 256,
    show_progress: bool = True,
) -> IndexReport:
    """Read, chunk and index files into ``store``; re-running adds only what is missing.

    Every input is read and chunked before anything is embedded, so a bad file (missing, not UTF-8, a
    malformed row) stops the run before it changes the store; what an earlier run indexed stays. Identical
    chunk texts are stored once. Batches are
    stored as they are embedded, so an interrupted run is resumed by running it again.

    Args:
        paths: Text / Markdown / JSONL files or folders (see :func:`~lore_rag.retrieval.chunking.iter_documents`).
        store: Target collection.
        encoder: Its document side embeds the chunks (a LORE checkpoint uses its base model).
        chunk_size: Largest chunk, in ``unit``; default: what the document encoder reads, in its tokens.
        overlap: Overlap between consecutive chunks, in ``unit`` (default: an eighth of the size in tokens).
        unit: ``"tokens"`` (the document encoder's), ``"words"`` or ``"chars"``.
        long_chunks: Pre-made (tiered) chunks longer than the model reads: ``"split"`` or ``"keep"``.
        max_chunk_chars: Refuse any chunk longer than this many characters, before embedding.
        text_field: JSONL field holding the text.
        metadata_fields: JSONL fields to keep as metadata (``None``: every scalar field).
        id_field: JSONL field holding a document id (stored as ``doc_id``).
        batch_size: Chunks per embedding batch and per write.
        show_progress: Show progress bars.

    Raises:
        DataError: for a bad input, or when the inputs hold no text at all.
        StoreError: when the store was built by another document encoder.
    """
    store.check_encoder(encoder, for_writing=True)
    files, chunks = read_chunks(
        paths,
        chunk_size=chunk_size,
        overlap=overlap,
        unit=unit,
        counter=TokenCounter(encoder.document_model),
        long_chunks=long_chunks,
        max_chunk_chars=max_chunk_chars,
        text_field=text_field,
        metadata_fields=metadata_fields,
        id_field=id_field,
        show_progress=show_progress,
    )
    return index_chunks(chunks, store, encoder, files=len(files), batch_size=batch_size, show_progress=show_progress)


def index_chunks(
    chunks: Sequence[Chunk],
    store: ChromaStore,
    encoder: LoreEncoder,
    *,
    files: int = 0,
    batch_size: int = 256,
    show_progress: bool = True,
) -> IndexReport:
    """Add chunks (from :func:`~lore_rag.retrieval.chunking.read_chunks`) to ``store``, skipping those present.

    Raises:
        StoreError: when the store was built by another document encoder.
    """
    added = store.add_texts(
        [c.text for c in chunks],
        encoder,
        metadatas=[c.metadata for c in chunks],
        ids=[c.id for c in chunks],
        batch_size=batch_size,
        show_progress=show_progress,
    )
    unique = len({c.id for c in chunks})
    return IndexReport(files=files, chunks=len(chunks), unique=unique, added=added, total=store.count())


def _snippet(text: str, width: int) -> str:
    flat = " ".join(text.split())
    if width <= 1:
        return ""
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def format_hits(hits: Sequence[Hit], *, width: int = 100) -> str:
    """Plain-text list of hits: rank, score and the start of each chunk, one line each."""
    lines = []
    for hit in hits:
        prefix = f"{hit.rank:>3}  {hit.score:6.3f}  "
        lines.append(prefix + _snippet(hit.text, width - len(prefix)))
    return "\n".join(lines) if lines else "  (no hits)"


def format_side_by_side(results: Mapping[str, Sequence[Hit]], *, width: int = 160) -> str:
    """Hits of several models in columns, best first; each later column marks where the first model ranked the chunk.

    Args:
        results: ``{model name: hits}`` for one query (e.g. from :func:`compare`), the reference model first.
        width: Total line width.
    """
    names = list(results)
    if not names:
        return ""
    reference = {h.id: h.rank for h in results[names[0]]}
    col = max(20, (width - 5 - 3 * (len(names) - 1)) // len(names))
    rows = max((len(h) for h in results.values()), default=0)
    header = "  # " + " | ".join(name[:col].ljust(col) for name in names)
    lines = [header.rstrip(), "-" * min(width, len(header))]
    for r in range(rows):
        cells = []
        for c, name in enumerate(names):
            hits = results[name]
            if r >= len(hits):
                cells.append(" " * col)
                continue
            hit = hits[r]
            mark = ""
            if c > 0:
                was = reference.get(hit.id)
                mark = "[new] " if was is None else ("" if was == hit.rank else f"[{names[0]} #{was}] ")
            text = f"{hit.score:.3f} {mark}"
            cells.append((text + _snippet(hit.text, col - len(text))).ljust(col))
        lines.append(f"{r + 1:>3} " + " | ".join(cells))
    return "\n".join(line.rstrip() for line in lines)
