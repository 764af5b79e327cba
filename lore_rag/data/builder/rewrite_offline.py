"""Offline rewrites (no LLM): fuse a salient phrase of a mined distractor with the question by a relation template.

A weaker, free fallback for the LLM rewrite. For each distractor candidate (most similar first) it takes the
chunk's title (or leading name) as the *entity* and the sentence that shares the most words with the question,
shortened to a clause, as the *fact*, then fills a template of the relation (see
:data:`~lore_rag.data.builder.relations.TEMPLATES`), e.g. ``"Because Emperor Daigo is named after his place of
burial, where was the place of burial of Charles Mathew's father?"``. Every result goes through the same
:class:`~lore_rag.data.builder.checks.RewriteChecker` as LLM output; the first passing combination wins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from lore_rag.data.builder.checks import Rewrite, RewriteChecker, RewriteRejected
from lore_rag.data.builder.mining import tokenize
from lore_rag.data.builder.relations import TEMPLATES

__all__ = ["offline_rewrite", "salient_entity", "salient_fact", "soften_question"]

_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'])")
_PAREN = re.compile(r"\s*\([^()]*\)")
_LEADING_NAME = re.compile(r"^((?:[A-Z][\w'’.\-]*)(?:\s+(?:of|de|the|and|von|van|da|[A-Z][\w'’.\-]*))*)")
_PRONOUNS = {"he": "", "she": "", "it": "", "they": "", "his": "'s", "her": "'s", "its": "'s", "their": "'s"}
_LOWER_STARTS = {
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "where",
    "when",
    "why",
    "how",
    "is",
    "are",
    "was",
    "were",
    "do",
    "does",
    "did",
    "can",
    "could",
    "should",
    "would",
    "will",
    "has",
    "have",
    "had",
    "the",
    "a",
    "an",
    "in",
    "on",
    "at",
    "for",
    "from",
    "by",
    "of",
    "to",
    "name",
    "list",
    "find",
    "give",
    "tell",
    "define",
    "describe",
}
_FACT_WORDS = 18


def soften_question(question: str) -> str:
    """Return the question with its first letter lower-cased when the first word is a common word, not a name."""
    question = question.strip()
    first = question.split(" ", 1)[0]
    if first.lower().strip("\"'") in _LOWER_STARTS and not first.isupper():
        return question[0].lower() + question[1:]
    return question


def salient_entity(chunk: str, title: str | None = None) -> str:
    """Return the distractor's name: its title without a ``(...)`` suffix, else its leading capitalised words."""
    if title and not title.startswith(("http://", "https://")) and title.strip():
        return _PAREN.sub("", title).strip() or title.strip()
    match = _LEADING_NAME.match(chunk.strip().strip("\"'"))
    if match and len(match.group(1).split()) <= 6:
        return match.group(1).rstrip(".,")
    return " ".join(chunk.split()[:4]).rstrip(".,;:")


def _sentences(chunk: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(" ".join(chunk.split())) if s.strip()]


def _shorten(sentence: str) -> str:
    words = sentence.split()
    if len(words) > _FACT_WORDS:
        head = " ".join(words[:_FACT_WORDS])
        cut = head.rfind(",", len(" ".join(words[:8])))
        sentence = head[:cut] if cut > 0 else head
    return sentence.rstrip(" .;:,!?\"'")


def salient_fact(chunk: str, question: str, entity: str, *, limit: int = 3) -> list[str]:
    """Up to ``limit`` short clauses from the distractor, the ones sharing most words with the question first.

    A clause that opens with a pronoun gets the entity instead (``"He is named..."`` becomes ``"Emperor Daigo is
    named..."``); a clause that opens with a common word is lower-cased so that it can follow a template.
    """
    q_words = set(tokenize(question))
    scored = []
    for position, sentence in enumerate(_sentences(chunk)):
        overlap = len(q_words & set(tokenize(sentence)))
        scored.append((-overlap, position, sentence))
    facts: list[str] = []
    for _, _, sentence in sorted(scored)[:limit]:
        clause = _shorten(_PAREN.sub("", sentence))
        if not clause:
            continue
        first, _, rest = clause.partition(" ")
        key = first.lower()
        if key in _PRONOUNS and entity and rest:
            clause = f"{entity}{_PRONOUNS[key]} {rest}"
        elif key in _LOWER_STARTS and not first.isupper():
            clause = first.lower() + (" " + rest if rest else "")
        facts.append(clause)
    return facts


def offline_rewrite(
    checker: RewriteChecker,
    question: str,
    candidates: Sequence[int],
    titles: Sequence[str] | None,
    relation: str,
    rng: np.random.Generator,
) -> tuple[Rewrite | None, list[str]]:
    """Return the first template rewrite that passes ``checker``, and the reasons of the rejected attempts.

    Args:
        checker: The question's checker (its ``chunks`` are the question's chunks).
        question: The original question.
        candidates: Distractor candidate chunk indices, most similar first.
        titles: Chunk titles, when known.
        relation: The relation whose templates to use.
        rng: Picks the template order.

    Returns:
        ``(rewrite, rejections)``; ``rewrite`` is ``None`` when no combination passed.
    """
    templates = list(TEMPLATES[relation])
    order = rng.permutation(len(templates)).tolist()
    asked = soften_question(question)
    rejections: list[str] = []
    for index in candidates:
        chunk = checker.chunks[index]
        entity = salient_entity(chunk, titles[index] if titles and index < len(titles) else None)
        for fact in salient_fact(chunk, question, entity):
            for t in order:
                template = templates[t]
                text = template.format(entity=entity, fact=fact, Fact=fact[:1].upper() + fact[1:], question=asked)
                try:
                    return checker.check(text, relation, [index]), rejections
                except RewriteRejected as exc:
                    rejections.append(exc.reason)
    return None, rejections
