"""A cross-encoder reranking stage: a sentence-transformers ``CrossEncoder`` reorders a retriever's top ``fetch_k``.

A bi-encoder (raw or LORE) embeds query and chunk apart, so it is fast but can be fooled by a chunk that shares
the query's words. A cross-encoder reads query and chunk *together* and scores the pair; it is what a team would
try instead of LORE to push distractors down. It is too slow to score a whole index, so it reranks only the top
``fetch_k`` chunks of the first-stage retriever and keeps the best ``k``::

    query ──► bi-encoder (raw or LORE) ──► top fetch_k ──► cross-encoder ──► top k

```python
from lore_rag.retrieval import ChromaStore, Retriever
from lore_rag.retrieval.rerank import Reranker

reranker = Reranker.load("cross-encoder/ms-marco-MiniLM-L6-v2")   # a Hugging Face id or a local folder
hits = Retriever(store, encoder, reranker=reranker, fetch_k=20).search("who directed ...", k=3)
```

Any model sentence-transformers loads as a ``CrossEncoder`` with one output (``num_labels=1``) works. A model
folder that is not a cross-encoder (a bi-encoder such as all-MiniLM-L6-v2, whose config names no
sequence-classification head) is refused: loaded as a ``CrossEncoder`` it would score with a randomly initialised
head, silently.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from lore_rag.errors import ConfigError, DataError, ModelError
from lore_rag.retrieval.store import Hit

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder

__all__ = ["DEFAULT_FETCH_K", "RerankedHit", "Reranker", "check_fetch_k", "open_reranker"]

logger = logging.getLogger(__name__)

#: Chunks the first stage hands to the reranker when nothing else is said.
DEFAULT_FETCH_K = 20

_T = TypeVar("_T")


@dataclass
class RerankedHit(Hit):
    """A :class:`~lore_rag.retrieval.store.Hit` after reranking.

    ``score`` is the cross-encoder's score of the (query, chunk) pair (higher is more relevant; its scale depends
    on the model: a logit, or a probability with a sigmoid head) and ``rank`` the rank after reranking.

    Attributes:
        retrieval_score: The first stage's cosine similarity.
        retrieval_rank: The first stage's rank (1-based).
    """

    retrieval_score: float = 0.0
    retrieval_rank: int = 0


def check_fetch_k(fetch_k: int | None, k: int, *, flag: str = "fetch_k") -> int:
    """The number of chunks to fetch for reranking: ``fetch_k`` (default :data:`DEFAULT_FETCH_K`), at least ``k``.

    Raises:
        ConfigError: for a ``fetch_k`` below 1 or below ``k``.
    """
    if fetch_k is None:
        return max(DEFAULT_FETCH_K, k)
    if int(fetch_k) < 1:
        raise ConfigError(f"{flag} must be at least 1, got {fetch_k}")
    if int(fetch_k) < k:
        raise ConfigError(f"{flag} ({fetch_k}) must be at least the number of chunks kept (k={k})")
    return int(fetch_k)


def _is_cross_encoder_config(architectures: Sequence[str] | None) -> bool:
    return any(str(a).endswith(("ForSequenceClassification", "ForTextRanking")) for a in architectures or ())


def _read_architectures(folder: Path) -> list[str] | None:
    import json

    config = folder / "config.json"
    if not config.is_file():
        return None
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{config}: unreadable model config ({exc})") from None
    value = data.get("architectures") if isinstance(data, dict) else None
    return [str(a) for a in value] if isinstance(value, list) else None


class Reranker:
    """Score (query, chunk) pairs with a sentence-transformers ``CrossEncoder`` and reorder hits by that score.

    Thread-safe: calls on one reranker are serialised (a Hugging Face fast tokenizer must not be used by two
    threads at once).

    Args:
        model: A loaded ``CrossEncoder`` with one output per pair.
        name: Label in tables and the app (default: the model's folder or id).
        batch_size: Pairs per forward pass.

    Raises:
        ModelError: when the model gives more than one score per pair.
    """

    def __init__(self, model: CrossEncoder, *, name: str | None = None, batch_size: int = 32) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        labels = int(getattr(model, "num_labels", 1) or 1)
        if labels != 1:
            raise ModelError(
                f"reranker {name or _model_ref(model)!r} gives {labels} scores per pair; a reranker needs one "
                "(num_labels=1, e.g. cross-encoder/ms-marco-MiniLM-L6-v2)"
            )
        self.model = model
        self.name = name or Path(_model_ref(model)).name or "reranker"
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._fingerprint: str | None = None

    @classmethod
    def load(
        cls,
        name_or_path: str | os.PathLike[str],
        *,
        device: str | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        name: str | None = None,
    ) -> Reranker:
        """Load a cross-encoder by Hugging Face id or local folder.

        Args:
            name_or_path: A local folder, or an id such as ``cross-encoder/ms-marco-MiniLM-L6-v2`` (which needs
                the hub or its local cache; ``HF_HUB_OFFLINE=1`` turns downloads off).
            device: Torch device (default ``"cpu"``).
            batch_size: Pairs per forward pass.
            max_length: Longest (query, chunk) pair in tokens; longer pairs are truncated (default: the model's).
            name: Label in tables (default: the folder name or id).

        Raises:
            ModelError: when the model is missing, cannot be loaded, is not a cross-encoder (its config names no
                sequence-classification head) or gives more than one score per pair.
        """
        from sentence_transformers import CrossEncoder

        text = str(name_or_path).strip()
        if not text:
            raise ModelError("reranker: empty model name; give a cross-encoder id or folder")
        path = Path(text).expanduser()
        local = path.exists()
        if local:
            if not path.is_dir():
                raise ModelError(f"{path}: a reranker must be a model folder (sentence-transformers or Hugging Face)")
            architectures = _read_architectures(path)
            if architectures is not None and not _is_cross_encoder_config(architectures):
                raise ModelError(_not_a_cross_encoder(text, architectures))
            text = str(path.resolve())
        elif text.startswith((".", "/", "~")) or text.count("/") > 1:
            raise ModelError(f"{text}: no such reranker folder")
        kwargs: dict[str, Any] = {"device": device or "cpu"}
        if max_length:
            kwargs["max_length"] = int(max_length)
        try:
            model = CrossEncoder(text, **kwargs)
        except Exception as exc:  # noqa: BLE001 - many loaders, one clear message
            hint = (
                ""
                if local
                else " (not a local folder; as a Hugging Face id it needs network access or the local hub cache, "
                "and HF_HUB_OFFLINE=1 turns off downloads)"
            )
            raise ModelError(f"cannot load reranker {name_or_path!s}{hint}: {exc}") from exc
        if not local:
            architectures = list(getattr(_hf_config(model), "architectures", None) or [])
            if architectures and not _is_cross_encoder_config(architectures):
                raise ModelError(_not_a_cross_encoder(text, architectures))
        return cls(model, name=name or (path.name if local else text), batch_size=batch_size)

    @property
    def fingerprint(self) -> str:
        """Hash of the cross-encoder's weights (16 hex digits), the same wherever it was loaded from."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            module = getattr(self.model, "model", None) or self.model
            state = getattr(module, "state_dict", None)
            digest.update(_model_ref(self.model).encode() if not callable(state) else b"")
            for key, tensor in sorted(state().items() if callable(state) else []):
                digest.update(key.encode())
                digest.update(tensor.detach().cpu().contiguous().float().numpy().tobytes())
            digest.update(str(self.max_length).encode())
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    @property
    def max_length(self) -> int | None:
        """Longest (query, chunk) pair in tokens that the model reads; the rest is truncated."""
        value = getattr(self.model, "max_seq_length", None)
        return int(value) if value else None

    def describe(self) -> dict[str, Any]:
        """Name, fingerprint and settings, for run records and the app."""
        return {
            "name": self.name,
            "model": _model_ref(self.model),
            "fingerprint": self.fingerprint,
            "max_length": self.max_length,
        }

    # ------------------------------------------------------------------ scoring
    def score_pairs(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Cross-encoder scores of ``(query, text)`` pairs, in the given order, shape ``[n]`` float32.

        Pairs are scored in batches of ``batch_size`` (sentence-transformers groups them by length).

        Raises:
            DataError: for a pair that is not two strings.
        """
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
                raise DataError(f"pair {i} is not a (query, text) pair of strings")
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            scores = self.model.predict(
                [(q, t) for q, t in pairs], batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True
            )
        values = np.asarray(scores, dtype=np.float32).reshape(len(pairs), -1)
        if values.shape[1] != 1:
            raise ModelError(f"reranker {self.name!r} gave {values.shape[1]} scores per pair; a reranker needs one")
        return values[:, 0]

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Scores of ``texts`` for one ``query``, shape ``[len(texts)]``."""
        if not isinstance(query, str):
            raise TypeError(f"query must be a string, got {type(query).__name__}")
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not a single string")
        return self.score_pairs([(query, text) for text in texts])

    def score_many(self, queries: Sequence[str], texts_per_query: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Scores of each query's texts, all pairs of all queries batched together.

        Returns:
            One ``[len(texts)]`` array per query.
        """
        if isinstance(queries, str):
            raise TypeError("pass a list of queries, not a single string")
        if len(queries) != len(texts_per_query):
            raise ValueError(f"{len(queries)} queries but {len(texts_per_query)} lists of texts")
        pairs = [(q, t) for q, texts in zip(queries, texts_per_query, strict=True) for t in texts]
        flat = self.score_pairs(pairs)
        out: list[np.ndarray] = []
        start = 0
        for texts in texts_per_query:
            out.append(flat[start : start + len(texts)])
            start += len(texts)
        return out

    # ------------------------------------------------------------------ reordering
    def rank(self, query: str, texts: Sequence[str], k: int | None = None) -> list[tuple[int, float]]:
        """``(index into texts, score)`` of the best ``k`` texts (all when ``None``), best first; ties keep order."""
        return _top(self.score(query, texts), k)

    def rerank(self, query: str, hits: Sequence[Hit], k: int | None = None) -> list[RerankedHit]:
        """The best ``k`` of ``hits`` (all when ``None``) by cross-encoder score, ranks renumbered from 1."""
        return self.rerank_many([query], [hits], k)[0]

    def rerank_many(
        self, queries: Sequence[str], hits_per_query: Sequence[Sequence[Hit]], k: int | None = None
    ) -> list[list[RerankedHit]]:
        """:meth:`rerank` for many queries, every (query, hit) pair scored in one batched pass."""
        scores = self.score_many(queries, [[h.text for h in hits] for hits in hits_per_query])
        out: list[list[RerankedHit]] = []
        for hits, row in zip(hits_per_query, scores, strict=True):
            out.append([_reranked(hits[i], score, rank) for rank, (i, score) in enumerate(_top(row, k), start=1)])
        return out

    def reorder(self, query: str, items: Sequence[_T], texts: Sequence[str], k: int | None = None) -> list[_T]:
        """The best ``k`` of any ``items`` (documents, nodes...) whose texts are ``texts``, best first."""
        if len(items) != len(texts):
            raise ValueError(f"{len(items)} items but {len(texts)} texts")
        return [items[i] for i, _ in self.rank(query, texts, k)]


def open_reranker(
    model: str | os.PathLike[str] | Reranker, *, device: str | None = None, batch_size: int = 32
) -> tuple[Reranker, str]:
    """A reranker given as a model reference or already loaded, and the name to show for it.

    The framework wrappers (LangChain's document compressor, LlamaIndex's node postprocessor) take either form.

    Args:
        model: A Hugging Face id or local folder of a cross-encoder, or a loaded :class:`Reranker`.
        device: Torch device when ``model`` is loaded here.
        batch_size: Pairs per forward pass when ``model`` is loaded here.

    Raises:
        ModelError: for a model that cannot be loaded or is not a cross-encoder.
    """
    if isinstance(model, Reranker):
        return model, str(model.describe()["model"])
    return Reranker.load(model, device=device, batch_size=batch_size), str(model)


def _top(scores: np.ndarray, k: int | None) -> list[tuple[int, float]]:
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    if k is not None:
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        order = order[:k]
    return [(int(i), float(scores[i])) for i in order]


def _reranked(hit: Hit, score: float, rank: int) -> RerankedHit:
    if isinstance(hit, RerankedHit):
        first_score, first_rank = hit.retrieval_score, hit.retrieval_rank
    else:
        first_score, first_rank = hit.score, hit.rank
    base = Hit(id=hit.id, text=hit.text, score=score, rank=rank, metadata=dict(hit.metadata))
    return RerankedHit(**vars(replace(base)), retrieval_score=first_score, retrieval_rank=first_rank)


def _hf_config(model: Any) -> Any:
    config = getattr(model, "config", None)
    if config is None:
        config = getattr(getattr(model, "model", None), "config", None)
    return config


def _model_ref(model: Any) -> str:
    config = _hf_config(model)
    ref = getattr(config, "_name_or_path", None) or getattr(config, "name_or_path", None)
    return str(ref or type(model).__name__)


def _not_a_cross_encoder(ref: str, architectures: Sequence[str]) -> str:
    return (
        f"{ref} is not a cross-encoder: its config names {', '.join(architectures)}, no sequence-classification "
        "head, so a CrossEncoder built from it would score with random weights. Pass a trained reranker such as "
        "cross-encoder/ms-marco-MiniLM-L6-v2 (or a folder holding one)"
    )
