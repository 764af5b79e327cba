"""``lore-rag tradeoff``: interpolate a tuned query encoder with its base, plot the curve, choose a ratio by a rule."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any

from lore_rag.cli.options import add_config_arguments
from lore_rag.evaluation.tradeoff import DEFAULT_RULE, TradeoffConfig

_EPILOG = f"""\
The rule: constraints 'METRIC OP BOUND' and one objective 'min METRIC' or 'max METRIC', separated by ';'.
  METRIC  PROTOCOL/VIEW/NAME: PROTOCOL candidates (each question's own candidates) or corpus (one index of
          all chunks); VIEW rewritten or plain; NAME P@k or N1@k (both protocols), MRR@10, nDCG@10,
          N1count@k, N1any@k (corpus only); N1 only on rewritten questions.
  OP      >=  <=  >  <
  BOUND   a number (percent, or 0-1 for MRR/nDCG), or raw / tuned plus or minus a number: the value at
          ratio 0 (base model) or 1 (the checkpoint).
Ratios meeting every constraint are kept; the objective picks one (ties: the smaller ratio).

examples:
  lore-rag tradeoff --checkpoint lore-output/lore
  lore-rag tradeoff --checkpoint runs/lore --validation data/val.jsonl --ratios 0.25 0.5 0.75 \\
      --rule "corpus/plain/P@10>=raw-0; candidates/plain/P@3>=raw-0.5; min candidates/rewritten/N1@3"
  lore-rag tradeoff --checkpoint runs/lore --compare runs/infonce --output runs/lore-tradeoff

default rule: {DEFAULT_RULE}
"""

#: How ``tradeoff`` spells the flags of the :class:`TradeoffConfig` fields whose flag is not ``--field-name``.
_FLAGS: dict[str, dict[str, Any]] = {
    "validation_file": {"flags": ("--validation",)},
    "plain_file": {"flags": ("--plain",)},
    "output_dir": {"flags": ("--output",)},
    "ratios": {"metavar": "X"},
    "compare": {"metavar": "X"},
    "ks": {"metavar": "X"},
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``tradeoff`` subcommand (one flag per :class:`TradeoffConfig` field)."""
    from lore_rag.cli import add_config_option

    parser = sub.add_parser(
        "tradeoff",
        help="interpolate a checkpoint with its base model, plot distractors vs normal recall, choose a ratio",
        description=(
            "Evaluate the query encoder at several points between the base model (ratio 0) and a tuned checkpoint "
            "(ratio 1), weight by weight, on a validation file in both protocols (documents come from the cache, "
            "only queries are re-encoded); plot the curve with bootstrap intervals, pick a ratio by --rule and write "
            "that checkpoint."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(parser)
    add_config_arguments(parser, TradeoffConfig, overrides=_FLAGS, show_defaults=True)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the trade-off and print the table, the choice and the files written."""
    from lore_rag.evaluation.tradeoff import run_tradeoff

    config = TradeoffConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TradeoffConfig)})
    started = time.perf_counter()
    result = run_tradeoff(config)
    print(result.table)
    print()
    print(f"{len(result.ratios)} ratios, {result.seconds_per_point:.1f} s per ratio (queries only; documents cached)")
    for kind, path in result.files.items():
        print(f"{kind}: {path}")
    if result.checkpoint is not None:
        print(f"checkpoint (ratio {result.choice.ratio:g}): {result.checkpoint}")
    elif result.choice.ratio is None:
        print(
            "lore-rag: error: no ratio meets every constraint of --rule (see the table); no checkpoint written",
            file=sys.stderr,
        )
        return 1
    print(f"done in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return 0
