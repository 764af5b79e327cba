"""Load sentence-transformers models, fingerprint them, and read their query and document prompts."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag._hashing import file_sha256
from lore_rag.defaults import DEFAULT_MODEL, bundled_model_path
from lore_rag.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "PRECISIONS",
    "autocast",
    "document_prompt",
    "embedding_dim",
    "folder_fingerprint",
    "has_native_bf16",
    "load_model",
    "model_fingerprint",
    "query_prompt",
    "resolve_device",
    "resolve_model",
]

logger = logging.getLogger(__name__)

_DEFAULT_ALIASES = {"default", "bundled", DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


def resolve_model(name_or_path: str | os.PathLike[str] | None) -> str:
    """Turn a model reference into what :class:`SentenceTransformer` loads.

    ``None``, ``"default"`` and ``"all-MiniLM-L6-v2"`` mean the bundled model; an existing folder is used as
    it is; anything else is taken as a Hugging Face id (which needs the hub or its local cache).
    """
    if name_or_path is None or str(name_or_path) in _DEFAULT_ALIASES:
        return str(bundled_model_path())
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelError(f"{path}: a model must be a folder (sentence-transformers or Hugging Face layout)")
        return str(path.resolve())
    text = str(name_or_path)
    if text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise ModelError(f"{text}: no such model folder")
    return text


def resolve_device(device: str | None) -> str:
    """``None`` / ``"auto"``: ``cuda`` when a GPU is there, else ``mps``, else ``cpu``; anything else as given."""
    if device not in (None, "", "auto"):
        return str(device)
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def load_model(
    name_or_path: str | os.PathLike[str] | None = None,
    *,
    device: str | None = None,
    max_seq_length: int | None = None,
    trust_remote_code: bool = False,
) -> SentenceTransformer:
    """Load a sentence-transformers model, honouring its own config (pooling, prompts, normalisation).

    Args:
        name_or_path: Hugging Face id, local folder, or ``None`` for the bundled default.
        device: Torch device; ``None`` or ``"auto"`` picks cuda, mps or cpu.
        max_seq_length: Override of the model's maximum sequence length.
        trust_remote_code: Passed to sentence-transformers for models with custom code.

    Raises:
        ModelError: if the model cannot be found or loaded, with what was tried.
    """
    from sentence_transformers import SentenceTransformer

    resolved = resolve_model(name_or_path)
    try:
        model = SentenceTransformer(resolved, device=resolve_device(device), trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - many loaders, one clear message
        hint = ""
        if not Path(resolved).exists():
            hint = (
                " (not a local folder; as a Hugging Face id it needs network access or the local hub cache, "
                "and HF_HUB_OFFLINE=1 turns off downloads)"
            )
        raise ModelError(f"cannot load model {name_or_path!s}{hint}: {exc}") from exc
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model


def embedding_dim(model: SentenceTransformer) -> int:
    """Output dimension of a sentence-transformers model (any version's method name)."""
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter() or 0)


def query_prompt(model: SentenceTransformer) -> str:
    """The text the model's config prepends to queries ('' when it has none)."""
    prompts = getattr(model, "prompts", None) or {}
    return prompts.get("query", "")


def document_prompt(model: SentenceTransformer) -> str:
    """The text the model's config prepends to documents ('' when it has none)."""
    prompts = getattr(model, "prompts", None) or {}
    for key in ("document", "passage", "corpus"):
        if key in prompts:
            return prompts[key]
    return ""


@lru_cache(maxsize=64)
def _hash_file(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file, remembered while its size and modification time stay the same."""
    return file_sha256(path)


def folder_fingerprint(folder: str | os.PathLike[str]) -> str:
    """Content hash of a model folder: weights and configs, independent of where the folder lies."""
    root = Path(folder)
    digest = hashlib.sha256()
    wanted = (".safetensors", ".bin", ".json", ".txt", ".model")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in wanted and p.name != "lore_manifest.json")
    if not files:
        raise ModelError(f"{root}: no model files to fingerprint")
    for path in files:
        stat = path.stat()
        rel = path.relative_to(root).as_posix()
        # README and training logs do not change the function the model computes.
        if rel.lower().startswith("readme"):
            continue
        digest.update(rel.encode())
        digest.update(_hash_file(str(path), stat.st_size, stat.st_mtime_ns).encode())
    return digest.hexdigest()[:16]


def model_fingerprint(model: SentenceTransformer) -> str:
    """Fingerprint of a loaded model's weights (16 hex digits), the same wherever it was loaded from."""
    cached = getattr(model, "_lore_fingerprint", None)
    if cached:
        return str(cached)
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        array = tensor.detach().cpu().contiguous().float().numpy()
        digest.update(array.tobytes())
    digest.update(json.dumps(query_prompt(model)).encode())
    value = digest.hexdigest()[:16]
    model._lore_fingerprint = value  # type: ignore[attr-defined,assignment]
    return value


#: Precisions lore-rag encodes in: ``fp32`` (the default, what an index built by the model holds) and ``bf16``
#: (``torch.autocast`` with bfloat16, for ``--bf16`` runs on GPUs and CPUs that have it).
PRECISIONS = ("fp32", "bf16")


@lru_cache(maxsize=8)
def has_native_bf16(device: str) -> bool:
    """Whether ``device`` (as :func:`resolve_device` returns it) computes bfloat16 natively.

    CUDA: ``torch.cuda.is_bf16_supported()`` (Ampere and newer). CPU: the AVX512-BF16 or AMX-BF16 instructions
    (``/proc/cpuinfo``), or an Arm CPU with the BF16 extension; without them bf16 autocast is emulated and slower
    than fp32. Anything else (``mps``, ``xpu``, ...): no, so an automatic choice stays fp32 there.
    """
    kind = device.split(":")[0]
    if kind == "cuda":
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if kind != "cpu":
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def autocast(model: SentenceTransformer, precision: str) -> contextlib.AbstractContextManager[Any]:
    """The context ``model``'s forward passes run in for ``precision``: bf16 autocast on its device, or nothing.

    Raises:
        ConfigError: for a precision not in :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    import torch

    return torch.autocast(model.device.type, dtype=torch.bfloat16)
