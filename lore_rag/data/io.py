"""Streaming JSONL read and write of tiered examples, with file:line errors."""

from __future__ import annotations

import gzip
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from lore_rag.data.schema import Example
from lore_rag.errors import DataError

__all__ = ["expand_paths", "iter_examples", "iter_json_rows", "read_examples", "write_examples"]

logger = logging.getLogger(__name__)

_SUFFIXES = (".jsonl", ".jsonl.gz", ".json")


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def expand_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named by ``paths``: each a JSONL file (optionally gzipped) or a folder of them.

    Raises:
        DataError: for a path that does not exist or a folder with no JSONL file.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(_SUFFIXES))
            if not found:
                raise DataError("folder holds no .jsonl / .jsonl.gz file", path=str(path))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise DataError("no such file or folder", path=str(path))
    return files


def iter_json_rows(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, decoded_object)`` for each non-blank line of one JSONL file.

    Raises:
        DataError: on a line that is not valid JSON or not UTF-8.
    """
    path = Path(path)
    with _open_binary(path) as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"not UTF-8 text ({exc.reason} at byte {exc.start + 1} of the line); re-save the file as UTF-8",
                    path=str(path),
                    line=line_no,
                ) from None
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"malformed JSON: {exc.msg} (column {exc.colno})", path=str(path), line=line_no
                ) from None


def iter_examples(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    require_positive: bool = True,
) -> Iterator[Example]:
    """Yield validated examples from JSONL files or folders, in order.

    Args:
        paths: A file, a folder, or several of them.
        require_positive: Skip (and count in the log) rows with no positive chunk.

    Raises:
        DataError: for the first malformed row, naming file, line and field.
    """
    for path in expand_paths(paths):
        skipped = 0
        for line_no, row in iter_json_rows(path):
            example = Example.from_dict(row, source=str(path), line=line_no)
            if require_positive and example.n_positive == 0:
                skipped += 1
                continue
            yield example
        if skipped:
            logger.warning("%s: skipped %d row(s) with no positive chunk", path, skipped)


def read_examples(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    require_positive: bool = True,
) -> list[Example]:
    """All examples of :func:`iter_examples` as a list.

    Raises:
        DataError: for a malformed row, or when no usable row is left.
    """
    examples = list(iter_examples(paths, require_positive=require_positive))
    if not examples:
        raise DataError(f"no usable example in {', '.join(str(p) for p in expand_paths(paths))}")
    return examples


def write_examples(examples: Iterable[Example], path: str | os.PathLike[str]) -> int:
    """Write examples as JSONL (gzipped when the name ends in ``.gz``), atomically.

    The file is written next to its destination and renamed into place, so an interrupted
    write never leaves a truncated file behind.

    Returns:
        The number of rows written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "wb") as raw:
            stream: IO[bytes] = raw
            if path.name.endswith(".gz"):
                stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="wb", mtime=0))
            for example in examples:
                stream.write(json.dumps(example.to_dict(), ensure_ascii=False).encode("utf-8") + b"\n")
                count += 1
            if stream is not raw:
                stream.close()
            raw.flush()
            os.fsync(raw.fileno())  # on disk before the rename makes it the file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
