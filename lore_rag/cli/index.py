"""``lore-rag index``: chunk text / Markdown / JSONL files and add them to a Chroma collection (resumable)."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from lore_rag.cli import add_config_option
from lore_rag.cli.options import non_negative_int, port_number, positive_int
from lore_rag.retrieval.chunking import MAX_CHUNK_CHARS

__all__ = ["add_store_options", "open_store", "register", "run"]

logger = logging.getLogger(__name__)


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """``--store``, ``--collection``, ``--host``, ``--port``: where the Chroma collection is (shared with query)."""
    group = parser.add_argument_group("Chroma store")
    group.add_argument(
        "--store",
        metavar="DIR",
        help="folder of the embedded Chroma store (default: $LORE_RAG_HOME/chroma, i.e. ~/.cache/lore-rag/chroma)",
    )
    group.add_argument("--collection", default="lore", help="collection name (default: %(default)s)")
    group.add_argument("--host", help="Chroma server host (client/server mode, started with 'chroma run')")
    group.add_argument("--port", type=port_number, help="Chroma server port (default 8000 when --host is given)")


def open_store(args: argparse.Namespace, *, must_exist: bool = False) -> Any:
    """The :class:`~lore_rag.retrieval.ChromaStore` named by the store options."""
    from lore_rag.retrieval import ChromaStore

    return ChromaStore(args.store, collection=args.collection, host=args.host, port=args.port, must_exist=must_exist)


def add_model_options(parser: argparse.ArgumentParser, *, help_model: str) -> None:
    """``--model``, ``--document-model``, ``--device`` (shared with query)."""
    parser.add_argument("--model", default="raw", metavar="SPEC", help=help_model)
    parser.add_argument(
        "--document-model",
        metavar="DIR",
        help="the checkpoint's base model folder, when it is not where the checkpoint's manifest says",
    )
    parser.add_argument("--device", help="torch device (default: cpu)")


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
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders to index")
    add_model_options(
        parser,
        help_model=(
            "document encoder: 'raw' (bundled all-MiniLM-L6-v2, default), 'raw:MODEL', or a LORE checkpoint "
            "(its base model embeds the documents, so the index is the same as with the raw base model)"
        ),
    )
    add_store_options(parser)
    chunking = parser.add_argument_group(
        "chunking",
        "Sizes are in the document encoder's own tokens by default: the largest chunk is what the model reads "
        "(its max_seq_length minus special tokens and its document prompt), so nothing is cut off at embedding.",
    )
    chunking.add_argument(
        "--chunk-unit",
        choices=("tokens", "words", "chars"),
        default="tokens",
        help="unit of the sizes: the model's tokens, whitespace-separated words or characters (default: %(default)s)",
    )
    chunking.add_argument(
        "--chunk-size",
        type=positive_int,
        help="largest chunk (default: the model's token budget, e.g. 254 for all-MiniLM-L6-v2; 200 words/chars)",
    )
    chunking.add_argument(
        "--chunk-overlap",
        type=non_negative_int,
        help="overlap between consecutive chunks (default: an eighth of the chunk size in tokens; 40 words/chars)",
    )
    chunking.add_argument(
        "--long-chunks",
        choices=("split", "keep"),
        default="split",
        help=(
            "pre-made chunks (tiered files) longer than the model reads: split them into model-sized parts, or "
            "keep them whole and have the tokens the model cannot read counted (default: %(default)s)"
        ),
    )
    chunking.add_argument(
        "--max-chunk-chars",
        type=positive_int,
        default=MAX_CHUNK_CHARS,
        metavar="N",
        help="refuse, before embedding anything, any chunk longer than N characters (default: %(default)s)",
    )
    jsonl = parser.add_argument_group("JSONL input")
    jsonl.add_argument("--text-field", default="text", help="field holding the text (default: %(default)s)")
    jsonl.add_argument(
        "--metadata-fields",
        metavar="A,B",
        help="comma-separated fields to keep as chunk metadata (default: every string/number/boolean field)",
    )
    jsonl.add_argument("--id-field", help="field holding a document id (stored as metadata 'doc_id')")
    parser.add_argument(
        "--batch-size", type=positive_int, default=256, help="chunks per embedding batch (default: %(default)s)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_config_option(parser)
    parser.set_defaults(func=run)


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
    else:
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
    return 0
