"""``lore-rag query``: top-k chunks of a Chroma collection for one or more queries, raw vs LORE side by side."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from lore_rag.cli import add_config_option
from lore_rag.cli.index import add_model_options, add_store_options, load_encoder, open_store
from lore_rag.cli.options import add_config_arguments
from lore_rag.cli.rerank_options import add_reranker_options, load_reranker
from lore_rag.retrieval.settings import QueryConfig

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``query`` subcommand."""
    parser = subparsers.add_parser(
        "query",
        help="search a Chroma collection (raw vs LORE side by side with --compare)",
        description=(
            "Embed each query with the query encoder of --model and print the top-k chunks of the collection "
            "with their cosine scores. With --compare and a LORE checkpoint, the raw base model searches the "
            "same collection too and both rankings are shown side by side. With --reranker, a cross-encoder "
            "rescores each model's top --fetch-k chunks and the best k are shown."
        ),
    )
    add_model_options(
        parser,
        help_model="query encoder: 'raw' (default), 'raw:MODEL', or a LORE checkpoint folder",
    )
    add_store_options(parser)
    add_config_arguments(parser, QueryConfig)
    add_reranker_options(parser, what="the")
    add_config_option(parser)
    parser.set_defaults(func=run)


def _read_queries(args: argparse.Namespace) -> list[str]:
    from lore_rag.data.io import iter_json_rows
    from lore_rag.errors import ConfigError, DataError

    queries = [q for q in args.queries if q.strip()]
    if args.queries_file:
        path = Path(args.queries_file)
        if not path.is_file():
            raise DataError("no such file", path=str(path))
        if path.name.endswith((".jsonl", ".jsonl.gz", ".json")):
            for line, row in iter_json_rows(path):
                if not isinstance(row, dict) or not isinstance(row.get("query"), str):
                    raise DataError(
                        "expected an object with a string 'query'", path=str(path), line=line, field="query"
                    )
                queries.append(row["query"])
        else:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"not UTF-8 text (byte {exc.start})", path=str(path)) from None
            queries.extend(line.strip() for line in text.splitlines() if line.strip())
    if not queries:
        raise ConfigError("no query given: pass QUERY arguments or --queries-file FILE")
    return queries


def run(args: argparse.Namespace) -> int:
    """Search and print the hits."""
    from lore_rag.errors import ConfigError
    from lore_rag.retrieval import compare, raw_counterpart

    queries = _read_queries(args)
    if args.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {args.top_k}")
    where = _parse_where(args.where)
    reranker, fetch_k = load_reranker(args, args.top_k)  # first: a bad reranker fails before the encoder loads
    store = open_store(args, must_exist=True)
    encoder = load_encoder(args)
    if args.compare and encoder.is_raw:
        raise ConfigError("--compare needs a LORE checkpoint as --model (raw vs raw would be the same ranking)")
    models = {("lore" if not encoder.is_raw else "raw"): encoder}
    if args.compare:
        models = {"raw": raw_counterpart(encoder), "lore": encoder}
    per_query = compare(store, models, queries, args.top_k, where=where, reranker=reranker, fetch_k=fetch_k)
    results = {key: [hits[key] for hits in per_query] for key in models}
    if args.json:
        out = {
            "store": store.location,
            "collection": store.collection_name,
            "k": args.top_k,
            "models": {key: enc.name for key, enc in models.items()},
            "reranker": None if reranker is None else {**reranker.describe(), "fetch_k": fetch_k},
            "results": [
                {"query": q, "hits": {key: [h.to_dict() for h in results[key][i]] for key in models}}
                for i, q in enumerate(queries)
            ],
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    _print_results(args, queries, models, results, reranker, fetch_k)
    return 0


def _parse_where(text: str | None) -> dict[str, Any] | None:
    """The ``--where`` metadata filter: a non-empty JSON object, or ``None`` without the flag."""
    from lore_rag.errors import ConfigError

    if not text:
        return None
    try:
        where = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--where: not JSON ({exc.msg})") from None
    if not isinstance(where, dict) or not where:
        raise ConfigError('--where: expected a non-empty JSON object, e.g. \'{"source": "a.txt"}\'')
    return where


def _print_results(
    args: argparse.Namespace,
    queries: list[str],
    models: dict[str, Any],
    results: dict[str, Any],
    reranker: Any,
    fetch_k: int | None,
) -> None:
    """Print each query's hits: one model's ranking, or raw and LORE side by side with ``--compare``."""
    from lore_rag.retrieval.retriever import format_hits, format_side_by_side

    width = args.width or shutil.get_terminal_size((120, 24)).columns
    labels = {key: ("raw" if key == "raw" else f"LORE ({enc.name})") for key, enc in models.items()}
    if reranker is not None:
        labels = {key: f"{label} + {reranker.name}" for key, label in labels.items()}
        print(f"Reranker: {reranker.name}, top {fetch_k} of each model rescored; scores are the reranker's")
    for i, query in enumerate(queries):
        if i:
            print()
        print(f"Query: {query}")
        if args.compare:
            print(format_side_by_side({labels[key]: results[key][i] for key in models}, width=width))
        else:
            (key,) = models
            print(format_hits(results[key][i], width=width))
