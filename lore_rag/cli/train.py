"""``lore-rag train``: fine-tune the query encoder; with no data arguments, the whole default comparison."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from lore_rag.cli.options import add_config_arguments
from lore_rag.training.args import LOSSES, TrainConfig

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
    parser.add_argument(
        "--seeds", type=int, nargs="+", metavar="N", help="train and evaluate each seed; report mean ± std"
    )
    parser.add_argument(
        "--compare",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train both InfoNCE and LORE and print raw vs InfoNCE vs LORE (default: on when no --train is given)",
    )
    parser.add_argument("--eval", dest="eval_files", nargs="+", metavar="FILE", help="extra files to evaluate on")
    parser.add_argument(
        "--corpus-eval",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --compare/--seeds/--eval, also evaluate corpus-wide (one index of all chunks, paired differences "
        "from the raw model with 95%% intervals)",
    )
    parser.set_defaults(func=run)
    from lore_rag.cli import push

    push.register(sub)


def run(args: argparse.Namespace) -> int:
    """Run training as the flags say and print the result table."""
    from lore_rag.training.pipeline import train_and_evaluate

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    config = TrainConfig(**values)
    started = time.perf_counter()
    comparing = args.compare if args.compare is not None else not config.train_files
    seeds = args.seeds or [config.seed]
    if comparing or len(seeds) > 1 or args.eval_files:
        losses = ("infonce", "lore") if comparing else (config.loss,)
        eval_files = list(args.eval_files or [])
        if config.validation_file or not config.train_files:
            from lore_rag.defaults import bundled_validation_path

            eval_files.insert(0, config.validation_file or str(bundled_validation_path()))
        result = train_and_evaluate(config, losses=losses, seeds=seeds, eval_files=eval_files, corpus=args.corpus_eval)
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
    print(f"done in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return 0
