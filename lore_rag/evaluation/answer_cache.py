"""LLM answers cached on disk, keyed by the model, the generation settings and the prompt.

Two retrievers that retrieve the same chunks build the same prompt, so they share one LLM call; a later run with
another checkpoint reuses every answer already computed for the raw model. The file is an append-only JSONL
log (:mod:`lore_rag.data.jsonl_log`): an answer is on disk as soon as it is stored, and a crash loses nothing
but the answer being written. Without a file (the app) it is an in-memory cache, optionally bounded. Either way
:meth:`AnswerCache.get_or_compute` asks identical prompts in flight from several threads once.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
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
    """LLM answers by :func:`answer_key`, in memory and in an append-only JSONL file; safe to share between threads.

    A record is a mapping holding at least ``raw`` (the LLM's reply); lore-rag stores ``llm_model``, ``raw`` and
    ``answer`` (:func:`lore_rag.evaluation.answering.answer_record`).

    Args:
        path: The cache file (created when missing); ``None`` keeps answers in memory only.
        max_size: Answers kept in memory, the least recently used dropped first (``None``: all). Answers dropped
            from memory stay in the file and are read again when the cache is next opened.
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, max_size: int | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.max_size = max_size
        self._answers: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._pending: dict[str, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._writer = JsonlAppender(self.path) if self.path is not None else None
        if self.path is not None:
            for row in read_log(self.path)[0]:
                if "key" in row and isinstance(row.get("raw"), str):
                    self._answers[row["key"]] = row
        self._trim()
        self.hits = 0
        self.stored = 0

    def _trim(self) -> None:
        while self.max_size is not None and len(self._answers) > self.max_size:
            self._answers.popitem(last=False)

    def __len__(self) -> int:
        return len(self._answers)

    def __contains__(self, key: str) -> bool:
        return key in self._answers

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the cached record (``key``, ``llm_model``, ``raw``, ``answer``) or ``None``."""
        with self._lock:
            record = self._answers.get(key)
            if record is not None:
                self._answers.move_to_end(key)
                self.hits += 1
        return record

    def put(self, key: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store one answer record (written through to the file); return it as stored (with its ``key``)."""
        record = {"key": key, **record}
        with self._lock:
            self._answers[key] = record
            self._answers.move_to_end(key)
            self._trim()
            self.stored += 1
            if self._writer is not None:
                self._writer.append(record)
        return record

    def get_or_compute(self, key: str, compute: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        """The record for ``key`` and whether it was cached; ``compute`` runs once per key, however many ask at once.

        Threads asking for a key that another thread is computing wait for that result (and count it as
        cached). An exception from ``compute`` reaches every waiting caller and is not stored: the next call
        computes again.
        """
        with self._lock:
            record = self._answers.get(key)
            if record is not None:
                self._answers.move_to_end(key)
                self.hits += 1
                return record, True
            future = self._pending.get(key)
            owner = future is None
            if future is None:
                future = self._pending[key] = Future()
        if not owner:
            return future.result(), True
        try:
            record = self.put(key, compute())
        except BaseException as exc:
            with self._lock:
                self._pending.pop(key, None)
            future.set_exception(exc)
            raise
        with self._lock:
            self._pending.pop(key, None)
        future.set_result(record)
        return record, False
