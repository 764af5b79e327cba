"""LLM rewrites (paper Sec. 3.1): one structured request per question, every reply validated, re-asked on rejection.

The reply ``{"relation", "distractor_ids", "query"}`` is parsed by the client (schema-constrained where the
endpoint supports it), then checked by :class:`~lore_rag.data.builder.checks.RewriteChecker`. A rejected reply
is shown back to the model with the reason, up to ``max_attempts`` replies; a question whose replies were all
rejected is skipped with the last reason. Endpoint failures (down, timeouts) are not the model's output and
are raised, so the runner can stop and a later resume retries those questions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lore_rag.data.builder.checks import Rewrite, RewriteChecker, RewriteRejected
from lore_rag.data.builder.prompts import reask_message, rewrite_messages, rewrite_schema

if TYPE_CHECKING:
    from lore_rag.llm import LLMClient

__all__ = ["LLMRewriteResult", "llm_rewrite"]

logger = logging.getLogger(__name__)


@dataclass
class LLMRewriteResult:
    """What the model produced for one question.

    Attributes:
        rewrite: The accepted rewrite, or ``None`` when every reply was rejected.
        rejections: Reason code of each rejected reply, in order.
        replies: How many replies were asked for.
        last_text: The last rejected reply (for the skip record), cut to 500 characters.
    """

    rewrite: Rewrite | None
    rejections: list[str] = field(default_factory=list)
    replies: int = 0
    last_text: str = ""


def _classify(checker: RewriteChecker, text: str, fallback: str) -> tuple[str, str]:
    """Reason code and message for a reply the client rejected (no JSON, or schema mismatch)."""
    from lore_rag.llm import extract_json

    try:
        obj = extract_json(text)
    except ValueError as exc:
        return "malformed", str(exc)
    try:
        checker.check_object(obj)
    except RewriteRejected as exc:
        return exc.reason, str(exc)
    return "malformed", fallback


def llm_rewrite(
    client: LLMClient,
    checker: RewriteChecker,
    question: str,
    candidates: Sequence[tuple[int, str, str]],
    *,
    relation: str | None,
    max_attempts: int = 3,
    anchor: bool = False,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> LLMRewriteResult:
    """Ask ``client`` for one rewrite of ``question`` and validate it.

    Args:
        client: The LLM client.
        checker: The question's checker.
        question: The original question.
        candidates: ``(chunk index, title, text)`` of the offered distractor candidates.
        relation: Relation to ask for; ``None`` lets the model pick one of ``checker.allowed_relations``.
        max_attempts: Most replies (the first plus re-asks).
        anchor: Constrain the query to end with the original question (a schema ``pattern``, honoured by
            grammar-constrained endpoints such as llama.cpp; small local models need it).
        temperature: Sampling temperature (the client's when ``None``).
        max_tokens: Reply token limit (the client's when ``None``).

    Raises:
        LLMError: when the endpoint itself fails (not for bad replies, which are counted and returned).
    """
    from lore_rag.llm import LLMOutputError

    allowed = list(checker.allowed_relations)
    messages = rewrite_messages(
        question,
        candidates,
        relation=relation,
        allowed=allowed,
        answers=list(checker.answers),
        max_distractors=checker.max_distractors,
    )
    schema = rewrite_schema(
        [c[0] for c in candidates],
        allowed,
        max_distractors=checker.max_distractors,
        max_chars=checker.max_chars,
        anchor=question if anchor else None,
    )
    result = LLMRewriteResult(rewrite=None)
    convo = list(messages)
    for attempt in range(max_attempts):
        result.replies += 1
        text = ""
        try:
            obj = client.chat_json(convo, schema=schema, max_attempts=1, temperature=temperature, max_tokens=max_tokens)
            text = _dump(obj)
            rewrite = checker.check_object(obj)
        except LLMOutputError as exc:
            text = exc.text
            reason, message = _classify(checker, exc.text, exc.reason)
        except RewriteRejected as exc:
            reason, message = exc.reason, str(exc)
        else:
            result.rewrite = rewrite
            return result
        result.rejections.append(reason)
        result.last_text = text[:500]
        logger.debug("rewrite rejected (%s, reply %d of %d): %s", reason, attempt + 1, max_attempts, message)
        convo = [*messages, {"role": "assistant", "content": text[:2000] or "(empty)"}, reask_message(message)]
    return result


def _dump(obj: object) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False)
