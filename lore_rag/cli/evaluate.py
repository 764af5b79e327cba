"""``lore-rag eval``: paper-protocol (or corpus-wide) metrics of raw models and checkpoints on tiered files."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``eval`` subcommand."""
    from lore_rag.cli import add_config_option
    from lore_rag.cli.options import positive_int

    parser = sub.add_parser(
        "eval",
        help="evaluate raw models and LORE checkpoints: P@k and N1@k, rewritten and original queries",
        description=(
            "Rank each query's own candidates (paper protocol) or, with --mode corpus, search one index of all "
            "chunks; report P-recall@k (higher is better) and N1-recall@k (lower is better)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_config_option(parser)
    parser.add_argument(
        "--model",
        dest="models",
        nargs="+",
        default=["raw"],
        metavar="DIR|raw",
        help="checkpoint folders (a training output folder or its best/), 'raw' or 'raw:MODEL'",
    )
    parser.add_argument(
        "--data", nargs="+", metavar="FILE", help="tiered JSONL files or folders (default: bundled validation)"
    )
    parser.add_argument("--json", metavar="OUT", help="also write the numbers to this JSON file")
    parser.add_argument("--ks", type=positive_int, nargs="+", default=[3, 5, 10], help="cut-offs (each at least 1)")
    parser.add_argument(
        "--mode", choices=["candidates", "corpus"], default="candidates", help="paper protocol or one shared index"
    )
    parser.add_argument(
        "--store", metavar="DIR", help="corpus mode: Chroma folder to build the index in (default: a temporary one)"
    )
    from lore_rag.cli.rerank_options import add_reranker_options

    add_reranker_options(parser, what="each model's")  # corpus mode only
    parser.add_argument("--device", default=None, help="torch device")
    parser.add_argument("--show-progress", action=argparse.BooleanOptionalAction, default=True, help="progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print one table per file."""
    from lore_rag.cli.options import check_output_file
    from lore_rag.defaults import bundled_validation_path
    from lore_rag.evaluation.report import format_table, write_json
    from lore_rag.evaluation.runner import load_encoders

    if args.json:  # before any model is loaded: a bad --json fails in a second, not after the evaluation
        check_output_file(args.json, "--json")
    files = args.data or [str(bundled_validation_path())]
    from lore_rag.data.io import expand_paths

    expand_paths(files)  # a missing file or empty folder fails before the models load
    if args.mode != "corpus" and (args.reranker or args.fetch_k is not None):
        from lore_rag.errors import ConfigError

        raise ConfigError("--reranker / --fetch-k work with --mode corpus (one index of all chunks)")
    encoders = load_encoders(args.models, device=args.device)
    if args.mode == "corpus":
        from lore_rag.cli.rerank_options import load_reranker
        from lore_rag.data.io import read_examples
        from lore_rag.evaluation.corpus import evaluate_corpus, format_corpus_table

        reranker, fetch_k = load_reranker(args, max([*args.ks, 10]))
        output = {}
        for path in expand_paths(files):
            result = evaluate_corpus(
                encoders,
                read_examples(path),
                ks=tuple(args.ks),
                store_dir=args.store,
                show_progress=args.show_progress,
                reranker=reranker,
                fetch_k=fetch_k,
            )
            output[str(path)] = result
            print(f"**{Path(path).name}** (corpus-wide, one index of all chunks)\n")
            print(format_corpus_table(result))
            print()
    else:
        from lore_rag.evaluation.runner import evaluate_models

        output = evaluate_models(encoders, files, ks=args.ks, show_progress=args.show_progress)
        for file, by_model in output.items():
            print(format_table(by_model, ks=args.ks, title=f"**{Path(file).name}**"))
            print()
    if args.json:
        write_json(output, args.json)
        print(f"wrote {args.json}")
    return 0
