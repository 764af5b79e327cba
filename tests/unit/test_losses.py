"""The tier-weighted InfoNCE loss against hand-computed values, gradients and a per-query loop."""

from __future__ import annotations

import math

import pytest
import torch

from lore_rag.data.schema import Tier
from lore_rag.losses.tiered_infonce import TieredInfoNCELoss, compute_loss

P, N1, N2 = int(Tier.POSITIVE), int(Tier.DISTRACTOR), int(Tier.NEGATIVE)


def reference_loss(scores, tiers, tau, alpha, beta):
    """The paper's formula, one query at a time, in plain Python floats."""
    losses = []
    for s_row, t_row in zip(scores, tiers):
        logits = []
        for s, t in zip(s_row, t_row):
            if t is None:
                logits.append(None)
            elif t == P:
                logits.append(s / tau)
            elif t == N1:
                logits.append(s / tau + math.log(beta))
            else:
                logits.append(s / tau + math.log(alpha))
        negs = [logit for logit, t in zip(logits, t_row) if t is not None and t != P]
        pos = [logit for logit, t in zip(logits, t_row) if t == P]
        if not pos or not negs:
            continue
        neg_sum = sum(math.exp(logit) for logit in negs)
        losses.append(-sum(math.log(math.exp(logit) / (math.exp(logit) + neg_sum)) for logit in pos) / len(pos))
    return sum(losses) / len(losses)


def test_hand_computed_single_query():
    # one positive (s=0.5), one distractor (s=0.4), one negative (s=0.1); tau=0.1, alpha=1, beta=3
    scores = torch.tensor([[0.5, 0.4, 0.1]])
    tiers = torch.tensor([[P, N1, N2]])
    l_p, l_n1, l_n2 = 5.0, 4.0 + math.log(3), 1.0
    expected = -(l_p - math.log(math.exp(l_p) + math.exp(l_n1) + math.exp(l_n2)))
    got = compute_loss(scores, tiers, tau=0.1, alpha=1.0, beta=3.0)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_other_positives_are_not_in_the_denominator():
    scores = torch.tensor([[0.9, 0.2, 0.3]])
    tiers = torch.tensor([[P, P, N2]])
    tau = 0.5
    a = -(0.9 / tau - math.log(math.exp(0.9 / tau) + math.exp(0.3 / tau)))
    b = -(0.2 / tau - math.log(math.exp(0.2 / tau) + math.exp(0.3 / tau)))
    got = compute_loss(scores, tiers, tau=tau, alpha=1.0, beta=3.0)
    assert got.item() == pytest.approx((a + b) / 2, rel=1e-6)


def test_hand_computed_gradient():
    # d/ds_p of -log p = -(1 - p)/tau; d/ds_t = p_t'/tau where p_t' = e^{l_t} / (e^{l_p} + sum e^{l_neg})
    scores = torch.tensor([[0.5, 0.4, 0.1]], requires_grad=True)
    tiers = torch.tensor([[P, N1, N2]])
    tau, beta = 0.1, 3.0
    loss = compute_loss(scores, tiers, tau=tau, alpha=1.0, beta=beta)
    loss.backward()
    logits = [5.0, 4.0 + math.log(beta), 1.0]
    z = sum(math.exp(x) for x in logits)
    probs = [math.exp(x) / z for x in logits]
    expected = [-(1 - probs[0]) / tau, probs[1] / tau, probs[2] / tau]
    assert scores.grad[0].tolist() == pytest.approx(expected, rel=1e-5)


def test_distractor_weight_raises_the_loss_and_its_gradient():
    scores = torch.tensor([[0.5, 0.45, 0.1]], requires_grad=True)
    tiers = torch.tensor([[P, N1, N2]])
    plain = compute_loss(scores, tiers, tau=0.05, alpha=1.0, beta=1.0)
    lore = compute_loss(scores, tiers, tau=0.05, alpha=1.0, beta=3.0)
    assert lore.item() > plain.item()
    (g_lore,) = torch.autograd.grad(lore, scores)
    (g_plain,) = torch.autograd.grad(compute_loss(scores, tiers, tau=0.05, alpha=1.0, beta=1.0), scores)
    assert g_lore[0, 1] > g_plain[0, 1]  # the distractor is pushed away harder


def test_vectorised_matches_per_query_loop_with_padding_and_gradients():
    torch.manual_seed(0)
    batch, width = 7, 9
    tau, alpha, beta = 0.05, 0.7, 3.0
    lengths = torch.randint(3, width + 1, (batch,))
    scores = (torch.rand(batch, width) * 2 - 1).requires_grad_(True)
    tiers = torch.randint(-1, 2, (batch, width))
    tiers[:, 0] = P  # at least one positive
    tiers[:, 1] = N2  # at least one negative
    mask = torch.arange(width)[None, :] < lengths[:, None]
    tiers_list = [[int(t) if m else None for t, m in zip(tr, mr)] for tr, mr in zip(tiers, mask)]
    expected = reference_loss(scores.detach().double().tolist(), tiers_list, tau, alpha, beta)
    got = compute_loss(scores, tiers, mask, tau=tau, alpha=alpha, beta=beta)
    assert got.item() == pytest.approx(expected, rel=1e-5)

    # gradients against autograd on a per-query loop of the same formula
    got.backward()
    loop_scores = scores.detach().clone().requires_grad_(True)
    per_query = []
    for i in range(batch):
        n = int(lengths[i])
        per_query.append(
            compute_loss(loop_scores[i : i + 1, :n], tiers[i : i + 1, :n], tau=tau, alpha=alpha, beta=beta)
        )
    torch.stack(per_query).mean().backward()
    assert torch.allclose(scores.grad, loop_scores.grad, atol=1e-6)
    assert torch.all(scores.grad[~mask] == 0)  # padding gets no gradient


def test_queries_without_positive_or_negative_are_left_out():
    scores = torch.tensor([[0.5, 0.4], [0.3, 0.2], [0.1, 0.9]])
    tiers = torch.tensor([[P, N2], [N2, N1], [P, P]])
    per_query = compute_loss(scores, tiers, tau=0.1, reduction="none")
    assert not math.isnan(per_query[0].item())
    assert math.isnan(per_query[1].item()) and math.isnan(per_query[2].item())
    assert compute_loss(scores, tiers, tau=0.1).item() == pytest.approx(per_query[0].item())


def test_infonce_is_alpha_beta_one_and_module_defaults():
    module = TieredInfoNCELoss()
    assert (module.tau, module.alpha, module.beta) == (0.05, 1.0, 3.0)
    baseline = TieredInfoNCELoss.infonce()
    assert baseline.alpha == baseline.beta == 1.0
    scores = torch.tensor([[0.5, 0.45, 0.1]])
    tiers = torch.tensor([[P, N1, N2]])
    assert baseline(scores, tiers).item() == pytest.approx(
        compute_loss(scores, tiers, tau=0.05, alpha=1.0, beta=1.0).item()
    )


@pytest.mark.parametrize("kwargs", [{"tau": 0}, {"alpha": 0}, {"beta": -1}])
def test_bad_hyper_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        compute_loss(torch.zeros(1, 2), torch.tensor([[P, N2]]), **kwargs)


def test_numerically_stable_at_small_tau():
    scores = torch.tensor([[1.0, 0.99, -1.0]])
    tiers = torch.tensor([[P, N1, N2]])
    loss = compute_loss(scores, tiers, tau=0.001, beta=3.0)
    assert torch.isfinite(loss)
