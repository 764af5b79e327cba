"""Upload a LORE checkpoint to the Hugging Face Hub (``huggingface_hub``), card rewritten for its repo id."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from lore_rag.errors import ModelError
from lore_rag.models.card import model_card
from lore_rag.models.checkpoint import CARD_NAME, read_manifest

__all__ = ["push_checkpoint"]

logger = logging.getLogger(__name__)


def push_checkpoint(
    path: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
    api: Any = None,
) -> str:
    """Create (or reuse) the model repo ``repo_id`` and upload the checkpoint at ``path`` into it.

    The uploaded README.md is the checkpoint's card with loading examples that name ``repo_id``.

    Args:
        path: A checkpoint folder (or a run folder; its ``best/`` is used).
        repo_id: ``user/name`` on the Hub.
        private: Create the repo private.
        token: Hub token; default: ``HF_TOKEN`` or the cached login.
        revision: Branch to commit to.
        commit_message: Commit message.
        api: An ``huggingface_hub.HfApi``-like object (tests pass a local fake); default: ``HfApi()``.

    Returns:
        The URL of the commit (as ``huggingface_hub`` reports it).

    Raises:
        ModelError: for a missing checkpoint, an offline environment or a Hub error, in one line.
    """
    manifest = read_manifest(path)
    folder = Path(manifest.pop("path"))
    if "/" not in repo_id or repo_id.count("/") != 1:
        raise ModelError(f"repo id {repo_id!r}: must be 'user/name' or 'organisation/name'")
    if api is None:
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
            raise ModelError("cannot push: HF_HUB_OFFLINE is set (unset it to reach the Hub)")
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    staging = Path(tempfile.mkdtemp(prefix="lore-push-"))
    try:
        shutil.copytree(folder, staging, dirs_exist_ok=True)
        (staging / CARD_NAME).write_text(model_card(manifest, repo_id=repo_id), encoding="utf-8")
        try:
            api.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
            info = api.upload_folder(
                repo_id=repo_id,
                folder_path=str(staging),
                repo_type="model",
                revision=revision,
                commit_message=commit_message or f"LORE checkpoint ({manifest.get('name', 'LORE')}) from lore-rag",
            )
        except Exception as exc:  # noqa: BLE001 - network, auth and API errors become one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"cannot push {folder} to {repo_id}: {first}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("pushed %s to %s", folder, repo_id)
    return str(getattr(info, "commit_url", info))
