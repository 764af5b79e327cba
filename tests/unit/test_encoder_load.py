"""LoreEncoder.load: the one rule for a model spec plus an optional document model (CLI and integrations)."""

from __future__ import annotations

import pytest

from lore_rag.errors import ConfigError
from lore_rag.models.encoder import LoreEncoder


@pytest.mark.parametrize("spec", ["raw", "raw:/models/minilm", None])
def test_a_document_model_with_a_raw_spec_is_refused_before_anything_loads(spec: str | None) -> None:
    with pytest.raises(ConfigError, match="a document model is for a LORE checkpoint"):
        LoreEncoder.load(spec, document_model="/models/base")
