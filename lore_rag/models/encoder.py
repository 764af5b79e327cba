"""Pair a tuned query encoder with its original document encoder: :class:`LoreEncoder`.

Loading, fingerprinting and prompts live in :mod:`lore_rag.models.loading` and checkpoint folders in
:mod:`lore_rag.models.checkpoint`; their public names are re-exported here, where they have always been imported from.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lore_rag.defaults import DEFAULT_MODEL, bundled_model_path
from lore_rag.errors import ConfigError, ModelError
from lore_rag.models.checkpoint import load_checkpoint_models
from lore_rag.models.loading import (
    autocast,
    document_prompt,
    embedding_dim,
    folder_fingerprint,
    load_model,
    model_fingerprint,
    query_prompt,
    resolve_device,
    resolve_model,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "DEFAULT_MODEL",
    "LoreEncoder",
    "bundled_model_path",
    "document_prompt",
    "embedding_dim",
    "folder_fingerprint",
    "load_checkpoint",
    "load_model",
    "model_fingerprint",
    "query_prompt",
    "resolve_device",
    "resolve_model",
]

logger = logging.getLogger(__name__)


def _encode(
    model: SentenceTransformer,
    texts: Sequence[str],
    prompt: str,
    *,
    batch_size: int,
    show_progress: bool | None,
    lock: threading.Lock,
    task: str | None = None,
    precision: str = "fp32",
) -> np.ndarray:
    if isinstance(texts, str):
        raise TypeError("pass a list of strings, not a single string")
    if not texts:
        dim = embedding_dim(model) or 0
        return np.zeros((0, dim), dtype=np.float32)
    if show_progress is None:
        show_progress = len(texts) > 256
    extra: dict[str, Any] = {}
    if task is not None and _has_router(model):
        extra["task"] = task
    with lock, autocast(model, precision):
        vectors = model.encode(
            list(texts),
            **extra,
            prompt=prompt or None,
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
    return np.asarray(vectors, dtype=np.float32)


def _has_router(model: SentenceTransformer) -> bool:
    """True for a model whose first module routes by task (a query/document ``Router`` model)."""
    try:
        return type(model[0]).__name__ == "Router"
    except (IndexError, TypeError, KeyError):
        return False


class LoreEncoder:
    """A query encoder and a document encoder that share one embedding space.

    For a LORE checkpoint the query side is the tuned model and the document side is the original base
    model it was trained from, so an index built with the base model stays valid. For the raw model both
    sides are the same object.

    Args:
        query_model: Encoder for queries.
        document_model: Encoder for documents; ``None`` means the same as ``query_model``.
        name: Label used in tables and the app.
        manifest: The checkpoint manifest, when loaded from one.
        batch_size: Encoding batch size.
        precision: ``"fp32"`` or ``"bf16"`` (both sides encode under bfloat16 autocast, as in a ``--bf16`` run;
            document caches keep such vectors apart from the fp32 ones).
    """

    def __init__(
        self,
        query_model: SentenceTransformer,
        document_model: SentenceTransformer | None = None,
        *,
        name: str = "model",
        manifest: dict[str, Any] | None = None,
        batch_size: int = 64,
        precision: str = "fp32",
    ) -> None:
        autocast(query_model, precision)  # checks the name
        self.precision = precision
        self.query_model = query_model
        self.document_model = document_model if document_model is not None else query_model
        self.name = name
        self.manifest = manifest or {}
        self.batch_size = batch_size
        self._query_lock = threading.Lock()
        self._doc_lock = self._query_lock if self.document_model is query_model else threading.Lock()
        if self.query_dim != self.dim:
            raise ModelError(f"query encoder gives {self.query_dim}-d vectors but the document encoder {self.dim}-d")

    @property
    def dim(self) -> int:
        """Embedding dimension of the document side (and so of the index)."""
        return embedding_dim(self.document_model)

    @property
    def query_dim(self) -> int:
        """Embedding dimension of the query side."""
        return embedding_dim(self.query_model)

    @property
    def is_raw(self) -> bool:
        """True when one model serves both sides."""
        return self.document_model is self.query_model

    @property
    def document_fingerprint(self) -> str:
        """Fingerprint of the document encoder: what an index built with it records."""
        return model_fingerprint(self.document_model)

    def embed_queries(
        self, queries: Sequence[str], *, show_progress: bool | None = None, batch_size: int | None = None
    ) -> np.ndarray:
        """L2-normalised query vectors from the (tuned) query encoder, shape ``[n, dim]``."""
        return _encode(
            self.query_model,
            queries,
            query_prompt(self.query_model),
            batch_size=batch_size or self.batch_size,
            show_progress=show_progress,
            lock=self._query_lock,
            task="query",
            precision=self.precision,
        )

    def embed_documents(
        self, documents: Sequence[str], *, show_progress: bool | None = None, batch_size: int | None = None
    ) -> np.ndarray:
        """L2-normalised document vectors from the original document encoder, shape ``[n, dim]``."""
        return _encode(
            self.document_model,
            documents,
            document_prompt(self.document_model),
            batch_size=batch_size or self.batch_size,
            show_progress=show_progress,
            lock=self._doc_lock,
            task="document",
            precision=self.precision,
        )

    @classmethod
    def raw(cls, model: str | os.PathLike[str] | None = None, **kwargs: Any) -> LoreEncoder:
        """The untuned model on both sides, for comparison (``model=None`` is the bundled default)."""
        name = kwargs.pop("name", None) or "raw"
        device = kwargs.pop("device", None)
        return cls(load_model(model, device=device), name=name, **kwargs)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike[str],
        *,
        document_model: str | os.PathLike[str] | SentenceTransformer | None = None,
        device: str | None = None,
        **kwargs: Any,
    ) -> LoreEncoder:
        """Load a LORE checkpoint: its query encoder plus the base model named in its manifest.

        Args:
            path: The checkpoint folder (a training output folder, or its ``best/`` or ``last/``).
            document_model: Override of the document encoder (model reference or loaded model), for a base
                model that moved; its fingerprint must match the manifest's.
            device: Torch device.
            **kwargs: Passed to the constructor (``name``, ``batch_size``).

        Raises:
            ModelError: for a missing checkpoint or a document encoder that is not the one it was trained from.
        """
        return load_checkpoint(path, document_model=document_model, device=device, encoder_cls=cls, **kwargs)

    @classmethod
    def load(
        cls,
        spec: str | os.PathLike[str] | None,
        *,
        document_model: str | os.PathLike[str] | SentenceTransformer | None = None,
        **kwargs: Any,
    ) -> LoreEncoder:
        """The one rule for "a model spec plus an optional document model", used by the CLI and the integrations.

        Args:
            spec: ``"raw"`` / ``None`` for the raw default model, ``"raw:MODEL"`` for another raw model, else a
                LORE checkpoint folder.
            document_model: For a checkpoint only: its base model, when it is not where the manifest says.
            **kwargs: ``device``, ``name``, ``batch_size``.

        Raises:
            ConfigError: for a ``document_model`` with a raw spec (a raw model is its own document model).
            ModelError: for a model or checkpoint that cannot be loaded.
        """
        text = "raw" if spec is None else str(spec)
        if text == "raw" or text.startswith("raw:"):
            if document_model is not None:
                raise ConfigError(
                    f"document model {document_model!s} given with {text}: a document model is for a LORE checkpoint; "
                    "a raw model is its own (name another one as raw:PATH)"
                )
            return cls.raw(text[4:] or None, **kwargs)
        return cls.from_checkpoint(text, document_model=document_model, **kwargs)


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    document_model: str | os.PathLike[str] | SentenceTransformer | None = None,
    device: str | None = None,
    encoder_cls: type[LoreEncoder] | None = None,
    **kwargs: Any,
) -> LoreEncoder:
    """Load the checkpoint at ``path`` as a :class:`LoreEncoder` (tuned query side, base document side).

    Args:
        path: The checkpoint folder (a training output folder, or its ``best/`` or ``last/``).
        document_model: Override of the document encoder; its fingerprint must match the manifest's.
        device: Torch device.
        encoder_cls: The class to build (a :class:`LoreEncoder` subclass); ``None`` for :class:`LoreEncoder`.
        **kwargs: Passed to the constructor (``name``, ``batch_size``).

    Raises:
        ModelError: if the checkpoint is missing, or the document encoder found is not the base model the
            checkpoint was trained from (compared by weight fingerprint).
    """
    models = load_checkpoint_models(path, document_model=document_model, device=device)
    name = kwargs.pop("name", None) or models.name
    return (encoder_cls or LoreEncoder)(models.query, models.document, name=name, manifest=models.manifest, **kwargs)
