"""The dataset and collator that feed LoreLoss, and LoreEvaluator, on the bundled model with a handful of rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lore_rag.data.schema import Example, Tier
from lore_rag.evaluation.candidates import evaluate_candidates
from lore_rag.evaluation.evaluator import LoreEvaluator, score_of
from lore_rag.models.doc_cache import DocEmbeddingCache
from lore_rag.models.encoder import LoreEncoder, query_prompt
from lore_rag.training.data import LoreDataCollator, build_dataset

ROWS = [
    Example(
        query="which river flows through the old capital, the one the poet praised?",
        original_query="which river flows through the old capital?",
        chunks=["The Vltava flows through Prague.", "The poet praised the hills.", "Rome has seven hills."],
        tiers=[Tier.POSITIVE, Tier.DISTRACTOR, Tier.NEGATIVE],
    ),
    Example(
        query="who built the bridge?",
        chunks=["Charles IV built the bridge.", "Bridges cross rivers."],
        tiers=[Tier.POSITIVE, Tier.NEGATIVE],
    ),
]


def test_rows_point_into_the_memory_mapped_cache_and_the_collator_rebuilds_the_batch(base_model, tmp_path):
    documents = DocEmbeddingCache(base_model, tmp_path, show_progress=False)
    teacher = DocEmbeddingCache(base_model, tmp_path, show_progress=False, prompt=query_prompt(base_model))
    if teacher.namespace == documents.namespace:  # no query prompt: one cache serves both (as in the trainer)
        teacher = documents
    dataset = build_dataset(ROWS, documents, teacher)
    assert dataset.column_names == ["query", "original_query", "candidates", "tiers", "teacher"]
    matrix = documents.matrix()
    assert isinstance(matrix, np.memmap)
    collator = LoreDataCollator(base_model.preprocess, matrix, teacher.matrix(), query_prompt(base_model), 64)
    batch = collator([dataset[0], dataset[1]])
    labels = batch["label"]
    assert labels["doc_vectors"].shape == (2, 3, matrix.shape[1])
    assert torch.equal(labels["mask"], torch.tensor([[True, True, True], [True, True, False]]))
    assert labels["tiers"][0].tolist() == [Tier.POSITIVE, Tier.DISTRACTOR, Tier.NEGATIVE]
    expected = documents.embed(ROWS[0].chunks)
    assert np.allclose(labels["doc_vectors"][0].numpy(), expected, atol=1e-6)
    assert labels["anchor_rows"].tolist() == [0]  # only the first row has an original query
    assert np.allclose(labels["teacher"][0].numpy(), teacher.embed([ROWS[0].original_query])[0], atol=1e-6)
    assert batch["query_input_ids"].shape[0] == 2 and batch["original_input_ids"].shape[0] == 1


def test_without_a_teacher_no_row_is_anchored(base_model):
    documents = DocEmbeddingCache(base_model, None, show_progress=False)
    dataset = build_dataset(ROWS, documents, None)
    collator = LoreDataCollator(base_model.preprocess, documents.matrix(), None)
    batch = collator([dataset[0], dataset[1]])
    assert "anchor_rows" not in batch["label"] and "original_input_ids" not in batch


def test_evaluator_reports_the_paper_protocol_with_a_primary_metric(base_model):
    documents = DocEmbeddingCache(base_model, None, show_progress=False)
    evaluator = LoreEvaluator(ROWS, embed_documents=documents.embed)
    metrics = evaluator(base_model)
    expected = evaluate_candidates(LoreEncoder(base_model), ROWS, embed_documents=documents.embed)
    assert metrics["lore_rewritten_P@3"] == pytest.approx(expected["rewritten"]["P@3"])
    assert metrics["lore_score"] == pytest.approx(score_of(expected))
    assert evaluator.primary_metric == "lore_score" and evaluator.greater_is_better
    n1 = LoreEvaluator(ROWS, embed_documents=documents.embed, primary_metric="rewritten/N1@3")
    assert not n1.greater_is_better and n1.metric_key == "lore_rewritten_N1@3"
    with pytest.raises(ValueError, match="VIEW/METRIC"):
        LoreEvaluator(ROWS, primary_metric="P@3")
