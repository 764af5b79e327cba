"""Pad a batch of examples into ``[batch, max_chunks]`` tensors for the loss."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lore_rag.data.schema import Example, Tier

__all__ = ["CandidateBatch", "collate"]


@dataclass
class CandidateBatch:
    """Document side of a batch: frozen chunk vectors, tiers and padding mask.

    Attributes:
        doc_vectors: ``[batch, max_chunks, dim]`` normalised document embeddings (zeros in padding).
        tiers: ``[batch, max_chunks]`` tier values (``Tier.NEGATIVE`` in padding).
        mask: ``[batch, max_chunks]`` True for real candidates.
    """

    doc_vectors: torch.Tensor
    tiers: torch.Tensor
    mask: torch.Tensor


def collate(examples: Sequence[Example], chunk_vectors: Sequence[np.ndarray]) -> CandidateBatch:
    """Stack each example's candidate vectors (``[n_chunks, dim]`` each) into padded tensors."""
    if len(examples) != len(chunk_vectors):
        raise ValueError(f"{len(examples)} examples but {len(chunk_vectors)} vector blocks")
    width = max(len(e.chunks) for e in examples)
    dim = chunk_vectors[0].shape[1]
    docs = np.zeros((len(examples), width, dim), dtype=np.float32)
    tiers = np.full((len(examples), width), int(Tier.NEGATIVE), dtype=np.int64)
    mask = np.zeros((len(examples), width), dtype=bool)
    for row, (example, vectors) in enumerate(zip(examples, chunk_vectors)):
        n = len(example.chunks)
        docs[row, :n] = vectors
        tiers[row, :n] = [int(t) for t in example.tiers]
        mask[row, :n] = True
    return CandidateBatch(torch.from_numpy(docs), torch.from_numpy(tiers), torch.from_numpy(mask))
