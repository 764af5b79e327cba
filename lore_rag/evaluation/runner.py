"""Evaluate several models on several files in one go, sharing the frozen document embeddings."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lore_rag.data.io import expand_paths, read_examples
from lore_rag.defaults import cache_dir
from lore_rag.evaluation.candidates import DEFAULT_KS, evaluate_candidates
from lore_rag.models.doc_cache import DocEmbeddingCache
from lore_rag.models.encoder import LoreEncoder

__all__ = ["evaluate_models", "load_encoders"]

logger = logging.getLogger(__name__)


def load_encoders(specs: Sequence[str | os.PathLike[str]], *, device: str | None = None) -> list[LoreEncoder]:
    """Load ``"raw"``, ``"raw:MODEL"`` or checkpoint folders; checkpoints on one base share its document model."""
    encoders: list[LoreEncoder] = []
    docs: dict[str, Any] = {}
    for spec in specs:
        text = str(spec)
        if text == "raw" or text.startswith("raw:"):
            enc = LoreEncoder.load(text, device=device)
            docs.setdefault(enc.document_fingerprint, enc.document_model)
            if text != "raw":
                enc.name = text
        else:
            from lore_rag.models.checkpoint import read_manifest

            manifest = read_manifest(text)
            shared = docs.get(manifest["base_fingerprint"])
            enc = LoreEncoder.from_checkpoint(text, document_model=shared, device=device)
            docs.setdefault(enc.document_fingerprint, enc.document_model)
            if sum(1 for s in specs if str(s) != "raw") > 1 or enc.name in ("best", "last"):
                enc.name = _label(Path(manifest["path"]), enc.name)
        encoders.append(enc)
    return encoders


def _label(folder: Path, name: str) -> str:
    parts = [p for p in folder.parts[-3:] if p not in ("best", "last")]
    return f"{name} ({'/'.join(parts[-2:])})" if parts else name


def evaluate_models(
    encoders: Sequence[LoreEncoder],
    files: Sequence[str | os.PathLike[str]],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    cache_folder: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Paper-protocol metrics of each encoder on each file.

    Returns:
        ``{file: {model_name: {view: metrics}}}``.
    """
    paths = expand_paths(files)
    folder = cache_folder if cache_folder is not None else cache_dir("doc_embeddings")
    caches: dict[str, DocEmbeddingCache] = {}
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for path in paths:
        examples = read_examples(path)
        out[str(path)] = {}
        for encoder in encoders:
            key = encoder.document_fingerprint
            if key not in caches:
                caches[key] = DocEmbeddingCache(encoder.document_model, folder, show_progress=show_progress)
            metrics = evaluate_candidates(encoder, examples, ks=ks, embed_documents=caches[key].embed)
            out[str(path)][encoder.name] = metrics
            logger.info("%s on %s: %s", encoder.name, path.name, {v: round(m["P@3"], 1) for v, m in metrics.items()})
    return out
