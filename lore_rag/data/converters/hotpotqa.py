"""HotpotQA (distractor setting) to raw rows.

The original file (``hotpot_dev_distractor_v1.json``) is a JSON list of
``{"_id", "question", "answer", "supporting_facts": [[title, sent_id]], "context": [[title, [sentence, ...]]],
"type", "level"}``. Every sentence after the first of a paragraph starts with its own space, so a chunk is
the paragraph's sentences concatenated as they are (``"".join``); a chunk is gold when its title is among the
supporting facts' titles. The Hugging Face layout (``id``, ``context: {"title": [...], "sentences": [...]}``,
``supporting_facts: {"title": [...], "sent_id": [...]}``) is read too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from lore_rag.data.converters._common import iter_records, raw_example, require
from lore_rag.data.schema import Example
from lore_rag.errors import DataError

__all__ = ["context_paragraphs", "hotpotqa_example", "iter_hotpotqa", "supporting_titles"]

logger = logging.getLogger(__name__)

#: How HotpotQA's sentences are joined into a paragraph: they carry their own leading spaces.
SENTENCE_JOIN = ""


def context_paragraphs(record: dict[str, Any], *, source: str, line: int) -> list[tuple[str, list[str]]]:
    """``[(title, sentences)]`` of a HotpotQA-style ``context``, original or Hugging Face layout.

    Raises:
        DataError: for a context in neither layout.
    """
    context = require(record, "context", source=source, line=line, types=(list, dict))
    paragraphs: list[tuple[str, list[str]]] = []
    if isinstance(context, dict):
        titles = context.get("title")
        sentences = context.get("sentences")
        if not isinstance(titles, list) or not isinstance(sentences, list) or len(titles) != len(sentences):
            raise DataError(
                "expected {'title': [...], 'sentences': [[...]]} of equal lengths",
                path=source,
                line=line,
                field="context",
            )
        pairs: list[Any] = list(zip(titles, sentences, strict=False))
    else:
        pairs = context
    for i, pair in enumerate(pairs):
        if (
            not isinstance(pair, (list, tuple))
            or len(pair) != 2
            or not isinstance(pair[0], str)
            or not isinstance(pair[1], list)
            or not all(isinstance(s, str) for s in pair[1])
        ):
            raise DataError("expected [title, [sentence, ...]]", path=source, line=line, field=f"context[{i}]")
        paragraphs.append((pair[0], list(pair[1])))
    return paragraphs


def supporting_titles(record: dict[str, Any], *, source: str, line: int) -> set[str]:
    """Titles named by ``supporting_facts`` (original ``[[title, sent_id]]`` or Hugging Face layout).

    Raises:
        DataError: when the field is missing (the HotpotQA test set has no labels) or malformed.
    """
    if "supporting_facts" not in record:
        raise DataError(
            "missing: without supporting facts there are no gold chunks (the test split carries no labels; "
            "use the train or dev file)",
            path=source,
            line=line,
            field="supporting_facts",
        )
    facts = record["supporting_facts"]
    if isinstance(facts, dict) and isinstance(facts.get("title"), list):
        return {str(t) for t in facts["title"]}
    if isinstance(facts, list) and all(isinstance(f, (list, tuple)) and f and isinstance(f[0], str) for f in facts):
        return {f[0] for f in facts}
    raise DataError("expected [[title, sentence_id], ...]", path=source, line=line, field="supporting_facts")


def paragraphs_to_example(
    record: dict[str, Any],
    *,
    joiner: str,
    dataset: str | None,
    source: str,
    line: int,
) -> Example:
    """One HotpotQA-style record (HotpotQA, 2WikiMultiHopQA) as a raw example; ``joiner`` joins sentences."""
    rid = record.get("_id", record.get("id"))
    if rid is None:
        raise DataError("missing required field", path=source, line=line, field="_id")
    question = require(record, "question", source=source, line=line, types=str)
    gold = supporting_titles(record, source=source, line=line)
    chunks: list[str] = []
    titles: list[str] = []
    dropped = 0
    for title, sentences in context_paragraphs(record, source=source, line=line):
        text = joiner.join(sentences)
        if not text.strip():
            dropped += 1
            continue
        chunks.append(text)
        titles.append(title)
    if dropped:
        logger.warning("%s:%d: dropped %d empty paragraph(s)", source, line, dropped)
    missing = gold.difference(titles)
    if missing:
        logger.debug("%s:%d: supporting title(s) not in the context: %s", source, line, sorted(missing))
    answer = record.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise DataError(f"expected a string, got {type(answer).__name__}", path=source, line=line, field="answer")
    return raw_example(
        id=str(rid),
        query=question,
        chunks=chunks,
        relevant=[t in gold for t in titles],
        answer=answer,
        titles=titles,
        dataset=dataset,
        source=source,
        line=line,
    )


def hotpotqa_example(
    record: dict[str, Any], *, dataset: str | None = "hotpotqa", source: str = "<record>", line: int = 0
) -> Example:
    """One HotpotQA record as a raw example (see the module docstring for the rules).

    Raises:
        DataError: naming the source, record and field of the first problem.
    """
    return paragraphs_to_example(record, joiner=SENTENCE_JOIN, dataset=dataset, source=source, line=line)


def iter_hotpotqa(path: str | os.PathLike[str], *, dataset: str | None = "hotpotqa") -> Iterator[Example]:
    """Raw examples from a HotpotQA JSON (list) or JSONL file.

    Args:
        path: ``hotpot_dev_distractor_v1.json``, ``hotpot_train_v1.1.json`` or a JSONL/Hugging Face export.
        dataset: Value of the ``dataset`` field of each row.

    Raises:
        DataError: for a malformed file or record (file, record number, field).
    """
    source = str(path)
    for line, record in iter_records(path):
        yield hotpotqa_example(record, dataset=dataset, source=source, line=line)
