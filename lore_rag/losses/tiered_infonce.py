"""The LORE tier-weighted InfoNCE loss (arXiv 2602.01116, Sec. 3.2); plain InfoNCE is alpha = beta = 1."""

from __future__ import annotations

import math

import torch
from torch import nn

from lore_rag.data.schema import Tier

__all__ = ["TieredInfoNCELoss", "compute_loss", "tier_logits"]


def _check(tau: float, alpha: float, beta: float) -> None:
    if tau <= 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    if alpha <= 0 or beta <= 0:
        raise ValueError(f"alpha and beta must be > 0, got alpha={alpha}, beta={beta}")


def tier_logits(scores: torch.Tensor, tiers: torch.Tensor, *, tau: float, alpha: float, beta: float) -> torch.Tensor:
    """Logits ``s/tau`` for positives, ``s/tau + log beta`` for distractors, ``s/tau + log alpha`` for negatives.

    Args:
        scores: Cosine similarities, ``[batch, max_chunks]``.
        tiers: Tier values (1, 0, -1), same shape; padded slots may hold any value (they are masked later).
        tau: Temperature.
        alpha: Weight of ordinary negatives (N2).
        beta: Weight of distractors (N1).
    """
    offset = torch.zeros_like(scores)
    offset = torch.where(tiers == Tier.DISTRACTOR, math.log(beta), offset)
    offset = torch.where(tiers == Tier.NEGATIVE, math.log(alpha), offset)
    return scores / tau + offset


def compute_loss(
    scores: torch.Tensor,
    tiers: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    tau: float = 0.05,
    alpha: float = 1.0,
    beta: float = 3.0,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Tier-weighted InfoNCE over a padded batch of candidate lists.

    For query :math:`q` with candidates :math:`c_k`, :math:`s_k = \cos(M_q(q), M_d(c_k))` and

    .. math::
        l_k = s_k/\tau \;(k \in P), \quad s_k/\tau + \log\beta \;(k \in N_1), \quad s_k/\tau + \log\alpha \;(k \in N_2)

        p_k = \frac{e^{l_k}}{e^{l_k} + \sum_{t \in N_1 \cup N_2} e^{l_t}}, \qquad
        L(q) = -\frac{1}{|P|} \sum_{k \in P} \log p_k

    Other positives are not in a positive's denominator. Raising ``beta`` above ``alpha`` makes a distractor
    that scores close to the evidence cost more than an ordinary negative. The batch loss is the mean of
    :math:`L(q)` over queries that have at least one positive and one negative.

    Args:
        scores: Cosine similarities ``[batch, max_chunks]``.
        tiers: Tier of each slot ``[batch, max_chunks]`` (integers 1 / 0 / -1).
        mask: True for real slots, False for padding; ``None`` means all slots are real.
        tau: Temperature.
        alpha: Weight of ordinary negatives (N2).
        beta: Weight of distractors (N1).
        reduction: ``"mean"`` over queries, ``"sum"``, or ``"none"`` for the per-query losses
            (``nan`` where a query has no positive or no negative).

    Returns:
        The loss (a scalar, or ``[batch]`` for ``reduction="none"``).
    """
    _check(tau, alpha, beta)
    if scores.shape != tiers.shape:
        raise ValueError(f"scores {tuple(scores.shape)} and tiers {tuple(tiers.shape)} differ in shape")
    if mask is None:
        mask = torch.ones_like(scores, dtype=torch.bool)
    mask = mask.bool()
    tiers = tiers.to(scores.device)
    logits = tier_logits(scores, tiers, tau=tau, alpha=alpha, beta=beta)
    neg_inf = torch.finfo(logits.dtype).min
    positive = (tiers == Tier.POSITIVE) & mask
    negative = (tiers != Tier.POSITIVE) & mask
    # log sum over the negatives of each query: [batch, 1]
    neg_lse = torch.logsumexp(logits.masked_fill(~negative, neg_inf), dim=1, keepdim=True)
    # log p_k = l_k - log(e^{l_k} + sum_neg e^{l_t}) for every slot; only positives are kept.
    log_p = logits - torch.logaddexp(logits, neg_lse)
    n_pos = positive.sum(dim=1)
    valid = (n_pos > 0) & negative.any(dim=1)
    per_query = -(log_p * positive).sum(dim=1) / n_pos.clamp(min=1)
    if reduction == "none":
        return torch.where(valid, per_query, torch.full_like(per_query, float("nan")))
    kept = per_query[valid]
    if kept.numel() == 0:
        return scores.sum() * 0.0
    if reduction == "sum":
        return kept.sum()
    if reduction == "mean":
        return kept.mean()
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


class TieredInfoNCELoss(nn.Module):
    """``nn.Module`` wrapper of :func:`compute_loss` with the paper's defaults (tau 0.05, alpha 1, beta 3).

    Args:
        tau: Temperature.
        alpha: Weight of ordinary negatives (N2).
        beta: Weight of distractors (N1); ``alpha = beta = 1`` is plain InfoNCE.
    """

    def __init__(self, tau: float = 0.05, alpha: float = 1.0, beta: float = 3.0) -> None:
        super().__init__()
        _check(tau, alpha, beta)
        self.tau = tau
        self.alpha = alpha
        self.beta = beta

    @classmethod
    def infonce(cls, tau: float = 0.05) -> TieredInfoNCELoss:
        """Plain InfoNCE on the same data: every negative weighs the same."""
        return cls(tau=tau, alpha=1.0, beta=1.0)

    def forward(self, scores: torch.Tensor, tiers: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Mean loss over the batch; see :func:`compute_loss`."""
        return compute_loss(scores, tiers, mask, tau=self.tau, alpha=self.alpha, beta=self.beta)

    def extra_repr(self) -> str:
        """The hyper-parameters, shown in the module's repr."""
        return f"tau={self.tau}, alpha={self.alpha}, beta={self.beta}"
