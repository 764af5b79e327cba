"""Merge a LoRA checkpoint into a full two-sided checkpoint that plain sentence-transformers loads right.

A LoRA checkpoint (``lore-rag train --lora-r R``) is the adapter alone plus ``lore_manifest.json``: a few MB that
lore-rag, LlamaIndex and LangChain load as a tuned query side over the base model. Plain
``SentenceTransformer(folder)`` cannot tell the sides apart there and puts the adapter on documents too.
:func:`merge_lora_checkpoint` folds the adapter into a copy of the base weights (PEFT's ``merge_and_unload``) and saves
the usual ``Router`` checkpoint: ``query`` route the merged model, ``document`` route the untouched base model.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lore_rag._hashing import file_sha256
from lore_rag.config import option
from lore_rag.errors import ConfigError, ModelError
from lore_rag.models.card import model_card
from lore_rag.models.checkpoint import MANIFEST_NAME, load_checkpoint_models, read_manifest, save_checkpoint

__all__ = ["ADAPTER_CONFIG", "MergeLoraConfig", "is_lora_checkpoint", "merge_lora_checkpoint"]

logger = logging.getLogger(__name__)

#: The file PEFT writes beside a LoRA adapter's weights; its presence makes a checkpoint a LoRA checkpoint.
ADAPTER_CONFIG = "adapter_config.json"
#: The adapter weight files PEFT writes, in the order it prefers them.
_ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
#: Manifest fields :func:`~lore_rag.models.checkpoint.save_checkpoint` writes itself.
_WRITTEN_BY_SAVE = ("format", "created", "sides", "path")


@dataclass
class MergeLoraConfig:
    """What ``lore-rag merge-lora`` merges and where it writes (each field is a flag, see ``add_config_arguments``).

    :meth:`merge` runs :func:`merge_lora_checkpoint`.
    """

    checkpoint: str = option(
        "LoRA checkpoint folder (written by 'lore-rag train --lora-r R'), or its training output folder",
        flags=("checkpoint",),
    )
    output: str = option(
        "new folder for the merged two-sided checkpoint (must not exist, or be empty)",
        flags=("--output", "-o"),
        metavar="DIR",
    )
    device: str | None = option("torch device for the merge (default: cuda, then mps, then cpu)", None)

    def merge(self) -> Path:
        """Merge :attr:`checkpoint` into :attr:`output`; returns the output folder."""
        return merge_lora_checkpoint(self.checkpoint, self.output, device=self.device)


def is_lora_checkpoint(folder: str | os.PathLike[str]) -> bool:
    """True when ``folder`` holds a PEFT adapter (``adapter_config.json``) rather than full weights."""
    return (Path(folder) / ADAPTER_CONFIG).is_file()


def _adapter_record(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``merged_from`` and ``lora`` manifest entries of the adapter in ``folder``.

    Raises:
        ModelError: for an unreadable adapter config or no adapter weights.
    """
    config_path = folder / ADAPTER_CONFIG
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{config_path}: unreadable adapter config: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelError(f"{config_path}: unreadable adapter config: not a JSON object")
    weights = next((folder / name for name in _ADAPTER_WEIGHTS if (folder / name).is_file()), None)
    if weights is None:
        raise ModelError(f"{folder}: has {ADAPTER_CONFIG} but no adapter weights ({' or '.join(_ADAPTER_WEIGHTS)})")
    merged_from = {"path": str(folder), "adapter_file": weights.name, "adapter_sha256": file_sha256(weights)}
    targets = config.get("target_modules")
    lora = {
        "peft_type": config.get("peft_type"),
        "r": config.get("r"),
        "alpha": config.get("lora_alpha"),
        "dropout": config.get("lora_dropout"),
        "target_modules": sorted(targets) if isinstance(targets, (list, set)) else targets,
        "peft_version": config.get("peft_version"),
    }
    return merged_from, lora


def _is_merged_checkpoint(folder: Path) -> bool:
    """True when ``folder`` holds a checkpoint written by :func:`merge_lora_checkpoint` (its manifest says so)."""
    try:
        return bool(json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8")).get("merged_from"))
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def _check_output(source: Path, output: Path, *, replace_merged: bool) -> None:
    """Refuse an output that holds anything (but an earlier merge, when allowed), is a file, or lies in the source.

    Raises:
        ConfigError: naming the output path.
    """
    if output.exists() and not output.is_dir():
        raise ConfigError(f"{output}: is a file; give a new (or empty) folder for the merged checkpoint")
    if output.is_dir() and any(output.iterdir()) and not (replace_merged and _is_merged_checkpoint(output)):
        raise ConfigError(
            f"{output}: already exists and is not empty; give a new (or empty) folder (merge-lora never overwrites)"
        )
    resolved, src = output.resolve(), source.resolve()
    if resolved == src or src in resolved.parents:
        raise ConfigError(f"{output}: lies inside the LoRA checkpoint {source}; write the merged folder elsewhere")


def merge_lora_checkpoint(
    source: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    device: str | None = None,
    replace_merged: bool = False,
) -> Path:
    """Write the LoRA checkpoint at ``source`` as a full two-sided checkpoint at ``output``.

    The adapter is loaded with lore-rag's own loader (its base model from the manifest, the adapter merged into a
    copy of the base weights with PEFT's ``merge_and_unload``) and saved with
    :func:`~lore_rag.models.checkpoint.save_checkpoint`: the ``query`` route is the merged model, the ``document``
    route the untouched base model (checked against the manifest's fingerprint before anything is written). The
    manifest keeps every field of the source's and adds ``merged_from`` (source path, adapter file and its sha256)
    and ``lora`` (rank, alpha, dropout, target modules); the model card says it was merged from a LoRA adapter.
    The folder is written to a temporary sibling and renamed into place, so a crash leaves no half-written output.

    Args:
        source: The LoRA checkpoint folder, or a training output folder (its ``best/``, then ``last/``).
        output: The new folder; it must not exist or must be empty.
        device: Torch device for the merge; ``None`` picks cuda, then mps, then cpu.
        replace_merged: Replace an output folder that holds an earlier merged checkpoint (``lore-rag train
            --merge-lora`` rewrites its ``merged/``); any other non-empty output is still refused.

    Returns:
        The output folder.

    Raises:
        ModelError: for a source that is missing, has no readable manifest, is not a LoRA checkpoint, or whose
            adapter does not fit its base model.
        ConfigError: for an output that is a file, holds anything (see ``replace_merged``), or lies inside the source.
    """
    manifest = read_manifest(source, hint="merge-lora takes the folder that 'lore-rag train --lora-r R' wrote")
    folder = Path(manifest["path"])
    if not is_lora_checkpoint(folder):
        raise ModelError(
            f"{folder}: not a LoRA checkpoint (no {ADAPTER_CONFIG}); it already holds full weights, and plain "
            "sentence-transformers loads it as it is"
        )
    out = Path(output).expanduser()
    _check_output(folder, out, replace_merged=replace_merged)
    merged_from, lora = _adapter_record(folder)
    models = load_checkpoint_models(folder, device=device)
    merged = {k: v for k, v in manifest.items() if k not in _WRITTEN_BY_SAVE}
    merged.update(merged_from=merged_from, lora=lora)
    save_checkpoint(models.query, out, merged, document_model=models.document, card=model_card(merged))
    logger.info("merged the LoRA adapter of %s into %s", folder, out)
    return out
