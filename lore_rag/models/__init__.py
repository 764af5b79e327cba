"""Models: load and fingerprint encoders, pair a tuned query side with its document side, checkpoints, the cache.

``from lore_rag.models import LoreEncoder, load_model, save_checkpoint, DocEmbeddingCache``. Names are imported from
their modules on first use, so ``import lore_rag.models`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lore_rag._lazy import lazy_exports

if TYPE_CHECKING:
    from lore_rag.defaults import DEFAULT_MODEL, bundled_model_path
    from lore_rag.models.card import model_card
    from lore_rag.models.checkpoint import (
        MANIFEST_NAME,
        CheckpointModels,
        find_checkpoint,
        load_checkpoint_models,
        pair_model,
        read_manifest,
        save_checkpoint,
        split_pair,
    )
    from lore_rag.models.doc_cache import DocEmbeddingCache
    from lore_rag.models.encoder import LoreEncoder, load_checkpoint
    from lore_rag.models.hub import PushConfig, push_checkpoint
    from lore_rag.models.loading import (
        document_prompt,
        embedding_dim,
        folder_fingerprint,
        load_model,
        model_fingerprint,
        query_prompt,
        resolve_device,
        resolve_model,
    )
    from lore_rag.models.merge import MergeLoraConfig, is_lora_checkpoint, merge_lora_checkpoint

__all__ = [
    "CheckpointModels",
    "DEFAULT_MODEL",
    "DocEmbeddingCache",
    "LoreEncoder",
    "MANIFEST_NAME",
    "MergeLoraConfig",
    "PushConfig",
    "bundled_model_path",
    "document_prompt",
    "embedding_dim",
    "find_checkpoint",
    "folder_fingerprint",
    "is_lora_checkpoint",
    "load_checkpoint",
    "load_checkpoint_models",
    "load_model",
    "merge_lora_checkpoint",
    "model_card",
    "model_fingerprint",
    "pair_model",
    "push_checkpoint",
    "query_prompt",
    "read_manifest",
    "resolve_device",
    "resolve_model",
    "save_checkpoint",
    "split_pair",
]

#: Where each public name is defined.
_EXPORTS = {
    "CheckpointModels": "lore_rag.models.checkpoint",
    "DEFAULT_MODEL": "lore_rag.defaults",
    "DocEmbeddingCache": "lore_rag.models.doc_cache",
    "LoreEncoder": "lore_rag.models.encoder",
    "MANIFEST_NAME": "lore_rag.models.checkpoint",
    "MergeLoraConfig": "lore_rag.models.merge",
    "PushConfig": "lore_rag.models.hub",
    "bundled_model_path": "lore_rag.defaults",
    "document_prompt": "lore_rag.models.loading",
    "embedding_dim": "lore_rag.models.loading",
    "find_checkpoint": "lore_rag.models.checkpoint",
    "folder_fingerprint": "lore_rag.models.loading",
    "is_lora_checkpoint": "lore_rag.models.merge",
    "load_checkpoint": "lore_rag.models.encoder",
    "load_checkpoint_models": "lore_rag.models.checkpoint",
    "load_model": "lore_rag.models.loading",
    "merge_lora_checkpoint": "lore_rag.models.merge",
    "model_card": "lore_rag.models.card",
    "model_fingerprint": "lore_rag.models.loading",
    "pair_model": "lore_rag.models.checkpoint",
    "push_checkpoint": "lore_rag.models.hub",
    "query_prompt": "lore_rag.models.loading",
    "read_manifest": "lore_rag.models.checkpoint",
    "resolve_device": "lore_rag.models.loading",
    "resolve_model": "lore_rag.models.loading",
    "save_checkpoint": "lore_rag.models.checkpoint",
    "split_pair": "lore_rag.models.checkpoint",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
