"""Shared fixtures: the bundled model (loaded once per session) and paths to ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repository (skips the test where it is absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not found")
    return SHARED_DATA


@pytest.fixture(scope="session")
def base_model():
    """The bundled all-MiniLM-L6-v2 model, loaded once."""
    from lore_rag.models.encoder import load_model

    return load_model(None)


@pytest.fixture(scope="session")
def raw_encoder(base_model):
    """The raw model as a LoreEncoder (one model on both sides)."""
    from lore_rag.models.encoder import LoreEncoder

    return LoreEncoder(base_model, name="raw")


@pytest.fixture(scope="session")
def lore_checkpoint(tmp_path_factory, shared_data) -> Path:
    """A real LORE checkpoint: a few optimiser steps of the trainer on a slice of the shared train set."""
    from lore_rag.data.io import read_examples, write_examples
    from lore_rag.training.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("lore_ckpt")
    rows = read_examples(shared_data / "lore" / "train.jsonl")[:48]
    write_examples(rows, root / "train.jsonl")
    result = train(
        TrainConfig(
            train_files=[str(root / "train.jsonl")],
            output_dir=str(root / "run"),
            batch_size=16,
            lr=5e-5,
            max_steps=3,
            anchor_weight=0.0,
            cache_dir=str(root / "cache"),
            show_progress=False,
        )
    )
    return result.best
