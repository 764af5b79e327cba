"""Run folders that resume: the settings a run was started with, and the check that a resume keeps them.

``lore-rag qa-eval`` (``run.json``), ``lore-rag build-data`` (the output's ``.meta.json``) and ``lore-rag train``
(each checkpoint's ``lore_checkpoint.json``) write the settings that decide their results next to the results, and
before resuming compare them with the settings asked for now: :func:`changed_settings` finds what differs,
:func:`check_same_run` turns the first difference into one error line, :func:`read_run_state` and
:func:`write_run_state` read and atomically replace the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lore_rag.errors import ConfigError, LoreError

__all__ = ["changed_settings", "check_same_run", "read_run_state", "write_run_state"]


def changed_settings(
    saved: Mapping[str, Any], current: Mapping[str, Any], keys: Iterable[str] | None = None, *, saved_only: bool = False
) -> list[str]:
    """Names of the settings whose values differ between a saved run and the run asked for now.

    Args:
        saved: The settings the run was started with.
        current: The settings asked for now.
        keys: The settings to compare, in this order; ``None``: every key of either mapping, sorted. A setting
            one side lacks counts as ``None``.
        saved_only: Compare only keys the saved run recorded (an older run that did not record a setting yet
            matches any value of it).
    """
    names = list(keys) if keys is not None else sorted(set(saved) | set(current))
    return [name for name in names if not (saved_only and name not in saved) and saved.get(name) != current.get(name)]


def check_same_run(
    path: str | os.PathLike[str],
    saved: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    hint: str,
    keys: Iterable[str] | None = None,
    saved_only: bool = False,
    error: type[LoreError] = ConfigError,
) -> None:
    """Refuse to resume the run recorded in ``path`` with other settings, naming the first that changed.

    Args:
        path: The file the saved settings were read from (named in the error).
        saved: The settings the run was started with.
        current: The settings asked for now.
        hint: What the user can do instead (another output folder, the flag that starts afresh).
        keys: The settings to compare (see :func:`changed_settings`).
        saved_only: Compare only the settings the saved run recorded.
        error: The exception class to raise.

    Raises:
        LoreError: ``error``, as ``PATH: field 'NAME': the run recorded here has OLD, not NEW; HINT``.
    """
    changed = changed_settings(saved, current, keys, saved_only=saved_only)
    if changed:
        name = changed[0]
        raise error(
            f"{path}: field '{name}': the run recorded here has {saved.get(name)!r}, not {current.get(name)!r}; {hint}"
        )


def read_run_state(
    path: str | os.PathLike[str], *, hint: str, error: type[LoreError] | None = ConfigError
) -> dict[str, Any] | None:
    """The JSON object saved in ``path``; ``None`` when there is none.

    Args:
        path: The run file.
        hint: What the user can do about an unreadable file (named in the error).
        error: The exception class for an unreadable file or one that holds no object; ``None`` reads such a file
            as absent (for a file the caller rewrites anyway).

    Raises:
        LoreError: ``error``, for an unreadable file.
    """
    file = Path(path)
    if not file.is_file():
        return None
    try:
        state = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(state, dict):
            raise ValueError(f"holds a JSON {type(state).__name__}, not an object")
    except (OSError, ValueError) as exc:
        if error is None:
            return None
        raise error(f"{file}: unreadable ({exc}); {hint}") from None
    return state


def write_run_state(path: str | os.PathLike[str], state: Mapping[str, Any]) -> None:
    """Write ``state`` as indented JSON to ``path``, replacing it atomically (a crash leaves the old file)."""
    file = Path(path)
    tmp = file.with_name(f".{file.name}.tmp")
    tmp.write_text(json.dumps(state, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, file)
