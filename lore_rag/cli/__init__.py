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


def _apply_config(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    args = parser.parse_args(argv)
    config_path = getattr(args, "config", None)
    if not config_path:
        return args
    sub_parser = _subparser(parser, args.command)
    values = load_config_file(config_path)
    known, by_flag = _config_keys(sub_parser)
    defaults = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        action = known.get(name) or by_flag.get(name)
        if action is None or name in ("help", "config", "func"):
            raise LoreError(
                f"{config_path}: field '{key}': not an option of 'lore-rag {args.command}' "
                f"(see lore-rag {args.command} --help)"
            )
        if action.help is argparse.SUPPRESS:  # a deprecated spelling: say the new one
            new = known[action.dest].option_strings[0].lstrip("-") if action.dest in known else action.dest
            print(f"lore-rag: warning: {config_path}: field '{key}' is deprecated; use '{new}'", file=sys.stderr)
        if value is None:  # 'key: null' leaves the option at its default
            continue
        try:
            if name not in known and isinstance(action, argparse._StoreConstAction):
                # a flag's own name ('no-progress: true'): true means the flag is given
                if not isinstance(value, bool):
                    raise TypeError(f"expected true or false, got {_describe_value(value)}")
                defaults[action.dest] = action.const if value else action.default
            else:
                defaults[action.dest] = _config_value(action, value)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            raise LoreError(f"{config_path}: field '{key}': {exc}") from None
        for same in (action, known.get(action.dest, action)):
            if same.required and same.option_strings:
                same.required = False  # given by the file
    sub_parser.set_defaults(**defaults)
    return parser.parse_args(argv)


def _config_keys(parser: argparse.ArgumentParser) -> tuple[dict[str, argparse.Action], dict[str, argparse.Action]]:
    """A command's config-file keys: each option's dest (its visible flag wins), and each long flag's name."""
    known: dict[str, argparse.Action] = {}
    by_flag: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if action.dest not in known or known[action.dest].help is argparse.SUPPRESS:
            known[action.dest] = action
        for flag in action.option_strings:
            if flag.startswith("--"):
                by_flag.setdefault(flag[2:].replace("-", "_"), action)
    return known, by_flag


def _describe_value(value: Any) -> str:
    kind = {list: "a list", dict: "a mapping", bool: "a boolean", type(None): "nothing"}.get(type(value))
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{kind} {shown}" if kind and value is not None else (kind or shown)


def _config_scalar(action: argparse.Action, value: Any) -> Any:
    """One value of a config file, converted as the flag's ``type`` converts text."""
    if isinstance(value, (list, dict)) or value is None:
        raise TypeError(f"expected a single value, got {_describe_value(value)}")
    if action.type is not None:
        converter: Any = action.type
        name = getattr(converter, "__name__", "")
        if name == "int" or name.endswith("_int") or name == "port_number":
            kind = "an integer"
        elif name == "float" or name.endswith("_float"):
            kind = "a number"
        else:
            kind = "a valid value"
        if isinstance(value, bool):
            raise TypeError(f"expected {kind}, got {_describe_value(value)}")
        try:
            converted = converter(str(value))
        except (TypeError, ValueError):
            raise TypeError(f"expected {kind}, got {value!r}") from None
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        converted = str(value)
    else:
        raise TypeError(f"expected text, got {_describe_value(value)}")
    if isinstance(converted, float) and not math.isfinite(converted):
        raise ValueError(f"must be a finite number, got {value}")
    if action.choices is not None and converted not in action.choices:
        raise ValueError(f"expected one of {', '.join(map(str, action.choices))}, got {value!r}")
    return converted


def _config_value(action: argparse.Action, value: Any) -> Any:
    """A config file's value for ``action``, checked and converted like the flag's text would be."""
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse.BooleanOptionalAction)):
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {_describe_value(value)}")
        return value  # the option's own value: 'index-data: false' as --no-index-data
    if isinstance(action, argparse._StoreConstAction):
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {_describe_value(value)}")
        return action.const if value else action.default
    if isinstance(action, argparse._CountAction):
        return _config_scalar(argparse.Action([], action.dest, type=int), value)
    many = isinstance(action, argparse._AppendAction) or action.nargs in ("+", "*") or isinstance(action.nargs, int)
    if many:
        items = value if isinstance(value, list) else [value]
        if action.nargs == "+" and not items:
            raise ValueError("expected at least one value, got an empty list")
        if isinstance(action.nargs, int) and len(items) != action.nargs:
            raise ValueError(f"expected {action.nargs} values, got {len(items)}")
        return [_config_scalar(action, item) for item in items]
    return _config_scalar(action, value)


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
