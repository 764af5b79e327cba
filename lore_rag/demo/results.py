"""What one raw-vs-LORE comparison produced: labelled hits, answers and a verdict per model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lore_rag.data.schema import Example, Tier

if TYPE_CHECKING:
    from lore_rag.retrieval import Hit

__all__ = [
    "LORE",
    "RAW",
    "ColumnAnswer",
    "ColumnResult",
    "Comparison",
    "LabelledHit",
    "Verdict",
    "chunk_labels",
    "label_hits",
]

#: Column keys of a comparison, in display order.
#: Column keys of a comparison, in display order.
RAW, LORE = "raw", "lore"
_TOP = 3


def chunk_labels(example: Example) -> dict[str, Tier]:
    """Map each chunk text of one tiered question to its tier (the first tier given when a text repeats)."""
    labels: dict[str, Tier] = {}
    for text, tier in zip(example.chunks, example.tiers, strict=True):
        labels.setdefault(text, tier)
    return labels


# ----------------------------------------------------------------------------------------------- results


@dataclass
class LabelledHit:
    """One retrieved chunk with what the loaded question says about it.

    Attributes:
        hit: The retrieved chunk (id, text, score, rank, metadata).
        tier: Its tier in the question's own candidates; ``None`` when it is not one of them or no labels
            are known (a free-text query).
        other_rank: Rank of the same chunk in the other model's list (``None``: not in it).
    """

    hit: Hit
    tier: Tier | None = None
    other_rank: int | None = None

    @property
    def rank(self) -> int:
        """1-based rank."""
        return self.hit.rank

    @property
    def label(self) -> str:
        """``"positive"``, ``"distractor"``, or ``""`` (neither: an ordinary negative, or unlabelled)."""
        if self.tier == Tier.POSITIVE:
            return "positive"
        if self.tier == Tier.DISTRACTOR:
            return "distractor"
        return ""

    @property
    def title(self) -> str:
        """The chunk's ``title`` metadata ('' when it has none)."""
        value = self.hit.metadata.get("title")
        return str(value) if value else ""


def label_hits(hits: Sequence[Hit], labels: Mapping[str, Tier] | None) -> list[LabelledHit]:
    """Attach tiers to hits: a hit whose text is one of the question's chunks gets that chunk's tier.

    Args:
        hits: Retrieved chunks.
        labels: ``text -> tier`` of one question (:func:`chunk_labels`); ``None`` for a free-text query.
    """
    return [LabelledHit(hit=h, tier=(labels or {}).get(h.text)) for h in hits]


@dataclass
class ColumnAnswer:
    """The LLM's answer from one column's chunks.

    Attributes:
        text: The answer, without its citations ('' when the LLM failed).
        cited: Ranks of the chunks the answer cites, in the order cited.
        reply: The LLM's raw reply.
        seconds: Time taken (0 when it came from the answer cache).
        error: Why there is no answer (LLM down, timeout, ...), else ``None``.
        em: Exact match with the gold answer(s), when known.
        f1: Token F1 with the gold answer(s), when known.
    """

    text: str = ""
    cited: list[int] = field(default_factory=list)
    reply: str = ""
    seconds: float = 0.0
    error: str | None = None
    em: float | None = None
    f1: float | None = None

    @property
    def correct(self) -> bool | None:
        """Exact match with a gold answer (``None`` when there is no gold or no answer)."""
        if self.em is None or self.error:
            return None
        return self.em >= 1.0


@dataclass
class ColumnResult:
    """One model's side of a comparison.

    Attributes:
        key: ``"raw"`` or ``"lore"``.
        name: The model's display name.
        hits: Labelled top-k chunks, best first.
        answer: The LLM answer, once asked for.
        error: Why retrieval failed, else ``None``.
        seconds: Retrieval time.
    """

    key: str
    name: str
    hits: list[LabelledHit] = field(default_factory=list)
    answer: ColumnAnswer | None = None
    error: str | None = None
    seconds: float = 0.0

    def n_tier_in_top(self, tier: Tier, top: int = _TOP) -> int:
        """How many of the first ``top`` hits have ``tier``."""
        return sum(1 for h in self.hits[:top] if h.tier == tier)


@dataclass
class Verdict:
    """Per-model verdict on one labelled question.

    Attributes:
        model: The model's display name.
        positives_in_top: Positive chunks among the first ``top`` hits (``None`` without labels).
        n_positive: Positive chunks of the question.
        distractor_in_top: Whether a distractor is among the first ``top`` hits (``None`` without labels).
        answer_correct: Whether the LLM's answer matches the gold (``None``: no answer or no gold).
        answer: The answer text ('' when none).
        top: The cut-off.
    """

    model: str
    positives_in_top: int | None
    n_positive: int
    distractor_in_top: bool | None
    answer_correct: bool | None
    answer: str = ""
    top: int = _TOP

    def summary(self) -> str:
        """One line, e.g. ``2/2 positives in top 3, no distractor in top 3, answer correct``."""
        parts = []
        if self.positives_in_top is not None:
            parts.append(f"{self.positives_in_top}/{self.n_positive} positives in top {self.top}")
        if self.distractor_in_top is not None:
            parts.append(f"{'a' if self.distractor_in_top else 'no'} distractor in top {self.top}")
        if self.answer_correct is not None:
            parts.append("answer correct" if self.answer_correct else "answer wrong")
        return ", ".join(parts) or "no labels"


@dataclass
class Comparison:
    """Raw and LORE retrieval (and answers) for one query.

    Attributes:
        query: The query as searched.
        example: The tiered question it comes from (``None`` for a free-text query).
        columns: ``{"raw": ColumnResult, "lore": ColumnResult}``.
        k: Hits per column.
        answer_k: How many of the top hits the LLM answers from.
    """

    query: str
    example: Example | None
    columns: dict[str, ColumnResult]
    k: int
    answer_k: int

    @property
    def labelled(self) -> bool:
        """Whether hits carry labels (the query comes from a tiered question)."""
        return self.example is not None

    @property
    def golds(self) -> list[str]:
        """Acceptable answers of the question ([] for free text or a question without one)."""
        if self.example is None:
            return []
        from lore_rag.evaluation.qa import gold_answers

        return gold_answers(self.example.answer, self.example.extra)

    def verdicts(self, top: int = _TOP) -> list[Verdict]:
        """One :class:`Verdict` per column (raw first)."""
        out = []
        n_pos = self.example.n_positive if self.example is not None else 0
        for column in self.columns.values():
            labelled = self.labelled and column.error is None
            answer = column.answer
            out.append(
                Verdict(
                    model=column.name,
                    positives_in_top=column.n_tier_in_top(Tier.POSITIVE, top) if labelled else None,
                    n_positive=n_pos,
                    distractor_in_top=column.n_tier_in_top(Tier.DISTRACTOR, top) > 0 if labelled else None,
                    answer_correct=answer.correct if answer is not None else None,
                    answer=answer.text if answer is not None else "",
                    top=top,
                )
            )
        return out
