"""Split documents into overlapping chunks, and read the files ``lore-rag index`` takes.

Chunks are measured in words (whitespace-separated tokens) or characters. Whole sentences are packed into a
chunk while they fit; a sentence longer than a chunk is cut between words. Consecutive chunks overlap by up to
``overlap`` units, taken as whole trailing sentences of the previous chunk when they fit, else as its last words.

Inputs (:func:`iter_documents`):

* ``.txt`` / ``.md`` files (or a folder holding them, searched recursively): one document per file;
* JSONL files (``.jsonl``, ``.jsonl.gz``): one document per row, its text in ``text_field``;
* tiered LORE files (JSONL rows with ``chunks`` and ``labels``, such as the evaluation sets): every chunk of every
  row is already a chunk and is indexed as it is, tagged with the row id and chunk index.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lore_rag.data.io import iter_json_rows
from lore_rag.errors import ConfigError, DataError

__all__ = [
    "TEXT_SUFFIXES",
    "Chunk",
    "Document",
    "chunk_documents",
    "chunk_id",
    "chunk_text",
    "expand_inputs",
    "iter_documents",
    "read_chunks",
    "split_sentences",
]

logger = logging.getLogger(__name__)

#: Suffixes read as plain text, one document per file.
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".ndjson")

# A sentence ends after . ! ? (and any closing quotes/brackets) before whitespace, or at a blank line.
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)|\n[ \t\r]*\n")
_WORD = re.compile(r"\S+")


def chunk_id(text: str) -> str:
    """Stable id of a chunk: a hash of its text, so the same chunk always gets the same id."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass
class Document:
    """One input document before chunking.

    Attributes:
        text: Its full text.
        source: File it came from.
        line: Line in that file (JSONL rows), else ``None``.
        metadata: Metadata to attach to each of its chunks.
        chunked: True when ``text`` is already one chunk (tiered files) and must not be split.
    """

    text: str
    source: str
    line: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    chunked: bool = False


@dataclass
class Chunk:
    """One piece of a document, ready to embed.

    Attributes:
        text: Chunk text.
        id: Stable id (:func:`chunk_id` of the text).
        metadata: Document metadata plus ``source`` and ``chunk`` (index of the chunk within its document).
    """

    text: str
    id: str
    metadata: dict[str, Any]


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    trimmed = []
    for s, e in spans:
        segment = text[s:e]
        if segment.strip():
            trimmed.append((s + len(segment) - len(segment.lstrip()), s + len(segment.rstrip())))
    return trimmed


def split_sentences(text: str) -> list[str]:
    """Split text into sentences: after ``.``, ``!``, ``?`` (and closing quotes) before whitespace, at blank lines."""
    return [text[s:e] for s, e in _sentence_spans(text)]


def _check_sizes(chunk_size: int, overlap: int, unit: str) -> None:
    if unit not in ("words", "chars"):
        raise ConfigError(f"chunk unit must be 'words' or 'chars', got {unit!r}")
    if chunk_size < 1:
        raise ConfigError(f"chunk size must be at least 1, got {chunk_size}")
    if overlap < 0 or overlap >= chunk_size:
        raise ConfigError(f"chunk overlap must be >= 0 and smaller than the chunk size ({chunk_size}), got {overlap}")


class _Measure:
    """Sizes of spans of one text, in words or characters."""

    def __init__(self, text: str, unit: str) -> None:
        self.unit = unit
        self.word_spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        self.word_starts = [s for s, _ in self.word_spans]

    def size(self, start: int, end: int) -> int:
        if self.unit == "chars":
            return end - start
        return bisect_left(self.word_starts, end) - bisect_left(self.word_starts, start)


def _pieces(text: str, chunk_size: int, measure: _Measure) -> list[tuple[int, int]]:
    """Sentence spans; a sentence longer than a chunk becomes one piece per word (a word too long, per slice)."""
    pieces: list[tuple[int, int]] = []
    for s, e in _sentence_spans(text):
        if measure.size(s, e) <= chunk_size:
            pieces.append((s, e))
            continue
        lo = bisect_left(measure.word_starts, s)
        hi = bisect_left(measure.word_starts, e)
        for ws, we in measure.word_spans[lo:hi]:
            if measure.unit == "chars":
                while we - ws > chunk_size:
                    pieces.append((ws, ws + chunk_size))
                    ws += chunk_size
            pieces.append((ws, we))
    return pieces


