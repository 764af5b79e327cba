"""``lore-rag merge-lora``: a LoRA checkpoint as a full two-sided folder that plain sentence-transformers loads."""

from __future__ import annotations

import argparse
from pathlib import Path

from lore_rag.cli import add_config_option
from lore_rag.cli.options import add_config_arguments, check_output_dir, config_from_args
from lore_rag.models.merge import MergeLoraConfig

_EPILOG = """\
example:
  lore-rag train --train data/ --lora-r 8 --output runs/lora
  lore-rag merge-lora runs/lora -o runs/lora-merged
  python -c "from sentence_transformers import SentenceTransformer as ST; ST('runs/lora-merged').encode_query(['q'])"
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``merge-lora`` subcommand."""
    parser = sub.add_parser(
        "merge-lora",
        help="merge a LoRA checkpoint into a full folder that plain sentence-transformers loads with both sides right",
        description=(
            "Merge the LoRA adapter of a checkpoint into a copy of its base model and write a full two-sided "
            "checkpoint: plain SentenceTransformer(OUTPUT) then gives encode_query the tuned side and encode_document "
            "the original base model. The manifest (base model, fingerprint, settings, data hashes) is kept and "
            "records the adapter merged (path, sha256, rank). The output folder must be new or empty; the source is "
            "never changed."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(parser, MergeLoraConfig)
    add_config_option(parser)
    parser.set_defaults(func=run)


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def run(args: argparse.Namespace) -> int:
    """Merge and print where the merged checkpoint went."""
    config = config_from_args(MergeLoraConfig, args)
    check_output_dir(config.output, "-o/--output")
    out = config.merge()
    print(f"merged {config.checkpoint} into {out} ({_size_mb(out):.0f} MB, query + document sides)")
    print(f"  plain sentence-transformers: SentenceTransformer({str(out)!r}).encode_query / .encode_document")
    return 0
