"""``LoreEvaluator``: the paper protocol (P@k, N1@k in each query's candidates) as a sentence-transformers evaluator.

``SentenceTransformerTrainer`` logs it, picks the best checkpoint by it and writes it in the model card.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

from lore_rag.data.io import read_examples
from lore_rag.data.schema import Example
from lore_rag.errors import DataError
from lore_rag.evaluation.candidates import DEFAULT_KS, evaluate_candidates
from lore_rag.evaluation.corpus import CorpusTask, corpus_task, exact_corpus_per_query
from lore_rag.models.encoder import LoreEncoder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["LoreEvaluator", "score_of"]

logger = logging.getLogger(__name__)


def score_of(metrics: dict[str, dict[str, float]]) -> float:
    """``score``: mean of P@3 on rewritten and on original queries, minus N1@3 on rewritten queries.

    It rewards robustness to distractors without paying for it on normal queries.
    """
    rewritten = metrics.get("rewritten", {})
    original = metrics.get("original", {})
    p_values = [v["P@3"] for v in (rewritten, original) if v]
    return float(np.mean(p_values)) - rewritten.get("N1@3", 0.0) if p_values else 0.0


class LoreEvaluator(BaseEvaluator):
    """P@k / N1@k of a query encoder on tiered examples, with the rewritten and the original queries.

    The candidates are embedded by the frozen document side: ``embed_documents`` (e.g. a
    :class:`~lore_rag.models.doc_cache.DocEmbeddingCache`'s ``embed``), else ``document_model``, else the evaluated
    model itself (its ``document`` route when it is a query/document ``Router`` model).

    Metrics are named ``{name}_{view}_{metric}`` (``lore_rewritten_P@3``) plus ``{name}_score``. With ``corpus``,
    the views ``corpus-rewritten`` and ``corpus-original`` add the corpus-wide protocol: every query searched over
    one exact index of all the examples' distinct chunks (P@k, N1@k, MRR@10, nDCG@10), where a RAG chain retrieves.

    Args:
        examples: Tiered examples, or a JSONL file of them.
        document_model: The frozen document encoder.
        embed_documents: Document embedding function; wins over ``document_model``.
        name: Prefix of the metric names.
        ks: Cut-offs.
        primary_metric: ``score`` (default: mean P@3 rewritten/original minus N1@3 rewritten) or ``VIEW/METRIC``
            such as ``rewritten/P@3``; N1 metrics are minimised.
        batch_size: Query encoding batch size.
        corpus: Also evaluate corpus-wide (see above); the chunks are embedded once, by the document side.
    """

    def __init__(
        self,
        examples: Sequence[Example] | str | os.PathLike[str],
        *,
        document_model: SentenceTransformer | None = None,
        embed_documents: Callable[[list[str]], np.ndarray] | None = None,
        name: str = "lore",
        ks: Sequence[int] = DEFAULT_KS,
        primary_metric: str = "score",
        batch_size: int = 64,
        corpus: bool = False,
    ) -> None:
        super().__init__()
        self.examples = read_examples(examples) if isinstance(examples, (str, os.PathLike)) else list(examples)
        self.document_model = document_model
        self.embed_documents = embed_documents
        self.name = name
        self.ks = tuple(ks)
        self.batch_size = batch_size
        self.metric_name = primary_metric
        if primary_metric != "score" and "/" not in primary_metric:
            raise ValueError(
                f"primary_metric must be 'score' or VIEW/METRIC (e.g. rewritten/P@3), got {primary_metric!r}"
            )
        self._primary_key = "score" if primary_metric == "score" else primary_metric.replace("/", "_")
        self.primary_metric = self._primary_key
        self.greater_is_better = not primary_metric.partition("/")[2].startswith("N1")
        self.last_metrics: dict[str, dict[str, float]] = {}
        self.corpus = corpus
        self._corpus_tasks: list[tuple[str, CorpusTask]] | None = None
        self._corpus_vectors: np.ndarray | None = None

    @property
    def metric_key(self) -> str:
        """Name of the primary metric in the returned dict (``lore_score``); the Trainer sees it as ``eval_...``."""
        return f"{self.name}_{self._primary_key}" if self.name else self._primary_key

    def compute(self, model: SentenceTransformer) -> dict[str, dict[str, float]]:
        """``{view: {metric: value}}`` of ``model`` (the query side) on the examples."""
        document_model = self.document_model if self.document_model is not None else model
        encoder = LoreEncoder(model, document_model, name=self.name, batch_size=self.batch_size)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                metrics = evaluate_candidates(encoder, self.examples, ks=self.ks, embed_documents=self.embed_documents)
                if self.corpus:
                    metrics.update(self._corpus_metrics(encoder))
                return metrics
        finally:
            model.train(was_training)

    def _corpus_metrics(self, encoder: LoreEncoder) -> dict[str, dict[str, float]]:
        """``{"corpus-rewritten": ..., "corpus-original": ...}``: exact search over all the examples' chunks."""
        if self._corpus_tasks is None:
            tasks = []
            for view in ("rewritten", "original"):
                try:
                    tasks.append((f"corpus-{view}", corpus_task(self.examples, query_field=view)))
                except DataError:  # no example with a positive and this view's query: nothing to report
                    continue
            self._corpus_tasks = tasks
        if not self._corpus_tasks:
            return {}
        texts = self._corpus_tasks[0][1].texts  # every view indexes the same chunks
        if self._corpus_vectors is None:  # the document side is frozen: embed the chunks once
            embed = self.embed_documents or encoder.embed_documents
            self._corpus_vectors = np.asarray(embed(list(texts)), dtype=np.float32)
        out: dict[str, dict[str, float]] = {}
        for view, task in self._corpus_tasks:
            queries = encoder.embed_queries(task.queries)
            per_query = exact_corpus_per_query(task, queries, self._corpus_vectors, ks=self.ks)
            out[view] = {name: float(np.mean(values)) for name, values in per_query.items() if "@" in name}
        return out

    def __call__(  # type: ignore[override]
        self, model: SentenceTransformer, output_path: str | None = None, epoch: float = -1, steps: int = -1
    ) -> dict[str, float]:
        """Flat, prefixed metrics of ``model``; the primary one is ``{name}_{primary_metric}``."""
        metrics = self.compute(model)
        self.last_metrics = metrics
        flat: dict[str, float] = {f"{view}_{k}": v for view, values in metrics.items() for k, v in values.items()}
        flat["score"] = score_of(metrics)
        if self._primary_key not in flat:
            raise KeyError(f"primary metric {self.metric_name!r} not in the validation metrics {sorted(flat)}")
        at = f" at step {steps}" if steps >= 0 else ""
        logger.info(
            "%s%s: %s",
            self.name,
            at,
            "; ".join(
                f"{v} P@3 {m['P@3']:.1f}" + (f" N1@3 {m['N1@3']:.1f}" if "N1@3" in m else "")
                for v, m in metrics.items()
            ),
        )
        prefixed = self.prefix_name_to_metrics(flat, self.name)
        self.store_metrics_in_model_card_data(model, prefixed, epoch, steps)  # type: ignore[arg-type]
        return prefixed

    def get_config_dict(self) -> dict[str, Any]:
        """What the model card shows about this evaluator."""
        return {
            "examples": len(self.examples),
            "ks": list(self.ks),
            "primary_metric": self.metric_name,
            **({"corpus": True} if self.corpus else {}),
        }
