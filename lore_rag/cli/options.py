"""Flags generated from config dataclasses, checked flag types and output-path probes shared by the commands.

:func:`add_config_arguments` turns the fields of a config dataclass (declared with :func:`lore_rag.config.option`)
into a command's flags: one source for each setting's name, help, default and type.

Argparse calls a flag's ``type`` on the text given; the types here refuse values that parse but make no sense
(``--limit -1``, ``--ks 0``, ``--lr nan``) with one line naming the flag. :func:`check_output_file` and
:func:`check_output_dir` find a folder where a file is expected, or a place nothing can be written to, before any
work starts, without creating or changing anything.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import sys
import tempfile
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from lore_rag.config import (
    finite_float,
    non_negative_float,
    non_negative_int,
    port_number,
    positive_float,
    positive_int,
)
from lore_rag.errors import ConfigError

T = TypeVar("T")

__all__ = [
    "add_config_arguments",
    "argument_group",
    "config_from_args",
    "check_output_dir",
    "check_output_file",
    "check_port_free",
    "finite_float",
    "non_negative_float",
    "non_negative_int",
    "port_number",
    "positive_float",
    "positive_int",
]


def _probe_folder(folder: Path, flag: str, what: str) -> None:
    """Raise unless a file can be created in ``folder`` (or its nearest existing ancestor); creates nothing lasting."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{flag} {what}: {probe} is a file, not a folder")
    try:  # os.access says yes to root everywhere: only a real file tells
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".lore-rag-write-probe-"):
            pass
    except OSError as exc:
        raise ConfigError(f"{flag} {what}: cannot write in {probe} ({exc.strerror or exc})") from None


def check_output_file(path: str | os.PathLike[str], flag: str) -> Path:
    """Refuse an output file path that is a folder or lies where nothing can be written; returns it as a Path.

    Raises:
        ConfigError: naming ``flag`` and the path.
    """
    file = Path(path).expanduser()
    if file.is_dir():
        raise ConfigError(f"{flag} {file}: is a folder; give the name of a file (in it, or elsewhere)")
    if file.exists() and not file.is_file():
        raise ConfigError(f"{flag} {file}: not a regular file")
    _probe_folder(file.parent if str(file.parent) else Path("."), flag, str(file))
    return file


def check_output_dir(path: str | os.PathLike[str], flag: str) -> Path:
    """Refuse an output folder path that is a file or lies where nothing can be written; returns it as a Path.

    Raises:
        ConfigError: naming ``flag`` and the path.
    """
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{flag} {folder}: is a file, not a folder")
    _probe_folder(folder, flag, str(folder))
    return folder


def check_port_free(host: str, port: int) -> None:
    """Refuse a port something already listens on, before minutes of model loading.

    Raises:
        ConfigError: naming the port and the address.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise ConfigError(
                f"--port {port}: cannot listen on {host}:{port} ({exc.strerror}); another program uses it: "
                "pick another --port"
            ) from None


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
            print(
                f"{parser.prog}: warning: {option_string} is deprecated and goes away in the next release; "
                f"use {new_flag}",
                file=sys.stderr,
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
