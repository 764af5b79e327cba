"""Tiered rows -> a ``datasets.Dataset`` whose rows point at their precomputed candidate vectors, and its collator.

A row holds the query text, the original query (``""`` when the row has none), the row numbers of its chunks in
the frozen document cache, their tiers, and the row number of the base model's vector of its original query.
The collator tokenises the query texts with the model's own ``preprocess`` (which knows where a prompt ends) and
gathers the candidate vectors from the memory-mapped cache, so only the batch's vectors are ever in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from lore_rag.data.schema import Example, Tier
from lore_rag.models.doc_cache import DocEmbeddingCache

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["COLUMNS", "GROUP_WINDOW", "LoreDataCollator", "PermutationBatchSampler", "build_dataset"]

#: Columns of a LORE training dataset, in the order the collator reads them.
COLUMNS = ("query", "original_query", "candidates", "tiers", "teacher")


def build_dataset(
    examples: Sequence[Example], documents: DocEmbeddingCache, teacher: DocEmbeddingCache | None = None
) -> Dataset:
    """The training dataset for ``examples``, embedding any chunk (and original query) the caches lack.

    Args:
        examples: Tiered rows.
        documents: Cache of the frozen document encoder's vectors.
        teacher: Cache of the base model's query vectors (query prompt), for the anchor; ``None``: no anchor.
    """
    from datasets import Dataset

    chunks = list(dict.fromkeys(c for e in examples for c in e.chunks))
    index = dict(zip(chunks, documents.rows(chunks)))
    originals = [e.original_query for e in examples if e.original_query] if teacher is not None else []
    teacher_index: dict[str, int] = {}
    if originals:
        unique = list(dict.fromkeys(originals))
        teacher_index = dict(zip(unique, teacher.rows(unique)))  # type: ignore[union-attr]
    return Dataset.from_dict(
        {
            "query": [e.query for e in examples],
            "original_query": [(e.original_query or "") if teacher is not None else "" for e in examples],
            "candidates": [[index[c] for c in e.chunks] for e in examples],
            "tiers": [[int(t) for t in e.tiers] for e in examples],
            "teacher": [teacher_index.get(e.original_query or "", -1) for e in examples],
        }
    )


#: With length grouping, rows are sorted by query length within windows of this many batches.
GROUP_WINDOW = 16


class PermutationBatchSampler(torch.utils.data.BatchSampler):
    """Epoch ``e`` visits the rows in ``numpy.random.default_rng(seed + e).permutation(n)``, in slices of a batch.

    The order lore-rag has always trained in (its published tables were measured with it), independent of torch's
    random state, so dropout draws and data order do not disturb each other, and resuming at any step of an epoch
    replays the same batches. The Trainer calls :meth:`set_epoch`; under ``torchrun`` accelerate hands consecutive
    batches of this order to the ranks in turn. Built by ``SentenceTransformerTrainer`` as
    ``PermutationBatchSampler(dataset, batch_size=..., drop_last=..., seed=..., ...)``.

    With ``group_by_length`` (``lore-rag train --group-by-length``) the same permutation is cut into windows of
    :data:`GROUP_WINDOW` batches, each window sorted by query length (characters) and sliced into batches, and the
    full batches are visited in a second seeded random order (a short last batch stays last): every row once per
    epoch as before, with a third less padding on the bundled data. The loss of a row never looks at the other rows
    of its batch, so only which rows share an optimiser step changes.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        drop_last: bool,
        seed: int = 0,
        group_by_length: bool = False,
        **_: Any,
    ) -> None:
        super().__init__(range(len(dataset)), batch_size=batch_size, drop_last=drop_last)
        self.n_rows = len(dataset)
        self.seed = seed
        self.epoch = 0
        self.lengths = np.asarray([len(q) for q in dataset["query"]]) if group_by_length else None

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order from the next iteration on."""
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """This epoch's batches, in order (the last one short unless ``drop_last``)."""
        rng = np.random.default_rng(self.seed + self.epoch)
        order = rng.permutation(self.n_rows)
        if self.lengths is not None:
            window = self.batch_size * GROUP_WINDOW
            order = np.concatenate(
                [
                    part[np.argsort(self.lengths[part], kind="stable")]
                    for part in np.split(order, range(window, len(order), window))
                ]
            )
        out = [order[start : start + self.batch_size].tolist() for start in range(0, len(order), self.batch_size)]
        if out and len(out[-1]) < self.batch_size and self.drop_last:
            out.pop()
        if self.lengths is not None:
            full = len(out) - (1 if out and len(out[-1]) < self.batch_size else 0)
            out[:full] = [out[i] for i in rng.permutation(full)]
        return out

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches()


@dataclass
class LoreDataCollator:
    """Turn dataset rows into the model inputs and the ``labels`` dict :class:`~lore_rag.losses.LoreLoss` reads.

    Args:
        preprocess_fn: The model's ``preprocess`` (tokenises and handles the prompt).
        documents: ``[n, dim]`` candidate vectors (a ``numpy.memmap`` of the document cache).
        teachers: ``[m, dim]`` base-model query vectors for the anchor, or ``None``.
        query_prompt: Prompt prepended to every query (the model's ``query`` prompt unless overridden).
        max_length: Token limit of the queries during training (``None``: the model's own).
    """

    preprocess_fn: Callable[..., dict[str, Any]]
    documents: np.ndarray
    teachers: np.ndarray | None = None
    query_prompt: str = ""
    max_length: int | None = None
    valid_label_columns: list[str] = field(default_factory=list)

    def _tokenise(self, texts: list[str]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"prompt": self.query_prompt or None}
        if self.max_length is not None:
            kwargs["max_length"] = self.max_length
        try:
            return self.preprocess_fn(texts, **kwargs)
        except TypeError:  # a preprocess without max_length
            kwargs.pop("max_length", None)
            return self.preprocess_fn(texts, **kwargs)

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """One batch: ``query_*`` and ``original_*`` features and ``label`` (a dict of tensors)."""
        width = max(len(r["candidates"]) for r in rows)
        dim = self.documents.shape[1]
        docs = np.zeros((len(rows), width, dim), dtype=np.float32)
        tiers = np.full((len(rows), width), int(Tier.NEGATIVE), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=bool)
        for i, row in enumerate(rows):
            n = len(row["candidates"])
            docs[i, :n] = self.documents[np.asarray(row["candidates"], dtype=np.int64)]
            tiers[i, :n] = row["tiers"]
            mask[i, :n] = True
        batch: dict[str, Any] = {}
        for key, value in self._tokenise([r["query"] for r in rows]).items():
            batch[f"query_{key}"] = value
        label: dict[str, torch.Tensor] = {
            "doc_vectors": torch.from_numpy(docs),
            "tiers": torch.from_numpy(tiers),
            "mask": torch.from_numpy(mask),
        }
        anchored = [i for i, r in enumerate(rows) if r.get("original_query") and r.get("teacher", -1) >= 0]
        if anchored and self.teachers is not None:
            for key, value in self._tokenise([rows[i]["original_query"] for i in anchored]).items():
                batch[f"original_{key}"] = value
            ids = np.asarray([rows[i]["teacher"] for i in anchored], dtype=np.int64)
            label["anchor_rows"] = torch.tensor(anchored, dtype=torch.long)
            label["teacher"] = torch.from_numpy(np.asarray(self.teachers[ids], dtype=np.float32))
        batch["label"] = label
        return batch
