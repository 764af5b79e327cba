"""Prompts for the LLM rewrite (paper Sec. 3.1): weave distractor content into a question through an RST relation.

The model sees the question, its answer (only so that it can avoid it), a few non-relevant candidate chunks
that look similar to the question, each under its chunk number, and the relation to use (or the allowed ones to
pick from). It replies with one JSON object ``{"relation", "distractor_ids", "query"}``; :func:`rewrite_schema`
is the JSON schema of that reply, with the ids and relations restricted to the ones offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lore_rag.data.builder.relations import DEFINITIONS

__all__ = ["SYSTEM_PROMPT", "anchor_pattern", "reask_message", "rewrite_messages", "rewrite_schema"]

SYSTEM_PROMPT = (
    "You write hard training queries for a search engine. Given a question and some passages that look related "
    "but do NOT answer it (distractors), you rewrite the question so that it also mentions a concrete fact from "
    "one or two distractors, joined to the question by a given rhetorical relation. The rewritten query must ask "
    "for exactly the same thing as the original question and have the same answer; keep the question's words. "
    "Never write the answer. Reply with one JSON object only.\n\n"
    "Example.\n"
    "Question: Which river flows through the city where the Rijksmuseum is located?\n"
    "Candidates:\n"
    "[4] Rijksmuseum Twenthe: Rijksmuseum Twenthe is an art museum in Enschede, in the east of the Netherlands.\n"
    "[7] Museum Island: Museum Island is the northern half of an island in the Spree river in Berlin.\n"
    "Relation: Contrastive\n"
    'Reply: {"relation": "Contrastive", "distractor_ids": ["4"], "query": "Unlike Rijksmuseum Twenthe, the art '
    'museum in Enschede, which river flows through the city where the Rijksmuseum is located?"}'
)


def _trim(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rsplit(" ", 1)[0] + "..."


def rewrite_messages(
    question: str,
    candidates: Sequence[tuple[int, str, str]],
    *,
    relation: str | None,
    allowed: Sequence[str],
    answers: Sequence[str] = (),
    max_distractors: int = 2,
    chunk_chars: int = 400,
) -> list[dict[str, str]]:
    """Chat messages asking for one rewrite.

    Args:
        question: The original question.
        candidates: ``(chunk index, title, text)`` of the distractor candidates.
        relation: The relation to use; ``None`` lets the model pick one of ``allowed``.
        allowed: The allowed relations.
        answers: Gold answers, shown so the model can avoid them.
        max_distractors: Most candidates the rewrite may use.
        chunk_chars: Characters of each candidate shown.
    """
    lines = [f"Question: {question}"]
    shown = [a for a in answers if a.strip()]
    if shown:
        lines.append(f"Answer (never write it): {shown[0]}")
    lines.append("Candidates:")
    for index, title, text in candidates:
        head = f"{title}: " if title and not title.startswith(("http://", "https://")) else ""
        lines.append(f"[{index}] {head}{_trim(text, chunk_chars)}")
    if relation is not None:
        lines.append(f"Relation: {relation} ({DEFINITIONS[relation]})")
    else:
        lines.append("Relation: pick one of " + "; ".join(f"{r} ({DEFINITIONS[r]})" for r in allowed))
    ids = ", ".join(f'"{index}"' for index, _, _ in candidates)
    lines.append(
        f"Write the new query: one clause with a fact from 1 to {max_distractors} candidate(s), linked by the "
        "relation, then the original question. Reply with JSON only: "
        f'{{"relation": "...", "distractor_ids": [one or more of {ids}], "query": "..."}}'
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(lines)}]


def _regex_literal(text: str) -> str:
    return "".join("\\" + c if c in "\\^$.|?*+()[]{}/" else c for c in text)


def anchor_pattern(question: str) -> str | None:
    """Return a regular expression for the ``query`` field that makes it end with the original question.

    ``"<a lead-in clause>, <question>"`` (or ``;`` / ``:``), the question's first letter in either case. Used as
    a ``pattern`` in the reply schema, it lets grammar-constrained decoding (llama.cpp) keep small models from
    dropping the question. ``None`` for a question holding a quote or backslash, which the pattern cannot carry.
    """
    question = question.strip()
    if not question or '"' in question or "\\" in question:
        return None
    first = question[0]
    head = f"[{first.upper()}{first.lower()}]" if first.isalpha() else _regex_literal(first)
    # the lead-in: no quote, backslash or control character (they would break the JSON string)
    return '^[A-Z][^"\\\\\\n\\r\\t]{10,240}[,;:] ' + head + _regex_literal(question[1:]) + "$"


def rewrite_schema(
    candidate_ids: Sequence[int],
    allowed: Sequence[str],
    *,
    max_distractors: int = 2,
    max_chars: int = 600,
    anchor: str | None = None,
) -> dict[str, Any]:
    """JSON schema of the reply, with ids and relations restricted to those offered.

    Args:
        candidate_ids: Chunk indices offered.
        allowed: Allowed relations.
        max_distractors: Most ids.
        max_chars: Longest query.
        anchor: The original question, to constrain the query to end with it (see :func:`anchor_pattern`).
    """
    query: dict[str, Any] = {"type": "string", "minLength": 10, "maxLength": max_chars}
    pattern = anchor_pattern(anchor) if anchor else None
    if pattern:
        query["pattern"] = pattern
    return {
        "type": "object",
        "properties": {
            "relation": {"type": "string", "enum": list(allowed)},
            "distractor_ids": {
                "type": "array",
                "items": {"type": "string", "enum": [str(i) for i in candidate_ids]},
                "minItems": 1,
                "maxItems": max_distractors,
            },
            "query": query,
        },
        "required": ["relation", "distractor_ids", "query"],
        "additionalProperties": False,
    }


def reask_message(reason: str) -> dict[str, str]:
    """Return the user message sent after a rejected reply."""
    return {
        "role": "user",
        "content": f"That reply was rejected: {reason}. Write it again following every rule, and reply with the "
        "JSON object only.",
    }
