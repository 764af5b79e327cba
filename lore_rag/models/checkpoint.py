"""A LORE checkpoint: one sentence-transformers folder holding both sides, plus ``lore_manifest.json`` and a card.

The folder is a ``Router`` model (``Router.for_query_document``): the ``query`` route is the tuned encoder, the
``document`` route the original base model, so plain ``SentenceTransformer(checkpoint)`` gives ``encode_query`` the
tuned side and ``encode_document`` the original one. lore-rag splits the two routes back into a
:class:`~lore_rag.models.encoder.LoreEncoder` and checks the document side against the manifest's fingerprint.
Checkpoints of the older layout (the query encoder alone; the base model named in the manifest) still load.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag.errors import ModelError
from lore_rag.models.crash_points import crash_point as _exit_hook
from lore_rag.models.loading import load_model, model_fingerprint

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "MANIFEST_NAME",
    "CheckpointModels",
    "find_checkpoint",
    "load_checkpoint_models",
    "pair_model",
    "read_manifest",
    "save_checkpoint",
    "split_pair",
]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "lore_manifest.json"
FORMAT = "lore-rag-checkpoint/2"
ROUTER_CONFIG = "router_config.json"
CARD_NAME = "README.md"


def pair_model(query_model: SentenceTransformer, document_model: SentenceTransformer) -> SentenceTransformer:
    """One ``SentenceTransformer`` whose ``query`` route is ``query_model`` and ``document`` route ``document_model``.

    The modules are shared, not copied; prompts and the similarity function come from the query model.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Router

    router = Router.for_query_document(
        query_modules=list(query_model.children()),  # type: ignore[arg-type]
        document_modules=list(document_model.children()),  # type: ignore[arg-type]
    )
    prompts = dict(getattr(query_model, "prompts", None) or {})
    return SentenceTransformer(
        modules=[router],
        device=str(query_model.device),
        prompts=prompts,
        similarity_fn_name=query_model.similarity_fn_name,
    )


def split_pair(model: SentenceTransformer) -> tuple[SentenceTransformer, SentenceTransformer] | None:
    """The (query, document) models inside a query/document ``Router`` model; ``None`` for any other model."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Router

    first = model[0] if len(model) else None
    if len(model) != 1 or not isinstance(first, Router) or {"query", "document"} - set(first.sub_modules):
        return None
    prompts = dict(getattr(model, "prompts", None) or {})
    sides = []
    for route in ("query", "document"):
        side = SentenceTransformer(
            modules=list(first.sub_modules[route]),  # type: ignore[call-overload]
            device=str(model.device),
            prompts=prompts,
            similarity_fn_name=model.similarity_fn_name,
        )
        sides.append(side)
    return sides[0], sides[1]


def find_checkpoint(path: str | os.PathLike[str], *, hint: str = "for a plain model use 'raw:PATH'") -> Path:
    """The checkpoint folder at ``path``: the folder itself, or its ``best/`` (then ``last/``) subfolder.

    Args:
        path: A checkpoint folder or a training output folder.
        hint: What the error for a folder without a manifest suggests doing instead.

    Raises:
        ModelError: if no checkpoint is there.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise ModelError(f"{root}: no such checkpoint folder")
    for candidate in (root, root / "best", root / "last"):
        if (candidate / MANIFEST_NAME).is_file():
            return candidate
    raise ModelError(f"{root}: not a LORE checkpoint (no {MANIFEST_NAME} in it or in best/ or last/); {hint}")


def read_manifest(path: str | os.PathLike[str], *, hint: str | None = None) -> dict[str, Any]:
    """The manifest of the checkpoint at ``path``.

    Args:
        path: A checkpoint folder or a training output folder.
        hint: What the error for a folder without a manifest suggests instead (default: :func:`find_checkpoint`'s).

    Raises:
        ModelError: for a missing or unreadable manifest.
    """
    folder = find_checkpoint(path) if hint is None else find_checkpoint(path, hint=hint)
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{folder / MANIFEST_NAME}: unreadable manifest: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ModelError(f"{folder / MANIFEST_NAME}: unreadable manifest: not a JSON object")
    for key in ("base_model", "base_fingerprint"):
        if key not in manifest:
            raise ModelError(f"{folder / MANIFEST_NAME}: field '{key}' is missing")
    manifest["path"] = str(folder)
    return manifest


