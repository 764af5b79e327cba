"""Training arguments: one dataclass, usable from Python, the CLI and a YAML/JSON config file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from lore_rag.errors import ConfigError
from lore_rag.models.encoder import DEFAULT_MODEL

__all__ = ["TrainConfig"]

LOSSES = ("lore", "infonce")


def _help(text: str, default: Any = None, **kwargs: Any) -> Any:
    if "default_factory" in kwargs:
        return field(metadata={"help": text}, **kwargs)
    return field(default=default, metadata={"help": text})


@dataclass
class TrainConfig:
    """Everything one LORE (or InfoNCE) training run needs; the paper's settings are the defaults."""

    base_model: str = _help("base model: Hugging Face id, local folder, or the bundled default", DEFAULT_MODEL)
    train_files: list[str] = _help("tiered JSONL training file(s) or folders; empty: bundled set", default_factory=list)
    validation_file: str | None = _help("tiered JSONL validation file; default: bundled HotpotQA set", None)
    output_dir: str = _help("output folder: best/ and last/ checkpoints, curves, history", "lore-output")
    loss: str = _help("'lore' (tier-weighted InfoNCE) or 'infonce' (alpha = beta = 1)", "lore")
    tau: float = _help("temperature", 0.05)
    alpha: float = _help("weight of ordinary negatives (N2)", 1.0)
    beta: float = _help("weight of distractors (N1); must exceed alpha for LORE", 3.0)
    lr: float = _help("peak learning rate (AdamW); the paper uses 1e-5 on a larger set", 1e-4)
    epochs: int = _help("passes over the training data", 1)
    batch_size: int = _help("queries per micro-batch", 32)
    grad_accum: int = _help("micro-batches per optimiser step", 1)
    warmup_ratio: float = _help("share of steps with linear warmup, then linear decay", 0.1)
    weight_decay: float = _help("AdamW weight decay", 0.01)
    max_grad_norm: float = _help("gradient clipping norm (0 turns it off)", 1.0)
    seed: int = _help("random seed (data order, dropout)", 0)
    max_seq_length: int = _help("maximum query length in tokens during training", 128)
    max_steps: int | None = _help("stop after this many optimiser steps (overrides epochs)", None)
    eval_steps: int | None = _help("evaluate on the validation file every N steps (also at the end)", None)
    save_steps: int | None = _help("write the resumable last/ checkpoint every N steps", 10)
    metric_for_best: str = _help("validation metric that picks best/: VIEW/METRIC, e.g. rewritten/P@3", "score")
    anchor_weight: float = _help(
        "weight of the original-query anchor: KL from the base model's ranking of each row's original query "
        "to the tuned model's (keeps normal queries intact; 0 turns it off)",
        1.0,
    )
    include_original: bool = _help("also train on original queries as P/N2 rows", False)
    device: str = _help("torch device", "cpu")
    cache_dir: str | None = _help("document-embedding cache folder; default: ~/.cache/lore-rag/doc_embeddings", None)
    resume: bool = _help("resume from output_dir/last when it holds an unfinished run of the same config", True)
    show_progress: bool = _help("progress bars", True)
    name: str | None = _help("label of the checkpoint in tables and the app", None)

    def __post_init__(self) -> None:
        if isinstance(self.train_files, str):
            self.train_files = [self.train_files]
        if self.loss not in LOSSES:
            raise ConfigError(f"field 'loss': must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if self.loss == "infonce":
            self.alpha = 1.0
            self.beta = 1.0
        for name in ("tau", "alpha", "beta", "lr"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"field '{name}': must be > 0, got {getattr(self, name)}")
        if self.loss == "lore" and self.beta <= self.alpha:
            raise ConfigError(f"field 'beta': LORE needs beta > alpha, got beta={self.beta}, alpha={self.alpha}")
        for name in ("epochs", "batch_size", "grad_accum", "max_seq_length"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"field '{name}': must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"field 'warmup_ratio': must be in [0, 1), got {self.warmup_ratio}")
        if self.anchor_weight < 0:
            raise ConfigError(f"field 'anchor_weight': must be >= 0, got {self.anchor_weight}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields."""
        return asdict(self)

    def run_key(self) -> str:
        """Hash of the fields that change the result; a resumed run must match it."""
        ignore = {"output_dir", "resume", "show_progress", "cache_dir", "device", "name", "eval_steps", "save_steps"}
        data = {k: v for k, v in self.to_dict().items() if k not in ignore}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
