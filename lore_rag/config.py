"""Configuration: dataclass fields that describe their own command-line flag, and YAML or JSON option files.

A config dataclass (``TrainConfig``, ``QAEvalConfig``, ``BuildConfig``, ...) is the one place a setting is named,
documented and given its default. :func:`option` declares such a field: its help text and, where the flag differs
from the field name, how the flag is spelled (``flags``, ``metavar``, ``choices``, ``type``, ``nargs``, ``action``,
``group``) and which older spellings still work for one release (``deprecated``). The command line reads these with
:func:`lore_rag.cli.options.add_config_arguments`; a ``--config FILE`` holds the same names.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import MISSING, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from lore_rag.errors import ConfigError

__all__ = [
    "dataclass_from_mapping",
    "finite_float",
    "load_config_file",
    "non_negative_float",
    "non_negative_int",
    "option",
    "port_number",
    "positive_float",
    "positive_int",
]

T = TypeVar("T")


def option(
    help: str,  # noqa: A002 - argparse's name for it
    default: Any = MISSING,
    *,
    default_factory: Callable[[], Any] | Any = MISSING,
    flags: Sequence[str] | None = None,
    metavar: str | None = None,
    choices: Sequence[Any] | None = None,
    type: Callable[[str], Any] | None = None,  # noqa: A002 - argparse's name for it
    nargs: str | int | None = None,
    action: str | None = None,
    group: str | None = None,
    deprecated: Sequence[str] = (),
    cli: bool = True,
) -> Any:
    """A dataclass field that carries its own help text and command-line flag.

    Args:
        help: One line for ``--help`` (and for readers of the dataclass).
        default: The default value (give this or ``default_factory``, or neither for a required field).
        default_factory: Builds the default (lists).
        flags: The flag spellings, e.g. ``("--output", "-o")``; default ``--field-name``. The first is the name
            used in messages.
        metavar: Placeholder in ``--help``.
        choices: The allowed values.
        type: Converter of the flag's text (e.g. ``positive_int``); default from the annotation (int, float, str).
        nargs: argparse ``nargs``; lists default to ``"+"``.
        action: ``"store_true"`` or ``"store_false"`` for an on/off flag (a bool field defaults to
            ``--name/--no-name``).
        group: Title of the ``--help`` section the flag is listed under.
        deprecated: Old spellings that still work for one release: hidden from ``--help``, and using one prints a
            warning naming the new flag.
        cli: ``False`` for a field with no flag (set by the program, not by the user).
    """
    metadata: dict[str, Any] = {"help": help, "cli": cli}
    for key, value in (
        ("flags", tuple(flags) if flags else None),
        ("metavar", metavar),
        ("choices", tuple(choices) if choices is not None else None),
        ("type", type),
        ("nargs", nargs),
        ("action", action),
        ("group", group),
        ("deprecated", tuple(deprecated)),
    ):
        if value:
            metadata[key] = value
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML (``.yaml``/``.yml``) or JSON file holding one mapping.

    Raises:
        ConfigError: for a missing file, a parse error (with its line) or a top level that is not a mapping.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; --config takes a YAML or JSON file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: config file is not UTF-8 text (byte {exc.start + 1})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of option names to values, got {type(data).__name__}")
    for key in data:
        if not isinstance(key, str):
            raise ConfigError(f"{path}: option names must be text, got {key!r}")
    return data


def dataclass_from_mapping(cls: type[T], values: dict[str, Any], *, source: str = "config") -> T:
    """Build dataclass ``cls`` from a mapping, refusing unknown keys by name.

    Raises:
        ConfigError: for a key that is not a field of ``cls``.
    """
    if not is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    names = {f.name for f in fields(cls)}
    clean = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in names:
            raise ConfigError(f"{source}: field '{key}': unknown option (known: {', '.join(sorted(names))})")
        clean[name] = value
    return cls(**clean)  # type: ignore[return-value]


# Checked value types: a flag's (or a config value's) text to a number that makes sense, or one line saying why.
# They raise argparse.ArgumentTypeError, the exception argparse shows as "argument --flag: <message>".


def _number(text: str, kind: type) -> float:
    if isinstance(text, bool):  # a config file's true/false is not a number
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text}")
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
        ) from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def finite_float(text: str) -> float:
    """A float that is neither NaN nor infinite."""
    return float(_number(text, float))


def _bounded(kind: type, low: float, strict: bool, name: str) -> Callable[[str], float]:
    def convert(text: str) -> float:
        value = _number(text, kind)
        if value < low or (strict and value == low):
            bound = "greater than" if strict else "at least"
            raise argparse.ArgumentTypeError(f"must be {bound} {low if kind is float else int(low)}, got {text}")
        return value

    convert.__name__ = name
    return convert


#: An integer ≥ 1.
positive_int = _bounded(int, 1, False, "positive_int")
#: An integer ≥ 0.
non_negative_int = _bounded(int, 0, False, "non_negative_int")
#: A finite float > 0.
positive_float = _bounded(float, 0.0, True, "positive_float")
#: A finite float ≥ 0.
non_negative_float = _bounded(float, 0.0, False, "non_negative_float")


def port_number(text: str) -> int:
    """A TCP port, 1-65535."""
    value = int(_number(text, int))
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, got {text}")
    return value
