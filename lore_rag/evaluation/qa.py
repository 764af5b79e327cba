"""Answer metrics: normalisation, exact match and token F1 as in the official HotpotQA / SQuAD / MuSiQue scripts.

All three official scripts share one normalisation (lowercase, drop ASCII punctuation, drop the articles
*a*, *an*, *the*, collapse whitespace) and one token F1 (bag-of-tokens overlap). They differ only in corner cases,
chosen here with ``style``:

``"hotpotqa"`` (``hotpot_evaluate_v1.py``; the 2WikiMultiHopQA script is a copy of it)
    When either side normalises to ``yes``, ``no`` or ``noanswer`` and the two differ, F1 is 0 (so
    ``"yes, he was"`` against ``"yes"`` scores 0, not 0.67). An empty answer scores 0.
``"squad"`` (SQuAD v1.1 ``evaluate-v1.1.py``)
    No yes/no rule; an empty answer scores 0.
``"squad2"`` (SQuAD v2.0 ``evaluate-v2.0.py``, MuSiQue ``metrics/answer.py``)
    No yes/no rule; when either side has no tokens, F1 is 1 if both are empty and 0 otherwise.

With several gold answers (MuSiQue ``answer`` plus ``answer_aliases``, the MS MARCO ``answers`` list), a
prediction scores the best EM and the best F1 over the golds, each maximised separately, as every official
script does (``metric_max_over_ground_truths``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from lore_rag.data.answers import MSMARCO_NO_ANSWER, gold_answers, normalize_answer

__all__ = [
    "DATASET_STYLES",
    "MSMARCO_NO_ANSWER",
    "AnswerScore",
    "F1Style",
    "best_exact_match",
    "best_f1",
    "exact_match",
    "f1_precision_recall",
    "f1_score",
    "gold_answers",
    "normalize_answer",
    "score_answer",
    "style_for_dataset",
]

logger = logging.getLogger(__name__)

F1Style = Literal["hotpotqa", "squad", "squad2"]
_STYLES: tuple[str, ...] = ("hotpotqa", "squad", "squad2")

#: Which official script each dataset's numbers are usually reported with.
DATASET_STYLES: dict[str, F1Style] = {
    "hotpotqa": "hotpotqa",
    "2wikimultihopqa": "hotpotqa",
    "musique": "squad2",
    "msmarco": "squad",
}

_YES_NO = ("yes", "no", "noanswer")


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when prediction and gold normalise to the same string, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def _check_style(style: str) -> None:
    if style not in _STYLES:
        raise ValueError(f"unknown F1 style {style!r}: use one of {', '.join(_STYLES)}")


def f1_precision_recall(prediction: str, gold: str, *, style: F1Style = "hotpotqa") -> tuple[float, float, float]:
    """Token F1, precision and recall of ``prediction`` against one gold answer.

    Args:
        prediction: The predicted answer.
        gold: One gold answer.
        style: Which official script's corner cases to follow (see the module docstring).

    Returns:
        ``(f1, precision, recall)``, each in [0, 1].
    """
    _check_style(style)
    norm_pred = normalize_answer(prediction)
    norm_gold = normalize_answer(gold)
    if style == "hotpotqa" and norm_pred != norm_gold and (norm_pred in _YES_NO or norm_gold in _YES_NO):
        return 0.0, 0.0, 0.0
    pred_tokens = norm_pred.split()
    gold_tokens = norm_gold.split()
    if style == "squad2" and (not pred_tokens or not gold_tokens):
        same = float(pred_tokens == gold_tokens)
        return same, same, same
    num_same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if num_same == 0:
        return 0.0, 0.0, 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall), precision, recall


def f1_score(prediction: str, gold: str, *, style: F1Style = "hotpotqa") -> float:
    """Token F1 of ``prediction`` against one gold answer, in [0, 1] (see :func:`f1_precision_recall`)."""
    return f1_precision_recall(prediction, gold, style=style)[0]


def _golds(golds: str | Iterable[str]) -> list[str]:
    items = [golds] if isinstance(golds, str) else list(golds)
    if not items:
        raise ValueError("no gold answer to score against")
    return items


def best_exact_match(prediction: str, golds: str | Iterable[str]) -> float:
    """Best :func:`exact_match` over several gold answers (aliases).

    Raises:
        ValueError: for an empty list of golds.
    """
    return max(exact_match(prediction, g) for g in _golds(golds))


def best_f1(prediction: str, golds: str | Iterable[str], *, style: F1Style = "hotpotqa") -> float:
    """Best :func:`f1_score` over several gold answers (aliases).

    Raises:
        ValueError: for an empty list of golds.
    """
    return max(f1_score(prediction, g, style=style) for g in _golds(golds))


@dataclass(frozen=True)
class AnswerScore:
    """EM and F1 of one prediction against its golds, each the best over the golds.

    Attributes:
        em: Best exact match, 0 or 1.
        f1: Best token F1.
        precision: Precision of the gold that gave the best F1.
        recall: Recall of the gold that gave the best F1.
        best_gold: The gold answer that gave the best F1 (the first one on ties).
    """

    em: float
    f1: float
    precision: float
    recall: float
    best_gold: str


def score_answer(prediction: str, golds: str | Iterable[str], *, style: F1Style = "hotpotqa") -> AnswerScore:
    """EM, F1, precision and recall of ``prediction`` against one or several golds.

    Raises:
        ValueError: for an empty list of golds or an unknown style.
    """
    _check_style(style)
    items = _golds(golds)
    em = max(exact_match(prediction, g) for g in items)
    best = (-1.0, 0.0, 0.0)
    best_gold = items[0]
    for gold in items:
        scores = f1_precision_recall(prediction, gold, style=style)
        if scores[0] > best[0]:
            best, best_gold = scores, gold
    return AnswerScore(em=em, f1=best[0], precision=best[1], recall=best[2], best_gold=best_gold)


def style_for_dataset(dataset: str | None, default: F1Style = "hotpotqa") -> F1Style:
    """Return the F1 style of the official script for ``dataset`` (``default`` for unknown names)."""
    if not dataset:
        return default
    key = "".join(ch for ch in dataset.lower() if ch.isalnum())
    for name, style in DATASET_STYLES.items():
        if key.startswith(name):
            return style
    return default
