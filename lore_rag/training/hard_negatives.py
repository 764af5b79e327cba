"""Hard negatives mined from the training chunks: the corpus-wide competitors a row's own candidates leave out.

A training row scores its query against its own ~10 candidates, but a user's index holds every chunk. What costs
corpus-wide recall after tuning is a chunk from *another* question that the query encoder now ranks above the
evidence. ``--mined-negatives K`` adds to each row the base model's ``K`` most similar training chunks that are not
already among its candidates, as ordinary negatives (N2), so the loss sees those competitors. Mining runs once on
the frozen document cache (a matrix product; no model call beyond embedding the queries), and a step costs the same
forward and backward pass as before: only the candidate list of each row grows.

A chunk with the same text as one of the row's candidates is never mined (texts are unique keys of the cache), so
a positive cannot come back as a negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from lore_rag.data.schema import Example, Tier
from lore_rag.training.anchor_queries import mine_candidates

__all__ = ["add_mined_negatives"]


def add_mined_negatives(
    examples: Sequence[Example],
    query_vectors: np.ndarray,
    chunks: Sequence[str],
    chunk_vectors: np.ndarray,
    k: int,
) -> list[Example]:
    """Each example with its ``k`` most similar chunks of ``chunks`` (not already candidates) appended as N2.

    Args:
        examples: Training rows.
        query_vectors: ``[len(examples), dim]`` base-model vectors of each row's query (normalised).
        chunks: The chunk texts to mine from (the training chunks).
        chunk_vectors: ``[len(chunks), dim]`` their frozen document vectors (normalised).
        k: Mined negatives per row; 0 returns the rows unchanged.

    Returns:
        New rows (the input is not modified); a row keeps every field, with ``k`` more candidates at the end (fewer
        only when the pool has fewer chunks that are not its own candidates).
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if len(query_vectors) != len(examples):
        raise ValueError(f"{len(query_vectors)} query vector(s) for {len(examples)} example(s)")
    if k == 0 or not examples or not chunks:
        return list(examples)
    width = max(len(e.chunks) for e in examples)
    mined = mine_candidates(query_vectors, chunk_vectors, k + width)  # enough to skip every own candidate
    out = []
    for example, row in zip(examples, mined, strict=True):
        own = set(example.chunks)
        extra = [chunks[j] for j in row if chunks[j] not in own][:k]
        out.append(
            replace(
                example,
                chunks=[*example.chunks, *extra],
                tiers=[*example.tiers, *([Tier.NEGATIVE] * len(extra))],
            )
        )
    return out
