"""Training losses: the LORE tier-weighted InfoNCE (plain InfoNCE is alpha = beta = 1) and its trainer wrapper."""

from lore_rag.losses.lore_loss import LoreLoss, anchor_kl
from lore_rag.losses.tiered_infonce import TieredInfoNCELoss, compute_loss, tier_logits

__all__ = ["LoreLoss", "TieredInfoNCELoss", "anchor_kl", "compute_loss", "tier_logits"]
