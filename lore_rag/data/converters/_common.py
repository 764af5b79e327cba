"""Shared helpers of the converters: reading JSON / JSONL records, building raw examples, label parsing."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from lore_rag.data.schema import Example, Tier
from lore_rag.errors import DataError

__all__ = ["Record", "content_id", "iter_records", "parse_label", "raw_example", "require", "to_records"]

logger = logging.getLogger(__name__)

#: ``(line or position, decoded object)``; the position is a 1-based line for JSONL, a 1-based record number for JSON.
Record = tuple[int, Any]


def _open(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def _is_jsonl(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".jsonl", ".jsonl.gz", ".ndjson"))


def iter_records(path: str | os.PathLike[str], *, list_keys: Sequence[str] = ("data",)) -> Iterator[Record]:
    """Yield the records of a JSON list file or a JSONL file (either optionally gzipped).

    A ``.json`` file may hold a list of objects, an object whose ``list_keys`` entry is that list, or a
    *column* layout (``{"field": {"0": value, ...}, ...}``, as pandas writes it), which is turned into rows.
    A ``.json`` file that holds one object per line is read as JSONL.

    Raises:
        DataError: for a missing file or invalid JSON, naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", path=str(path))
    if _is_jsonl(path):
        yield from _iter_jsonl(path)
        return
    with _open(path) as handle:
        try:
            text = handle.read()
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 text ({exc.reason})", path=str(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # one object per line in a .json file
            yield from _iter_jsonl(path)
            return
        raise DataError(f"malformed JSON: {exc.msg} (column {exc.colno})", path=str(path), line=exc.lineno) from None
    yield from to_records(data, source=str(path), list_keys=list_keys)


def to_records(data: Any, *, source: str, list_keys: Sequence[str] = ("data",)) -> Iterator[Record]:
    """Yield the records of an already decoded JSON document (see :func:`iter_records`)."""
    if isinstance(data, dict):
        for key in list_keys:
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            if data and all(isinstance(v, dict) for v in data.values()):
                data = _columns_to_rows(data, source)
            else:
                data = [data]
    if not isinstance(data, list):
        raise DataError(f"expected a list of records, got {type(data).__name__}", path=source)
    yield from enumerate(data, start=1)


def _columns_to_rows(columns: dict[str, dict[str, Any]], source: str) -> list[dict[str, Any]]:
    keys: list[str] = []
    for column in columns.values():
        for key in column:
            if key not in keys:
                keys.append(key)
    try:
        keys.sort(key=int)
    except ValueError:
        pass
    return [{name: column.get(key) for name, column in columns.items()} for key in keys]


def _iter_jsonl(path: Path) -> Iterator[Record]:
    with _open(path) as handle:
        line_no = 0
        while True:
            try:
                line = handle.readline()
            except UnicodeDecodeError as exc:
                raise DataError(f"not UTF-8 text ({exc.reason})", path=str(path), line=line_no + 1) from None
            if not line:
                return
            line_no += 1
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                message = f"malformed JSON: {exc.msg} (column {exc.colno})"
                raise DataError(message, path=str(path), line=line_no) from None


def require(record: Any, name: str, *, source: str, line: int, types: type | tuple[type, ...] | None = None) -> Any:
    """``record[name]``, checked.

    Raises:
        DataError: if the record is not an object, lacks the field, or the value has the wrong type.
    """
    if not isinstance(record, dict):
        raise DataError(f"expected a JSON object, got {type(record).__name__}", path=source, line=line)
    if name not in record:
        raise DataError("missing required field", path=source, line=line, field=name)
    value = record[name]
    if types is not None and not isinstance(value, types):
        wanted = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise DataError(f"expected {wanted}, got {type(value).__name__}", path=source, line=line, field=name)
    return value


_TRUE = {"true", "yes", "y", "relevant", "gold", "positive", "pos", "t"}
_FALSE = {"false", "no", "n", "irrelevant", "not relevant", "non-relevant", "negative", "neg", "f", ""}


def parse_label(value: Any, *, threshold: float = 1.0) -> bool:
    """Whether a label value marks a relevant chunk.

    Accepts booleans, numbers (relevant when ``>= threshold``, so graded judgements work) and the strings
    1/0, true/false, yes/no, relevant/irrelevant, positive/negative (any case).

    Raises:
        ValueError: for anything else.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value) >= threshold
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            return float(text) >= threshold
        except ValueError:
            pass
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"cannot read {value!r} as a relevance label (use 1/0, true/false, yes/no)")


def raw_example(
    *,
    id: str,
    query: str,
    chunks: list[str],
    relevant: Sequence[bool],
    answer: str | list[str] | None,
    titles: list[str] | None,
    dataset: str | None,
    source: str,
    line: int,
) -> Example:
    """Build a raw example (tiers POSITIVE / NEGATIVE) in the layout of ``shared/data/raw``, validated.

    Raises:
        DataError: naming ``source`` and ``line`` when the row is not a valid example.
    """
    row: dict[str, Any] = {
        "id": id,
        "query": query,
        "chunks": chunks,
        "labels": [int(Tier.POSITIVE if flag else Tier.NEGATIVE) for flag in relevant],
        "answer": answer,
        "dataset": dataset,
    }
    if titles is not None:
        row["titles"] = titles
    return Example.from_dict(row, source=source, line=line)


def content_id(query: str, chunks: Sequence[str]) -> str:
    """Return a stable id for a row that has none: ``q`` + 15 hex digits of the SHA-1 of its query and chunks."""
    digest = hashlib.sha1("\x1f".join([query, *chunks]).encode("utf-8")).hexdigest()
    return f"q{digest[:15]}"
