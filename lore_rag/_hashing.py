"""The content hashes lore-rag keys things by: one function per kind, so every caller gets the same digest.

These values name things on disk (Chroma ids, document-cache rows, run identities), so they never change.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["file_sha256", "text_key"]

_BLOCK = 1 << 20


def text_key(text: str) -> str:
    """Stable key of a chunk text: the first 32 hex digits of the sha256 of its UTF-8 bytes.

    It is both a chunk's Chroma id (:func:`lore_rag.retrieval.chunking.chunk_id`) and its row key in the
    document-embedding cache (:func:`lore_rag.models.doc_cache.text_key`).
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes (64 hex digits), read in 1 MiB blocks so any size fits in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
