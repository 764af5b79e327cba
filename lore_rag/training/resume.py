"""Which Trainer checkpoint a run resumes from, checked before anything is loaded.

Hugging Face Trainer writes ``checkpoints/checkpoint-N`` file by file (weights, optimiser, scheduler, RNG state,
``trainer_state.json``). lore-rag then writes ``lore_checkpoint.json``: the run's settings key and the size and
sha256 of every file. So on a re-run:

- a folder without that marker is a save that a crash (even ``kill -9``) cut short: it is set aside and the run
  resumes from the previous complete checkpoint;
- a complete folder whose files no longer match the marker (a truncated ``trainer_state.json``, a replaced
  ``optimizer.pt``) stops the run with one error naming the file, before anything is touched;
- every ``.pt`` / ``.pth`` / ``.bin`` file must load as plain tensors (``torch.load(weights_only=True)``): a pickle
  that would run code is refused with a clear error, never unpickled.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag._hashing import file_sha256
from lore_rag.errors import ConfigError
from lore_rag.runs import changed_settings

if TYPE_CHECKING:
    from lore_rag.training.args import TrainConfig

__all__ = ["CHECKPOINTS", "MARKER", "ResumePlan", "find_resume_point", "mark_complete", "verify_tensor_file"]

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
MARKER = "lore_checkpoint.json"
_HASH_LIMIT = 1 << 30  # files above 1 GiB are checked by size only
_PICKLED = (".pt", ".pth", ".bin")


@dataclass
class ResumePlan:
    """Where a run starts.

    Attributes:
        checkpoint: The Trainer checkpoint folder to resume from; ``None`` to start afresh.
        step: Its optimiser step (0 when starting afresh).
        discard: Folders to remove before training (cut-short saves, or the whole ``checkpoints/`` on
            ``--no-resume``); nothing is removed until :meth:`apply` runs.
        set_aside: ``(folder, new_name)`` pairs to rename (checkpoints of a run with other settings).
        reason: Why the run starts afresh, when it does.
    """

    checkpoint: str | None = None
    step: int = 0
    discard: list[Path] = field(default_factory=list)
    set_aside: list[tuple[Path, Path]] = field(default_factory=list)
    reason: str = ""

    def apply(self) -> None:
        """Remove and rename what the plan says (call once the run is about to train)."""
        for folder in self.discard:
            shutil.rmtree(folder, ignore_errors=True)
        for old, new in self.set_aside:
            if new.exists():
                shutil.rmtree(new)
            old.rename(new)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MARKER)


def mark_complete(folder: str | os.PathLike[str], run_key: str, settings: dict[str, Any], step: int) -> None:
    """Write ``lore_checkpoint.json`` into a finished Trainer checkpoint (atomically, fsynced)."""
    root = Path(folder)
    files = {}
    for path in _files(root):
        size = path.stat().st_size
        files[path.relative_to(root).as_posix()] = {
            "size": size,
            "sha256": file_sha256(path) if size <= _HASH_LIMIT else None,
        }
    marker = {"run_key": run_key, "step": step, "settings": settings, "files": files}
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{MARKER}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(marker, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, root / MARKER)


def verify_tensor_file(path: Path) -> None:
    """Load ``path`` as plain tensors only (nothing unpickled that could run code); memory-mapped when possible.

    Raises:
        ConfigError: if the file needs anything but tensors and plain containers to load.
    """
    import pickle

    import torch

    try:
        from transformers.trainer_pt_utils import safe_globals
    except ImportError:  # pragma: no cover - older transformers
        from contextlib import nullcontext as safe_globals  # type: ignore[assignment]

    try:
        with safe_globals():
            try:
                torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as exc:
                if "mmap" not in str(exc):
                    raise
                torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"{path}: refusing to load it: it is not a plain tensor file, and loading it would unpickle arbitrary "
            f"Python objects ({first}); remove the folder {path.parent} or pass --no-resume"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ConfigError(
            f"{path}: unreadable checkpoint file ({type(exc).__name__}: {exc}); remove {path.parent}"
        ) from None


def _check_complete(folder: Path, marker: dict[str, Any]) -> None:
    for rel, meta in marker.get("files", {}).items():
        path = folder / rel
        if not path.is_file():
            raise ConfigError(
                f"{path}: missing from a checkpoint that was saved complete; remove {folder} to resume "
                "from an earlier one, or pass --no-resume"
            )
        size = path.stat().st_size
        if size != meta.get("size") or (meta.get("sha256") and file_sha256(path) != meta["sha256"]):
            what = "truncated" if size < (meta.get("size") or 0) else "changed"
            raise ConfigError(
                f"{path}: {what} since it was saved ({size} bytes, {meta.get('size')} when saved); remove {folder} "
                "to resume from an earlier checkpoint, or pass --no-resume"
            )
    state_file = folder / "trainer_state.json"
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        int(state["global_step"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{state_file}: truncated or unreadable trainer state ({type(exc).__name__}: {exc}); remove {folder} "
            "to resume from an earlier checkpoint, or pass --no-resume"
        ) from None
    for path in _files(folder):
        if path.suffix in _PICKLED:
            verify_tensor_file(path)


def _changed(old: dict[str, Any], new: dict[str, Any]) -> str:
    return ", ".join(changed_settings(old, new)) or "unknown fields"


def find_resume_point(out: Path, config: TrainConfig) -> ResumePlan:
    """Decide, without changing anything, where the run in ``out`` starts; log why when it starts afresh.

    Raises:
        ConfigError: for a complete checkpoint whose files were damaged or replaced, or a file that is not plain
            tensors.
    """
    root = out / CHECKPOINTS
    plan = ResumePlan()
    if not root.is_dir():
        return plan
    folders = sorted(
        (p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name)),
        key=lambda p: int(p.name.split("-")[1]),
        reverse=True,
    )
    if not config.resume:
        plan.discard.append(root)
        plan.reason = f"--no-resume was given ({root} is removed)"
        logger.warning("starting afresh because %s", plan.reason)
        return plan
    key, settings = config.run_key(), config.result_settings()
    for folder in folders:
        marker_file = folder / MARKER
        if not marker_file.is_file():
            logger.warning("ignoring %s: its save did not finish (the run was interrupted while saving)", folder)
            plan.discard.append(folder)
            continue
        try:
            marker = json.loads(marker_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{marker_file}: unreadable ({exc}); remove {folder} or pass --no-resume") from None
        if marker.get("run_key") != key:
            aside = out / f"{CHECKPOINTS}.{marker.get('run_key', 'old')}"
            plan = ResumePlan(set_aside=[(root, aside)])
            plan.reason = (
                f"{root} holds a run with other settings (changed: {_changed(marker.get('settings', {}), settings)}); "
                f"it is kept as {aside}"
            )
            logger.warning("starting afresh because %s", plan.reason)
            return plan
        _check_complete(folder, marker)
        plan.checkpoint, plan.step = str(folder), int(marker.get("step", 0))
        logger.info("resuming %s at step %d", out, plan.step)
        return plan
    plan.reason = f"{root} holds no complete checkpoint"
    logger.warning("starting afresh because %s", plan.reason)
    return plan
