"""Frozen document embeddings, computed once and cached on disk.

The document encoder never changes during LORE training, so each chunk is embedded once per model and
reused across steps, epochs, runs and seeds. Entries are keyed by the model's weight fingerprint, its
document prompt and maximum sequence length, and the chunk text. Training and evaluation both read it, so it lives
here, below both. :meth:`DocEmbeddingCache.matrix` maps the vectors from disk (``numpy.memmap``), so a training
dataset only carries row numbers and a corpus larger than RAM still trains.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lore_rag._hashing import text_key
from lore_rag.models.loading import autocast, document_prompt, embedding_dim, model_fingerprint

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["DocEmbeddingCache", "text_key"]

logger = logging.getLogger(__name__)


class DocEmbeddingCache:
    """Document embeddings of one frozen model, in memory and (optionally) on disk.

    Args:
        model: The frozen document encoder.
        cache_dir: Folder for the on-disk cache; ``None`` keeps it in memory only.
        batch_size: Encoding batch size.
        show_progress: Show a progress bar while encoding new chunks.
        prompt: Text prepended before encoding; ``None`` is the model's own document prompt. Another prompt
            (e.g. the query prompt, for the base model's query vectors) gets its own namespace.
        precision: ``"fp32"`` or ``"bf16"`` (encoded under bfloat16 autocast, for ``--bf16`` runs). bf16 vectors get
            their own namespace: they never stand in for the fp32 ones an index holds.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 64,
        show_progress: bool = True,
        prompt: str | None = None,
        precision: str = "fp32",
    ) -> None:
        autocast(model, precision)  # checks the name
        self.model = model
        self.precision = precision
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.prompt = document_prompt(model) if prompt is None else prompt
        prompt = self.prompt
        tag = hashlib.sha256(f"{prompt}\x00{model.max_seq_length}".encode()).hexdigest()[:8]
        self.namespace = f"{model_fingerprint(model)}-{tag}" + ("" if precision == "fp32" else f"-{precision}")
        self.folder = Path(cache_dir) / self.namespace if cache_dir is not None else None
        self._index: dict[str, int] = {}
        self._vectors = np.zeros((0, embedding_dim(model)), dtype=np.float32)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self._load()

    def _load(self) -> None:
        if self.folder is None:
            return
        keys_file, vec_file = self.folder / "keys.json", self.folder / "vectors.npy"
        if not (keys_file.is_file() and vec_file.is_file()):
            return
        try:
            keys = json.loads(keys_file.read_text(encoding="utf-8"))
            vectors = np.load(vec_file)
        except (OSError, ValueError) as exc:
            logger.warning("%s: unreadable embedding cache, rebuilding it (%s)", self.folder, exc)
            return
        if len(keys) != len(vectors) or vectors.shape[1:] != self._vectors.shape[1:]:
            logger.warning("%s: inconsistent embedding cache, rebuilding it", self.folder)
            return
        self._index = {k: i for i, k in enumerate(keys)}
        self._vectors = vectors.astype(np.float32, copy=False)
        logger.info("document cache %s: %d embeddings", self.folder, len(keys))

    def _save(self) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        keys: list[str | None] = [None] * len(self._index)
        for key, i in self._index.items():
            keys[i] = key
        # Write both files under temporary names, then rename: a crash never leaves a half-written cache.
        fd, tmp_vec = tempfile.mkstemp(dir=self.folder, suffix=".npy.tmp")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, self._vectors)
        fd, tmp_keys = tempfile.mkstemp(dir=self.folder, suffix=".json.tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(keys, handle)
        os.replace(tmp_vec, self.folder / "vectors.npy")
        os.replace(tmp_keys, self.folder / "keys.json")

    def __len__(self) -> int:
        return len(self._index)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised embeddings of ``texts`` (``[n, dim]``), encoding only those not cached yet."""
        with self._lock:
            keys = [text_key(t) for t in texts]
            missing: dict[str, str] = {}
            for key, text in zip(keys, texts):
                if key not in self._index and key not in missing:
                    missing[key] = text
            self.hits += len(texts) - len(missing)
            self.misses += len(missing)
            if missing:
                logger.info("encoding %d new chunk(s) with the frozen document encoder", len(missing))
                with autocast(self.model, self.precision):
                    new = self.model.encode(
                        list(missing.values()),
                        prompt=self.prompt or None,
                        batch_size=self.batch_size,
                        show_progress_bar=self.show_progress,
                        convert_to_numpy=True,
                        normalize_embeddings=True,
                    )
                new = np.asarray(new, dtype=np.float32)
                start = len(self._index)
                for offset, key in enumerate(missing):
                    self._index[key] = start + offset
                self._vectors = np.concatenate([self._vectors, new], axis=0)
                self._save()
            return self._vectors[[self._index[k] for k in keys]]

    def rows(self, texts: Sequence[str]) -> list[int]:
        """Row numbers of ``texts`` in :meth:`matrix`, encoding the ones not cached yet."""
        self.embed(texts)
        return [self._index[text_key(t)] for t in texts]

    def matrix(self) -> np.ndarray:
        """All cached vectors ``[len(self), dim]``: memory-mapped read-only from disk when the cache has a folder.

        The file is replaced (never rewritten in place) when new chunks arrive, so a map taken earlier stays
        valid and holds the rows it had.
        """
        with self._lock:
            if self.folder is not None and (self.folder / "vectors.npy").is_file():
                mapped = np.load(self.folder / "vectors.npy", mmap_mode="r")
                if len(mapped) == len(self._index):
                    return mapped
            return self._vectors
