"""Comparison runs: several losses and seeds trained and evaluated together (paper Table 1)."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lore_rag.defaults import bundled_validation_path
from lore_rag.evaluation.report import aggregate_runs, format_table, write_json
from lore_rag.evaluation.runner import evaluate_models
from lore_rag.models.encoder import LoreEncoder
from lore_rag.training.args import TrainConfig
from lore_rag.training.trainer import TrainResult, train

__all__ = ["ComparisonResult", "compare"]

logger = logging.getLogger(__name__)

_LABELS = {"lore": "LORE", "infonce": "InfoNCE"}


@dataclasses.dataclass
class ComparisonResult:
    """Tables and raw numbers of a comparison run.

    Attributes:
        tables: One Markdown table per evaluation file.
        results: ``{file: {model: [per-seed {view: metrics}]}}``.
        checkpoints: ``{loss: [best checkpoint per seed]}``.
        json_path: Where the results were written.
    """

    tables: dict[str, str]
    results: dict[str, dict[str, list[dict[str, dict[str, float]]]]]
    checkpoints: dict[str, list[Path]]
    json_path: Path


def compare(
    config: TrainConfig,
    *,
    losses: Sequence[str] = ("infonce", "lore"),
    seeds: Sequence[int] = (0,),
    eval_files: Sequence[str | os.PathLike[str]] | None = None,
    include_raw: bool = True,
) -> ComparisonResult:
    """Train each loss with each seed from ``config`` and evaluate all of them, plus the raw model.

    Each run goes to ``output_dir/<loss>/seed<N>`` (or ``output_dir/<loss>`` for a single seed). The document
    embeddings are computed once and shared by every run.

    Args:
        config: Base settings; ``loss``, ``seed``, ``output_dir`` and ``name`` are set per run.
        losses: Which losses to train.
        seeds: Seeds to train each loss with.
        eval_files: Files to evaluate on; defaults to the validation file (or the bundled one).
        include_raw: Add the untuned base model as a row.

    Returns:
        The tables and numbers; also written to ``output_dir/results.json`` and ``results.md``.
    """
    root = Path(config.output_dir)
    checkpoints: dict[str, list[Path]] = {}
    runs: dict[str, list[TrainResult]] = {}
    for loss in losses:
        for seed in seeds:
            folder = root / loss if len(seeds) == 1 else root / loss / f"seed{seed}"
            label = _LABELS.get(loss, loss)
            run_config = dataclasses.replace(
                config,
                loss=loss,
                seed=seed,
                output_dir=str(folder),
                name=label,
                alpha=config.alpha if loss == "lore" else 1.0,
                beta=config.beta if loss == "lore" else 1.0,
            )
            logger.info("training %s (seed %d) -> %s", label, seed, folder)
            result = train(run_config)
            runs.setdefault(loss, []).append(result)
            checkpoints.setdefault(loss, []).append(result.best)
    files = list(eval_files or [])
    if not files:
        files = [config.validation_file or bundled_validation_path()]
    base = LoreEncoder.raw(config.base_model, name="raw", device=config.device)
    results: dict[str, dict[str, list[dict[str, dict[str, float]]]]] = {}
    encoders: list[tuple[str, LoreEncoder]] = []
    if include_raw:
        encoders.append(("raw", base))
    for loss, paths in checkpoints.items():
        for path in paths:
            encoders.append(
                (_LABELS.get(loss, loss), LoreEncoder.from_checkpoint(path, document_model=base.document_model))
            )
    tables: dict[str, str] = {}
    for name, enc in encoders:
        enc.name = name
        per_file = evaluate_models([enc], files, cache_folder=config.cache_dir, show_progress=config.show_progress)
        for file, metrics in per_file.items():
            results.setdefault(file, {}).setdefault(name, []).append(metrics[name])
    summary: dict[str, Any] = {"seeds": list(seeds), "losses": list(losses), "files": {}}
    for file, by_model in results.items():
        tables[file] = format_table(by_model, title=f"**{Path(file).name}** ({len(seeds)} seed(s))")
        summary["files"][file] = {name: {"runs": r, "aggregate": aggregate_runs(r)} for name, r in by_model.items()}
    summary["checkpoints"] = {k: [str(p) for p in v] for k, v in checkpoints.items()}
    json_path = write_json(summary, root / "results.json")
    (root / "results.md").write_text("\n\n".join(tables.values()) + "\n", encoding="utf-8")
    return ComparisonResult(tables, results, checkpoints, json_path)
