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
import math
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from lore_rag import __version__
from lore_rag.config import apply_config_file
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
    "merge_lora",
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (the usage is one ``--help`` away), exit code 2."""

    def error(self, message: str) -> Any:  # argparse's signature says NoReturn; it exits
        """Print ``PROG: error: MESSAGE (see 'PROG --help')`` and exit with code 2."""
        message = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand this install provides."""
    parser = _Parser(
        prog="lore-rag",
        description="LORE retriever enhancement: train a distractor-robust query encoder, index, query, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"lore-rag {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the Python traceback of an unexpected error (also $LORE_RAG_DEBUG=1)",
    )
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


def _config_request(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[str, str] | None:
    """The command and its ``--config FILE`` in ``argv``, found before parsing, so the file can give required flags."""
    words = iter(argv)
    command = next((word for word in words if not word.startswith("-")), None)
    try:
        _subparser(parser, command or "")
    except KeyError:
        return None
    for word in words:
        if word == "--":
            return None
        if word == "--config":
            path = next(words, None)
            return (str(command), path) if path else None
        if word.startswith("--config="):
            return str(command), word.split("=", 1)[1]
    return None


def _apply_config(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    early = _config_request(parser, argv)
    if early is not None:
        apply_config_file(_subparser(parser, early[0]), early[1], command=f"lore-rag {early[0]}")
    args = parser.parse_args(argv)
    config_path = getattr(args, "config", None)
    if not config_path or early == (args.command, config_path):
        return args
    apply_config_file(_subparser(parser, args.command), config_path, command=f"lore-rag {args.command}")
    return parser.parse_args(argv)


def _check_floats(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse NaN and infinity for every float flag of the command (``--lr nan``), whatever declared the flag."""
    try:
        sub_parser = _subparser(parser, args.command)
    except KeyError:
        return
    for action in sub_parser._actions:
        if action.type is not float:
            continue
        value = getattr(args, action.dest, None)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, float) and not math.isfinite(item):
                flag = "/".join(action.option_strings) or action.dest
                sub_parser.error(f"argument {flag}: must be a finite number, got {item}")


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


def _unexpected(exc: BaseException) -> str:
    """One line for an exception lore-rag did not raise on purpose."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    text = " ".join(str(exc).split()) or "(no message)"
    if len(text) > 300:
        text = text[:297] + "..."
    return (
        f"unexpected {type(exc).__name__}: {text} (run again with --debug or LORE_RAG_DEBUG=1 for the traceback, "
        "and please report it)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lore-rag`` with ``argv`` (``sys.argv[1:]`` when ``None``); returns the exit code."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    debug = "--debug" in argv or os.environ.get("LORE_RAG_DEBUG", "").lower() in ("1", "true", "yes")
    try:
        args = _apply_config(parser, argv)
        if getattr(args, "command", None):
            _check_floats(parser, args)
    except LoreError as exc:
        print(f"lore-rag: error: {exc}", file=sys.stderr)
        return 2
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    debug = debug or bool(args.debug)
    _setup_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except LoreError as exc:
        if debug:
            traceback.print_exc()
        print(f"lore-rag: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lore-rag: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, the traceback only on request
        if debug:
            traceback.print_exc()
        print(f"lore-rag: error: {_unexpected(exc)}", file=sys.stderr)
        return 1