def chunk_text(text: str, *, chunk_size: int = 200, overlap: int = 40, unit: str = "words") -> list[str]:
    """Split ``text`` into chunks of at most ``chunk_size`` units that overlap by up to ``overlap`` units.

    Chunks are slices of the original text (line breaks and formatting inside a chunk are kept). Whole sentences
    are packed while they fit; the overlap is made of whole trailing sentences of the previous chunk when they fit
    in ``overlap`` units, else of its last words.

    Args:
        text: The text to split.
        chunk_size: Largest chunk, in ``unit``.
        overlap: Units repeated from the end of one chunk at the start of the next.
        unit: ``"words"`` or ``"chars"``.

    Returns:
        The chunks, in order; none for blank text.

    Raises:
        ConfigError: for a size or overlap out of range.
    """
    _check_sizes(chunk_size, overlap, unit)
    measure = _Measure(text, unit)
    pieces = _pieces(text, chunk_size, measure)
    size = measure.size
    chunks: list[str] = []
    i = 0
    n = len(pieces)
    start = pieces[0][0] if pieces else 0
    while i < n:
        j = i
        while j + 1 < n and size(start, pieces[j + 1][1]) <= chunk_size:
            j += 1
        end = pieces[j][1]
        chunks.append(text[start:end])
        if j == n - 1:
            break
        nxt_end = pieces[j + 1][1]
        new_start: int | None = None
        new_i = j + 1
        if overlap:
            # whole trailing sentences of this chunk that fit in the overlap (and leave room for the next one)
            for k in range(i + 1, j + 1):
                s = pieces[k][0]
                if size(s, end) <= overlap and size(s, nxt_end) <= chunk_size:
                    new_start, new_i = s, k
                    break
            if new_start is None:  # no whole sentence fits: repeat the last words instead
                lo = bisect_left(measure.word_starts, max(start + 1, pieces[j][0]))
                hi = bisect_left(measure.word_starts, end)
                for w in range(lo, hi):
                    s = measure.word_starts[w]
                    if size(s, end) <= overlap and size(s, nxt_end) <= chunk_size:
                        new_start, new_i = s, j
                        break
        start = new_start if new_start is not None else pieces[j + 1][0]
        i = new_i
    return chunks


def _decode_error(path: Path, exc: UnicodeDecodeError) -> DataError:
    return DataError(
        f"not UTF-8 text (byte {exc.start}: {exc.reason}); convert it first, e.g. "
        f"iconv -f latin1 -t utf-8 '{path}' > '{path.with_suffix('.utf8' + path.suffix)}'",
        path=str(path),
    )


