"""Configuration: dataclass fields that describe their own command-line flag, and YAML or JSON option files.

A config dataclass (``TrainConfig``, ``QAEvalConfig``, ``BuildConfig``, ...) is the one place a setting is named,
documented and given its default. :func:`option` declares such a field: its help text and, where the flag differs
from the field name, how the flag is spelled (``flags``, ``metavar``, ``choices``, ``type``, ``nargs``, ``action``,
``group``) and which older spellings still work for one release (``deprecated``). The command line reads these with
:func:`add_config_arguments`, here rather than in the CLI so that recipes and scripts build the same flags;
:func:`apply_config_file` reads a ``--config FILE`` of the same names into a parser's defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from lore_rag.errors import ConfigError

__all__ = [
    "add_config_arguments",
    "apply_config_file",
    "argument_group",
    "config_from_args",
    "dataclass_from_mapping",
    "help_field",
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
            ``--name/--no-name``); ``"append"`` for a repeatable flag of a list field.
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


def help_field(text: str, default: Any = None, **kwargs: Any) -> Any:
    """A dataclass field with a help string (``metadata["help"]``), the text its command-line flag shows.

    Args:
        text: What the option does, in a few words.
        default: Its default value (ignored when ``default_factory`` is given).
        **kwargs: ``default_factory`` for mutable defaults, or other :func:`dataclasses.field` arguments.
    """
    metadata = {"help": text, **kwargs.pop("metadata", {})}
    if "default_factory" in kwargs:
        return field(metadata=metadata, **kwargs)
    return field(default=default, metadata=metadata, **kwargs)


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


# Command-line flags generated from config dataclasses, and option files applied to them.


def _plain_type(hint: Any) -> Any:
    """``X`` for ``X | None`` (and ``Optional[X]``); the hint itself otherwise."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


def _deprecated(base: type[argparse.Action], new_flag: str) -> type[argparse.Action]:
    """An action that does what ``base`` does after one warning line naming ``new_flag`` on stderr."""

    class DeprecatedAlias(base):  # type: ignore[valid-type,misc]
        def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
            sys.stderr.write(
                f"{parser.prog}: warning: {option_string} is deprecated and goes away in the next release; "
                f"use {new_flag}\n"
            )
            super().__call__(parser, namespace, values, option_string)

    return DeprecatedAlias


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _argument_kwargs(name: str, hint: Any, meta: Mapping[str, Any], default: Any) -> tuple[dict[str, Any], Any]:
    """``add_argument`` keywords of one field, and the action class a deprecated alias of it uses."""
    kwargs: dict[str, Any] = {"dest": name, "default": default, "help": meta.get("help", "")}
    for key in ("metavar", "choices", "nargs"):
        if meta.get(key) is not None:
            kwargs[key] = list(meta[key]) if key == "choices" else meta[key]
    kind = _plain_type(hint)
    action = meta.get("action")
    if action == "append":  # a repeatable flag: one value each time
        (item,) = typing.get_args(kind) or (str,)
        kwargs["action"] = "append"
        converter = meta.get("type") or {int: int, float: float}.get(_plain_type(item))
        if converter is not None:
            kwargs["type"] = converter
        return kwargs, argparse._AppendAction
    if action in ("store_true", "store_false"):
        kwargs["action"] = action
        kwargs.pop("nargs", None)
        return kwargs, argparse._StoreTrueAction if action == "store_true" else argparse._StoreFalseAction
    if kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
        return kwargs, argparse.BooleanOptionalAction
    if typing.get_origin(kind) is list:
        (item,) = typing.get_args(kind) or (str,)
        kwargs.setdefault("nargs", "+")
        kind = _plain_type(item)
    converter = meta.get("type") or {int: int, float: float}.get(kind)
    if converter is not None:
        kwargs["type"] = converter
    return kwargs, argparse._StoreAction


def argument_group(parser: argparse.ArgumentParser, title: str) -> Any:
    """The ``--help`` section of ``parser`` called ``title``, made when it is not there yet."""
    for group in parser._action_groups:
        if group.title == title:
            return group
    return parser.add_argument_group(title)


def config_from_args(config: type[T], args: argparse.Namespace, **values: Any) -> T:
    """Build the dataclass ``config`` from the parsed flags of its fields (and ``values``, which win).

    Fields without a flag (``cli=False``) keep their defaults, even when another flag has the same name.
    """
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(config)  # type: ignore[arg-type]
        if f.init and f.metadata.get("cli", True) and hasattr(args, f.name)
    }
    return config(**{**given, **values})


