"""Training arguments: one dataclass, usable from Python, the CLI and a YAML/JSON config file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from lore_rag.config import help_field as _help
from lore_rag.errors import ConfigError
from lore_rag.models.encoder import DEFAULT_MODEL

__all__ = ["TrainConfig"]

LOSSES = ("lore", "infonce")


@dataclass
class TrainConfig:
    """Everything one LORE (or InfoNCE) training run needs.

    The defaults are the paper's loss (tau 0.05, alpha 1) with what keeps normal questions intact where users
    retrieve (one index of all chunks), chosen on validation: beta 20, 64 mined hard negatives per row, the plain
    questions as extra rows and the original-query anchor at weight 2. ``recipes/configs/train_paper.yaml`` has the
    paper's exact recipe.
    """

    base_model: str = _help("base model: Hugging Face id, local folder, or the bundled default", DEFAULT_MODEL)
    train_files: list[str] = _help("tiered JSONL training file(s) or folders; empty: bundled set", default_factory=list)
    validation_file: str | None = _help("tiered JSONL validation file; default: bundled HotpotQA set", None)
    output_dir: str = _help("output folder: best/ and last/ checkpoints, curves, history", "lore-output")
    loss: str = _help("'lore' (tier-weighted InfoNCE) or 'infonce' (alpha = beta = 1)", "lore")
    tau: float = _help("temperature", 0.05)
    alpha: float = _help("weight of ordinary negatives (N2)", 1.0)
    beta: float = _help("weight of distractors (N1); must exceed alpha for LORE (the paper: 3)", 20.0)
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
    save_total_limit: int = _help(
        "resumable Trainer checkpoints kept in OUTPUT/checkpoints (the newest, and the best one); older ones are "
        "deleted. At least 2, so a save cut short by a kill always leaves a complete one",
        2,
    )
    metric_for_best: str = _help("validation metric that picks best/: VIEW/METRIC, e.g. rewritten/P@3", "score")
    select_rule: str | None = _help(
        "pick best/ by a stated rule instead of --metric-for-best: constraints against the base model (evaluated "
        "before the first step), then one objective, as lore-rag tradeoff's --rule, e.g. "
        "'candidates/plain/P@3>=raw-0.5; corpus/plain/P@10>=raw-1; min candidates/rewritten/N1@3' "
        "(a corpus/ metric evaluates one index of all validation chunks too)",
        None,
        metadata={"metavar": "RULE"},
    )
    anchor_weight: float = _help(
        "weight of the original-query anchor: KL from the base model's ranking of each row's original query "
        "to the tuned model's (keeps normal queries intact; 0 turns it off)",
        2.0,
    )
    anchor_queries: str | None = _help(
        "file of your own users' questions (one per line, or JSONL with a 'query' field): the anchor also keeps "
        "the base model's ranking of each one's top --anchor-candidates training chunks (needs --anchor-weight > 0)",
        None,
    )
    anchor_candidates: int = _help("training chunks mined per --anchor-queries question", 10)
    l2sp_weight: float = _help(
        "L2-SP: weight of the squared distance of the trained weights from the base model's (sum over parameters); "
        "pulls the query encoder toward the base model, i.e. toward normal-question behaviour (0 turns it off)",
        0.0,
    )
    include_original: bool = _help(
        "also train on each row's original (plain) question as a P/N2 row (--no-include-original: rewritten only)",
        True,
    )
    mined_negatives: int = _help(
        "hard negatives: add to each training row the base model's K most similar training chunks that are not "
        "among its candidates, as ordinary negatives (N2), so the loss sees the competitors of a full index (0: off)",
        64,
    )
    group_by_length: bool = _help(
        "batches of similar query length (sorted within windows of 16 batches, batch order shuffled): less "
        "padding, faster steps, every row once per epoch as before",
        False,
    )
    device: str = _help("torch device: auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps", "auto")
    cache_dir: str | None = _help("document-embedding cache folder; default: ~/.cache/lore-rag/doc_embeddings", None)
    resume: bool = _help("resume from output_dir/last when it holds an unfinished run of the same config", True)
    show_progress: bool = _help("progress bars", True)
    name: str | None = _help("label of the checkpoint in tables and the app", None)
    query_prompt: str | None = _help("text prepended to every query (overrides the model's own 'query' prompt)", None)
    query_prompt_name: str | None = _help("name of the model's prompt to use for queries (default: 'query')", None)
    document_prompt_name: str | None = _help(
        "name of the model's prompt to use for documents (default: 'document', 'passage' or 'corpus')", None
    )
    trust_remote_code: bool = _help("allow models that ship their own Python code (only for models you trust)", False)
    bf16: bool | None = _help(
        "bfloat16 mixed precision; the frozen document side is embedded and evaluated in bf16 too, cached apart "
        "from fp32 vectors. Default: on where the device computes bf16 natively (CUDA GPUs with bf16, CPUs with "
        "AVX512-BF16 / AMX), off elsewhere; --bf16 insists (an error where it is missing), --no-bf16 keeps fp32",
        None,
    )
    fp16: bool = _help("float16 mixed precision (CUDA GPUs)", False)
    gradient_checkpointing: bool = _help("recompute activations in the backward pass (less memory, slower)", False)
    lora_r: int = _help("LoRA rank; 0 (default) fine-tunes every weight of the query encoder", 0)
    lora_alpha: float = _help("LoRA scaling alpha", 16.0)
    lora_dropout: float = _help("LoRA dropout", 0.05)
    lora_target_modules: list[str] = _help(
        "modules LoRA wraps (default: PEFT's choice for the architecture)", default_factory=list
    )
    report_to: list[str] = _help(
        "where the Trainer reports metrics: none, tensorboard, wandb, mlflow, ... (as Hugging Face Trainer)",
        default_factory=lambda: ["none"],
    )
    push_to_hub: str | None = _help("after training, upload best/ to this Hugging Face Hub repo id", None)
    merge_lora: bool = _help(
        "with --lora-r: after training, also write OUTPUT/merged, best/ with its adapter merged into a full folder "
        "that plain sentence-transformers loads (as 'lore-rag merge-lora' does)",
        False,
    )

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
        if self.mined_negatives < 0:
            raise ConfigError(f"field 'mined_negatives': must be >= 0 (0 turns it off), got {self.mined_negatives}")
        if self.anchor_candidates < 2:
            raise ConfigError(f"field 'anchor_candidates': must be >= 2, got {self.anchor_candidates}")
        if self.anchor_queries and not self.anchor_weight > 0:
            raise ConfigError("field 'anchor_queries' needs 'anchor_weight' > 0 (the anchor is what uses them)")
        if not self.l2sp_weight >= 0:
            raise ConfigError(f"field 'l2sp_weight': must be >= 0, got {self.l2sp_weight}")
        if int(self.save_total_limit) < 2:
            raise ConfigError(
                f"field 'save_total_limit': must be >= 2 (a save cut short must leave a complete checkpoint), "
                f"got {self.save_total_limit}"
            )
        for name in ("max_steps", "eval_steps", "save_steps"):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                raise ConfigError(f"field '{name}': must be >= 1 (or left unset), got {value}")
        if self.select_rule is not None:
            from lore_rag.training.selection import parse_selection_rule

            try:
                parse_selection_rule(self.select_rule)
            except ConfigError as exc:
                raise ConfigError(f"field 'select_rule': {exc}") from None
        if self.lora_r < 0:
            raise ConfigError(f"field 'lora_r': must be >= 0 (0 turns LoRA off), got {self.lora_r}")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"field 'lora_dropout': must be in [0, 1), got {self.lora_dropout}")
        if self.bf16 and self.fp16:
            raise ConfigError("flags --bf16 and --fp16 exclude each other: pick one")
        if isinstance(self.report_to, str):
            self.report_to = [self.report_to]
        if self.merge_lora and not self.lora_r:
            raise ConfigError(
                "field 'merge_lora' needs 'lora_r' > 0: without LoRA the checkpoint already holds full weights"
            )
        if isinstance(self.lora_target_modules, str):
            self.lora_target_modules = [self.lora_target_modules]

    @property
    def use_bf16(self) -> bool:
        """Whether the run uses bf16 autocast: ``bf16`` as given, or (``None``, the default) where the device has it.

        ``--fp16`` turns the automatic choice off.
        """
        if self.bf16 is not None:
            return self.bf16
        if self.fp16:
            return False
        from lore_rag.models.loading import has_native_bf16, resolve_device

        return has_native_bf16(resolve_device(self.device))

    @property
    def precision(self) -> str:
        """``"bf16"`` when :attr:`use_bf16`, else ``"fp32"``: how the run embeds its frozen side and evaluates."""
        return "bf16" if self.use_bf16 else "fp32"

    def resolved(self) -> TrainConfig:
        """A copy with the automatic choices made for this machine (``bf16`` true or false), as the run records it."""
        return replace(self, bf16=self.use_bf16)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of all fields."""
        return asdict(self)

    def result_settings(self) -> dict[str, Any]:
        """The fields that change the trained weights (what a resumed run must share)."""
        ignore = {
            "output_dir",
            "resume",
            "show_progress",
            "cache_dir",
            "device",
            "name",
            "eval_steps",
            "save_steps",
            "save_total_limit",
            "report_to",
            "push_to_hub",
            "merge_lora",
            "metric_for_best",
            "select_rule",
        }
        return {k: v for k, v in self.to_dict().items() if k not in ignore}

    def run_key(self) -> str:
        """Hash of the fields that change the result; a resumed run must match it."""
        return hashlib.sha256(json.dumps(self.result_settings(), sort_keys=True).encode()).hexdigest()[:16]

    def check_runtime(self) -> None:
        """Checks that need the machine (device, mixed precision, PEFT, the output folder), before any work.

        Raises:
            ConfigError: naming the flag and what to do.
        """
        import os
        import uuid
        from pathlib import Path

        import torch

        from lore_rag.models.loading import has_native_bf16, resolve_device

        device = resolve_device(self.device)
        if self.fp16 and not device.startswith("cuda"):
            raise ConfigError(f"flag --fp16 needs a CUDA GPU; the device here is {device} (try --bf16)")
        if self.bf16:
            if device.startswith("cuda") and not torch.cuda.is_bf16_supported():
                raise ConfigError("flag --bf16: this GPU has no bfloat16 support; use --fp16")
            if device == "cpu" and not has_native_bf16(device):
                raise ConfigError("flag --bf16: this CPU has no bfloat16 instructions (AVX512-BF16, AMX); drop --bf16")
        if self.lora_r:
            try:
                import peft  # noqa: F401
            except ImportError:
                raise ConfigError("flag --lora-r needs the package peft: pip install peft") from None
        import importlib.util

        for target, packages in (("tensorboard", ("tensorboard", "tensorboardX")), ("wandb", ("wandb",))):
            if target in self.report_to and not any(importlib.util.find_spec(p) for p in packages):
                raise ConfigError(
                    f"flag --report-to {target} needs the package {packages[0]}: pip install {packages[0]}"
                )
        out = Path(self.output_dir).expanduser()
        if out.exists() and not out.is_dir():
            raise ConfigError(f"flag --output: {out} exists and is not a folder")
        probe_dir = out if out.is_dir() else next((p for p in out.parents if p.exists()), Path("."))
        if not probe_dir.is_dir():
            raise ConfigError(f"flag --output: {probe_dir} is not a folder, so {out} cannot be created there")
        if not os.access(probe_dir, os.W_OK | os.X_OK):
            raise ConfigError(f"flag --output: {probe_dir} is not writable")
        probe = probe_dir / f".lore-rag-write-probe-{uuid.uuid4().hex[:8]}"
        try:
            probe.mkdir()
            probe.rmdir()
        except OSError as exc:
            raise ConfigError(f"flag --output: cannot write in {probe_dir} ({exc.strerror or exc})") from None

    def apply_prompts(self, model: Any) -> None:
        """Apply ``query_prompt`` / ``query_prompt_name`` / ``document_prompt_name`` to a loaded model's prompts.

        Raises:
            ConfigError: for a prompt name the model does not define.
        """
        prompts = dict(getattr(model, "prompts", None) or {})
        for flag, name, role in (
            ("--query-prompt-name", self.query_prompt_name, "query"),
            ("--document-prompt-name", self.document_prompt_name, "document"),
        ):
            if name is None:
                continue
            if name not in prompts:
                known = ", ".join(sorted(prompts)) or "none"
                raise ConfigError(f"flag {flag}: the model has no prompt named {name!r} (its prompts: {known})")
            prompts[role] = prompts[name]
        if self.query_prompt is not None:
            prompts["query"] = self.query_prompt
        model.prompts = prompts
