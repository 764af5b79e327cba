"""The training data order: one seeded permutation per epoch, in batch slices, split across ranks by accelerate."""

from __future__ import annotations

import numpy as np
from accelerate.data_loader import BatchSamplerShard

from lore_rag.training.data import PermutationBatchSampler


def _flat(batches):
    return [i for batch in batches for i in batch]


def test_an_epoch_is_the_seeded_permutation_in_batch_slices():
    sampler = PermutationBatchSampler(list(range(10)), batch_size=4, drop_last=False, seed=7, generator=None)
    expected = np.random.default_rng(7).permutation(10).tolist()
    assert list(sampler) == [expected[0:4], expected[4:8], expected[8:10]]
    assert len(sampler) == 3
    sampler.set_epoch(2)
    assert _flat(sampler) == np.random.default_rng(9).permutation(10).tolist()
    assert list(PermutationBatchSampler(range(10), batch_size=4, drop_last=True, seed=7)) == [
        expected[0:4],
        expected[4:8],
    ]


def test_the_ranks_take_different_batches_and_together_every_row_once():
    sampler = PermutationBatchSampler(list(range(32)), batch_size=4, drop_last=False, seed=3)
    ranks = [list(BatchSamplerShard(sampler, num_processes=2, process_index=i)) for i in (0, 1)]
    assert sorted(_flat(ranks[0]) + _flat(ranks[1])) == list(range(32))
    assert not set(_flat(ranks[0])) & set(_flat(ranks[1]))
    epoch0 = _flat(sampler)
    sampler.set_epoch(1)
    assert _flat(sampler) != epoch0 and sorted(_flat(sampler)) == list(range(32))
