"""What counts as an answer: the gold answers of a row, and the normalisation every EM/F1 script applies first.

Data building (dropping rewrites that leak the answer, keeping the answer fields) and evaluation (EM, F1 in
:mod:`lore_rag.evaluation.qa`) both need these, so they live here, below both.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MSMARCO_NO_ANSWER", "gold_answers", "normalize_answer"]

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)

#: MS MARCO marks questions without an answer in the passages with this string.
MSMARCO_NO_ANSWER = "No Answer Present."


def normalize_answer(text: str) -> str:
    """Lowercase, remove ASCII punctuation, remove the articles a/an/the, collapse whitespace.

    The steps and their order are those of the official SQuAD and HotpotQA scripts: punctuation goes before
    articles, so ``"a-team"`` becomes ``"ateam"`` (kept), and only ASCII punctuation is removed, so curly
    quotes and dashes stay.

    Args:
        text: An answer string.

    Returns:
        The normalised string (tokens separated by single spaces).
    """
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [v for v in value if isinstance(v, str)]
    return []


def gold_answers(answer: str | Sequence[str] | None, extra: Mapping[str, Any] | None = None) -> list[str]:
    """All acceptable answers of one question, in order, without duplicates or blanks.

    Collects ``answer`` (a string or a list), then the row's ``answer_aliases`` (MuSiQue) and ``answers``
    (MS MARCO, Natural Questions) fields when ``extra`` holds them. MS MARCO's ``"No Answer Present."`` is
    dropped: a question with no other answer has no gold and is left out of answer scoring.

    Args:
        answer: The example's ``answer`` field.
        extra: The example's other fields (``Example.extra``).

    Returns:
        The gold answers; empty when the question has none.
    """
    found: list[str] = []
    values = _strings(answer)
    if extra:
        for key in ("answer_aliases", "answers", "aliases"):
            values.extend(_strings(extra.get(key)))
    for value in values:
        text = value.strip()
        if not text or text == MSMARCO_NO_ANSWER or text in found:
            continue
        found.append(text)
    return found
