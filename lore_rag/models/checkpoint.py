"""A LORE checkpoint: a plain sentence-transformers folder (the query encoder) plus ``lore_manifest.json``.

``SentenceTransformer(checkpoint)`` loads the query encoder anywhere; lore-rag also reads the manifest to
pair it with the original document encoder it was trained against.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from lore_rag.models.encoder import LoreEncoder

__all__ = ["MANIFEST_NAME", "find_checkpoint", "load_checkpoint", "read_manifest", "save_checkpoint"]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "lore_manifest.json"
FORMAT = "lore-rag-checkpoint/1"


def find_checkpoint(path: str | os.PathLike[str]) -> Path:
    """The checkpoint folder at ``path``: the folder itself, or its ``best/`` (then ``last/``) subfolder.

    Raises:
        ModelError: if no checkpoint is there.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise ModelError(f"{root}: no such checkpoint folder")
    for candidate in (root, root / "best", root / "last"):
        if (candidate / MANIFEST_NAME).is_file():
            return candidate
    raise ModelError(
        f"{root}: not a LORE checkpoint (no {MANIFEST_NAME} in it or in best/ or last/); "
        "for a plain model use 'raw:PATH'"
    )


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of the checkpoint at ``path``.

    Raises:
        ModelError: for a missing or unreadable manifest.
    """
    folder = find_checkpoint(path)
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{folder / MANIFEST_NAME}: unreadable manifest: {exc}") from exc
    for key in ("base_model", "base_fingerprint"):
        if key not in manifest:
            raise ModelError(f"{folder / MANIFEST_NAME}: field '{key}' is missing")
    manifest["path"] = str(folder)
    return manifest


def save_checkpoint(model: SentenceTransformer, folder: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    """Save the query encoder and its manifest into ``folder``, replacing it atomically.

    The model is written to a temporary sibling folder first and swapped in, so a crash mid-save leaves
    the previous checkpoint intact.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        model.save(str(tmp), safe_serialization=True)
        full = {"format": FORMAT, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        full.update(manifest)
        full.pop("path", None)
        (tmp / MANIFEST_NAME).write_text(json.dumps(full, indent=2, sort_keys=False) + "\n", encoding="utf-8")
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


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    document_model: str | os.PathLike[str] | SentenceTransformer | None = None,
    device: str | None = None,
    encoder_cls: type[LoreEncoder] | None = None,
    **kwargs: Any,
) -> LoreEncoder:
    """Load the checkpoint at ``path`` as a :class:`LoreEncoder` (tuned query side, base document side).

    Raises:
        ModelError: if the checkpoint is missing, or the document encoder found is not the base model the
            checkpoint was trained from (compared by weight fingerprint).
    """
    from lore_rag.models.encoder import LoreEncoder, load_model, model_fingerprint

    cls = encoder_cls or LoreEncoder
    manifest = read_manifest(path)
    folder = Path(manifest["path"])
    query_model = load_model(folder, device=device)
    if document_model is None or isinstance(document_model, (str, os.PathLike)):
        ref = document_model if document_model is not None else manifest["base_model"]
        try:
            doc = load_model(ref, device=device)
        except ModelError as exc:
            raise ModelError(
                f"{folder}: cannot load its base model {ref!s} ({exc}); pass document_model= (or --document-model) "
                "pointing at the model the checkpoint was trained from"
            ) from exc
    else:
        doc = document_model
    found = model_fingerprint(doc)
    if found != manifest["base_fingerprint"]:
        raise ModelError(
            f"{folder}: was trained from base model {manifest['base_model']} (fingerprint "
            f"{manifest['base_fingerprint']}) but the document encoder given has fingerprint {found}"
        )
    name = kwargs.pop("name", None) or manifest.get("name") or folder.name
    return cls(query_model, doc, name=name, manifest=manifest, **kwargs)
