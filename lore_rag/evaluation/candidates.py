"""The paper's protocol: rank each query's own candidates; P-recall@k (higher is better) and N1-recall@k (lower).

A query without distractors counts 0 for N1-recall, as the reference code does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from lore_rag.data.schema import Example, Tier, query_view

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from lore_rag.models.encoder import LoreEncoder

__all__ = [
    "DEFAULT_KS",
    "CandidateOptions",
    "ViewResult",
    "candidate_metrics",
    "evaluate_candidates",
    "evaluate_candidates_detailed",
    "example_ids",
    "per_question_metrics",
    "rank_candidates",
    "recall_at_k",
    "score_candidates",
    "view_subsets",
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


def per_question_metrics(
    scores: Sequence[np.ndarray], examples: Sequence[Example], ks: Sequence[int] = DEFAULT_KS
) -> dict[str, np.ndarray]:
    """P-recall@k and N1-recall@k of each question (in percent), for paired comparisons and bootstrap intervals.

    Returns:
        ``{"P@3": array[n_examples], "N1@3": ..., ...}``, in the order of ``examples``.
    """
    if len(scores) != len(examples):
        raise ValueError(f"{len(scores)} score lists for {len(examples)} examples")
    orders = [rank_candidates(s) for s in scores]
    result: dict[str, np.ndarray] = {}
    for k in ks:
        result[f"P@{k}"] = 100.0 * np.array(
            [recall_at_k(o, e.tiers, Tier.POSITIVE, k) for o, e in zip(orders, examples)], dtype=np.float64
        )
        result[f"N1@{k}"] = 100.0 * np.array(
            [recall_at_k(o, e.tiers, Tier.DISTRACTOR, k) for o, e in zip(orders, examples)], dtype=np.float64
        )
    return result


def candidate_metrics(
    scores: Sequence[np.ndarray], examples: Sequence[Example], ks: Sequence[int] = DEFAULT_KS
) -> dict[str, float]:
    """Mean P-recall@k and N1-recall@k (in percent) plus mean similarity per tier.

    Returns:
        ``{"P@3": ..., "N1@3": ..., ..., "sim_P": ..., "sim_N1": ..., "sim_N2": ..., "n": ...}``.
    """
    per_question = per_question_metrics(scores, examples, ks)
    result: dict[str, float] = {}
    for k in ks:
        for name in (f"P@{k}", f"N1@{k}"):
            values = per_question[name]
            result[name] = float(values.mean()) if len(values) else 0.0
    for tier, name in ((Tier.POSITIVE, "sim_P"), (Tier.DISTRACTOR, "sim_N1"), (Tier.NEGATIVE, "sim_N2")):
        sims = [float(v) for s, e in zip(scores, examples) for v, t in zip(s, e.tiers) if t == tier]
        result[name] = float(np.mean(sims)) if sims else float("nan")
    result["n"] = float(len(examples))
    return result


@dataclass
class ViewResult:
    """One view's candidate-set evaluation: mean metrics plus each question's values.

    Attributes:
        metrics: As :func:`candidate_metrics`.
        per_query: As :func:`per_question_metrics`, in the order of ``ids``.
        ids: The example id of each question (its position in the file when it has none).
    """

    metrics: dict[str, float]
    per_query: dict[str, np.ndarray] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)


def view_subsets(examples: Sequence[Example], views: Sequence[str]) -> dict[str, list[Example]]:
    """The examples each view ranks with (see :func:`evaluate_candidates`); views with no rows are left out."""
    out: dict[str, list[Example]] = {}
    rewritten_data = any(e.original_query for e in examples)
    for view in views:
        if query_view(view) == "rewritten":
            if not rewritten_data:
                continue
            subset = list(examples)
        else:
            if rewritten_data:
                subset = [e.as_original() for e in examples if e.original_query]
            else:
                subset = list(examples)
        if subset:
            out[view] = subset
    return out


def example_ids(examples: Sequence[Example]) -> list[str]:
    """Each example's id, or its position when it has none."""
    return [str(e.id) if e.id is not None and str(e.id) else f"#{i}" for i, e in enumerate(examples)]


class CandidateOptions(TypedDict, total=False):
    """The options of :func:`evaluate_candidates` and :func:`evaluate_candidates_detailed` (all optional).

    Attributes:
        ks: Cut-offs (default :data:`DEFAULT_KS`).
        views: ``"rewritten"`` ranks with each row's ``query`` (the disturbed query of LORE data);
            ``"original"`` ranks with ``original_query`` where a row has one (distractors then count as plain
            negatives, so N1 is 0 by construction and P@k is what matters). Data with no ``original_query``
            at all (raw, un-rewritten questions) is reported once, under ``"original"``. Default: both.
        embed_documents: Document embedding function; defaults to ``encoder.embed_documents`` (pass a
            :class:`~lore_rag.models.doc_cache.DocEmbeddingCache` ``embed`` to reuse cached vectors).
        show_progress: Progress bar while encoding (default off).
    """

    ks: Sequence[int]
    views: Sequence[str]
    embed_documents: Callable[[list[str]], np.ndarray] | None
    show_progress: bool


def evaluate_candidates(
    encoder: LoreEncoder, examples: Sequence[Example], **options: Unpack[CandidateOptions]
) -> dict[str, dict[str, float]]:
    """Paper-protocol metrics of one encoder on tiered examples.

    Args:
        encoder: The encoder pair to evaluate.
        examples: Tiered examples.
        **options: :class:`CandidateOptions` (``ks``, ``views``, ``embed_documents``, ``show_progress``).

    Returns:
        ``{view: metrics}`` as in :func:`candidate_metrics`.
    """
    detailed = evaluate_candidates_detailed(encoder, examples, **options)
    return {view: result.metrics for view, result in detailed.items()}


def evaluate_candidates_detailed(
    encoder: LoreEncoder,
    examples: Sequence[Example],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    views: Sequence[str] = ("rewritten", "original"),
    embed_documents: Callable[[list[str]], np.ndarray] | None = None,
    show_progress: bool = False,
) -> dict[str, ViewResult]:
    """As :func:`evaluate_candidates`, also keeping each question's P@k and N1@k (for paired bootstrap intervals).

    Returns:
        ``{view: ViewResult}``; questions are in file order, so two encoders' arrays pair up question by question.
    """
    embed = embed_documents or (lambda texts: encoder.embed_documents(texts, show_progress=show_progress))
    result: dict[str, ViewResult] = {}
    for view, subset in view_subsets(examples, views).items():
        query_vectors = encoder.embed_queries([e.query for e in subset], show_progress=show_progress)
        scores = score_candidates(query_vectors, subset, embed)
        result[view] = ViewResult(
            metrics=candidate_metrics(scores, subset, ks),
            per_query=per_question_metrics(scores, subset, ks),
            ids=example_ids(subset),
        )
    return result
