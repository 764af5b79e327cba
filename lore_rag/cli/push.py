"""``lore-rag push``: upload a LORE checkpoint (both sides, manifest, card) to the Hugging Face Hub."""

from __future__ import annotations

import argparse


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
    parser.add_argument("checkpoint", help="checkpoint folder, or a training output folder")
    parser.add_argument("repo_id", help="Hub repo id: user/name")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--revision", help="branch to commit to")
    parser.add_argument("--token", help="Hub token (default: HF_TOKEN or the cached login)")
    parser.add_argument("--message", help="commit message")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Push and print where it went."""
    from lore_rag.models.hub import push_checkpoint

    url = push_checkpoint(
        args.checkpoint,
        args.repo_id,
        private=args.private,
        token=args.token,
        revision=args.revision,
        commit_message=args.message,
    )
    print(f"pushed {args.checkpoint} to {args.repo_id}: {url}")
    return 0
