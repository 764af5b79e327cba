"""A team's own CSV / TSV / JSONL of questions, chunks and relevance labels to raw rows.

Three layouts, chosen by ``layout`` (``auto`` guesses from the data):

* ``long``: one line per (question, chunk) pair with a label column; lines are grouped into one question by
  the id column (or by the question text when there is none), in file order. Natural for CSV exports of
  retriever logs.
* ``wide``: one line per question whose chunk field is a list (in CSV, a JSON list in the cell) and whose
  label field is a list of the same length.
* ``split``: one line per question with a list of relevant chunks and a list of non-relevant chunks
  (``positives_field`` / ``negatives_field``); positives come first.

Column names are found automatically among common spellings (``query``/``question``, ``chunk``/``passage``/
``text``, ``label``/``relevant``/``is_selected``, ...) or given by :class:`TableMapping`. Labels may be
1/0, true/false, yes/no, relevant/irrelevant or graded numbers (relevant when ``>= label_threshold``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lore_rag.data.converters._common import content_id, iter_records, parse_label, raw_example
from lore_rag.data.schema import Example
from lore_rag.errors import ConfigError, DataError

__all__ = ["LAYOUTS", "TableMapping", "iter_table"]

logger = logging.getLogger(__name__)

LAYOUTS = ("auto", "long", "wide", "split")

_GUESSES: dict[str, tuple[str, ...]] = {
    "id": ("id", "_id", "qid", "question_id", "query_id"),
    "query": ("query", "question", "question_text", "query_text", "q"),
    "chunk": (
        "chunk",
        "chunks",
        "passage",
        "passages",
        "text",
        "context",
        "contexts",
        "document",
        "documents",
        "paragraph",
        "paragraphs",
        "content",
    ),
    "label": ("label", "labels", "relevant", "is_relevant", "relevance", "gold", "is_selected", "is_supporting"),
    "answer": ("answer", "answers", "gold_answer", "reference_answer"),
    "title": ("title", "titles", "source", "url", "doc_title"),
    "positives": ("positives", "positive", "pos", "relevant_chunks", "positive_chunks"),
    "negatives": ("negatives", "negative", "neg", "irrelevant_chunks", "negative_chunks", "hard_negatives"),
}


@dataclass
class TableMapping:
    """Which columns hold what; ``None`` means "find it among the usual names".

    Attributes:
        id_field: Question id (optional; the question text groups long rows when absent).
        query_field: Question text.
        chunk_field: Chunk text (``long``) or list of chunks (``wide``).
        label_field: Relevance label (``long``) or list of labels (``wide``).
        answer_field: Gold answer (optional).
        title_field: Chunk title / source (optional).
        positives_field: List of relevant chunks (``split``).
        negatives_field: List of non-relevant chunks (``split``).
        layout: ``auto``, ``long``, ``wide`` or ``split``.
        label_threshold: Smallest numeric label that counts as relevant.
        delimiter: CSV delimiter; tab for ``.tsv`` and comma otherwise when ``None``.
    """

    id_field: str | None = None
    query_field: str | None = None
    chunk_field: str | None = None
    label_field: str | None = None
    answer_field: str | None = None
    title_field: str | None = None
    positives_field: str | None = None
    negatives_field: str | None = None
    layout: str = "auto"
    label_threshold: float = 1.0
    delimiter: str | None = None


def _read_rows(path: Path, delimiter: str | None) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    suffix = path.name.lower()
    if suffix.endswith((".csv", ".tsv", ".txt")):
        delim = delimiter or ("\t" if suffix.endswith(".tsv") else ",")
        if delim == "\\t":
            delim = "\t"
        if len(delim) != 1:
            raise ConfigError(f"--delimiter must be one character (or \\t), got {delim!r}")
        rows: list[tuple[int, dict[str, Any]]] = []
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise DataError(
                f"not UTF-8 text (byte 0x{data[exc.start]:02x} at byte {exc.start + 1}); lore-rag reads CSV as "
                f"UTF-8: re-save it as UTF-8, e.g. 'iconv -f latin1 -t utf-8 {path.name} > "
                f"{path.stem}.utf8{path.suffix}'",
                path=str(path),
                line=line,
            ) from None
        with io.StringIO(text, newline="") as handle:
            reader = csv.DictReader(handle, delimiter=delim)
            columns = [c for c in (reader.fieldnames or []) if c is not None]
            if not columns:
                raise DataError("no header line (the first line must name the columns)", path=str(path), line=1)
            start = 2
            try:
                for row in reader:
                    if None in row:
                        raise DataError(
                            f"{len(row[None]) + len(columns)} cells for {len(columns)} columns "
                            f"(quote cells that hold the delimiter)",
                            path=str(path),
                            line=start,
                        )
                    if any(v not in (None, "") for v in row.values()):
                        rows.append((start, dict(row)))
                    start = reader.line_num + 1
            except csv.Error as exc:
                raise DataError(f"malformed CSV: {exc}", path=str(path), line=reader.line_num) from None
        return columns, rows
    records = list(iter_records(path))
    keys: list[str] = []
    for line, record in records:
        if not isinstance(record, dict):
            raise DataError(f"expected a JSON object, got {type(record).__name__}", path=str(path), line=line)
        for key in record:
            if key not in keys:
                keys.append(key)
    return keys, records


def _pick(
    role: str,
    given: str | None,
    columns: Sequence[str],
    *,
    required: bool,
    path: Path,
    flag: str,
    exclude: Sequence[str] = (),
) -> str | None:
    if given:
        if given not in columns:
            raise DataError(f"no column '{given}' (columns: {', '.join(columns)})", path=str(path), field=given)
        return given
    lowered = {c.lower(): c for c in columns}
    for guess in _GUESSES[role]:
        if guess in lowered and lowered[guess] not in exclude:
            return lowered[guess]
    if required:
        raise DataError(
            f"cannot tell which column holds the {role} (columns: {', '.join(columns)}); name it with {flag}",
            path=str(path),
        )
    return None


def _need(
    role: str, given: str | None, columns: Sequence[str], *, path: Path, flag: str, exclude: Sequence[str] = ()
) -> str:
    found = _pick(role, given, columns, required=True, path=path, flag=flag, exclude=exclude)
    assert found is not None  # _pick raised otherwise
    return found


def _as_list(value: Any, *, path: Path, line: int, field: str) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                decoded = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(f"cell is not a JSON list: {exc.msg}", path=str(path), line=line, field=field) from None
            if isinstance(decoded, list):
                return decoded
    raise DataError('expected a list (in CSV: a JSON list such as ["a", "b"])', path=str(path), line=line, field=field)


def _label(value: Any, threshold: float, *, path: Path, line: int, field: str) -> bool:
    try:
        return parse_label(value, threshold=threshold)
    except ValueError as exc:
        raise DataError(str(exc), path=str(path), line=line, field=field) from None


def _text(value: Any, *, path: Path, line: int, field: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise DataError(f"expected text, got {type(value).__name__}", path=str(path), line=line, field=field)
    return value


@dataclass(frozen=True)
class _Columns:
    """The columns picked for one file (by :func:`iter_table`), handed to the reader of its layout."""

    query: str
    id: str | None
    answer: str | None
    chunk: str = ""
    label: str = ""
    title: str | None = None
    positives: str = ""
    negatives: str = ""


def iter_table(
    path: str | os.PathLike[str],
    mapping: TableMapping | None = None,
    *,
    dataset: str | None = None,
) -> Iterator[Example]:
    """Raw examples from a team's CSV / TSV / JSONL / JSON file.

    Args:
        path: The file.
        mapping: Column names and layout; guessed when ``None``.
        dataset: Value of the ``dataset`` field of each row (none when ``None``).

    Raises:
        DataError: naming the file, line and column of the first problem; ConfigError for a bad layout.
    """
    mapping = mapping or TableMapping()
    if mapping.layout not in LAYOUTS:
        raise ConfigError(f"layout must be one of {', '.join(LAYOUTS)}, got {mapping.layout!r}")
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", path=str(path))
    columns, rows = _read_rows(path, mapping.delimiter)
    if not rows:
        raise DataError("no data rows", path=str(path))
    layout = mapping.layout
    pos_field = _pick(
        "positives", mapping.positives_field, columns, required=False, path=path, flag="--positives-field"
    )
    neg_field = _pick(
        "negatives", mapping.negatives_field, columns, required=False, path=path, flag="--negatives-field"
    )
    if layout == "auto":
        layout = "split" if pos_field and neg_field else "auto"
    query_field = _need("query", mapping.query_field, columns, path=path, flag="--query-field")
    id_field = _pick(
        "id", mapping.id_field, columns, required=False, path=path, flag="--id-field", exclude=[query_field]
    )
    answer_field = _pick("answer", mapping.answer_field, columns, required=False, path=path, flag="--answer-field")
    if layout == "split":
        if not pos_field or not neg_field:
            raise DataError(
                "the split layout needs a positives and a negatives column; name them with "
                "--positives-field / --negatives-field",
                path=str(path),
            )
        cols = _Columns(query_field, id_field, answer_field, positives=pos_field, negatives=neg_field)
        yield from _split_rows(rows, path, cols, dataset)
        return
    chunk_field = _need("chunk", mapping.chunk_field, columns, path=path, flag="--chunk-field", exclude=[query_field])
    label_field = _need("label", mapping.label_field, columns, path=path, flag="--label-field")
    title_field = _pick(
        "title",
        mapping.title_field,
        columns,
        required=False,
        path=path,
        flag="--title-field",
        exclude=[chunk_field, query_field],
    )
    if layout == "auto":
        first = rows[0][1].get(chunk_field)
        layout = (
            "wide"
            if isinstance(first, list)
            or (isinstance(first, str) and first.lstrip().startswith("[") and _looks_like_list(first))
            else "long"
        )
    logger.info(
        "%s: %s layout, query=%s chunk=%s label=%s id=%s", path, layout, query_field, chunk_field, label_field, id_field
    )
    cols = _Columns(query_field, id_field, answer_field, chunk=chunk_field, label=label_field, title=title_field)
    reader = _wide_rows if layout == "wide" else _long_rows
    yield from reader(rows, path, cols, mapping.label_threshold, dataset)


def _looks_like_list(text: str) -> bool:
    try:
        return isinstance(json.loads(text), list)
    except json.JSONDecodeError:
        return False


def _answer(value: Any, *, path: Path, line: int, field: str | None) -> str | list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return [_text(v, path=path, line=line, field=field or "answer") for v in value]
    return _text(value, path=path, line=line, field=field or "answer")


def _long_rows(
    rows: list[tuple[int, dict[str, Any]]], path: Path, cols: _Columns, threshold: float, dataset: str | None
) -> Iterator[Example]:
    groups: dict[str, dict[str, Any]] = {}
    for line, row in rows:
        query = _text(row.get(cols.query), path=path, line=line, field=cols.query)
        key = str(row.get(cols.id)) if cols.id and row.get(cols.id) not in (None, "") else None
        group_key = key if key is not None else f"\x00{query}"
        group = groups.get(group_key)
        if group is None:
            group = groups[group_key] = {
                "id": key,
                "query": query,
                "line": line,
                "chunks": [],
                "labels": [],
                "titles": [],
                "answer": None,
            }
        elif group["query"] != query:
            raise DataError(
                f"id {key!r} was first seen with another question (line {group['line']})",
                path=str(path),
                line=line,
                field=cols.query,
            )
        group["chunks"].append(_text(row.get(cols.chunk), path=path, line=line, field=cols.chunk))
        group["labels"].append(_label(row.get(cols.label), threshold, path=path, line=line, field=cols.label))
        if cols.title:
            title = row.get(cols.title)
            group["titles"].append("" if title is None else str(title))
        if cols.answer and group["answer"] is None:
            group["answer"] = _answer(row.get(cols.answer), path=path, line=line, field=cols.answer)
    for group in groups.values():
        yield raw_example(
            id=group["id"] if group["id"] is not None else content_id(group["query"], group["chunks"]),
            query=group["query"],
            chunks=group["chunks"],
            relevant=group["labels"],
            answer=group["answer"],
            titles=group["titles"] if cols.title else None,
            dataset=dataset,
            source=str(path),
            line=group["line"],
        )


def _wide_rows(
    rows: list[tuple[int, dict[str, Any]]], path: Path, cols: _Columns, threshold: float, dataset: str | None
) -> Iterator[Example]:
    for line, row in rows:
        query = _text(row.get(cols.query), path=path, line=line, field=cols.query)
        chunks = [
            _text(c, path=path, line=line, field=cols.chunk)
            for c in _as_list(row.get(cols.chunk), path=path, line=line, field=cols.chunk)
        ]
        labels = _as_list(row.get(cols.label), path=path, line=line, field=cols.label)
        if len(labels) != len(chunks):
            raise DataError(
                f"{len(labels)} labels for {len(chunks)} chunks", path=str(path), line=line, field=cols.label
            )
        relevant = [_label(v, threshold, path=path, line=line, field=cols.label) for v in labels]
        titles = None
        if cols.title and row.get(cols.title) not in (None, ""):
            titles = [str(t) for t in _as_list(row.get(cols.title), path=path, line=line, field=cols.title)]
            if len(titles) != len(chunks):
                raise DataError(
                    f"{len(titles)} titles for {len(chunks)} chunks", path=str(path), line=line, field=cols.title
                )
        yield raw_example(
            id=_row_id(row, cols.id, query, chunks),
            query=query,
            chunks=chunks,
            relevant=relevant,
            answer=_answer(row.get(cols.answer) if cols.answer else None, path=path, line=line, field=cols.answer),
            titles=titles,
            dataset=dataset,
            source=str(path),
            line=line,
        )


def _split_rows(
    rows: list[tuple[int, dict[str, Any]]], path: Path, cols: _Columns, dataset: str | None
) -> Iterator[Example]:
    for line, row in rows:
        query = _text(row.get(cols.query), path=path, line=line, field=cols.query)
        positives = [
            _text(c, path=path, line=line, field=cols.positives)
            for c in _as_list(row.get(cols.positives), path=path, line=line, field=cols.positives)
        ]
        negatives = [
            _text(c, path=path, line=line, field=cols.negatives)
            for c in _as_list(row.get(cols.negatives), path=path, line=line, field=cols.negatives)
        ]
        chunks = positives + negatives
        yield raw_example(
            id=_row_id(row, cols.id, query, chunks),
            query=query,
            chunks=chunks,
            relevant=[True] * len(positives) + [False] * len(negatives),
            answer=_answer(row.get(cols.answer) if cols.answer else None, path=path, line=line, field=cols.answer),
            titles=None,
            dataset=dataset,
            source=str(path),
            line=line,
        )


def _row_id(row: dict[str, Any], id_field: str | None, query: str, chunks: list[str]) -> str:
    """The row's own id when it has one, else a content hash of its question and chunks."""
    rid = row.get(id_field) if id_field else None
    return str(rid) if rid not in (None, "") else content_id(query, chunks)
