"""Every training config shipped in recipes/configs/ is accepted by `lore-rag train --config` as it is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lore_rag.cli import _apply_config, build_parser
from lore_rag.config import config_from_args
from lore_rag.training.args import TrainConfig

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "recipes" / "configs").glob("train_*.yaml"))


def test_there_are_training_configs():
    shipped = {"train_paper.yaml", "train_hard_negatives.yaml", "train_no_hard_negatives.yaml"}
    assert {p.name for p in CONFIGS} >= shipped


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_key_reaches_train_config(path):
    args = _apply_config(build_parser(), ["train", "--config", str(path)])
    config = config_from_args(TrainConfig, args)
    for key, value in yaml.safe_load(path.read_text(encoding="utf-8")).items():
        assert getattr(config, key) == value, key
