"""Exceptions a user can cause, each with a message that says where and what to do."""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "DemoError", "LoreError", "ModelError"]


class LoreError(Exception):
    """Base class of every error lore-rag raises on purpose."""


class DataError(LoreError, ValueError):
    """A bad input file or row.

    Args:
        message: What is wrong.
        path: The file, when known.
        line: 1-based line number, when known.
        field: The field, when known.
    """

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.problem = message
        where = path or ""
        if line:
            where += f":{line}"
        if field:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}" if where else message)


class ModelError(LoreError):
    """A model or checkpoint that cannot be loaded or does not fit."""


class ConfigError(LoreError, ValueError):
    """Bad flags or configuration values."""


class DemoError(LoreError):
    """A demo step that cannot run: no LLM configured, an unknown example set, an empty query."""
