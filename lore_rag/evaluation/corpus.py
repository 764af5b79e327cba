"""Corpus-wide evaluation: every chunk of an evaluation set in one Chroma index, each query searched over all of it.

Unlike the paper protocol (:mod:`lore_rag.evaluation.candidates`, each query ranks only its own ~10
candidates), this is what a deployed RAG retriever faces: the query competes with every chunk of the corpus.
Identical chunk texts are one index entry; a chunk's tier (positive, distractor N1, negative) is per query.

Metrics per model (means over queries):

* ``P@k``: P-recall@k, the share of the query's positive chunks in the top k (percent, higher is better);
* ``MRR@10``: reciprocal rank of the first positive within the top 10 (0-1, higher is better);
* ``nDCG@10``: binary-relevance nDCG of the top 10 (0-1, higher is better);
* ``N1@k``: the share of the query's own distractors in the top k (percent, lower is better);
* ``N1count@k``: how many of its distractors enter the top k (mean count, lower is better);
* ``N1any@k``: queries with at least one of their distractors in the top k (percent, lower is better);
* ``ms/query``: mean wall time of one search (query encoding, vector search and, for a reranked row, the
  cross-encoder), queries searched one at a time as a deployed retriever serves them (``ms/query p50``,
  ``ms/query p95`` and ``rerank ms/query`` in the JSON).

With a reranker (:class:`~lore_rag.retrieval.rerank.Reranker`) every model gets a second row, ``NAME + reranker``:
its top ``fetch_k`` chunks rescored by the cross-encoder, the rest of the index untouched.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lore_rag.data.schema import Example, Tier, query_view
from lore_rag.errors import ConfigError, DataError

if TYPE_CHECKING:
    from lore_rag.models.encoder import LoreEncoder
    from lore_rag.retrieval.rerank import Reranker
    from lore_rag.retrieval.store import ChromaStore

__all__ = [
    "DEFAULT_KS",
    "CorpusTask",
    "corpus_task",
    "evaluate_corpus",
    "exact_corpus_per_query",
    "format_corpus_table",
    "per_query_arrays",
    "query_metrics",
]

logger = logging.getLogger(__name__)

DEFAULT_KS: tuple[int, ...] = (3, 5, 10)
#: Row-name suffixes: a model's own ranking, and that ranking reranked by the cross-encoder.
RAW_SUFFIX, RERANKED_SUFFIX = "", " + reranker"
_RANK_DEPTH = 10  # MRR@10 and nDCG@10


def query_metrics(
    ranked: Sequence[str], positives: set[str], distractors: set[str], ks: Sequence[int]
) -> dict[str, float]:
    """Metrics of one ranked id list against one query's positive and distractor ids.

    Args:
        ranked: Retrieved chunk ids, best first (at least ``max(ks)`` and 10 of them when the corpus allows).
        positives: Ids of the query's positive chunks (must not be empty).
        distractors: Ids of its distractor (N1) chunks.
        ks: Cut-offs for P@k and N1@k.

    Returns:
        ``P@k``, ``N1@k``, ``N1count@k``, ``N1any@k`` for each k, and ``MRR@10``, ``nDCG@10``.
    """
    if not positives:
        raise ValueError("a query needs at least one positive chunk")
    out: dict[str, float] = {}
    for k in ks:
        top = set(ranked[:k])
        out[f"P@{k}"] = 100.0 * len(top & positives) / len(positives)
        hits = len(top & distractors)
        out[f"N1@{k}"] = 100.0 * hits / len(distractors) if distractors else 0.0
        out[f"N1count@{k}"] = float(hits)
        out[f"N1any@{k}"] = 100.0 if hits else 0.0
    head = list(ranked[:_RANK_DEPTH])
    first = next((r for r, i in enumerate(head, start=1) if i in positives), None)
    out[f"MRR@{_RANK_DEPTH}"] = 1.0 / first if first else 0.0
    dcg = sum(1.0 / math.log2(r + 1) for r, i in enumerate(head, start=1) if i in positives)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(positives), _RANK_DEPTH) + 1))
    out[f"nDCG@{_RANK_DEPTH}"] = dcg / ideal
    return out


def _judgements(example: Example, ids: Mapping[str, str]) -> tuple[set[str], set[str]]:
    positives: set[str] = set()
    distractors: set[str] = set()
    for chunk, tier in zip(example.chunks, example.tiers, strict=True):
        if tier == Tier.POSITIVE:
            positives.add(ids[chunk])
        elif tier == Tier.DISTRACTOR:
            distractors.add(ids[chunk])
    return positives, distractors - positives


def evaluate_corpus(
    encoders: dict[str, LoreEncoder] | list[LoreEncoder],
    examples: list[Example],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    store_dir: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
    query_field: str = "query",
    per_query: bool = False,
    reranker: Reranker | None = None,
    fetch_k: int | None = None,
    document_cache: str | os.PathLike[str] | None = None,
    latency: bool = True,
) -> dict[str, Any]:
    """Index all chunks of ``examples`` once and measure each encoder's retrieval over the whole index.

    Encoders that share a document encoder (a LORE checkpoint and its raw base model) share one collection,
    embedded once; an encoder with another document encoder gets its own collection.

    Args:
        encoders: ``{name: encoder}``, or a list (named by ``encoder.name``).
        examples: Tiered examples; each query is judged against its own chunks' tiers.
        ks: Cut-offs for P@k and the N1 counts.
        store_dir: Folder for the Chroma store; reusing it skips chunks already embedded there. ``None``: a
            temporary folder, removed afterwards.
        show_progress: Progress bars while embedding.
        query_field: ``"query"`` / ``"rewritten"`` (the query as written, with distractors woven in for LORE data) or
            ``"original_query"`` (the question before rewriting; rows without one are left out).
        per_query: Also return each query's metrics and top ids.
        reranker: A cross-encoder: each model is also evaluated with its top ``fetch_k`` reranked by it, as
            the row ``"NAME + reranker"`` right after the model's own row.
        fetch_k: Chunks handed to the reranker (default
            :data:`~lore_rag.retrieval.rerank.DEFAULT_FETCH_K`; at least the deepest cut-off and 10).
        document_cache: Folder of the document-embedding cache (:class:`~lore_rag.models.doc_cache.DocEmbeddingCache`)
            the index is filled from: chunks that training or the candidate protocol already embedded are not
            embedded again. ``None`` embeds them with each document encoder directly.
        latency: Search one query at a time and report ``ms/query`` as a deployed retriever sees it. ``False``
            searches in batches (the same hits, several times faster) and reports no latency, for runs that only
            need the ranking metrics (``lore-rag train``'s summary).

    Returns:
        ``{"models": {name: {metric: value, "n": n_queries}}, "n_queries", "n_chunks", "ks", "query_field",
        "reranker"}`` (``"reranker"``: its name, model, fingerprint and ``fetch_k``, or ``None``), plus
        ``"per_query": {name: [{"id", "top", **metrics}]}`` when asked. Metrics are described in the module
        docstring.

    Raises:
        ConfigError: for no encoder, a bad cut-off, an unknown ``query_field`` or a ``fetch_k`` below the
            deepest cut-off.
        DataError: when no example has a positive chunk (or an ``original_query`` when asked for).
    """
    from lore_rag.retrieval.retriever import name_encoders

    named = name_encoders(encoders)
    if not named:
        raise ConfigError("evaluate_corpus needs at least one encoder")
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ConfigError(f"cut-offs must be positive integers, got {list(ks)}")
    usable = _usable_examples(examples, query_field)
    from lore_rag.retrieval.chunking import chunk_id

    texts = list(dict.fromkeys(chunk for e in examples for chunk in e.chunks))
    ids = {text: chunk_id(text) for text in texts}
    depth = max(max(ks), _RANK_DEPTH)
    if reranker is not None:
        from lore_rag.retrieval.rerank import check_fetch_k

        fetch_k = check_fetch_k(fetch_k, depth)
    variants: list[tuple[str, Reranker | None]] = [(RAW_SUFFIX, None)]
    if reranker is not None:
        variants.append((RERANKED_SUFFIX, reranker))
    order = [name + suffix for name in named for suffix, _ in variants]
    searches = _CorpusSearches(
        usable,
        query_field,
        ids,
        ks,
        depth,
        variants,
        fetch_k,
        per_query,
        show_progress,
        document_cache=document_cache,
        latency=latency,
    )

    tmp = tempfile.TemporaryDirectory(prefix="lore-corpus-") if store_dir is None else None
    root = Path(tmp.name if tmp is not None else store_dir)  # type: ignore[arg-type]
    try:
        models, details = searches.run(named, texts, root)
    finally:
        if tmp is not None:
            tmp.cleanup()
    result: dict[str, Any] = {
        "models": {name: models[name] for name in order},
        "n_queries": len(usable),
        "n_chunks": len(texts),
        "ks": list(ks),
        "query_field": query_field,
        "reranker": None if reranker is None else {**reranker.describe(), "fetch_k": fetch_k},
    }
    if per_query:
        result["per_query"] = {name: details[name] for name in order}
    return result


def _usable_examples(examples: list[Example], query_field: str) -> list[Example]:
    """The examples with a positive chunk and the query ``query_field`` asks for (a warning names how many are not).

    Raises:
        ConfigError: for an unknown ``query_field``; DataError when no example is usable.
    """
    view = query_view(query_field, what="query_field")
    usable = [e for e in examples if e.n_positive and e.query_for(view)]
    if len(usable) < len(examples):
        logger.warning(
            "left out %d example(s) with no positive chunk or no %s", len(examples) - len(usable), query_field
        )
    if not usable:
        raise DataError(f"no example with a positive chunk{' and an original_query' if view == 'original' else ''}")
    return usable


class _CorpusSearches:
    """Every query of the evaluation searched over the whole index, per model and per stage (raw, reranked)."""

    def __init__(
        self,
        usable: list[Example],
        query_field: str,
        ids: Mapping[str, str],
        ks: Sequence[int],
        depth: int,
        variants: list[tuple[str, Reranker | None]],
        fetch_k: int | None,
        per_query: bool,
        show_progress: bool,
        *,
        document_cache: str | os.PathLike[str] | None = None,
        latency: bool = True,
    ) -> None:
        view = query_view(query_field, what="query_field")
        self.usable = usable
        self.queries = [str(e.query_for(view)) for e in usable]
        self.judged = [_judgements(e, ids) for e in usable]
        self.ids = ids
        self.ks = ks
        self.depth = depth
        self.variants = variants
        self.fetch_k = fetch_k
        self.per_query = per_query
        self.show_progress = show_progress
        self.document_cache = document_cache
        self.latency = latency

    def run(
        self, named: Mapping[str, LoreEncoder], texts: list[str], root: Path
    ) -> tuple[dict[str, dict[str, float]], dict[str, list[dict[str, Any]]]]:
        """Index ``texts`` once per document encoder under ``root`` and score every model on its collection.

        Encoders that share a document encoder share one collection, embedded once.

        Returns:
            ``(metrics by row name, per-query rows by row name)`` (the second empty unless ``per_query``).
        """
        from lore_rag.retrieval.store import ChromaStore

        groups: dict[str, list[str]] = {}
        for name, enc in named.items():
            groups.setdefault(enc.document_fingerprint, []).append(name)
        models: dict[str, dict[str, float]] = {}
        details: dict[str, list[dict[str, Any]]] = {}
        stores: dict[str, ChromaStore] = {}  # held until the caller removes a temporary folder
        for fingerprint, names in groups.items():
            store = stores.setdefault(fingerprint, ChromaStore(root, collection=f"corpus-{fingerprint}"))
            logger.info("indexing %d distinct chunks with the document encoder of %s", len(texts), names)
            store.add_texts(
                texts,
                named[names[0]],
                ids=[self.ids[t] for t in texts],
                show_progress=self.show_progress,
                embed=self._cached_embed(named[names[0]]),
            )
            for name in names:
                for suffix, stage in self.variants:
                    metrics, rows = self.score(store, named[name], stage)
                    models[name + suffix] = metrics
                    if self.per_query:
                        details[name + suffix] = rows
        return models, details

    def _cached_embed(self, encoder: LoreEncoder) -> Callable[[list[str]], np.ndarray] | None:
        """The document cache's ``embed`` for ``encoder``'s document model, or ``None`` without a cache folder."""
        if self.document_cache is None:
            return None
        from lore_rag.models.doc_cache import DocEmbeddingCache

        cache = DocEmbeddingCache(
            encoder.document_model, self.document_cache, show_progress=self.show_progress, precision=encoder.precision
        )
        return cache.embed

    def score(
        self, store: ChromaStore, encoder: LoreEncoder, stage: Reranker | None
    ) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """One model's (optionally reranked) search of every query: mean metrics (and timings), and per-query rows."""
        from lore_rag.retrieval.retriever import Retriever

        retriever = Retriever(store, encoder, k=self.depth, reranker=stage, fetch_k=self.fetch_k)
        timings = None
        if self.latency:
            results, timings = retriever.search_timed(self.queries, self.depth, show_progress=self.show_progress)
        else:
            results = retriever.search_many(self.queries, self.depth)
        rows: list[dict[str, Any]] = []
        for example, hits, (positives, distractors) in zip(self.usable, results, self.judged, strict=True):
            ranked = [h.id for h in hits]
            row = query_metrics(ranked, positives, distractors, self.ks)
            if self.per_query:
                rows.append({"id": example.id, "top": ranked, **row})
            else:
                rows.append(row)
        keys = rows[0].keys() if rows else []
        metrics = {key: float(np.mean([r[key] for r in rows])) for key in keys if key not in ("id", "top")}
        metrics["n"] = float(len(rows))
        if timings is not None:
            metrics.update(timings.summary())
        return metrics, rows


def format_corpus_table(result: Mapping[str, Any]) -> str:
    """A Markdown table of :func:`evaluate_corpus` results, one row per model.

    Columns: P@k (percent, higher is better), MRR@10 and nDCG@10 (higher is better), N1@k (percent of the query's
    distractors in the top k, lower is better) and the mean number of distractors in the top k at the largest k.
    """
    ks = list(result["ks"])
    kmax = ks[-1]
    header = (
        ["model"]
        + [f"P@{k} ↑" for k in ks]
        + [f"MRR@{_RANK_DEPTH} ↑", f"nDCG@{_RANK_DEPTH} ↑"]
        + [f"N1@{k} ↓" for k in ks]
        + [f"N1 in top-{kmax} ↓", f"queries with N1 in top-{kmax} ↓"]
    )
    timed = all("ms/query" in m for m in result["models"].values())
    if timed:
        header.append("ms/query ↓")
    lines = [
        f"Corpus-wide retrieval: {result['n_queries']} queries ({result.get('query_field', 'query')}) "
        f"over {result['n_chunks']} chunks",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for name, m in result["models"].items():
        cells = (
            [str(name)]
            + [f"{m[f'P@{k}']:.1f}" for k in ks]
            + [f"{m[f'MRR@{_RANK_DEPTH}']:.3f}", f"{m[f'nDCG@{_RANK_DEPTH}']:.3f}"]
            + [f"{m[f'N1@{k}']:.1f}" for k in ks]
            + [f"{m[f'N1count@{kmax}']:.2f}", f"{m[f'N1any@{kmax}']:.1f}%"]
        )
        if timed:
            cells.append(f"{m['ms/query']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "P@k, N1@k: percent of the query's positive / distractor chunks found in the top k over the whole index."
    )
    if timed:
        lines.append(
            "ms/query: mean wall time of one search (query encoding, vector search, reranking), one query at a time."
        )
    rerank = result.get("reranker")
    if rerank:
        lines.append(
            f"+ reranker: the model's top {rerank['fetch_k']} chunks rescored by the cross-encoder "
            f"`{rerank['name']}` (fingerprint {rerank['fingerprint']})."
        )
    return "\n".join(lines)


def per_query_arrays(result: Mapping[str, Any], model: str) -> dict[str, np.ndarray]:
    """One model's per-query metrics from an :func:`evaluate_corpus` result made with ``per_query=True``.

    Returns:
        ``{metric: array[n_queries]}`` in query order (the same for every model of one result), for paired
        comparisons and bootstrap intervals.

    Raises:
        ConfigError: when the result holds no per-query rows for ``model``.
    """
    rows = (result.get("per_query") or {}).get(model)
    if rows is None:
        raise ConfigError(f"no per-query results for {model!r}: call evaluate_corpus(..., per_query=True)")
    if not rows:
        return {}
    keys = [k for k in rows[0] if k not in ("id", "top")]
    return {key: np.array([row[key] for row in rows], dtype=np.float64) for key in keys}


@dataclass
class CorpusTask:
    """The chunks and judgements of a corpus-wide evaluation, independent of any encoder.

    Attributes:
        texts: Distinct chunk texts of all examples, in first-seen order (the index).
        ids: Chunk id of each text (as the Chroma index uses).
        examples: The examples that are judged (those with a positive, and with an ``original_query`` when asked).
        queries: The query text of each judged example.
        judged: ``(positive ids, distractor ids)`` of each judged example.
        query_field: ``"query"`` or ``"original_query"`` (or the :data:`~lore_rag.data.schema.QueryView` names,
            ``"rewritten"`` / ``"original"``).
    """

    texts: list[str]
    ids: list[str]
    examples: list[Example]
    queries: list[str]
    judged: list[tuple[set[str], set[str]]]
    query_field: str


def corpus_task(examples: Sequence[Example], *, query_field: str = "query") -> CorpusTask:
    """Chunks, queries and judgements for a corpus-wide evaluation of ``examples`` (see :func:`evaluate_corpus`).

    Raises:
        ConfigError: for an unknown ``query_field``.
        DataError: when no example has a positive chunk (or an ``original_query`` when asked for).
    """
    from lore_rag.retrieval.chunking import chunk_id

    view = query_view(query_field, what="query_field")
    usable = [e for e in examples if e.n_positive and e.query_for(view)]
    if not usable:
        raise DataError(f"no example with a positive chunk{' and an original_query' if view == 'original' else ''}")
    texts = list(dict.fromkeys(chunk for e in examples for chunk in e.chunks))
    id_of = {text: chunk_id(text) for text in texts}
    return CorpusTask(
        texts=texts,
        ids=[id_of[t] for t in texts],
        examples=usable,
        queries=[str(e.query_for(view)) for e in usable],
        judged=[_judgements(e, id_of) for e in usable],
        query_field=query_field,
    )


def exact_corpus_per_query(
    task: CorpusTask, query_vectors: np.ndarray, doc_vectors: np.ndarray, *, ks: Sequence[int] = DEFAULT_KS
) -> dict[str, np.ndarray]:
    """Per-query corpus-wide metrics by exact (brute-force) cosine search over all chunks.

    The same metrics as :func:`evaluate_corpus` without a Chroma index: for a few thousand chunks an exact search
    takes milliseconds, so re-scoring many query encoders against one set of cached document vectors is cheap.
    Chroma's HNSW search is approximate, so the two can differ on a rare query.

    Args:
        task: From :func:`corpus_task`.
        query_vectors: ``[n_queries, dim]`` normalised vectors of ``task.queries``.
        doc_vectors: ``[n_chunks, dim]`` normalised vectors of ``task.texts``.
        ks: Cut-offs.

    Returns:
        ``{metric: array[n_queries]}`` as :func:`query_metrics` names them.
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ConfigError(f"cut-offs must be positive integers, got {list(ks)}")
    if len(query_vectors) != len(task.queries) or len(doc_vectors) != len(task.texts):
        raise ValueError(
            f"{len(query_vectors)} query vectors for {len(task.queries)} queries, "
            f"{len(doc_vectors)} chunk vectors for {len(task.texts)} chunks"
        )
    depth = min(max(max(ks), _RANK_DEPTH), len(task.texts))
    scores = np.asarray(query_vectors, dtype=np.float32) @ np.asarray(doc_vectors, dtype=np.float32).T
    top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth] if depth < scores.shape[1] else None
    if top is None:
        top = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    order = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable"), 1)
    rows = [
        query_metrics([task.ids[j] for j in ranked], positives, distractors, ks)
        for ranked, (positives, distractors) in zip(order, task.judged, strict=True)
    ]
    return {key: np.array([row[key] for row in rows], dtype=np.float64) for key in rows[0]}
