"""MuSiQue to raw rows.

The original files (``musique_ans_v1.0_train.jsonl``, ``..._dev.jsonl``) hold one object per line:
``{"id", "paragraphs": [{"idx", "title", "paragraph_text", "is_supporting"}], "question",
"question_decomposition", "answer", "answer_aliases", "answerable"}``. A chunk is ``paragraph_text`` as it is,
in ``idx`` order; it is gold when ``is_supporting`` is true. The answer is ``answer``; with
``with_aliases=True`` it becomes the list ``[answer, *answer_aliases]`` (what EM/F1 scoring accepts).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from lore_rag.data.converters._common import iter_records, raw_example, require
from lore_rag.data.schema import Example
from lore_rag.errors import DataError

__all__ = ["iter_musique", "musique_example"]


def musique_example(
    record: dict[str, Any],
    *,
    dataset: str | None = "musique",
    with_aliases: bool = False,
    source: str = "<record>",
    line: int = 0,
) -> Example:
    """One MuSiQue record as a raw example.

    Raises:
        DataError: naming the source, line and field of the first problem.
    """
    rid = require(record, "id", source=source, line=line, types=(str, int))
    question = require(record, "question", source=source, line=line, types=str)
    paragraphs = require(record, "paragraphs", source=source, line=line, types=list)
    items = []
    for i, paragraph in enumerate(paragraphs):
        name = f"paragraphs[{i}]"
        if not isinstance(paragraph, dict) or not isinstance(paragraph.get("paragraph_text"), str):
            raise DataError("expected {idx, title, paragraph_text, is_supporting}", path=source, line=line, field=name)
        supporting = paragraph.get("is_supporting", False)
        if not isinstance(supporting, bool):
            raise DataError("is_supporting must be true or false", path=source, line=line, field=name)
        idx = paragraph.get("idx", i)
        items.append((idx if isinstance(idx, int) else i, i, paragraph))
    items.sort(key=lambda item: (item[0], item[1]))
    answer: Any = record.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise DataError(f"expected a string, got {type(answer).__name__}", path=source, line=line, field="answer")
    if with_aliases and answer is not None:
        aliases = record.get("answer_aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise DataError("expected a list of strings", path=source, line=line, field="answer_aliases")
        answer = [answer, *(a for a in aliases if a != answer)]
    return raw_example(
        id=str(rid),
        query=question,
        chunks=[p["paragraph_text"] for _, _, p in items],
        relevant=[bool(p.get("is_supporting", False)) for _, _, p in items],
        answer=answer,
        titles=[str(p.get("title", "")) for _, _, p in items],
        dataset=dataset,
        source=source,
        line=line,
    )


def iter_musique(
    path: str | os.PathLike[str], *, dataset: str | None = "musique", with_aliases: bool = False
) -> Iterator[Example]:
    """Raw examples from a MuSiQue JSONL (or JSON list) file.

    Args:
        path: The MuSiQue file.
        dataset: Value of the ``dataset`` field.
        with_aliases: Write the answer as ``[answer, *answer_aliases]`` instead of the answer alone.

    Raises:
        DataError: for a malformed file or record.
    """
    source = str(path)
    for line, record in iter_records(path):
        yield musique_example(record, dataset=dataset, with_aliases=with_aliases, source=source, line=line)
