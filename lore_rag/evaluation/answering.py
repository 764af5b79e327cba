"""Answering a question from retrieved chunks: one prompt, one cache key, one stored record, for every caller.

``lore-rag qa-eval`` (:mod:`lore_rag.evaluation.qa_run`, batches of distinct prompts through
:meth:`~lore_rag.llm.LLMClient.map`) and the app (:mod:`lore_rag.demo`, one question at a time from request
threads) both build the prompt with :func:`answer_request`, key it with
:func:`~lore_rag.evaluation.answer_cache.answer_key` and keep the reply in an
:class:`~lore_rag.evaluation.answer_cache.AnswerCache` as :func:`answer_record`;
:func:`answer_from_chunks` is the whole path for one question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lore_rag.evaluation.answer_cache import AnswerCache, answer_key
from lore_rag.llm.prompts import answer_messages, parse_answer

if TYPE_CHECKING:
    from lore_rag.llm import LLMClient

__all__ = ["AnswerRequest", "ChunkAnswer", "answer_from_chunks", "answer_record", "answer_request", "llm_temperature"]


@dataclass(frozen=True)
class AnswerRequest:
    """The chat messages that ask one question from some chunks, and the cache key of their answer."""

    messages: list[dict[str, str]]
    key: str
    chunk_ids: list[str] | None = None


@dataclass
class ChunkAnswer:
    """The LLM's answer from a list of chunks.

    Attributes:
        text: The answer, without its citations.
        cited: The chunk ids it cites, in the order cited.
        reply: The LLM's raw reply.
        key: Its answer-cache key.
        cached: True when it came from the cache (no LLM call).
    """

    text: str
    reply: str
    key: str
    cached: bool
    cited: list[str] = field(default_factory=list)


def llm_temperature(llm: Any) -> float:
    """The client's sampling temperature (0.0 when it has none): part of every answer's cache key."""
    value = getattr(llm, "temperature", 0.0)
    return float(value) if isinstance(value, (int, float)) else 0.0


def answer_request(
    question: str,
    texts: Sequence[str],
    *,
    llm_model: str,
    max_tokens: int,
    temperature: float,
    chunk_ids: Sequence[str] | None = None,
) -> AnswerRequest:
    """The prompt that asks ``question`` from ``texts`` (shown with ``chunk_ids``, default 1..n) and its cache key."""
    ids = None if chunk_ids is None else [str(c) for c in chunk_ids]
    messages = answer_messages(question, list(texts), chunk_ids=ids)
    return AnswerRequest(messages, answer_key(llm_model, messages, max_tokens=max_tokens, temperature=temperature), ids)


def answer_record(llm_model: str, reply: str, *, chunk_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """What the answer cache stores for one reply: the LLM's name, its raw reply and the parsed answer text."""
    ids = None if chunk_ids is None else [str(c) for c in chunk_ids]
    return {"llm_model": llm_model, "raw": reply, "answer": parse_answer(reply, chunk_ids=ids).text}


def answer_from_chunks(
    llm: LLMClient,
    question: str,
    texts: Sequence[str],
    *,
    chunk_ids: Sequence[str] | None = None,
    max_tokens: int | None = None,
    cache: AnswerCache | None = None,
) -> ChunkAnswer:
    """Ask ``llm`` to answer ``question`` from ``texts``, through ``cache`` when given.

    Args:
        llm: The client.
        question: The question.
        texts: The chunks, best first.
        chunk_ids: The ids the LLM sees and cites (default ``1..n``).
        max_tokens: Answer length limit (default: the client's own).
        cache: Where answers are kept; identical prompts asked at once from several threads make one call.

    Raises:
        LLMError: when the LLM call fails (nothing is cached then).
    """
    llm_model = str(llm.model)
    limit = int(max_tokens if max_tokens is not None else getattr(llm, "max_tokens", 0) or 0)
    request = answer_request(
        question, texts, llm_model=llm_model, max_tokens=limit, temperature=llm_temperature(llm), chunk_ids=chunk_ids
    )

    def ask() -> dict[str, Any]:
        reply = llm.chat(request.messages) if max_tokens is None else llm.chat(request.messages, max_tokens=max_tokens)
        return answer_record(llm_model, reply, chunk_ids=request.chunk_ids)

    record, cached = cache.get_or_compute(request.key, ask) if cache is not None else (ask(), False)
    parsed = parse_answer(record["raw"], chunk_ids=request.chunk_ids)
    return ChunkAnswer(text=parsed.text, reply=record["raw"], key=request.key, cached=cached, cited=list(parsed.cited))
