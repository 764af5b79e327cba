"""``LoreLoss``: the LORE objective as a sentence-transformers loss, for ``SentenceTransformerTrainer``.

Only the query side runs through the model: the candidates' vectors come precomputed from the frozen document
encoder (the collator of :mod:`lore_rag.training.data` gathers them from the memory-mapped document cache), so a
step costs one forward and backward pass over the batch's queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from lore_rag.data.schema import Tier
from lore_rag.losses.tiered_infonce import _check, compute_loss

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["LoreLoss", "anchor_kl"]

CITATION = """@misc{lore2026,
    title = {LORE: Logic-ORiented Retriever Enhancement},
    year = {2026},
    eprint = {2602.01116},
    archivePrefix = {arXiv},
    primaryClass = {cs.IR},
}"""


def anchor_kl(
    student: torch.Tensor, teacher: torch.Tensor, docs: torch.Tensor, mask: torch.Tensor, *, tau: float
) -> torch.Tensor:
    """Mean KL from the base model's ranking of each row's candidates to the tuned model's (softmax over s/tau).

    Args:
        student: ``[rows, dim]`` tuned-model embeddings of the original queries (normalised).
        teacher: ``[rows, dim]`` base-model embeddings of the same queries (normalised).
        docs: ``[rows, max_chunks, dim]`` candidate vectors of those rows.
        mask: ``[rows, max_chunks]`` True for real candidates.
        tau: Temperature.
    """
    s_student = torch.einsum("bd,bcd->bc", student, docs) / tau
    s_teacher = torch.einsum("bd,bcd->bc", teacher, docs) / tau
    neg_inf = torch.finfo(s_student.dtype).min
    log_q = torch.log_softmax(s_student.masked_fill(~mask, neg_inf), dim=1)
    p = torch.softmax(s_teacher.masked_fill(~mask, neg_inf), dim=1)
    log_p = torch.log(p.clamp_min(1e-12))
    return ((p * (log_p - log_q)) * mask).sum(dim=1).mean()


class LoreLoss(nn.Module):
    r"""Tier-weighted InfoNCE over each query's own candidates, plus the original-query anchor.

    With :math:`s_k = \cos(M_q(q), M_d(c_k))` and logits :math:`s_k/\tau` (P), :math:`s_k/\tau + \log\beta` (N1),
    :math:`s_k/\tau + \log\alpha` (N2), the LORE term is
    :math:`L(q) = -\frac{1}{|P|}\sum_{k\in P} \log \frac{e^{l_k}}{e^{l_k} + \sum_{t\in N_1\cup N_2} e^{l_t}}`
    (:func:`~lore_rag.losses.tiered_infonce.compute_loss`; arXiv 2602.01116, Sec. 3.2). Plain InfoNCE is
    ``alpha = beta = 1``. For rows with an original (un-rewritten) query, the anchor adds
    ``anchor_weight * KL(p_base || p_tuned)`` over that row's candidates, which keeps normal questions ranked as the
    base model ranks them. With ``l2sp_weight`` > 0, L2-SP (Li et al., ICML 2018, "Explicit inductive bias for
    transfer learning") adds ``l2sp_weight * sum((w - w_base)^2)`` over the trainable weights, with ``w_base`` the
    weights when the loss was built: a pull toward the base model that needs no data.

    Inputs (what :class:`~lore_rag.training.data.LoreDataCollator` produces):

    - ``sentence_features[0]``: the (rewritten) queries; ``sentence_features[1]``, when present: the original
      queries of the anchored rows.
    - ``labels``: a dict with ``doc_vectors`` ``[batch, max_chunks, dim]``, ``tiers`` and ``mask``
      ``[batch, max_chunks]``, and for the anchor ``anchor_rows`` ``[rows]`` and ``teacher`` ``[rows, dim]``.

    Returns the terms by name (``lore``; with anchored rows ``anchor``; with L2-SP ``l2sp``) so the trainer logs each
    one.

    Args:
        model: The query encoder being trained.
        tau: Temperature.
        alpha: Weight of ordinary negatives (N2).
        beta: Weight of distractors (N1); must exceed ``alpha`` for LORE.
        anchor_weight: Weight of the original-query anchor; 0 turns it off (the paper's objective).
        l2sp_weight: Weight of the L2-SP pull toward the starting weights; 0 turns it off.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        tau: float = 0.05,
        alpha: float = 1.0,
        beta: float = 3.0,
        anchor_weight: float = 1.0,
        l2sp_weight: float = 0.0,
    ) -> None:
        super().__init__()
        _check(tau, alpha, beta)
        if anchor_weight < 0:
            raise ValueError(f"anchor_weight must be >= 0, got {anchor_weight}")
        if not l2sp_weight >= 0:
            raise ValueError(f"l2sp_weight must be >= 0, got {l2sp_weight}")
        self.model = model
        self.tau = tau
        self.alpha = alpha
        self.beta = beta
        self.anchor_weight = anchor_weight
        self.l2sp_weight = l2sp_weight
        # the starting point of L2-SP: a frozen copy of the trainable weights (not a parameter, not in state_dict)
        self._start: list[tuple[torch.Tensor, torch.Tensor]] = (
            [(p, p.detach().clone()) for p in model.parameters() if p.requires_grad] if l2sp_weight > 0 else []
        )
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    @classmethod
    def infonce(cls, model: SentenceTransformer, tau: float = 0.05, anchor_weight: float = 1.0) -> LoreLoss:
        """Plain InfoNCE on the same data: every negative weighs the same (alpha = beta = 1)."""
        return cls(model, tau=tau, alpha=1.0, beta=1.0, anchor_weight=anchor_weight)

    def embed(self, features: dict[str, Any]) -> torch.Tensor:
        """Normalised sentence embeddings of one feature dict (differentiable)."""
        return F.normalize(self.model(features)["sentence_embedding"].float(), p=2, dim=-1)

    def forward(
        self, sentence_features: Iterable[dict[str, Any]], labels: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """The loss terms by name; see the class docstring for the inputs."""
        features = list(sentence_features)
        queries = self.embed(features[0])
        docs = labels["doc_vectors"].to(queries.dtype)
        tiers, mask = labels["tiers"], labels["mask"].bool()
        scores = torch.einsum("bd,bcd->bc", queries, docs)
        terms = {"lore": compute_loss(scores, tiers, mask, tau=self.tau, alpha=self.alpha, beta=self.beta)}
        self._record(scores.detach(), tiers, mask)
        rows = labels.get("anchor_rows")
        if self.anchor_weight > 0 and len(features) > 1 and rows is not None and rows.numel():
            student = self.embed(features[1])
            teacher = labels["teacher"].to(student.dtype)
            kl = anchor_kl(student, teacher, docs[rows], mask[rows], tau=self.tau)
            terms["anchor"] = self.anchor_weight * kl
        if self._start:
            terms["l2sp"] = self.l2sp_weight * self._squared_distance()
        return terms

    def _squared_distance(self) -> torch.Tensor:
        # the trainer may move the model after the loss was built: follow it once, not at every step
        self._start = [(p, p0 if p0.device == p.device else p0.to(p.device)) for p, p0 in self._start]
        return torch.stack([((p - p0) ** 2).sum() for p, p0 in self._start]).sum()

    def distance_from_start(self) -> float:
        """Squared L2 distance of the trainable weights from where L2-SP started (0.0 without L2-SP)."""
        if not self._start:
            return 0.0
        with torch.no_grad():
            return float(self._squared_distance())

    def _record(self, scores: torch.Tensor, tiers: torch.Tensor, mask: torch.Tensor) -> None:
        # rows the LORE term trains on (anchor-only rows have no positive)
        mask = mask & ((tiers == Tier.POSITIVE) & mask).any(dim=1, keepdim=True)
        for tier, key in ((Tier.POSITIVE, "sim_P"), (Tier.DISTRACTOR, "sim_N1"), (Tier.NEGATIVE, "sim_N2")):
            selected = scores[(tiers == tier) & mask]
            if selected.numel():
                self._sums[key] = self._sums.get(key, 0.0) + float(selected.mean())
                self._counts[key] = self._counts.get(key, 0) + 1

    def pop_similarities(self) -> dict[str, float]:
        """Mean cosine similarity to P, N1 and N2 candidates since the last call (the paper's Fig. 3 curves)."""
        out = {key: self._sums[key] / self._counts[key] for key in self._sums if self._counts.get(key)}
        self._sums.clear()
        self._counts.clear()
        return out

    def get_config_dict(self) -> dict[str, Any]:
        """Hyper-parameters, as the model card shows them."""
        return {
            "tau": self.tau,
            "alpha": self.alpha,
            "beta": self.beta,
            "anchor_weight": self.anchor_weight,
            "l2sp_weight": self.l2sp_weight,
        }

    @property
    def citation(self) -> str:
        """BibTeX of the LORE paper."""
        return CITATION

    def extra_repr(self) -> str:
        """The hyper-parameters, shown in the module's repr."""
        return (
            f"tau={self.tau}, alpha={self.alpha}, beta={self.beta}, anchor_weight={self.anchor_weight}, "
            f"l2sp_weight={self.l2sp_weight}"
        )
