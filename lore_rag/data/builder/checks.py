"""Checks every rewrite must pass, from the LLM or the offline templates, before it becomes a LORE row.

A rewrite names the distractor chunks it used, the RST relation and the new query. It is rejected when the
ids are not chunks that were offered as non-relevant candidates, the relation is not allowed, the query did not
change (or gained no words of its own), the gold answer appears in it (more often than in the original
question), too few of the original question's content words survived (the information need changed), none of
the used distractors' words made it in, or it is too long. Each rejection has a reason code, counted by the
builder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lore_rag.data.answers import normalize_answer
from lore_rag.data.builder.mining import tokenize
from lore_rag.data.builder.relations import normalize_relation

__all__ = ["REASONS", "Rewrite", "RewriteChecker", "RewriteRejected"]

#: Reason codes of rejected rewrites, with what they mean.
REASONS: dict[str, str] = {
    "malformed": "not a JSON object with relation, distractor_ids and query",
    "bad_relation": "relation missing or not one of the allowed RST relations",
    "no_ids": "no distractor id given",
    "too_many_ids": "more distractor ids than allowed",
    "unknown_id": "an id that is not one of the offered candidate chunks",
    "positive_id": "an id of a relevant (gold) chunk",
    "unchanged": "the query did not change or gained no words of its own",
    "answer_leak": "the gold answer appears in the rewritten query",
    "info_lost": "too few of the original question's content words kept",
    "no_distractor_content": "none of the used distractors' words appear in the query",
    "too_long": "the rewritten query is too long",
}

_ID = re.compile(r"^\s*\[?\s*(?:chunk|passage|doc|d|c|#)?\s*(\d+)\s*\]?\s*$", re.IGNORECASE)
_YES_NO = {"yes", "no"}


class RewriteRejected(ValueError):
    """A rewrite that fails a check; ``reason`` is a key of :data:`REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Rewrite:
    """An accepted rewrite: the new query, its relation and the chunk indices of the distractors it used."""

    query: str
    relation: str
    used: list[int] = field(default_factory=list)


def _count_phrase(tokens: list[str], phrase: list[str]) -> int:
    if not phrase:
        return 0
    n = len(phrase)
    return sum(tokens[i : i + n] == phrase for i in range(len(tokens) - n + 1))


@dataclass
class RewriteChecker:
    """Validates one rewrite of one question.

    Args:
        original: The original question.
        chunks: All candidate chunks of the question.
        positives: Indices of the relevant chunks.
        offered: Indices of the non-relevant chunks offered as distractor candidates.
        answers: Gold answer strings (may be empty).
        allowed_relations: Relations the rewrite may use.
        max_distractors: Most distractors one rewrite may use.
        min_keep: Smallest share of the original's content words the rewrite must keep.
        max_chars: Longest rewrite accepted.
    """

    original: str
    chunks: Sequence[str]
    positives: Sequence[int]
    offered: Sequence[int]
    answers: Sequence[str]
    allowed_relations: Sequence[str]
    max_distractors: int = 2
    min_keep: float = 0.6
    max_chars: int = 600

    def parse_ids(self, value: Any) -> list[int]:
        """Chunk indices from the model's ``distractor_ids`` (``"3"``, ``3``, ``"[3]"``, ``"chunk 3"``).

        Raises:
            RewriteRejected: for a missing, unknown, relevant or excess id.
        """
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not value:
            raise RewriteRejected("no_ids", "distractor_ids must list the ids of the candidates you used")
        used: list[int] = []
        for item in value:
            match = _ID.match(str(item)) if isinstance(item, (str, int)) and not isinstance(item, bool) else None
            if match is None:
                raise RewriteRejected("unknown_id", f"{item!r} is not one of the candidate ids")
            index = int(match.group(1))
            if index in self.positives:
                raise RewriteRejected("positive_id", f"[{index}] is not a distractor candidate")
            if index not in self.offered:
                raise RewriteRejected(
                    "unknown_id",
                    f"[{index}] is not one of the candidate ids ({', '.join(str(i) for i in self.offered)})",
                )
            if index not in used:
                used.append(index)
        if len(used) > self.max_distractors:
            raise RewriteRejected("too_many_ids", f"use at most {self.max_distractors} distractor(s)")
        return used

    def check(self, query: Any, relation: Any, ids: Any) -> Rewrite:
        """Return the accepted :class:`Rewrite`.

        Raises:
            RewriteRejected: naming the first failed check.
        """
        if not isinstance(query, str) or not query.strip():
            raise RewriteRejected("malformed", "query must be a non-empty string")
        query = " ".join(query.split())
        name = normalize_relation(relation) if isinstance(relation, str) else None
        if name is None or name not in self.allowed_relations:
            raise RewriteRejected("bad_relation", f"relation must be one of {', '.join(self.allowed_relations)}")
        used = self.parse_ids(ids)
        if len(query) > self.max_chars:
            raise RewriteRejected("too_long", f"the query has {len(query)} characters; keep it under {self.max_chars}")
        new_norm = normalize_answer(query)
        old_norm = normalize_answer(self.original)
        new_words = set(tokenize(query))
        old_words = set(tokenize(self.original))
        if new_norm == old_norm or not (new_words - old_words):
            raise RewriteRejected("unchanged", "the query must add the distractor's content, not repeat the question")
        new_tokens = new_norm.split()
        old_tokens = old_norm.split()
        for answer in self.answers:
            phrase = normalize_answer(answer).split()
            if not phrase or " ".join(phrase) in _YES_NO:
                continue  # yes/no answers are words any query may use
            if _count_phrase(new_tokens, phrase) > _count_phrase(old_tokens, phrase):
                raise RewriteRejected("answer_leak", "the query gives away the answer; do not mention it")
        if old_words:
            kept = len(old_words & new_words) / len(old_words)
            if kept < self.min_keep:
                raise RewriteRejected(
                    "info_lost",
                    "keep the original question's wording and information need "
                    f"(only {kept:.0%} of its words are left)",
                )
        added = new_words - old_words
        for index in used:
            if not added & set(tokenize(self.chunks[index])):
                raise RewriteRejected("no_distractor_content", f"the query uses nothing from candidate [{index}]")
        return Rewrite(query=query, relation=name, used=used)

    def check_object(self, obj: Any) -> Rewrite:
        """Check an LLM reply object ``{"relation", "distractor_ids", "query"}``.

        Raises:
            RewriteRejected: naming the first failed check.
        """
        if not isinstance(obj, dict):
            raise RewriteRejected("malformed", "reply with one JSON object")
        for key in ("relation", "distractor_ids", "query"):
            if key not in obj:
                reason = "no_ids" if key == "distractor_ids" else "malformed"
                raise RewriteRejected(reason, f"the field '{key}' is missing")
        return self.check(obj["query"], obj["relation"], obj["distractor_ids"])
