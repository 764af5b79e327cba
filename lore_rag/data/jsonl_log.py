"""Append-only JSONL logs that survive a crash at any point.

Long jobs (building data with an LLM, answering QA questions) append one finished row per line and fsync it,
so a run killed even by ``kill -9`` loses at most the row being written, and a rerun continues from the rows on
disk. :func:`read_log` reads such a file back and repairs the one defect a crash can leave: a torn last line.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lore_rag.errors import DataError

__all__ = ["JsonlAppender", "read_log"]

logger = logging.getLogger(__name__)


def read_log(
    path: str | os.PathLike[str],
    *,
    strict: bool = False,
    repair: bool = True,
    check: Callable[[dict[str, Any], int], None] | None = None,
    hint: str = "fix or delete it",
) -> tuple[list[dict[str, Any]], bool]:
    """Rows of an append-only JSONL log, and whether its last line had to be repaired.

    A last line without its newline is what an interrupted write leaves: it is kept (and the newline added)
    when it parses as a JSON object, else cut off the file. With ``repair=False`` the file is left as it is.

    Args:
        path: The log file; a missing file has no rows.
        strict: Raise on an unreadable line before the last one (which no crash can produce) instead of
            skipping it with a warning.
        repair: Fix the file on disk.
        check: Called with each row and its line number; raises (a :class:`DataError`) for a bad row.
        hint: What the strict error tells the user to do.

    Raises:
        DataError: with ``strict``, for a line that is not a JSON object, naming the file and line; and
            whatever ``check`` raises.
    """
    path = Path(path)
    if not path.is_file():
        return [], False
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    rows: list[dict[str, Any]] = []
    lines = data[:end].split(b"\n")[:-1]
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row = _parse(line)
        if row is None:
            if strict:
                raise DataError(
                    f"malformed line in the middle of the file (not left by an interrupted run); {hint}",
                    path=str(path),
                    line=line_no,
                )
            logger.warning("%s:%d: skipping an unreadable line", path, line_no)
            continue
        if check is not None:
            check(row, line_no)
        rows.append(row)
    tail = data[end:]
    if not tail.strip():
        return rows, False
    row = _parse(tail)
    if row is not None:
        if check is not None:
            check(row, len(lines) + 1)
        rows.append(row)
    else:
        logger.warning("%s: removed a truncated last line (%d bytes) left by an interrupted write", path, len(tail))
    if repair:
        with path.open("r+b") as handle:
            if row is not None:
                handle.seek(0, os.SEEK_END)
                handle.write(b"\n")
            else:
                handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
    return rows, True


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return row if isinstance(row, dict) else None


class JsonlAppender:
    """Appends one JSON object per line, durably (write, flush, fsync per row) and thread-safely.

    The file is opened for each row, so there is nothing to close and no handle outlives a call; next to the
    fsync that costs nothing measurable.

    Args:
        path: The log file; created (empty), with its folder, when missing.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(exist_ok=True)
        self._lock = threading.Lock()

    def append(self, row: dict[str, Any]) -> None:
        """Write ``row`` as one line; it is on disk when this returns."""
        line = json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n"
        with self._lock, self.path.open("ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
