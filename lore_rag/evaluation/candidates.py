"""The paper's protocol: rank each query's own candidates; P-recall@k (higher is better) and N1-recall@k (lower).

A query without distractors counts 0 for N1-recall, as the reference code does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from lore_rag.data.schema import Example, Tier

if TYPE_CHECKING:
    from lore_rag.models.encoder import LoreEncoder

__all__ = [
    "DEFAULT_KS",
    "candidate_metrics",
    "evaluate_candidates",
    "rank_candidates",
    "recall_at_k",
    "score_candidates",
]

logger = logging.getLogger(__name__)

DEFAULT_KS: tuple[int, ...] = (3, 5, 10)


def recall_at_k(order: np.ndarray, tiers: Sequence[Tier], tier: Tier, k: int) -> float:
    """Share of the chunks of ``tier`` found among the first ``k`` of ``order`` (0 when there are none)."""
    wanted = {i for i, t in enumerate(tiers) if t == tier}
    if not wanted:
        return 0.0
    return len(wanted.intersection(order[:k].tolist())) / len(wanted)


def rank_candidates(scores: np.ndarray) -> np.ndarray:
    """Candidate indices from best to worst score; ties keep the original order."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def score_candidates(
    query_vectors: np.ndarray,
    examples: Sequence[Example],
    embed_documents: Callable[[list[str]], np.ndarray],
) -> list[np.ndarray]:
    """Cosine scores of each example's query vector against its own candidates.

    Args:
        query_vectors: ``[n_examples, dim]`` normalised query vectors.
        examples: The examples, in the same order.
        embed_documents: Maps a list of texts to normalised vectors (called once on all distinct chunks).
    """
    texts: dict[str, int] = {}
    for example in examples:
        for chunk in example.chunks:
            texts.setdefault(chunk, len(texts))
    doc_vectors = embed_documents(list(texts))
    out = []
    for qv, example in zip(query_vectors, examples):
        rows = doc_vectors[[texts[c] for c in example.chunks]]
        out.append(rows @ qv)
    return out


def candidate_metrics(
    scores: Sequence[np.ndarray], examples: Sequence[Example], ks: Sequence[int] = DEFAULT_KS
) -> dict[str, float]:
    """Mean P-recall@k and N1-recall@k (in percent) plus mean similarity per tier.

    Returns:
        ``{"P@3": ..., "N1@3": ..., ..., "sim_P": ..., "sim_N1": ..., "sim_N2": ..., "n": ...}``.
    """
    if len(scores) != len(examples):
        raise ValueError(f"{len(scores)} score lists for {len(examples)} examples")
    result: dict[str, float] = {}
    for k in ks:
        p = [recall_at_k(rank_candidates(s), e.tiers, Tier.POSITIVE, k) for s, e in zip(scores, examples)]
        n1 = [recall_at_k(rank_candidates(s), e.tiers, Tier.DISTRACTOR, k) for s, e in zip(scores, examples)]
        result[f"P@{k}"] = 100.0 * float(np.mean(p)) if p else 0.0
        result[f"N1@{k}"] = 100.0 * float(np.mean(n1)) if n1 else 0.0
    for tier, name in ((Tier.POSITIVE, "sim_P"), (Tier.DISTRACTOR, "sim_N1"), (Tier.NEGATIVE, "sim_N2")):
        values = [float(v) for s, e in zip(scores, examples) for v, t in zip(s, e.tiers) if t == tier]
        result[name] = float(np.mean(values)) if values else float("nan")
    result["n"] = float(len(examples))
    return result


def evaluate_candidates(
    encoder: LoreEncoder,
    examples: Sequence[Example],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    views: Sequence[str] = ("rewritten", "original"),
    embed_documents: Callable[[list[str]], np.ndarray] | None = None,
    show_progress: bool = False,
) -> dict[str, dict[str, float]]:
    """Paper-protocol metrics of one encoder on tiered examples.

    Args:
        encoder: The encoder pair to evaluate.
        examples: Tiered examples.
        ks: Cut-offs.
        views: ``"rewritten"`` ranks with each row's ``query`` (the disturbed query of LORE data);
            ``"original"`` ranks with ``original_query`` where a row has one (distractors then count as plain
            negatives, so N1 is 0 by construction and P@k is what matters). Data with no ``original_query``
            at all (raw, un-rewritten questions) is reported once, under ``"original"``.
        embed_documents: Document embedding function; defaults to ``encoder.embed_documents`` (pass a
            :class:`~lore_rag.training.doc_cache.DocEmbeddingCache` ``embed`` to reuse cached vectors).
        show_progress: Progress bar while encoding.

    Returns:
        ``{view: metrics}`` as in :func:`candidate_metrics`.
    """
    embed = embed_documents or (lambda texts: encoder.embed_documents(texts, show_progress=show_progress))
    result: dict[str, dict[str, float]] = {}
    rewritten_data = any(e.original_query for e in examples)
    for view in views:
        if view == "rewritten":
            if not rewritten_data:
                continue
            subset = list(examples)
        elif view == "original":
            if rewritten_data:
                subset = [e.as_original() for e in examples if e.original_query]
            else:
                subset = list(examples)
        else:
            raise ValueError(f"unknown view {view!r}: use 'rewritten' or 'original'")
        if not subset:
            continue
        query_vectors = encoder.embed_queries([e.query for e in subset], show_progress=show_progress)
        scores = score_candidates(query_vectors, subset, embed)
        result[view] = candidate_metrics(scores, subset, ks)
    return result
