"""LLM answers cached on disk, keyed by the model, the generation settings and the prompt.

Two retrievers that retrieve the same chunks build the same prompt, so they share one LLM call; a later run with
another checkpoint reuses every answer already computed for the raw model. The file is an append-only JSONL
log (:mod:`lore_rag.data.jsonl_log`): an answer is on disk as soon as it is stored, and a crash loses nothing
but the answer being written.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lore_rag.data.jsonl_log import JsonlAppender, read_log

__all__ = ["AnswerCache", "answer_key", "default_cache_path"]


def answer_key(llm_model: str, messages: Sequence[dict[str, str]], *, max_tokens: int, temperature: float) -> str:
    """Cache key of one LLM answer: sha256 of the model name, generation settings and prompt messages."""
    payload = {"model": llm_model, "max_tokens": max_tokens, "temperature": temperature, "messages": list(messages)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def default_cache_path(llm_model: str) -> Path:
    """``<cache dir>/answers/<model>.jsonl``: one file per LLM model name."""
    from lore_rag.defaults import cache_dir

    slug = "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in llm_model)[:80] or "llm"
    return cache_dir("answers") / f"{slug}.jsonl"


class AnswerCache:
    """LLM answers by :func:`answer_key`, in memory and in an append-only JSONL file.

    Args:
        path: The cache file (created when missing); ``None`` keeps answers in memory only.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None
        self._answers: dict[str, dict[str, Any]] = {}
        self._writer = JsonlAppender(self.path) if self.path is not None else None
        if self.path is not None:
            for row in read_log(self.path)[0]:
                if "key" in row and isinstance(row.get("raw"), str):
                    self._answers[row["key"]] = row
        self.hits = 0
        self.stored = 0

    def __len__(self) -> int:
        return len(self._answers)

    def __contains__(self, key: str) -> bool:
        return key in self._answers

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the cached record (``key``, ``llm_model``, ``raw``, ``answer``) or ``None``."""
        record = self._answers.get(key)
        if record is not None:
            self.hits += 1
        return record

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Store one answer record (written through to the file)."""
        record = {"key": key, **record}
        self._answers[key] = record
        self.stored += 1
        if self._writer is not None:
            self._writer.append(record)
