"""--mined-negatives: each row gets the base model's most similar other training chunks as extra N2 candidates."""

from __future__ import annotations

import numpy as np
import pytest

from lore_rag.data.schema import Example, Tier
from lore_rag.training.hard_negatives import add_mined_negatives


def _unit(rows):
    vectors = np.asarray(rows, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


CHUNKS = ["gold a", "distractor a", "other a", "near a", "far", "gold b", "near b"]
# chunk vectors on 3 axes: "a" things along x, "b" things along y, "far" along z
CHUNK_VECTORS = _unit([[1, 0, 0], [0.9, 0.1, 0], [0.8, 0.2, 0], [0.95, 0.05, 0], [0, 0, 1], [0, 1, 0], [0.1, 0.9, 0]])


def _rows():
    a = Example(
        query="qa",
        chunks=["gold a", "distractor a", "other a"],
        tiers=[Tier.POSITIVE, Tier.DISTRACTOR, Tier.NEGATIVE],
        id="a",
        original_query="plain a",
        used_distractors=[1],
    )
    b = Example(query="qb", chunks=["gold b", "far"], tiers=[Tier.POSITIVE, Tier.NEGATIVE], id="b")
    return [a, b]


def test_rows_gain_their_nearest_other_chunks_as_n2_best_first_and_keep_every_field():
    rows = _rows()
    mined = add_mined_negatives(rows, _unit([[1, 0, 0], [0, 1, 0]]), CHUNKS, CHUNK_VECTORS, 2)
    a, b = mined
    # row a: its own three candidates are skipped; "near a" is closest, then "near b" (0.1 on x) beats "far"/"gold b"
    assert a.chunks == ["gold a", "distractor a", "other a", "near a", "near b"]
    assert a.tiers == [Tier.POSITIVE, Tier.DISTRACTOR, Tier.NEGATIVE, Tier.NEGATIVE, Tier.NEGATIVE]
    assert (a.id, a.original_query, a.used_distractors) == ("a", "plain a", [1])
    assert b.chunks == ["gold b", "far", "near b", "other a"]
    assert rows[0].chunks == ["gold a", "distractor a", "other a"]  # the input rows are not modified


def test_a_chunk_with_a_candidates_text_is_never_mined_and_zero_is_a_no_op():
    rows = _rows()
    mined = add_mined_negatives(rows, _unit([[1, 0, 0], [0, 1, 0]]), CHUNKS, CHUNK_VECTORS, 10)
    for before, after in zip(rows, mined, strict=True):
        new = after.chunks[len(before.chunks) :]
        assert not set(new) & set(before.chunks) and len(new) == len(set(new))
        assert len(new) == len(CHUNKS) - len(before.chunks)  # the pool runs out before k
    assert add_mined_negatives(rows, np.zeros((2, 3), np.float32), CHUNKS, CHUNK_VECTORS, 0) == rows


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="k must be >= 0"):
        add_mined_negatives(_rows(), np.zeros((2, 3), np.float32), CHUNKS, CHUNK_VECTORS, -1)
    with pytest.raises(ValueError, match="1 query vector"):
        add_mined_negatives(_rows(), np.zeros((1, 3), np.float32), CHUNKS, CHUNK_VECTORS, 1)
