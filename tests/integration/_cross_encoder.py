"""A real sentence-transformers CrossEncoder built from the bundled all-MiniLM-L6-v2 weights (imported by name).

No cross-encoder weights can be downloaded here, so the tests build one: the bundled BERT body with a freshly
initialised (seeded, untrained) one-output classification head, saved to a folder as any CrossEncoder is. Its
scores are meaningless for relevance; it proves the wiring (loading, batching, reordering, saving, the CLI).
"""

from __future__ import annotations

from pathlib import Path

import torch


def make_cross_encoder(folder: Path, *, seed: int = 0, max_length: int = 128) -> Path:
    """Save an untrained-head CrossEncoder on the bundled model's weights to ``folder`` and return it."""
    from sentence_transformers import CrossEncoder

    from lore_rag.models.encoder import bundled_model_path

    torch.manual_seed(seed)
    model = CrossEncoder(str(bundled_model_path()), num_labels=1, max_length=max_length, device="cpu")
    model.save(str(folder))
    return folder
