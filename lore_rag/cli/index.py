"""``lore-rag index``: chunk text / Markdown / JSONL files and add them to a Chroma collection (resumable)."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from lore_rag.cli import add_config_option
from lore_rag.cli.options import add_config_arguments, argument_group
from lore_rag.retrieval.settings import CHUNKING_GROUP, EncoderSettings, IndexConfig, StoreSettings

__all__ = ["add_store_options", "open_store", "register", "run"]

logger = logging.getLogger(__name__)


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """``--store``, ``--collection``, ``--host``, ``--port``: where the Chroma collection is (shared with query)."""
    add_config_arguments(parser, StoreSettings)


def open_store(args: argparse.Namespace, *, must_exist: bool = False) -> Any:
    """The :class:`~lore_rag.retrieval.ChromaStore` named by the store options."""
    from lore_rag.retrieval import ChromaStore

    return ChromaStore(args.store, collection=args.collection, host=args.host, port=args.port, must_exist=must_exist)


def add_model_options(parser: argparse.ArgumentParser, *, help_model: str) -> None:
    """``--model``, ``--document-model``, ``--device`` (shared with query); ``help_model`` is ``--model``'s help."""
    add_config_arguments(parser, EncoderSettings, overrides={"model": {"help": help_model}})


def load_encoder(args: argparse.Namespace) -> Any:
    """The encoder named by ``--model`` / ``--document-model`` / ``--device``."""
    from lore_rag.models.encoder import LoreEncoder

    return LoreEncoder.load(str(args.model), document_model=args.document_model or None, device=args.device)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``index`` subcommand."""
    parser = subparsers.add_parser(
        "index",
        help="chunk files and add them to a Chroma collection",
        description=(
            "Read .txt/.md files, folders of them, JSONL files (one document per row) or tiered LORE files "
            "(every chunk of every row), cut them into overlapping chunks and add them to a Chroma collection, "
            "embedded with the original document encoder. Chunk ids are hashes of their text: running the "
            "same command again adds only what is missing, so an interrupted run is resumed by re-running it."
        ),
    )
    add_model_options(
        parser,
        help_model=(
            "document encoder: 'raw' (bundled all-MiniLM-L6-v2, default), 'raw:MODEL', or a LORE checkpoint "
            "(its base model embeds the documents, so the index is the same as with the raw base model)"
        ),
    )
    add_store_options(parser)
    argument_group(parser, CHUNKING_GROUP).description = (
        "Sizes are in the document encoder's own tokens by default: the largest chunk is what the model reads "
        "(its max_seq_length minus special tokens and its document prompt), so nothing is cut off at embedding."
    )
    add_config_arguments(parser, IndexConfig)
    add_config_option(parser)
    parser.set_defaults(func=run)


def _summary(
    args: argparse.Namespace, store: Any, report: Any, lengths: Any, stats: Any, size: int, overlap: int
) -> None:
    """Print what was indexed: one JSON object with ``--json``, else three lines of text."""
    if args.json:
        summary = {
            "store": store.location,
            "collection": store.collection_name,
            "files": report.files,
            "chunks": report.chunks,
            "unique": report.unique,
            "added": report.added,
            "skipped": report.skipped,
            "total": report.total,
            "document_fingerprint": store.document_fingerprint,
            "chunk_unit": args.chunk_unit,
            "chunk_size": size,
            "chunk_overlap": overlap,
            "max_seq_length": lengths.max_seq_length,
            "token_budget": lengths.budget,
            "longest_chunk_tokens": lengths.longest,
            "truncated_chunks": lengths.truncated,
            "tokens_lost": lengths.tokens_lost,
            "long_chunks_split": stats.long_split,
            "long_chunk_parts": stats.parts,
        }
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{report.files} file(s), {report.chunks} chunk(s) ({report.unique} distinct): {report.added} added, "
        f"{report.skipped} already indexed; {store.describe()} now holds {report.total} chunk(s)"
    )
    if stats.long_split:
        print(
            f"{stats.long_split} pre-made chunk(s) longer than the model reads were split into {stats.parts} "
            "part(s) (metadata 'part'; --long-chunks keep indexes them whole)"
        )
    print(f"chunks of at most {size} {args.chunk_unit} (overlap {overlap}): {lengths.describe()}")


def run(args: argparse.Namespace) -> int:
    """Index the inputs; prints what was added and how the chunks fit the model."""
    from lore_rag.retrieval.chunking import (
        ChunkingStats,
        TokenCounter,
        chunk_documents,
        chunk_sizes,
        read_documents,
        refuse_oversize,
    )
    from lore_rag.retrieval.retriever import index_chunks

    fields = [f.strip() for f in args.metadata_fields.split(",") if f.strip()] if args.metadata_fields else None
    if args.chunk_unit != "tokens":
        chunk_sizes(args.chunk_size, args.chunk_overlap, args.chunk_unit)  # bad sizes fail before anything loads
    # Read everything first: a bad input fails before a model is loaded or the store is touched.
    files, documents = read_documents(
        args.inputs,
        text_field=args.text_field,
        metadata_fields=fields,
        id_field=args.id_field,
        show_progress=not args.no_progress,
    )
    refuse_oversize(documents, args.max_chunk_chars)
    store = open_store(args)  # a damaged, locked or unreachable store fails before the model loads
    encoder = load_encoder(args)
    counter = TokenCounter(encoder.document_model)
    stats = ChunkingStats()
    chunks = list(
        chunk_documents(
            documents,
            chunk_size=args.chunk_size,
            overlap=args.chunk_overlap,
            unit=args.chunk_unit,
            counter=counter,
            long_chunks=args.long_chunks,
            max_chunk_chars=args.max_chunk_chars,
            stats=stats,
        )
    )
    del documents
    lengths = counter.report(chunks)
    size, overlap = chunk_sizes(args.chunk_size, args.chunk_overlap, args.chunk_unit, counter)
    report = index_chunks(
        chunks, store, encoder, files=len(files), batch_size=args.batch_size, show_progress=not args.no_progress
    )
    _summary(args, store, report, lengths, stats, size, overlap)
    return 0
