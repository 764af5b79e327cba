"""MS MARCO QnA (v1.1 / v2.1) to raw rows.

v1.1 files hold one object per line: ``{"query", "query_id", "query_type", "passages": [{"passage_text",
"is_selected", "url"}], "answers", "wellFormedAnswers"}``. The Hugging Face export stores ``passages`` as
``{"is_selected": [...], "passage_text": [...], "url": [...]}`` and v2.1 as one JSON object of columns; all
three are read. A chunk is ``passage_text`` as it is, gold when ``is_selected`` is 1, its title the ``url``;
the answer is the first of ``answers`` unless it is MS MARCO's ``"No Answer Present."`` (then none).

MS MARCO's terms allow non-commercial research use only: never ship converted rows in a product.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from lore_rag.data.converters._common import iter_records, raw_example, require
from lore_rag.data.schema import Example
from lore_rag.errors import DataError

__all__ = ["NO_ANSWER", "iter_msmarco", "msmarco_example"]

logger = logging.getLogger(__name__)

#: MS MARCO's placeholder answer for a question the passages do not answer.
NO_ANSWER = "No Answer Present."


def _passages(record: dict[str, Any], *, source: str, line: int) -> list[dict[str, Any]]:
    passages = require(record, "passages", source=source, line=line, types=(list, dict))
    if isinstance(passages, dict):
        texts = passages.get("passage_text")
        if not isinstance(texts, list):
            raise DataError("expected passage_text: [...]", path=source, line=line, field="passages")
        selected = passages.get("is_selected") or [0] * len(texts)
        urls = passages.get("url") or [""] * len(texts)
        if not (len(texts) == len(selected) == len(urls)):
            raise DataError(
                "passage_text, is_selected and url differ in length", path=source, line=line, field="passages"
            )
        return [{"passage_text": t, "is_selected": s, "url": u} for t, s, u in zip(texts, selected, urls, strict=False)]
    for i, passage in enumerate(passages):
        if not isinstance(passage, dict):
            raise DataError("expected {passage_text, is_selected, url}", path=source, line=line, field=f"passages[{i}]")
    return passages


def _answer(record: dict[str, Any], prefer_well_formed: bool, *, source: str, line: int) -> str | None:
    candidates: list[Any] = []
    if prefer_well_formed:
        candidates.extend(record.get("wellFormedAnswers") or [])
    answers = record.get("answers") or []
    if not isinstance(answers, list):
        raise DataError("expected a list of strings", path=source, line=line, field="answers")
    candidates.extend(answers)
    for answer in candidates:
        if isinstance(answer, str) and answer.strip() and answer.strip() != NO_ANSWER:
            return answer
    return None


def msmarco_example(
    record: dict[str, Any],
    *,
    dataset: str | None = "msmarco",
    prefer_well_formed: bool = False,
    source: str = "<record>",
    line: int = 0,
) -> Example:
    """One MS MARCO QnA record as a raw example.

    Raises:
        DataError: naming the source, line and field of the first problem.
    """
    qid = require(record, "query_id", source=source, line=line, types=(str, int))
    query = require(record, "query", source=source, line=line, types=str)
    chunks: list[str] = []
    relevant: list[bool] = []
    titles: list[str] = []
    dropped = 0
    for i, passage in enumerate(_passages(record, source=source, line=line)):
        text = passage.get("passage_text")
        if not isinstance(text, str):
            raise DataError("expected a string", path=source, line=line, field=f"passages[{i}].passage_text")
        if not text.strip():
            dropped += 1
            continue
        selected = passage.get("is_selected", 0)
        if isinstance(selected, bool) or selected not in (0, 1):
            raise DataError(
                f"is_selected must be 0 or 1, got {selected!r}",
                path=source,
                line=line,
                field=f"passages[{i}].is_selected",
            )
        chunks.append(text)
        relevant.append(selected == 1)
        titles.append(str(passage.get("url") or ""))
    if dropped:
        logger.warning("%s:%d: dropped %d empty passage(s)", source, line, dropped)
    return raw_example(
        id=str(qid),
        query=query,
        chunks=chunks,
        relevant=relevant,
        answer=_answer(record, prefer_well_formed, source=source, line=line),
        titles=titles,
        dataset=dataset,
        source=source,
        line=line,
    )


def iter_msmarco(
    path: str | os.PathLike[str], *, dataset: str | None = "msmarco", prefer_well_formed: bool = False
) -> Iterator[Example]:
    """Raw examples from an MS MARCO QnA file (v1.1 JSONL, a JSON list, or v2.1's column JSON).

    Args:
        path: The MS MARCO file.
        dataset: Value of the ``dataset`` field.
        prefer_well_formed: Take the first of ``wellFormedAnswers`` as the answer when there is one.

    Raises:
        DataError: for a malformed file or record.
    """
    source = str(path)
    for line, record in iter_records(path):
        yield msmarco_example(record, dataset=dataset, prefer_well_formed=prefer_well_formed, source=source, line=line)
