"""``lore-rag train``: fine-tune the query encoder; with no data arguments, the whole default comparison."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from lore_rag.cli.options import add_config_arguments, config_from_args
from lore_rag.training.args import LOSSES, TrainConfig
from lore_rag.training.pipeline import ComparisonConfig

#: How ``train`` spells the flags of the :class:`TrainConfig` fields whose flag is not ``--field-name``.
_FLAGS: dict[str, dict[str, Any]] = {
    "train_files": {"flags": ("--train",), "metavar": "FILE"},
    "validation_file": {"flags": ("--validation",), "metavar": "FILE"},
    "output_dir": {"flags": ("--output", "-o"), "metavar": "DIR"},
    "loss": {"choices": LOSSES},
    "lora_r": {"metavar": "R"},
    "lora_target_modules": {"metavar": "NAME"},
    "report_to": {"metavar": "NAME"},
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    from lore_rag.cli import add_config_option

    parser = sub.add_parser(
        "train",
        help="fine-tune a LORE query encoder (no data arguments: raw vs InfoNCE vs LORE on the bundled data)",
        description=(
            "Fine-tune only the query encoder of a base model on tiered data (P / N1 / N2); the document encoder "
            "stays the original model, so existing indexes stay valid. With no --train, trains InfoNCE and LORE on "
            "the bundled data and prints raw vs InfoNCE vs LORE on the bundled HotpotQA validation set."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_config_option(parser)
    add_config_arguments(parser, TrainConfig, overrides=_FLAGS)
    add_config_arguments(parser, ComparisonConfig)
    parser.set_defaults(func=run)
    from lore_rag.cli import push

    push.register(sub)


def run(args: argparse.Namespace) -> int:
    """Run training as the flags say and print the result table."""
    from lore_rag.training.pipeline import ComparisonConfig, train_and_evaluate

    config = config_from_args(TrainConfig, args)
    comparison = config_from_args(ComparisonConfig, args)
    started = time.perf_counter()
    losses = comparison.losses(config)
    if losses is not None:
        result = train_and_evaluate(
            config,
            losses=losses,
            seeds=comparison.seeds or [config.seed],
            eval_files=comparison.files(config),
            corpus=comparison.corpus_eval,
        )
        for table in result.tables.values():
            print(table)
            print()
        for loss, paths in result.checkpoints.items():
            for path in paths:
                print(f"{loss} checkpoint: {path}")
        print(f"results: {result.json_path} (and results.md); curves: training_curves.png in each run folder")
    else:
        from lore_rag.training.trainer import train

        outcome = train(config)
        print(f"best checkpoint: {outcome.best}")
        print(f"last checkpoint: {outcome.last}")
        if outcome.metrics:
            from lore_rag.evaluation.report import format_table

            metrics = {k: v for k, v in outcome.metrics.items() if isinstance(v, dict)}
            print(format_table({config.name or config.loss: metrics}, title="validation (best step)"))
        print(f"curves: {Path(config.output_dir) / 'training_curves.png'}")
        if config.push_to_hub:
            print(f"pushed {outcome.best} to {config.push_to_hub}")
        if outcome.merged is not None:
            print(f"merged checkpoint (plain sentence-transformers): {outcome.merged}")
    print(f"done in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return 0
