"""Comparison runs: several losses and seeds trained, then evaluated together in both protocols.

Each query's own candidates (the paper's Table 1) and one index of all chunks (where a RAG chain retrieves).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lore_rag.config import option
from lore_rag.data.io import read_examples
from lore_rag.defaults import bundled_validation_path
from lore_rag.evaluation.corpus import format_corpus_table
from lore_rag.evaluation.report import (
    aggregate_runs,
    differences_to_json,
    format_differences,
    format_table,
    to_jsonable,
    write_json,
)
from lore_rag.evaluation.runner import ModelGroup, compare_with_baseline, evaluate_groups_corpus, evaluate_models
from lore_rag.models.encoder import LoreEncoder
from lore_rag.training.args import TrainConfig
from lore_rag.training.trainer import TrainResult, train

__all__ = ["ComparisonConfig", "ComparisonResult", "compare", "train_and_evaluate"]

logger = logging.getLogger(__name__)

_LABELS = {"lore": "LORE", "infonce": "InfoNCE"}

#: Corpus-wide metrics whose paired difference from the raw model the summary reports, per view.
CORPUS_DIFFERENCES = {
    "rewritten": ("P@3", "P@10", "MRR@10", "N1@3"),
    "original": ("P@3", "P@10", "MRR@10"),
}


@dataclasses.dataclass
class ComparisonConfig:
    """What ``lore-rag train`` compares besides one :class:`TrainConfig` run: losses, seeds, files, protocols."""

    seeds: list[int] | None = option(
        "train and evaluate each seed; report mean ± std", None, metavar="N", type=int, nargs="+"
    )
    compare: bool | None = option(
        "train both InfoNCE and LORE and print raw vs InfoNCE vs LORE (default: on when no --train is given)", None
    )
    eval_files: list[str] | None = option(
        "extra files to evaluate on", None, flags=("--eval",), metavar="FILE", nargs="+"
    )
    corpus_eval: bool = option(
        "with --compare/--seeds/--eval, also evaluate corpus-wide (one index of all chunks, paired differences "
        "from the raw model with 95%% intervals)",
        True,
    )

    def losses(self, config: TrainConfig) -> tuple[str, ...] | None:
        """The losses to train and compare, or ``None`` for one plain :func:`train` run."""
        comparing = self.compare if self.compare is not None else not config.train_files
        if not (comparing or len(self.seeds or []) > 1 or self.eval_files):
            return None
        return ("infonce", "lore") if comparing else (config.loss,)

    def files(self, config: TrainConfig) -> list[str]:
        """The files to evaluate on: the validation file (the bundled one with the bundled data), then ``--eval``."""
        files = list(self.eval_files or [])
        if config.validation_file or not config.train_files:
            files.insert(0, str(config.validation_file or bundled_validation_path()))
        return files


@dataclasses.dataclass
class ComparisonResult:
    """Tables and raw numbers of a comparison run.

    Attributes:
        tables: Per evaluation file, the candidate-set table, then the corpus-wide tables (one index of all the file's
            chunks) and their paired differences from the raw model with bootstrap intervals.
        results: ``{file: {model: [per-seed {view: metrics}]}}`` (candidate sets).
        checkpoints: ``{loss: [best checkpoint per seed]}``.
        json_path: Where the results were written.
    """

    tables: dict[str, str]
    results: dict[str, dict[str, list[dict[str, dict[str, float]]]]]
    checkpoints: dict[str, list[Path]]
    json_path: Path


def train_and_evaluate(
    config: TrainConfig,
    *,
    losses: Sequence[str] = ("infonce", "lore"),
    seeds: Sequence[int] = (0,),
    eval_files: Sequence[str | os.PathLike[str]] | None = None,
    include_raw: bool = True,
    corpus: bool = True,
) -> ComparisonResult:
    """Train each loss with each seed from ``config`` and evaluate all of them, plus the raw model, in both protocols.

    Each run goes to ``output_dir/<loss>/seed<N>`` (or ``output_dir/<loss>`` for a single seed). The document
    embeddings are computed once and shared by every run.

    Args:
        config: Base settings; ``loss``, ``seed``, ``output_dir`` and ``name`` are set per run.
        losses: Which losses to train.
        seeds: Seeds to train each loss with.
        eval_files: Files to evaluate on; defaults to the validation file (or the bundled one).
        include_raw: Add the untuned base model as a row (and the baseline of the corpus-wide differences).
        corpus: Also evaluate corpus-wide: one index of all the file's chunks, top-k as a RAG chain retrieves,
            with each model's paired difference from the raw model (95 % bootstrap interval over questions and
            seeds). The index is kept in ``output_dir/corpus_store`` so a rerun embeds nothing again.

    Returns:
        The tables and numbers; also written to ``output_dir/results.json`` and ``results.md``.
    """
    config = config.resolved()  # one precision for every run and the evaluation (each train() checks the machine)
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
    precision = config.precision  # evaluated as trained: a --bf16 run's vectors are all bf16
    base = LoreEncoder.raw(config.base_model, name="raw", device=config.device, precision=precision)
    results: dict[str, dict[str, list[dict[str, dict[str, float]]]]] = {}
    encoders: list[tuple[str, LoreEncoder]] = []
    if include_raw:
        encoders.append(("raw", base))
    for loss, paths in checkpoints.items():
        for path in paths:
            encoders.append(
                (
                    _LABELS.get(loss, loss),
                    LoreEncoder.from_checkpoint(path, document_model=base.document_model, precision=precision),
                )
            )
    tables: dict[str, str] = {}
    for name, enc in encoders:
        enc.name = name
        per_file = evaluate_models([enc], files, cache_folder=config.cache_dir, show_progress=config.show_progress)
        for file, metrics in per_file.items():
            results.setdefault(file, {}).setdefault(name, []).append(metrics[name])
    summary: dict[str, Any] = {"seeds": list(seeds), "losses": list(losses), "files": {}}
    for file, by_model in results.items():
        tables[file] = format_table(
            by_model, title=f"**{Path(file).name}** ({len(seeds)} seed(s), each query's own candidates)"
        )
        summary["files"][file] = {name: {"runs": r, "aggregate": aggregate_runs(r)} for name, r in by_model.items()}
    if corpus:
        groups = [ModelGroup(name, [enc for label, enc in encoders if label == name]) for name in dict(encoders)]
        for file in results:
            text, numbers = _corpus_section(
                groups, file, store=root / "corpus_store", baseline="raw" if include_raw else None, config=config
            )
            tables[file] += "\n\n" + text
            summary["files"][file]["corpus"] = numbers
    summary["checkpoints"] = {k: [str(p) for p in v] for k, v in checkpoints.items()}
    json_path = write_json(summary, root / "results.json")
    (root / "results.md").write_text("\n\n".join(tables.values()) + "\n", encoding="utf-8")
    return ComparisonResult(tables, results, checkpoints, json_path)


def _corpus_section(
    groups: list[ModelGroup], file: str | os.PathLike[str], *, store: Path, baseline: str | None, config: TrainConfig
) -> tuple[str, dict[str, Any]]:
    """Corpus-wide tables of ``file`` (one index of its chunks) and the paired differences from ``baseline``."""
    examples = read_examples(file)
    # Batched searches: the summary needs rankings, not the per-query latency ``lore-rag eval --mode corpus`` measures.
    result = evaluate_groups_corpus(
        groups,
        examples,
        store_dir=store,
        show_progress=config.show_progress,
        cache_folder=config.cache_dir,
        latency=False,
    )
    parts = []
    for view, table in result["views"].items():
        parts.append(f"**{Path(file).name}** ({view} queries, corpus-wide: one index of all chunks)\n\n")
        parts.append(format_corpus_table(table) + "\n\n")
    differences: dict[str, Any] = {}
    if baseline is not None:
        differences = compare_with_baseline(result["per_query"], baseline, CORPUS_DIFFERENCES)
        for view, by_model in differences.items():
            title = f"{Path(file).name}, {view} queries, corpus-wide, paired difference from {baseline} (95 % CI):"
            parts.append(format_differences(by_model, baseline=baseline, title=title) + "\n\n")
    numbers = {"views": to_jsonable(result["views"]), "differences": differences_to_json(differences)}
    return "".join(parts).rstrip(), numbers


def compare(config: TrainConfig, **kwargs: Any) -> ComparisonResult:
    """Deprecated name of :func:`train_and_evaluate` (it trains, then evaluates); kept for one release."""
    return train_and_evaluate(config, **kwargs)
