"""LoreLoss against the vectorised maths and a hand-computed anchor, with a tiny fake encoder (fast)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lore_rag.data.schema import Tier
from lore_rag.losses import LoreLoss, compute_loss
from lore_rag.losses.lore_loss import anchor_kl


class FakeEncoder(nn.Module):
    """Embeds token ids by a mean of learnable vectors, like a sentence-transformers model's forward."""

    def __init__(self, vocab: int = 16, dim: int = 4) -> None:
        super().__init__()
        self.table = nn.Embedding(vocab, dim)
        torch.nn.init.normal_(self.table.weight, generator=torch.Generator().manual_seed(0))

    def forward(self, features):
        mask = features["attention_mask"].unsqueeze(-1).float()
        out = (self.table(features["input_ids"]) * mask).sum(1) / mask.sum(1)
        return {"sentence_embedding": out}


def _features(ids):
    ids = torch.tensor(ids)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def _labels(dim=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    docs = F.normalize(torch.randn(2, 3, dim, generator=g), dim=-1)
    tiers = torch.tensor(
        [[Tier.POSITIVE, Tier.DISTRACTOR, Tier.NEGATIVE], [Tier.POSITIVE, Tier.NEGATIVE, Tier.NEGATIVE]]
    )
    mask = torch.tensor([[True, True, True], [True, True, False]])
    return {"doc_vectors": docs, "tiers": tiers, "mask": mask}


def test_lore_term_is_compute_loss_on_the_query_embeddings():
    model = FakeEncoder()
    loss = LoreLoss(model, tau=0.05, alpha=1.0, beta=3.0, anchor_weight=0.0)
    labels = _labels()
    terms = loss([_features([[1, 2], [3, 4]])], labels)
    assert set(terms) == {"lore"}
    q = F.normalize(model(_features([[1, 2], [3, 4]]))["sentence_embedding"], dim=-1)
    scores = torch.einsum("bd,bcd->bc", q, labels["doc_vectors"])
    expected = compute_loss(scores, labels["tiers"], labels["mask"], tau=0.05, alpha=1.0, beta=3.0)
    assert torch.allclose(terms["lore"], expected)
    terms["lore"].backward()
    assert model.table.weight.grad is not None and model.table.weight.grad.abs().sum() > 0


def test_beta_makes_a_close_distractor_cost_more_and_infonce_is_alpha_beta_one():
    model = FakeEncoder()
    labels = _labels()
    feats = [_features([[1, 2], [3, 4]])]
    lore = LoreLoss(model, beta=3.0, anchor_weight=0.0)(feats, labels)["lore"]
    infonce = LoreLoss.infonce(model, anchor_weight=0.0)
    assert (infonce.alpha, infonce.beta) == (1.0, 1.0)
    assert lore > infonce(feats, labels)["lore"]


def test_anchor_term_is_weighted_kl_over_the_anchored_rows_only():
    model = FakeEncoder()
    labels = _labels()
    teacher = F.normalize(torch.randn(1, 4, generator=torch.Generator().manual_seed(5)), dim=-1)
    labels.update(anchor_rows=torch.tensor([1]), teacher=teacher)
    loss = LoreLoss(model, tau=0.5, anchor_weight=2.0)
    terms = loss([_features([[1, 2], [3, 4]]), _features([[5, 6]])], labels)
    assert set(terms) == {"lore", "anchor"}
    student = F.normalize(model(_features([[5, 6]]))["sentence_embedding"], dim=-1)
    # by hand for row 1 (two real candidates)
    docs = labels["doc_vectors"][1, :2]
    p = torch.softmax(teacher[0] @ docs.T / 0.5, dim=0)
    q = torch.softmax(student[0] @ docs.T / 0.5, dim=0)
    kl = float((p * (p.log() - q.log())).sum())
    assert math.isclose(float(terms["anchor"]), 2.0 * kl, rel_tol=1e-5)
    assert math.isclose(
        float(anchor_kl(student, teacher, labels["doc_vectors"][[1]], labels["mask"][[1]], tau=0.5)), kl, rel_tol=1e-5
    )
    # the anchor is zero when the tuned model ranks like the teacher
    same = anchor_kl(teacher, teacher, labels["doc_vectors"][[1]], labels["mask"][[1]], tau=0.5)
    assert float(same) == pytest.approx(0.0, abs=1e-6)


def test_similarities_are_reported_per_tier_and_reset():
    loss = LoreLoss(FakeEncoder(), anchor_weight=0.0)
    loss([_features([[1, 2], [3, 4]])], _labels())
    sims = loss.pop_similarities()
    assert set(sims) == {"sim_P", "sim_N1", "sim_N2"} and all(-1 <= v <= 1 for v in sims.values())
    assert loss.pop_similarities() == {}


def test_config_and_citation():
    loss = LoreLoss(FakeEncoder(), tau=0.1, alpha=1.0, beta=2.0, anchor_weight=0.5)
    assert loss.get_config_dict() == {"tau": 0.1, "alpha": 1.0, "beta": 2.0, "anchor_weight": 0.5, "l2sp_weight": 0.0}
    assert "2602.01116" in loss.citation
    with pytest.raises(ValueError, match="tau"):
        LoreLoss(FakeEncoder(), tau=0)
    with pytest.raises(ValueError, match="anchor_weight"):
        LoreLoss(FakeEncoder(), anchor_weight=-1)
    with pytest.raises(ValueError, match="l2sp_weight"):
        LoreLoss(FakeEncoder(), l2sp_weight=float("nan"))


def test_l2sp_is_the_weighted_squared_distance_from_the_starting_weights_and_pulls_back():
    model = FakeEncoder()
    start = model.table.weight.detach().clone()
    loss = LoreLoss(model, anchor_weight=0.0, l2sp_weight=0.5)
    terms = loss([_features([[1, 2], [3, 4]])], _labels())
    assert float(terms["l2sp"]) == 0.0  # nothing moved yet
    with torch.no_grad():
        model.table.weight[1] += 0.3
    terms = loss([_features([[1, 2], [3, 4]])], _labels())
    expected = 0.5 * float(((model.table.weight - start) ** 2).sum())
    assert float(terms["l2sp"]) == pytest.approx(expected) and loss.distance_from_start() == pytest.approx(2 * expected)
    terms["l2sp"].backward()  # its gradient points back to the start: 2 * weight * (w - w0)
    assert torch.allclose(model.table.weight.grad, 2 * 0.5 * (model.table.weight - start).detach())
    assert "l2sp" not in LoreLoss(model, anchor_weight=0.0)([_features([[1, 2]])], _labels(seed=2) | {
        "doc_vectors": _labels()["doc_vectors"][:1], "tiers": _labels()["tiers"][:1], "mask": _labels()["mask"][:1]
    })  # fmt: skip
