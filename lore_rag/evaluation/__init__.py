"""Retrieval and answer metrics: paper protocol (candidates), corpus-wide, QA (EM/F1), intervals, trade-off.

``from lore_rag.evaluation import evaluate_candidates, evaluate_corpus, run_qa_eval, QAEvalConfig, LoreEvaluator``.
Names are imported from their modules on first use, so ``import lore_rag.evaluation`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lore_rag._lazy import lazy_exports

if TYPE_CHECKING:
    from lore_rag.evaluation.answer_cache import AnswerCache, answer_key
    from lore_rag.evaluation.answering import ChunkAnswer, answer_from_chunks
    from lore_rag.evaluation.bootstrap import Interval, bootstrap_mean, paired_bootstrap, paired_differences
    from lore_rag.evaluation.candidates import (
        DEFAULT_KS,
        CandidateOptions,
        ViewResult,
        candidate_metrics,
        evaluate_candidates,
        evaluate_candidates_detailed,
        per_question_metrics,
        rank_candidates,
        recall_at_k,
        score_candidates,
    )
    from lore_rag.evaluation.corpus import CorpusTask, corpus_task, evaluate_corpus, format_corpus_table
    from lore_rag.evaluation.evaluator import LoreEvaluator
    from lore_rag.evaluation.qa import AnswerScore, exact_match, f1_score, score_answer, style_for_dataset
    from lore_rag.evaluation.qa_run import (
        QAEvalConfig,
        QAEvalResult,
        QARunError,
        format_table,
        load_summary,
        plot_qa_results,
        run_qa_eval,
    )
    from lore_rag.evaluation.runner import evaluate_models
    from lore_rag.evaluation.tradeoff import TradeoffConfig, TradeoffResult, run_tradeoff
    from lore_rag.evaluation.tradeoff_file import TradeoffSummary, read_tradeoff

__all__ = [
    "AnswerCache",
    "AnswerScore",
    "CandidateOptions",
    "ChunkAnswer",
    "CorpusTask",
    "DEFAULT_KS",
    "Interval",
    "LoreEvaluator",
    "QAEvalConfig",
    "QAEvalResult",
    "QARunError",
    "TradeoffConfig",
    "TradeoffResult",
    "TradeoffSummary",
    "ViewResult",
    "answer_from_chunks",
    "answer_key",
    "bootstrap_mean",
    "candidate_metrics",
    "corpus_task",
    "evaluate_candidates",
    "evaluate_candidates_detailed",
    "evaluate_corpus",
    "evaluate_models",
    "exact_match",
    "f1_score",
    "format_corpus_table",
    "format_table",
    "load_summary",
    "paired_bootstrap",
    "paired_differences",
    "per_question_metrics",
    "plot_qa_results",
    "rank_candidates",
    "read_tradeoff",
    "recall_at_k",
    "run_qa_eval",
    "run_tradeoff",
    "score_answer",
    "score_candidates",
    "style_for_dataset",
]

#: Where each public name is defined.
_EXPORTS = {
    "AnswerCache": "lore_rag.evaluation.answer_cache",
    "AnswerScore": "lore_rag.evaluation.qa",
    "CandidateOptions": "lore_rag.evaluation.candidates",
    "ChunkAnswer": "lore_rag.evaluation.answering",
    "CorpusTask": "lore_rag.evaluation.corpus",
    "DEFAULT_KS": "lore_rag.evaluation.candidates",
    "Interval": "lore_rag.evaluation.bootstrap",
    "LoreEvaluator": "lore_rag.evaluation.evaluator",
    "QAEvalConfig": "lore_rag.evaluation.qa_run",
    "QAEvalResult": "lore_rag.evaluation.qa_run",
    "QARunError": "lore_rag.evaluation.qa_run",
    "TradeoffConfig": "lore_rag.evaluation.tradeoff",
    "TradeoffResult": "lore_rag.evaluation.tradeoff",
    "TradeoffSummary": "lore_rag.evaluation.tradeoff_file",
    "ViewResult": "lore_rag.evaluation.candidates",
    "answer_from_chunks": "lore_rag.evaluation.answering",
    "answer_key": "lore_rag.evaluation.answer_cache",
    "bootstrap_mean": "lore_rag.evaluation.bootstrap",
    "candidate_metrics": "lore_rag.evaluation.candidates",
    "corpus_task": "lore_rag.evaluation.corpus",
    "evaluate_candidates": "lore_rag.evaluation.candidates",
    "evaluate_candidates_detailed": "lore_rag.evaluation.candidates",
    "evaluate_corpus": "lore_rag.evaluation.corpus",
    "evaluate_models": "lore_rag.evaluation.runner",
    "exact_match": "lore_rag.evaluation.qa",
    "f1_score": "lore_rag.evaluation.qa",
    "format_corpus_table": "lore_rag.evaluation.corpus",
    "format_table": "lore_rag.evaluation.qa_run",
    "load_summary": "lore_rag.evaluation.qa_run",
    "paired_bootstrap": "lore_rag.evaluation.bootstrap",
    "paired_differences": "lore_rag.evaluation.bootstrap",
    "per_question_metrics": "lore_rag.evaluation.candidates",
    "plot_qa_results": "lore_rag.evaluation.qa_run",
    "rank_candidates": "lore_rag.evaluation.candidates",
    "read_tradeoff": "lore_rag.evaluation.tradeoff_file",
    "recall_at_k": "lore_rag.evaluation.candidates",
    "run_qa_eval": "lore_rag.evaluation.qa_run",
    "run_tradeoff": "lore_rag.evaluation.tradeoff",
    "score_answer": "lore_rag.evaluation.qa",
    "score_candidates": "lore_rag.evaluation.candidates",
    "style_for_dataset": "lore_rag.evaluation.qa",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
