"""Test checkpoints made without training, shared by the integration tests (imported by name)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from lore_rag.models.checkpoint import save_checkpoint
from lore_rag.models.encoder import DEFAULT_MODEL, LoreEncoder, model_fingerprint
from lore_rag.models.loading import load_model


def clone(model):
    """An independent copy of ``model``, through a save and a load.

    ``copy.deepcopy`` of a session-scoped model breaks once anything has hung unpicklable state (a lock) on it.
    """
    with tempfile.TemporaryDirectory(prefix="lore-clone-") as folder:
        model.save(folder)
        return load_model(folder)


def perturbed(model, seed: int, scale: float = 0.05):
    """A copy of ``model`` with every weight nudged by seeded noise (a different, valid model)."""
    clone_ = clone(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in clone_.parameters():
            if p.numel() > 1:
                p.add_(torch.randn(p.shape, generator=generator) * scale * p.std())
    clone_._lore_fingerprint = None
    return clone_


def make_checkpoints(root: Path, *, name: str | None = None) -> dict:
    """The raw bundled model, a checkpoint on it (``lore``) and one on another base model (``other``)."""
    raw = LoreEncoder.raw()
    manifest = {"base_model": DEFAULT_MODEL, "base_fingerprint": raw.document_fingerprint}
    if name:
        manifest["name"] = name
    save_checkpoint(perturbed(raw.query_model, 0), root / "lore", manifest, document_model=raw.document_model)
    other_base = perturbed(raw.document_model, 1)
    other_base.save(str(root / "other-base"))
    save_checkpoint(
        perturbed(other_base, 2),
        root / "lore-other",
        {"base_model": str(root / "other-base"), "base_fingerprint": model_fingerprint(other_base)},
        document_model=other_base,
    )
    return {"raw": raw, "lore": root / "lore", "other": root / "lore-other", "root": root}