def save_checkpoint(
    model: SentenceTransformer,
    folder: str | os.PathLike[str],
    manifest: dict[str, Any],
    *,
    document_model: SentenceTransformer | None = None,
    card: str | None = None,
) -> Path:
    """Save a checkpoint into ``folder``, replacing it atomically.

    Args:
        model: The tuned query encoder.
        folder: Where the checkpoint goes.
        manifest: Base model, fingerprint, loss, settings, data hashes, metrics.
        document_model: The original document encoder; when given, both sides are saved as one ``Router`` model
            (``SentenceTransformer(folder).encode_document`` then uses it). Without it, the query encoder alone
            (the older layout; loading then needs the base model named in the manifest).
        card: The model card (README.md); ``None`` keeps what sentence-transformers writes.

    The model is written to a temporary sibling folder first and swapped in, so a crash mid-save leaves
    the previous checkpoint intact.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        to_save = pair_model(model, document_model) if document_model is not None else model
        to_save.save(str(tmp), safe_serialization=True)
        _exit_hook("checkpoint-weights")
        full = {"format": FORMAT, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        full.update(manifest)
        full["sides"] = "query+document" if document_model is not None else "query"
        full.pop("path", None)
        if card is not None:
            (tmp / CARD_NAME).write_text(card, encoding="utf-8")
        (tmp / MANIFEST_NAME).write_text(json.dumps(full, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        _exit_hook("checkpoint-manifest")
        old = None
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            if old.exists():
                shutil.rmtree(old)
            folder.rename(old)
        tmp.rename(folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _load_lora(folder: Path, manifest: dict[str, Any], *, device: str | None) -> SentenceTransformer:
    """The query encoder of a LoRA checkpoint: its base model with the adapter merged in.

    Raises:
        ModelError: if PEFT is missing or the adapter does not fit the base model.
    """
    try:
        from peft import PeftModel
    except ImportError:
        raise ModelError(f"{folder}: a LoRA checkpoint; loading it needs the package peft (pip install peft)") from None
    query = load_model(manifest["base_model"], device=device)
    module = query[0]
    try:
        adapted = PeftModel.from_pretrained(module.model, str(folder))  # type: ignore[arg-type]
        module.model = adapted.merge_and_unload()
    except Exception as exc:  # noqa: BLE001 - PEFT raises many kinds; one clear message
        raise ModelError(f"{folder}: cannot apply its LoRA adapter to {manifest['base_model']}: {exc}") from exc
    settings = folder / "config_sentence_transformers.json"
    if settings.is_file():
        prompts = json.loads(settings.read_text(encoding="utf-8")).get("prompts")
        if isinstance(prompts, dict):
            query.prompts = prompts
    query._lore_fingerprint = None  # type: ignore[attr-defined,assignment]
    return query


@dataclass(frozen=True)
class CheckpointModels:
    """What a checkpoint folder loads into: the tuned query model, the base document model and the manifest."""

    query: SentenceTransformer
    document: SentenceTransformer
    manifest: dict[str, Any]
    name: str


def load_checkpoint_models(
    path: str | os.PathLike[str],
    *,
    document_model: str | os.PathLike[str] | SentenceTransformer | None = None,
    device: str | None = None,
) -> CheckpointModels:
    """Load the checkpoint at ``path``: its query model, and its document model checked against the manifest.

    :func:`lore_rag.models.encoder.load_checkpoint` (or ``LoreEncoder.from_checkpoint``) wraps the two in a
    :class:`~lore_rag.models.encoder.LoreEncoder`.

    Raises:
        ModelError: if the checkpoint is missing, or the document encoder found is not the base model the
            checkpoint was trained from (compared by weight fingerprint).
    """
    manifest = read_manifest(path)
    folder = Path(manifest["path"])
    if (folder / "adapter_config.json").is_file():
        loaded = _load_lora(folder, manifest, device=device)
    else:
        loaded = load_model(folder, device=device)
    pair = split_pair(loaded)
    query_model = pair[0] if pair is not None else loaded
    if pair is not None and document_model is None:
        doc = pair[1]
    elif document_model is None or isinstance(document_model, (str, os.PathLike)):
        ref = document_model if document_model is not None else manifest["base_model"]
        try:
            doc = load_model(ref, device=device)
        except ModelError as exc:
            raise ModelError(
                f"{folder}: cannot load its base model {ref!s} ({exc}); pass document_model= (or --document-model) "
                "pointing at the model the checkpoint was trained from"
            ) from exc
        # the run's prompts (--query-prompt, --document-prompt-name) were set on the base model it trained from and
        # saved with the query side only: the document side gets them back, as a two-route folder's sides share them
        doc.prompts = dict(getattr(query_model, "prompts", None) or {})
    else:
        doc = document_model
    found = model_fingerprint(doc)
    if found != manifest["base_fingerprint"]:
        raise ModelError(
            f"{folder}: was trained from base model {manifest['base_model']} (fingerprint "
            f"{manifest['base_fingerprint']}) but the document encoder given has fingerprint {found}"
        )
    return CheckpointModels(query_model, doc, manifest, str(manifest.get("name") or folder.name))
