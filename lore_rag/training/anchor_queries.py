"""An anchor on a team's own questions: keep the base model's ranking where the user's traffic is.

``--anchor-queries FILE`` names real questions (no labels). Each becomes an anchor row: its candidates are the base
model's top ``k`` training chunks for it (mined once, from the frozen document cache), and the loss adds the KL from
the base model's ranking of those candidates to the tuned model's, the same term as the original-query anchor.
Anchor rows have no positive, so the LORE term ignores them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lore_rag.data.schema import Example, Tier
from lore_rag.errors import DataError

__all__ = ["anchor_examples", "mine_candidates", "read_questions"]

_FIELDS = ("query", "question", "original_query")


def read_questions(path: str | os.PathLike[str]) -> list[str]:
    """Questions from a text file (one per line, blank lines skipped) or JSONL (``query`` / ``question`` field).

    Duplicates are kept once, in first-seen order.

    Raises:
        DataError: naming the file and line of an unreadable row, or an empty file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (--anchor-queries)") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text at byte {exc.start} (--anchor-queries)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read it: {exc.strerror} (--anchor-queries)") from None
    jsonl = path.suffix.lower() in (".jsonl", ".json")
    questions: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if jsonl:
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            found = next((row[f] for f in _FIELDS if isinstance(row, dict) and f in row), None)
            if not isinstance(found, str) or not found.strip():
                raise DataError(f"{path}:{number}: field 'query' (or 'question') must be a non-empty string")
            line = found.strip()
        questions.append(line)
    if not questions:
        raise DataError(f"{path}: no questions in it (--anchor-queries)")
    return list(dict.fromkeys(questions))


def mine_candidates(queries: np.ndarray, documents: np.ndarray, k: int, *, block: int = 512) -> np.ndarray:
    """Row indices of each query's ``k`` most similar documents, best first (dot product of normalised vectors).

    Args:
        queries: ``[n, dim]`` base-model query vectors.
        documents: ``[m, dim]`` document vectors (a memory map is read in blocks of queries, never copied whole).
        k: Candidates per query (capped at ``m``).
        block: Queries scored at once.
    """
    k = min(k, documents.shape[0])
    out = np.empty((queries.shape[0], k), dtype=np.int64)
    for start in range(0, queries.shape[0], block):
        scores = np.asarray(queries[start : start + block], dtype=np.float32) @ np.asarray(documents).T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        out[start : start + block] = np.take_along_axis(top, order, axis=1)
    return out


def anchor_examples(
    questions: Sequence[str], query_vectors: np.ndarray, chunks: Sequence[str], chunk_vectors: np.ndarray, k: int
) -> list[Example]:
    """One anchor row per question: its base-model top-``k`` chunks, all tier N2, the question as original query."""
    mined = mine_candidates(query_vectors, chunk_vectors, k)
    return [
        Example(
            query=question,
            chunks=[chunks[j] for j in row],
            tiers=[Tier.NEGATIVE] * len(row),
            id=f"anchor-{i}",
            original_query=question,
        )
        for i, (question, row) in enumerate(zip(questions, mined, strict=True))
    ]