def add_config_arguments(
    parser: argparse.ArgumentParser,
    config: type,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    skip: Sequence[str] = (),
    show_defaults: bool = False,
    deprecated: bool = True,
) -> list[str]:
    """Add one flag per field of the dataclass ``config``, as its :func:`lore_rag.config.option` metadata says.

    The flag is ``--field-name`` unless the field names others; its default is the field's; its type comes from the
    metadata or the annotation (``int``, ``float``, ``str``, ``list[...]`` as ``nargs="+"``, ``bool`` as
    ``--name/--no-name`` unless the metadata says ``store_true`` / ``store_false``). Deprecated spellings are added
    hidden; using one prints a warning line naming the new flag. Each value lands in ``args.<field name>``, so
    ``config(**{name: getattr(args, name) for name in the returned names})`` rebuilds the dataclass.

    Args:
        parser: The command's parser.
        config: The dataclass.
        overrides: Per field, metadata that replaces the field's own (a command's own spelling or default, e.g.
            ``{"timeout": {"default": 120.0}}``).
        skip: Fields to leave out (set by the command itself).
        show_defaults: Append ``(default: X)`` to each help text whose default is not empty.
        deprecated: Add the fields' deprecated spellings (``False`` for a command that never had them, where an
            old spelling would shadow one of its own flags, e.g. ``--model`` next to ``--models``).

    Returns:
        The names of the fields that got a flag, in order.
    """
    hints = typing.get_type_hints(config)
    added: list[str] = []
    for f in dataclasses.fields(config):
        meta = {**f.metadata, **(overrides or {}).get(f.name, {})}
        if f.name in skip or meta.get("cli") is False or not f.init:
            continue
        default = meta["default"] if "default" in meta else _field_default(f)
        kwargs, alias_action = _argument_kwargs(f.name, hints[f.name], meta, default)
        if (
            show_defaults
            and default not in (None, [], "")
            and kwargs.get("action") not in ("store_true", "store_false")
        ):
            kwargs["help"] = f"{kwargs['help']} (default: {default})"
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and "default" not in meta:
            kwargs.pop("default")
            kwargs["required"] = True
        target = argument_group(parser, meta["group"]) if meta.get("group") else parser
        flags = list(meta.get("flags") or ["--" + f.name.replace("_", "-")])
        if not flags[0].startswith("-"):  # a positional argument: its name is its dest
            del kwargs["dest"]
            kwargs.pop("required", None)
        target.add_argument(*flags, **kwargs)
        for old in meta.get("deprecated", ()) if deprecated else ():
            if alias_action is argparse.BooleanOptionalAction:
                raise TypeError(f"field {f.name!r}: a --name/--no-name flag cannot have a deprecated alias")
            keep = ("dest",) if "action" in kwargs else ("dest", "metavar", "choices", "nargs", "type")
            hidden = {k: v for k, v in kwargs.items() if k in keep}
            target.add_argument(
                old,
                action=_deprecated(alias_action, flags[0]),
                default=argparse.SUPPRESS,
                help=argparse.SUPPRESS,
                **hidden,
            )
        added.append(f.name)
    return added


def apply_config_file(parser: argparse.ArgumentParser, path: str | os.PathLike[str], *, command: str) -> None:
    """Make the options of a YAML / JSON file the defaults of ``parser``: flags given on the line still win.

    A key is an option's name (its dest or its long flag, ``-`` or ``_``); each value is checked and converted as
    the flag's text would be. A deprecated spelling works and says the new one on stderr.

    Args:
        parser: The command's parser (flags generated by :func:`add_config_arguments`, or written by hand).
        path: The file.
        command: The command's name in messages, e.g. ``"lore-rag qa-eval"``.

    Raises:
        ConfigError: naming the file and the field, for an unreadable file, an unknown key or a bad value.
    """
    values = load_config_file(path)
    known, by_flag = _config_keys(parser)
    defaults = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        action = known.get(name) or by_flag.get(name)
        if action is None or name in ("help", "config", "func"):
            raise ConfigError(f"{path}: field '{key}': not an option of '{command}' (see {command} --help)")
        if action.help is argparse.SUPPRESS:  # a deprecated spelling: say the new one
            new = known[action.dest].option_strings[0].lstrip("-") if action.dest in known else action.dest
            sys.stderr.write(f"lore-rag: warning: {path}: field '{key}' is deprecated; use '{new}'\n")
        if value is None:  # 'key: null' leaves the option at its default
            continue
        try:
            if name not in known and isinstance(action, (argparse._StoreConstAction, argparse.BooleanOptionalAction)):
                # a flag's own name ('no-progress: true'): true means the flag is given
                if not isinstance(value, bool):
                    raise TypeError(f"expected true or false, got {_describe_value(value)}")
                if isinstance(action, argparse.BooleanOptionalAction):  # '--no-NAME: true' is NAME false
                    defaults[action.dest] = value != name.startswith("no_")
                else:
                    defaults[action.dest] = action.const if value else action.default
            else:
                defaults[action.dest] = _config_value(action, value)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path}: field '{key}': {exc}") from None
        for same in (action, known.get(action.dest, action)):
            if same.required and same.option_strings:
                same.required = False  # given by the file
    parser.set_defaults(**defaults)


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
