"""Training losses: the LORE tier-weighted InfoNCE (plain InfoNCE is alpha = beta = 1)."""

from lore_rag.losses.tiered_infonce import TieredInfoNCELoss, compute_loss, tier_logits

__all__ = ["TieredInfoNCELoss", "compute_loss", "tier_logits"]
