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


class Rows:
    """The one column the sampler reads, as a ``datasets.Dataset`` gives it."""

    def __init__(self, queries):
        self.queries = queries

    def __len__(self):
        return len(self.queries)

    def __getitem__(self, column):
        assert column == "query"
        return self.queries


def test_length_grouping_keeps_every_row_once_and_cuts_padding():
    rng = np.random.default_rng(0)
    queries = ["x" * int(n) for n in rng.integers(5, 200, size=1000)]
    plain = PermutationBatchSampler(Rows(queries), batch_size=8, drop_last=False, seed=1)
    grouped = PermutationBatchSampler(Rows(queries), batch_size=8, drop_last=False, seed=1, group_by_length=True)
    batches = list(grouped)
    assert sorted(_flat(batches)) == list(range(1000)) and len(batches) == len(plain) == 125
    assert batches == list(grouped)  # deterministic: a resumed run replays the same batches

    def padded(sampler):
        return sum(max(len(queries[i]) for i in b) * len(b) for b in sampler)

    assert padded(grouped) < 0.75 * padded(plain)
    grouped.set_epoch(1)
    assert list(grouped) != batches and sorted(_flat(grouped)) == list(range(1000))


def test_length_grouping_keeps_a_short_last_batch_last_or_drops_it():
    queries = ["q" * n for n in range(1, 38)]  # 37 rows, batches of 4: 9 full and one of 1
    grouped = list(PermutationBatchSampler(Rows(queries), batch_size=4, drop_last=False, seed=0, group_by_length=True))
    assert [len(b) for b in grouped] == [4] * 9 + [1]
    dropped = list(PermutationBatchSampler(Rows(queries), batch_size=4, drop_last=True, seed=0, group_by_length=True))
    assert [len(b) for b in dropped] == [4] * 9 and sorted(_flat(dropped)) == sorted(_flat(grouped[:9]))
