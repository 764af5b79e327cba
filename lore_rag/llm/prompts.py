"""Prompts for answering a question from retrieved chunks, and parsing the answer and its cited chunk ids.

Two modes: ``short=True`` asks for the bare answer (a name, number, date, yes/no or short phrase) as QA
benchmarks score it with exact match and token F1; ``short=False`` asks for a few sentences. In both the model
cites the chunks it used by their ids in square brackets, e.g. ``Paris [2]``; :func:`parse_answer` separates
the answer text from those citations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "UNKNOWN",
    "Answer",
    "answer_messages",
    "format_chunks",
    "parse_answer",
]

#: What the model is told to reply when the chunks do not hold the answer.
UNKNOWN = "unknown"

_SYSTEM_SHORT = (
    "You answer questions using only the numbered passages you are given. "
    "Reply with the shortest possible answer: a name, a number, a date, yes or no, or a short phrase, never a "
    "full sentence and no explanation. After the answer, write the ids of the passages you used in square "
    "brackets. If the passages do not contain the answer, reply: " + UNKNOWN
)
_SYSTEM_LONG = (
    "You answer questions using only the numbered passages you are given. "
    "Answer in one to three sentences. After each claim, write the ids of the passages that support it in square "
    "brackets. If the passages do not contain the answer, say so."
)
_EXAMPLE_SHORT = (
    "Passages:\n[a] The Amstel river flows through the city of Amsterdam.\n"
    "[b] Rotterdam has the largest port in Europe.\n\n"
    "Question: Which city has the largest port in Europe?"
)
_EXAMPLE_SHORT_REPLY = "Rotterdam [b]"

_CITATION = re.compile(r"\[([^\[\]\n]{1,80})\]")
_LABEL = re.compile(
    r"^\s*(?:(?:final\s+)?answer\s*[:\-]|(?:so,?\s+)?the\s+(?:final\s+)?answer(?:\s+to\s+(?:this|the)\s+question)?"
    r"\s+is\s*:?)\s*",
    re.IGNORECASE,
)
_SOURCES = re.compile(r"^\s*(?:sources?|citations?|cited|references?|passages?\s+used)\s*:\s*(.*)$", re.IGNORECASE)
_ID_SPLIT = re.compile(r"\s*[,;]\s*|\s+and\s+")


@dataclass(frozen=True)
class Answer:
    """A parsed answer.

    Attributes:
        text: The answer without its citations (for short answers: the bare answer, ready for EM/F1).
        cited: The chunk ids the model cited, in first-cited order, without repeats.
    """

    text: str
    cited: list[str] = field(default_factory=list)

    @property
    def is_unknown(self) -> bool:
        """Whether the model said the chunks do not hold the answer."""
        return self.text.strip().lower().rstrip(".") in (UNKNOWN, "i don't know", "i do not know", "no answer")


def _label(chunk_id: str) -> str:
    return " ".join(str(chunk_id).replace("[", "(").replace("]", ")").split())


def format_chunks(chunks: list[str], chunk_ids: list[str] | None = None, *, max_chunk_chars: int | None = 2000) -> str:
    """Render chunks as ``[id] text`` lines (ids ``1..n`` when ``chunk_ids`` is ``None``).

    Args:
        chunks: The retrieved chunk texts, best first.
        chunk_ids: One id per chunk; short ids (``1``, ``d3``) are easier for small models to copy than hashes.
        max_chunk_chars: Cut each chunk to this many characters (``None``: no cut).

    Raises:
        ValueError: when ``chunk_ids`` and ``chunks`` differ in length or ids repeat.
    """
    ids = [str(i + 1) for i in range(len(chunks))] if chunk_ids is None else [_label(c) for c in chunk_ids]
    if len(ids) != len(chunks):
        raise ValueError(f"got {len(chunks)} chunks but {len(ids)} chunk ids")
    if len(set(ids)) != len(ids):
        raise ValueError("chunk ids must be unique")
    lines = []
    for chunk_id, text in zip(ids, chunks, strict=True):
        body = " ".join(str(text).split())
        if max_chunk_chars is not None and len(body) > max_chunk_chars:
            body = body[: max_chunk_chars - 3].rstrip() + "..."
        lines.append(f"[{chunk_id}] {body}")
    return "\n".join(lines)


def answer_messages(
    question: str,
    chunks: list[str],
    *,
    chunk_ids: list[str] | None = None,
    short: bool = True,
    max_chunk_chars: int | None = 2000,
    example: bool = True,
) -> list[dict[str, str]]:
    """Build the chat messages that ask a model to answer ``question`` from ``chunks``, citing chunk ids.

    Args:
        question: The user's question.
        chunks: Retrieved chunk texts, best first.
        chunk_ids: One id per chunk, shown to the model and cited back; ``None`` numbers them ``1..n``.
        short: Ask for the bare answer (for EM/F1) instead of a few sentences.
        max_chunk_chars: Cut each chunk to this many characters (``None``: no cut).
        example: In short mode, show one worked example first (helps small models keep the format).

    Returns:
        ``[{"role": ..., "content": ...}, ...]`` for :meth:`lore_rag.llm.LLMClient.chat`.

    Raises:
        ValueError: for an empty question, or chunk ids that do not fit the chunks.
    """
    if not question or not question.strip():
        raise ValueError("the question is empty")
    context = format_chunks(chunks, chunk_ids, max_chunk_chars=max_chunk_chars) if chunks else "(no passages)"
    messages = [{"role": "system", "content": _SYSTEM_SHORT if short else _SYSTEM_LONG}]
    if short and example:
        messages.append({"role": "user", "content": _EXAMPLE_SHORT})
        messages.append({"role": "assistant", "content": _EXAMPLE_SHORT_REPLY})
    messages.append({"role": "user", "content": f"Passages:\n{context}\n\nQuestion: {' '.join(question.split())}"})
    return messages


def parse_answer(text: str, *, chunk_ids: list[str] | None = None, short: bool = True) -> Answer:
    """Split a model reply into the answer text and the chunk ids it cites.

    Citations are ids in square brackets (``[2]``, ``[2, 5]``) or a ``Sources: 2, 5`` line. In short mode the
    answer is the first line that is left, without an ``Answer:`` label, quotes or a final full stop.

    Args:
        text: The model's reply.
        chunk_ids: When given, only these ids count as citations (as passed to :func:`answer_messages`;
            ``None`` there means ``1..n``, so pass ``[str(i) for i in range(1, n + 1)]`` to filter those).
        short: Parse as a short answer.
    """
    known = None if chunk_ids is None else {_label(c): str(c) for c in chunk_ids}
    cited: list[str] = []

    def cite(raw: str) -> bool:
        parts = [p.strip() for p in _ID_SPLIT.split(raw) if p.strip()]
        if not parts:
            return False
        if known is not None:
            if not all(_label(p) in known for p in parts):
                return False
            parts = [known[_label(p)] for p in parts]
        for part in parts:
            if part not in cited:
                cited.append(part)
        return True

    kept_lines = []
    for line in str(text).replace("\r", "").split("\n"):
        sources = _SOURCES.match(line)
        if sources:
            rest = _CITATION.sub(lambda m: m.group(1) + ",", sources.group(1))
            cite(rest.strip(" ,.;"))
            continue
        kept_lines.append(_CITATION.sub(lambda m: " " if cite(m.group(1)) else m.group(0), line))
    lines = [" ".join(line.split()) for line in kept_lines]
    lines = [line for line in lines if line]
    if short:
        while len(lines) > 1 and not _LABEL.sub("", lines[0]).strip(" :"):
            lines = lines[1:]  # a lead-in line such as "The answer is:"
        answer = _LABEL.sub("", lines[0]) if lines else ""
        answer = answer.strip().strip("*_`").strip()
        answer = answer.rstrip(" .,;:").strip()
        if len(answer) >= 2 and answer[0] == answer[-1] and answer[0] in "\"'":
            answer = answer[1:-1].strip()
    else:
        answer = _LABEL.sub("", " ".join(lines)).strip()
    answer = re.sub(r"\s+([.,;:!?])", r"\1", answer)
    return Answer(text=answer, cited=cited)
