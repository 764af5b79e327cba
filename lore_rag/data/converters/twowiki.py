"""2WikiMultiHopQA to raw rows.

The original files (``dev.json``, ``train.json``) are JSON lists in HotpotQA's layout plus ``type`` and
``evidences``: ``{"_id", "type", "question", "context": [[title, [sentence, ...]]], "supporting_facts":
[[title, sent_id]], "evidences": [[subject, relation, object]], "answer"}``. Unlike HotpotQA, its sentences
carry no leading space, so a chunk is the sentences joined by one space; a chunk is gold when its title is
among the supporting facts' titles.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from lore_rag.data.converters._common import iter_records
from lore_rag.data.converters.hotpotqa import paragraphs_to_example
from lore_rag.data.schema import Example

__all__ = ["iter_twowiki", "twowiki_example"]

#: How 2WikiMultiHopQA's sentences are joined into a paragraph.
SENTENCE_JOIN = " "


def twowiki_example(
    record: dict[str, Any], *, dataset: str | None = "2wikimultihopqa", source: str = "<record>", line: int = 0
) -> Example:
    """One 2WikiMultiHopQA record as a raw example.

    Raises:
        DataError: naming the source, record and field of the first problem.
    """
    return paragraphs_to_example(record, joiner=SENTENCE_JOIN, dataset=dataset, source=source, line=line)


def iter_twowiki(path: str | os.PathLike[str], *, dataset: str | None = "2wikimultihopqa") -> Iterator[Example]:
    """Raw examples from a 2WikiMultiHopQA JSON (list) or JSONL file.

    Raises:
        DataError: for a malformed file or record (file, record number, field).
    """
    source = str(path)
    for line, record in iter_records(path):
        yield twowiki_example(record, dataset=dataset, source=source, line=line)