def expand_inputs(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files named by ``paths``: files as given, folders searched recursively for text and JSONL files.

    Raises:
        DataError: for a path that does not exist, or a folder with no file to index.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and (p.suffix.lower() in TEXT_SUFFIXES or p.name.lower().endswith(_JSONL_SUFFIXES))
            )
            if not found:
                raise DataError(
                    f"folder holds no file to index ({', '.join(TEXT_SUFFIXES + _JSONL_SUFFIXES)})", path=str(path)
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise DataError("no such file or folder", path=str(path))
    if not files:
        raise DataError("no input file given")
    return files


def _read_text_file(path: Path) -> str:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                return handle.read()
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _decode_error(path, exc) from None
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _iter_jsonl(
    path: Path, text_field: str, metadata_fields: Sequence[str] | None, id_field: str | None
) -> Iterator[Document]:
    try:
        rows = iter_json_rows(path)
        for line, row in rows:
            if not isinstance(row, dict):
                raise DataError(f"expected a JSON object, got {type(row).__name__}", path=str(path), line=line)
            if isinstance(row.get("chunks"), list) and "labels" in row and text_field not in row:
                yield from _tiered_row(path, line, row)
                continue
            if text_field not in row:
                raise DataError(
                    f"missing text field (fields present: {', '.join(sorted(row)) or 'none'}; "
                    "choose one with --text-field)",
                    path=str(path),
                    line=line,
                    field=text_field,
                )
            text = row[text_field]
            if not isinstance(text, str):
                raise DataError(
                    f"expected a string, got {type(text).__name__}", path=str(path), line=line, field=text_field
                )
            if not text.strip():
                logger.warning("%s:%d: empty text, skipped", path, line)
                continue
            metadata: dict[str, Any] = {}
            names = metadata_fields if metadata_fields is not None else [k for k in row if k != text_field]
            for name in names:
                if name not in row:
                    if metadata_fields is not None:
                        raise DataError("missing metadata field", path=str(path), line=line, field=name)
                    continue
                value = row[name]
                if value is None:
                    continue
                if not _scalar(value):
                    if metadata_fields is not None:
                        raise DataError(
                            f"metadata must be a string, number or boolean, got {type(value).__name__}",
                            path=str(path),
                            line=line,
                            field=name,
                        )
                    continue  # automatic metadata keeps only scalars (Chroma stores no nested values)
                metadata[name] = value
            if id_field:
                if id_field not in row:
                    raise DataError("missing id field", path=str(path), line=line, field=id_field)
                metadata["doc_id"] = str(row[id_field])
            yield Document(text=text, source=str(path), line=line, metadata=metadata)
    except UnicodeDecodeError as exc:  # gzip members decode lazily
        raise _decode_error(path, exc) from None


def _tiered_row(path: Path, line: int, row: dict[str, Any]) -> Iterator[Document]:
    chunks = row["chunks"]
    titles = row.get("titles") if isinstance(row.get("titles"), list) else None
    row_id = row.get("id")
    for i, text in enumerate(chunks):
        if not isinstance(text, str):
            raise DataError(
                f"expected a string, got {type(text).__name__}", path=str(path), line=line, field=f"chunks[{i}]"
            )
        if not text.strip():
            continue
        metadata: dict[str, Any] = {"chunk_of": str(row_id) if row_id is not None else f"line{line}", "chunk_index": i}
        if titles and i < len(titles) and isinstance(titles[i], str):
            metadata["title"] = titles[i]
        if isinstance(row.get("dataset"), str):
            metadata["dataset"] = row["dataset"]
        yield Document(text=text, source=str(path), line=line, metadata=metadata, chunked=True)


def iter_documents(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    text_field: str = "text",
    metadata_fields: Sequence[str] | None = None,
    id_field: str | None = None,
) -> Iterator[Document]:
    """Yield the documents of text files, JSONL files and folders, file by file.

    Args:
        paths: Files or folders (searched recursively for ``.txt``/``.md``/``.rst`` and JSONL files).
        text_field: JSONL field holding the text.
        metadata_fields: JSONL fields copied into the chunks' metadata (each must be present and scalar);
            ``None`` copies every scalar field except the text.
        id_field: JSONL field holding a document id, stored as ``doc_id``.

    Raises:
        DataError: for a missing file, a file that is not UTF-8 (naming it), a malformed JSONL row or a row
            without the text field. Documents of earlier files have already been yielded by then.
    """
    for path in expand_inputs(paths):
        if path.name.lower().endswith(_JSONL_SUFFIXES):
            yield from _iter_jsonl(path, text_field, metadata_fields, id_field)
        else:
            text = _read_text_file(path)
            if not text.strip():
                logger.warning("%s: empty file, skipped", path)
                continue
            yield Document(text=text, source=str(path), metadata={"title": path.stem})


def chunk_documents(
    documents: Iterable[Document], *, chunk_size: int = 200, overlap: int = 40, unit: str = "words"
) -> Iterator[Chunk]:
    """Chunk each document (tiered chunks pass through as they are), with stable ids and metadata.

    Each chunk's metadata is its document's plus ``source`` (the file) and ``chunk`` (its index in the document).

    Raises:
        ConfigError: for a size or overlap out of range.
    """
    _check_sizes(chunk_size, overlap, unit)
    for doc in documents:
        texts = [doc.text] if doc.chunked else chunk_text(doc.text, chunk_size=chunk_size, overlap=overlap, unit=unit)
        for i, text in enumerate(texts):
            metadata = {"source": doc.source, **doc.metadata}
            if not doc.chunked:
                metadata["chunk"] = i
            if doc.line is not None:
                metadata.setdefault("line", doc.line)
            yield Chunk(text=text, id=chunk_id(text), metadata=metadata)


def read_chunks(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    chunk_size: int = 200,
    overlap: int = 40,
    unit: str = "words",
    text_field: str = "text",
    metadata_fields: Sequence[str] | None = None,
    id_field: str | None = None,
    show_progress: bool = True,
) -> tuple[list[Path], list[Chunk]]:
    """Read and chunk every input (see :func:`iter_documents` and :func:`chunk_text`).

    Returns:
        The files read and all their chunks, in order.

    Raises:
        DataError: for a bad input (naming it), or when the inputs hold no text at all.
        ConfigError: for a chunk size or overlap out of range.
    """
    from tqdm.auto import tqdm

    _check_sizes(chunk_size, overlap, unit)
    files = expand_inputs(paths)
    chunks: list[Chunk] = []
    with tqdm(files, desc="reading", unit="file", disable=not show_progress or len(files) < 2) as bar:
        for path in bar:
            documents = iter_documents(
                [path], text_field=text_field, metadata_fields=metadata_fields, id_field=id_field
            )
            chunks.extend(chunk_documents(documents, chunk_size=chunk_size, overlap=overlap, unit=unit))
    if not chunks:
        raise DataError(f"no text to index in {', '.join(str(f) for f in files)} (all inputs are empty)")
    return files, chunks
