"""``lore-rag push``: upload a LORE checkpoint (both sides, manifest, card) to the Hugging Face Hub."""

from __future__ import annotations

import argparse

from lore_rag.cli import add_config_option
from lore_rag.cli.options import add_config_arguments, config_from_args
from lore_rag.models.hub import PushConfig


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``push`` subcommand."""
    parser = sub.add_parser(
        "push",
        help="upload a LORE checkpoint to the Hugging Face Hub",
        description=(
            "Upload a checkpoint folder (or a training output folder: its best/) to a Hub model repo, creating the "
            "repo when needed. The model card is rewritten so its loading examples name the repo. Needs network "
            "access and a token (HF_TOKEN or `hf auth login`)."
        ),
    )
    add_config_arguments(parser, PushConfig)
    add_config_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Push and print where it went."""
    config = config_from_args(PushConfig, args)
    url = config.push()
    print(f"pushed {config.checkpoint} to {config.repo_id}: {url}")
    return 0
