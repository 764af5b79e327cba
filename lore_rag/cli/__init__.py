"""The ``lore-rag`` command: one subcommand per module of this package.

Each module ``lore_rag.cli.<name>`` defines ``register(subparsers)``, which adds its subparser and sets
``func`` to a function ``(args) -> int``. Commands parse, call library functions and print; they hold no
logic of their own.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence

from lore_rag import __version__
from lore_rag.config import load_config_file
from lore_rag.errors import LoreError

__all__ = ["build_parser", "main"]

logger = logging.getLogger("lore_rag")

_COMMANDS = (
    "train",
    "evaluate",
    "tradeoff",
    "index",
    "query",
    "convert",
    "build_data",
    "qa_eval",
    "llm",
    "app",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand this install provides."""
    parser = argparse.ArgumentParser(
        prog="lore-rag",
        description="LORE retriever enhancement: train a distractor-robust query encoder, index, query, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"lore-rag {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        module_name = f"lore_rag.cli.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(sub)
    return parser


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE``: a YAML or JSON mapping of option names to values; flags on the line win."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="YAML or JSON file of options (names as the flags, '-' or '_'); flags given on the line win",
    )


def _apply_config(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    args = parser.parse_args(argv)
    config_path = getattr(args, "config", None)
    if not config_path:
        return args
    sub_parser = _subparser(parser, args.command)
    values = load_config_file(config_path)
    known = {action.dest: action for action in sub_parser._actions}
    defaults = {}
    for key, value in values.items():
        dest = key.replace("-", "_")
        if dest not in known or dest in ("help", "config", "func"):
            raise LoreError(
                f"{config_path}: field '{key}': not an option of 'lore-rag {args.command}' "
                f"(see lore-rag {args.command} --help)"
            )
        defaults[dest] = value
    sub_parser.set_defaults(**defaults)
    return parser.parse_args(argv)


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    raise KeyError(command)


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if verbose < 2:
        for noisy in (
            "httpx",
            "httpcore",
            "httpx2",
            "httpcore2",
            "openai",
            "urllib3",
            "chromadb",
            "sentence_transformers",
            "transformers",
        ):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lore-rag`` with ``argv`` (``sys.argv[1:]`` when ``None``); returns the exit code."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = _apply_config(parser, argv)
    except LoreError as exc:
        print(f"lore-rag: error: {exc}", file=sys.stderr)
        return 2
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    _setup_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except LoreError as exc:
        print(f"lore-rag: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lore-rag: interrupted", file=sys.stderr)
        return 130
