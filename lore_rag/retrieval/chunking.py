"""Split documents into overlapping chunks, and read the files ``lore-rag index`` takes.

By default chunks are measured in the **document encoder's own tokens** (:class:`TokenCounter`): the largest chunk
is what the model reads (its ``max_seq_length``) minus its document prompt and special tokens, so no chunk is cut
off at embedding time. Token chunks are made by langchain-text-splitters' ``RecursiveCharacterTextSplitter``
(``from_huggingface_tokenizer``): paragraphs, then sentences, then lines, then words are packed while they fit, and
consecutive chunks repeat up to ``overlap`` tokens of whole pieces. Every chunk is then counted again with the
tokenizer; one still over the budget (a tokenizer whose counts are not additive) is cut at token offsets.

Words (whitespace-separated) and characters remain available as units: whole sentences are packed into a chunk
while they fit; a sentence longer than a chunk is cut between words, and the overlap is whole trailing sentences of
the previous chunk when they fit, else its last words. Such chunks, and the chunks of tiered files, which are
indexed as they are, may be longer than the model reads: :meth:`TokenCounter.report` counts them and the tokens
the model will not see, and ``lore-rag index`` prints that. A chunk past :data:`MAX_CHUNK_CHARS` characters is
refused before anything is embedded (embedding tokenizes the whole text, so one 50 MB chunk would take minutes
and gigabytes to yield a vector of its first few hundred tokens).

Inputs (:func:`iter_documents`):

* ``.txt`` / ``.md`` files (or a folder holding them, searched recursively): one document per file;
* JSONL files (``.jsonl``, ``.jsonl.gz``): one document per row, its text in ``text_field``;
* tiered LORE files (JSONL rows with ``chunks`` and ``labels``, such as the evaluation sets): every chunk of every
  row is already a chunk and is indexed as it is, tagged with the row id and chunk index.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lore_rag._hashing import text_key
from lore_rag.data.io import iter_json_rows
from lore_rag.errors import ConfigError, DataError

__all__ = [
    "MAX_CHUNK_CHARS",
    "TEXT_SUFFIXES",
    "UNITS",
    "LONG_CHUNKS",
    "Chunk",
    "ChunkingStats",
    "Document",
    "LengthReport",
    "TokenCounter",
    "chunk_documents",
    "chunk_id",
    "chunk_text",
    "expand_inputs",
    "iter_documents",
    "chunk_sizes",
    "read_chunks",
    "read_documents",
    "refuse_oversize",
    "split_sentences",
]

logger = logging.getLogger(__name__)

#: Suffixes read as plain text, one document per file.
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".ndjson")

# A sentence ends after . ! ? (and any closing quotes/brackets) before whitespace, or at a blank line.
#: Chunk units: the document encoder's tokens (default), whitespace-separated words, characters.
UNITS = ("tokens", "words", "chars")
#: Longest single chunk accepted for embedding, in characters (``--max-chunk-chars``); ~100x what a 256-token
#: model reads. Longer chunks are refused before anything is embedded.
MAX_CHUNK_CHARS = 100_000
# Separators of the token splitter, tried in order: paragraphs, sentence ends, lines, words, characters.
_TOKEN_SEPARATORS = ["\n\n", r"(?<=[.!?])\s+|(?<=[.!?][\"'”’)\]])\s+", "\n", " ", ""]

_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)|\n[ \t\r]*\n")
_WORD = re.compile(r"\S+")


def chunk_id(text: str) -> str:
    """Stable id of a chunk: a hash of its text (:func:`lore_rag._hashing.text_key`), the same chunk, the same id."""
    return text_key(text)


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

    def where(self) -> str:
        """``file:line`` (or ``file``) of the chunk, for messages."""
        line = self.metadata.get("line")
        return f"{self.metadata.get('source', '?')}:{line}" if line is not None else str(self.metadata.get("source"))


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
    if unit not in UNITS:
        raise ConfigError(f"chunk unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if chunk_size < 1:
        raise ConfigError(f"chunk size must be at least 1, got {chunk_size}")
    if overlap < 0 or overlap >= chunk_size:
        raise ConfigError(f"chunk overlap must be >= 0 and smaller than the chunk size ({chunk_size}), got {overlap}")


def chunk_sizes(
    chunk_size: int | None, overlap: int | None, unit: str, counter: TokenCounter | None = None
) -> tuple[int, int]:
    """The chunk size and overlap to use: the given ones, checked, or the unit's defaults.

    In tokens the default size is the model's budget (``max_seq_length`` minus prompt and special tokens) and
    the default overlap an eighth of the size; a size above the budget is refused, since the model would cut
    every such chunk. In words or characters the defaults are 200 and 40.

    Raises:
        ConfigError: for an unknown unit, tokens without a counter, or a size or overlap out of range.
    """
    if unit not in UNITS:
        raise ConfigError(f"chunk unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if unit == "tokens":
        if counter is None:
            raise ConfigError("chunking in tokens needs the document encoder's tokenizer (a TokenCounter)")
        if chunk_size is not None and chunk_size > counter.budget:
            raise ConfigError(
                f"--chunk-size {chunk_size} tokens is more than the model reads: {counter.budget} tokens of text "
                f"({counter.max_seq_length} minus {counter.overhead} for special tokens and the document prompt)"
            )
        size = chunk_size if chunk_size is not None else counter.budget
        lap = overlap if overlap is not None else size // 8
    else:
        size = chunk_size if chunk_size is not None else 200
        lap = overlap if overlap is not None else min(40, max(0, size - 1))
    _check_sizes(size, lap, unit)
    return size, lap


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


@dataclass
class LengthReport:
    """How the chunks compare with what the document encoder reads (:meth:`TokenCounter.report`).

    Attributes:
        max_seq_length: Tokens the model reads, prompt and special tokens included.
        budget: Tokens left for the chunk text itself.
        chunks: Chunks measured.
        truncated: Chunks longer than the model reads (their end is not embedded).
        tokens_lost: Tokens of those chunks the model does not see, summed.
        longest: Largest chunk, in tokens of its text.
        longest_where: ``file:line`` of that chunk.
    """

    max_seq_length: int
    budget: int
    chunks: int = 0
    truncated: int = 0
    tokens_lost: int = 0
    longest: int = 0
    longest_where: str = ""

    def describe(self) -> str:
        """One line for the user: how many chunks the model truncates and how many tokens it does not read."""
        if not self.truncated:
            return (
                f"all {self.chunks} chunk(s) fit the model's {self.max_seq_length}-token window "
                f"(longest {self.longest} of {self.budget} tokens)"
            )
        return (
            f"{self.truncated} of {self.chunks} chunk(s) are longer than the model reads ({self.budget} tokens of "
            f"text in its {self.max_seq_length}-token window): {self.tokens_lost} token(s) are not embedded and "
            f"cannot be retrieved (longest {self.longest} tokens, {self.longest_where}); to keep every token, "
            "chunk documents with --chunk-unit tokens and let --long-chunks split pre-made chunks (the defaults)"
        )


class TokenCounter:
    """Counts text in a sentence-transformers model's own tokens, and knows how many it reads.

    Args:
        model: The document encoder (a ``SentenceTransformer``); its tokenizer, ``max_seq_length`` and document
            prompt are used.

    Attributes:
        max_seq_length: Tokens the model reads per text, special tokens and prompt included.
        overhead: Special tokens plus document-prompt tokens added to every text.
        budget: Largest chunk text the model reads whole (``max_seq_length - overhead``).
    """

    def __init__(self, model: Any) -> None:
        from lore_rag.models.encoder import document_prompt

        tokenizer = getattr(model, "tokenizer", None)
        if tokenizer is None or not callable(tokenizer):
            raise ConfigError("chunking in tokens needs a model with a Hugging Face tokenizer; use --chunk-unit words")
        limit = getattr(model, "max_seq_length", None) or getattr(tokenizer, "model_max_length", None)
        if not limit or limit > 1_000_000:  # tokenizers without a limit report a huge sentinel value
            raise ConfigError("the model states no max_seq_length; give --chunk-size in tokens")
        self.tokenizer = tokenizer
        self.max_seq_length = int(limit)
        specials = len(tokenizer("", add_special_tokens=True)["input_ids"])
        prompt = document_prompt(model)
        self.overhead = specials + (self.count([prompt])[0] if prompt else 0)
        self.budget = self.max_seq_length - self.overhead
        if self.budget < 1:
            raise ConfigError(f"the model's document prompt leaves no room in its {self.max_seq_length} tokens")

    def count(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text, special tokens and prompt not included."""
        if not texts:
            return []
        encoded = self.tokenizer(
            list(texts),
            add_special_tokens=False,
            truncation=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def length(self, text: str) -> int:
        """Tokens of one text (the splitter's length function)."""
        return self.count([text])[0]

    def cut(self, text: str, size: int) -> list[str]:
        """Cut ``text`` at token boundaries into pieces of at most ``size`` tokens (slices of the text)."""
        encoded = self.tokenizer(
            text, add_special_tokens=False, truncation=False, return_offsets_mapping=True, verbose=False
        )
        offsets = [o for o in encoded["offset_mapping"] if o[1] > o[0]]
        pieces = []
        for start in range(0, len(offsets), size):
            part = offsets[start : start + size]
            end = offsets[start + size][0] if start + size < len(offsets) else len(text)
            piece = text[part[0][0] : end].strip()
            if piece:
                pieces.append(piece)
        return pieces

    def report(self, chunks: Sequence[Chunk], *, batch_size: int = 512) -> LengthReport:
        """Count the chunks longer than the model reads and the tokens it will not see (in batches)."""
        result = LengthReport(max_seq_length=self.max_seq_length, budget=self.budget, chunks=len(chunks))
        for start in range(0, len(chunks), batch_size):
            part = chunks[start : start + batch_size]
            for chunk, n in zip(part, self.count([c.text for c in part]), strict=True):
                if n > result.longest:
                    result.longest, result.longest_where = n, chunk.where()
                if n > self.budget:
                    result.truncated += 1
                    result.tokens_lost += n - self.budget
        return result


def _token_chunks(text: str, counter: TokenCounter, chunk_size: int, overlap: int) -> list[str]:
    """Sentence-aware chunks of at most ``chunk_size`` tokens (langchain-text-splitters), checked token by token."""
    from functools import lru_cache

    try:
        from langchain_text_splitters import RecursiveCharacterTextSplitter
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ConfigError(
            "chunking in tokens needs langchain-text-splitters: pip install langchain-text-splitters"
        ) from exc

    length = lru_cache(maxsize=8192)(counter.length)  # the splitter measures a piece several times
    splitter = RecursiveCharacterTextSplitter(
        separators=_TOKEN_SEPARATORS,
        is_separator_regex=True,
        keep_separator="end",
        chunk_size=chunk_size,
        chunk_overlap=overlap,
        length_function=length,
    )
    chunks: list[str] = []
    pieces = [c for c in splitter.split_text(text) if c.strip()]
    for piece, n in zip(pieces, counter.count(pieces), strict=True):
        # counts of pieces need not add up exactly (BPE merges across a boundary): cut what is still over
        chunks.extend([piece] if n <= chunk_size else counter.cut(piece, chunk_size))
    return chunks


def chunk_text(
    text: str,
    *,
    chunk_size: int | None = None,
    overlap: int | None = None,
    unit: str = "words",
    counter: TokenCounter | None = None,
) -> list[str]:
    """Split ``text`` into chunks of at most ``chunk_size`` units that overlap by up to ``overlap`` units.

    Chunks are slices of the original text (line breaks and formatting inside a chunk are kept). Whole sentences
    are packed while they fit; the overlap is made of whole trailing sentences of the previous chunk when they fit
    in ``overlap`` units, else of its last words (whole pieces only, in tokens).

    Args:
        text: The text to split.
        chunk_size: Largest chunk, in ``unit``; default: the model's budget in tokens (:class:`TokenCounter`),
            200 words or characters.
        overlap: Units repeated from the end of one chunk at the start of the next; default: an eighth of the
            chunk size in tokens, 40 words or characters.
        unit: ``"tokens"`` (needs ``counter``), ``"words"`` or ``"chars"``.
        counter: The document encoder's :class:`TokenCounter`, for ``unit="tokens"``.

    Returns:
        The chunks, in order; none for blank text.

    Raises:
        ConfigError: for a size or overlap out of range, or tokens without a counter.
    """
    chunk_size, overlap = chunk_sizes(chunk_size, overlap, unit, counter)
    if unit == "tokens":
        assert counter is not None  # checked by chunk_sizes
        return _token_chunks(text, counter, chunk_size, overlap) if text.strip() else []
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


def refuse_oversize(documents: Iterable[Document], max_chunk_chars: int = MAX_CHUNK_CHARS) -> None:
    """Refuse pre-made chunks longer than ``max_chunk_chars`` characters, before any model is loaded.

    Raises:
        DataError: naming the file, line and field of the first such chunk.
        ConfigError: for a limit below 1.
    """
    if max_chunk_chars < 1:
        raise ConfigError(f"--max-chunk-chars must be at least 1, got {max_chunk_chars}")
    for doc in documents:
        if doc.chunked:
            _refuse_oversize(doc.text, doc, max_chunk_chars)


def _refuse_oversize(text: str, doc: Document, max_chunk_chars: int) -> None:
    if len(text) <= max_chunk_chars:
        return
    index = doc.metadata.get("chunk_index")
    raise DataError(
        f"a chunk of {len(text):,} characters is past the {max_chunk_chars:,}-character limit for one chunk "
        "(the model reads only its first few hundred tokens, and embedding it whole takes minutes and gigabytes); "
        "nothing was indexed: split it, index the text as a document (it is then chunked), or raise "
        "--max-chunk-chars",
        path=doc.source,
        line=doc.line,
        field=f"chunks[{index}]" if doc.chunked and index is not None else None,
    )


@dataclass
class ChunkingStats:
    """What :func:`chunk_documents` did beyond plain chunking (filled in as chunks are made).

    Attributes:
        long_split: Pre-made chunks (tiered files) longer than the model reads that were split.
        parts: Chunks those were split into.
    """

    long_split: int = 0
    parts: int = 0


#: What to do with a pre-made chunk longer than the model reads: split it in model-sized parts, or keep it whole.
LONG_CHUNKS = ("split", "keep")


def chunk_documents(
    documents: Iterable[Document],
    *,
    chunk_size: int | None = None,
    overlap: int | None = None,
    unit: str | None = None,
    counter: TokenCounter | None = None,
    long_chunks: str = "split",
    max_chunk_chars: int = MAX_CHUNK_CHARS,
    stats: ChunkingStats | None = None,
) -> Iterator[Chunk]:
    """Chunk each document, with stable ids and metadata; tiered chunks pass through as they are.

    Each chunk's metadata is its document's plus ``source`` (the file) and ``chunk`` (its index in the document).
    With a ``counter`` and ``long_chunks="split"`` (the default), a pre-made (tiered) chunk longer than the model
    reads is split, sentence-aware, into parts of at most the model's budget, each tagged ``part`` (0, 1, ...);
    with ``"keep"`` it is indexed whole and :meth:`TokenCounter.report` counts the tokens the model will not see.

    Args:
        documents: From :func:`iter_documents`.
        chunk_size: Largest chunk in ``unit`` (default: see :func:`chunk_sizes`).
        overlap: Overlap in ``unit`` (default: see :func:`chunk_sizes`).
        unit: ``"tokens"``, ``"words"`` or ``"chars"``; default tokens when ``counter`` is given, else words.
        counter: The document encoder's :class:`TokenCounter`.
        long_chunks: ``"split"`` or ``"keep"``: pre-made chunks longer than the model reads.
        max_chunk_chars: Longest chunk accepted, in characters (see :data:`MAX_CHUNK_CHARS`).
        stats: Filled with what was split.

    Raises:
        ConfigError: for a size or overlap out of range.
        DataError: for a chunk longer than ``max_chunk_chars`` (naming its file, line and field).
    """
    unit = unit or ("tokens" if counter is not None else "words")
    chunk_size, overlap = chunk_sizes(chunk_size, overlap, unit, counter)
    if long_chunks not in LONG_CHUNKS:
        raise ConfigError(f"--long-chunks must be one of {', '.join(LONG_CHUNKS)}, got {long_chunks!r}")
    if max_chunk_chars < 1:
        raise ConfigError(f"--max-chunk-chars must be at least 1, got {max_chunk_chars}")
    stats = stats if stats is not None else ChunkingStats()
    for doc in documents:
        parts: list[str] | None = None
        if doc.chunked:
            _refuse_oversize(doc.text, doc, max_chunk_chars)
            texts = [doc.text]
            if counter is not None and long_chunks == "split" and counter.length(doc.text) > counter.budget:
                parts = _token_chunks(doc.text, counter, counter.budget, counter.budget // 8)
                texts = parts
                stats.long_split += 1
                stats.parts += len(parts)
        else:
            texts = chunk_text(doc.text, chunk_size=chunk_size, overlap=overlap, unit=unit, counter=counter)
        for i, text in enumerate(texts):
            _refuse_oversize(text, doc, max_chunk_chars)
            metadata = {"source": doc.source, **doc.metadata}
            if not doc.chunked:
                metadata["chunk"] = i
            elif parts is not None:
                metadata["part"] = i
            if doc.line is not None:
                metadata.setdefault("line", doc.line)
            yield Chunk(text=text, id=chunk_id(text), metadata=metadata)


def read_documents(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    text_field: str = "text",
    metadata_fields: Sequence[str] | None = None,
    id_field: str | None = None,
    show_progress: bool = True,
) -> tuple[list[Path], list[Document]]:
    """Read every input into documents (see :func:`iter_documents`), so bad input fails before a model is loaded.

    Raises:
        DataError: for a bad input (naming it), or when the inputs hold no text at all.
    """
    from tqdm.auto import tqdm

    files = expand_inputs(paths)
    documents: list[Document] = []
    with tqdm(files, desc="reading", unit="file", disable=not show_progress or len(files) < 2) as bar:
        for path in bar:
            documents.extend(
                iter_documents([path], text_field=text_field, metadata_fields=metadata_fields, id_field=id_field)
            )
    if not documents:
        raise DataError(f"no text to index in {', '.join(str(f) for f in files)} (all inputs are empty)")
    return files, documents


def read_chunks(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    chunk_size: int | None = None,
    overlap: int | None = None,
    unit: str | None = None,
    counter: TokenCounter | None = None,
    long_chunks: str = "split",
    max_chunk_chars: int = MAX_CHUNK_CHARS,
    text_field: str = "text",
    metadata_fields: Sequence[str] | None = None,
    id_field: str | None = None,
    show_progress: bool = True,
    stats: ChunkingStats | None = None,
) -> tuple[list[Path], list[Chunk]]:
    """Read and chunk every input (see :func:`read_documents` and :func:`chunk_documents`).

    Returns:
        The files read and all their chunks, in order.

    Raises:
        DataError: for a bad input (naming it), a chunk past ``max_chunk_chars``, or when the inputs hold no text.
        ConfigError: for a chunk size or overlap out of range.
    """
    chunk_sizes(chunk_size, overlap, unit or ("tokens" if counter is not None else "words"), counter)
    files, documents = read_documents(
        paths, text_field=text_field, metadata_fields=metadata_fields, id_field=id_field, show_progress=show_progress
    )
    chunks = list(
        chunk_documents(
            documents,
            chunk_size=chunk_size,
            overlap=overlap,
            unit=unit,
            counter=counter,
            long_chunks=long_chunks,
            max_chunk_chars=max_chunk_chars,
            stats=stats,
        )
    )
    return files, chunks
