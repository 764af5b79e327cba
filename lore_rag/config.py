"""Configuration files: YAML or JSON mappings of option names to values."""

from __future__ import annotations

import json
import os
from dataclasses import field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from lore_rag.errors import ConfigError

__all__ = ["dataclass_from_mapping", "help_field", "load_config_file"]

T = TypeVar("T")


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
