"""``lore-rag build-data``: raw rows to tiered LORE rows (P / N1 / N2), with an LLM or offline, resumable."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from lore_rag.cli import add_config_option
from lore_rag.cli.options import check_output_file, non_negative_float, positive_int
from lore_rag.errors import ConfigError

logger = logging.getLogger(__name__)

_EPILOG = """\
input: raw JSONL rows {id, query, chunks, labels 1/0, answer, titles} as written by 'lore-rag convert'.
output: LORE rows {id, query (rewritten), original_query, chunks, labels 1 P / -1 N1 / 0 N2, relation,
used_distractors, answer, ...}, appended and fsync-ed one by one; OUTPUT.skipped.jsonl records skipped
questions with their reason, OUTPUT.meta.json the options. Run the same command again to resume.

LLM mode (default) uses --base-url / $OPENAI_BASE_URL, else serves the bundled SmolLM2 locally for the run
(a tiny model: most of its replies are rejected; use a real endpoint for real data). --offline needs no LLM:
template rewrites of mined distractors, a weaker but free fallback.

examples:
  lore-rag build-data raw/ours.jsonl -o lore/ours.jsonl --offline
  OPENAI_BASE_URL=http://127.0.0.1:8000/v1 lore-rag build-data raw/ours.jsonl -o lore/ours.jsonl \\
      --fraction 0.8 --relations Causal=2,Contrastive,Parallel --concurrency 8
"""


def register(subparsers: Any) -> None:
    """Add the ``build-data`` subcommand."""
    from lore_rag.cli.llm import add_llm_arguments

    parser = subparsers.add_parser(
        "build-data",
        help="build tiered LORE training data (LLM or --offline rewrites), resumable",
        description="Mine tempting non-relevant chunks for each question, rewrite the question so that it weaves "
        "them in through an RST relation (LLM, or offline templates), and write tiered LORE rows: used "
        "distractors N1, other non-relevant chunks N2 (paper Sec. 3.1).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="raw JSONL file(s) or folder(s)")
    parser.add_argument("-o", "--output", required=True, help="output JSONL (appended to; resumed when present)")
    parser.add_argument("--offline", action="store_true", help="template rewrites, no LLM")
    parser.add_argument(
        "--fraction",
        type=non_negative_float,
        default=1.0,
        help="share of questions to rewrite; the rest stay original queries (P / N2) (default 1)",
    )
    parser.add_argument(
        "--relations",
        default=None,
        help="allowed relations, optionally weighted: 'Causal,Parallel' or 'Causal=2,Parallel=1' "
        "(default: all eight, equal)",
    )
    parser.add_argument(
        "--relation-choice",
        choices=("assign", "llm"),
        default="assign",
        help="assign: draw a relation per question, balanced by weight; llm: let the model pick "
        "among the allowed ones (default assign)",
    )
    parser.add_argument(
        "--mining",
        choices=("bm25", "embedding", "hybrid", "random"),
        default="bm25",
        help="how distractor candidates are ranked by similarity to the query (default bm25)",
    )
    parser.add_argument(
        "--embedding-model",
        default=None,
        help="raw model for --mining embedding/hybrid (default: the bundled all-MiniLM-L6-v2)",
    )
    parser.add_argument(
        "--candidates", type=positive_int, default=4, help="distractor candidates offered per question (4)"
    )
    parser.add_argument("--max-distractors", type=positive_int, default=2, help="most distractors per rewrite (2)")
    parser.add_argument(
        "--sharpness",
        type=non_negative_float,
        default=1.0,
        help="preference for the most similar candidates (0 uniform, default 1)",
    )
    parser.add_argument("--seed", type=int, default=13, help="seed of all random choices (default 13)")
    parser.add_argument("--limit", type=positive_int, help="use only the first N input questions (at least 1)")
    parser.add_argument(
        "--max-attempts", type=positive_int, default=3, help="LLM replies per question incl. re-asks (3)"
    )
    parser.add_argument(
        "--anchor-question",
        choices=("auto", "on", "off"),
        default="auto",
        help="constrain LLM queries to end with the original question (grammar-constrained "
        "decoding); auto: on for the bundled local model only",
    )
    parser.add_argument(
        "--min-keep",
        type=non_negative_float,
        default=0.6,
        help="share of the question's content words a rewrite must keep (default 0.6)",
    )
    parser.add_argument("--max-query-chars", type=positive_int, default=600, help="longest rewrite accepted (600)")
    parser.add_argument(
        "--max-endpoint-failures",
        type=positive_int,
        default=8,
        help="stop after this many endpoint failures in a row (default 8)",
    )
    parser.add_argument("--overwrite", action="store_true", help="delete an existing output and start over")
    parser.add_argument("--retry-skipped", action="store_true", help="on resume, retry questions skipped before")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_llm_arguments(parser)
    add_config_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build (or resume), print the counts and the relation spread."""
    from lore_rag.data.builder import BuildConfig, build_data, load_inputs

    config = BuildConfig(
        inputs=list(args.inputs),
        output=args.output,
        offline=args.offline,
        fraction=args.fraction,
        relations=args.relations,
        relation_choice=args.relation_choice,
        mining=args.mining,
        candidates=args.candidates,
        max_distractors=args.max_distractors,
        sharpness=args.sharpness,
        seed=args.seed,
        limit=args.limit,
        overwrite=args.overwrite,
        retry_skipped=args.retry_skipped,
        max_attempts=args.max_attempts,
        concurrency=args.concurrency or 4,
        min_keep=args.min_keep,
        max_query_chars=args.max_query_chars,
        max_endpoint_failures=args.max_endpoint_failures,
        show_progress=not (args.no_progress or args.quiet),
    )
    config.validate()
    output = check_output_file(args.output, "-o/--output")
    for raw in args.inputs:
        if Path(raw).resolve() == output.resolve():
            raise ConfigError(f"-o/--output {output}: is also an input; write the tiered rows to another file")
    examples = load_inputs(config)  # bad input fails now, before a model or an LLM is started
    encoder = None
    if args.mining in ("embedding", "hybrid") and args.embedding_model:
        from lore_rag.models.encoder import LoreEncoder

        encoder = LoreEncoder.raw(args.embedding_model)
    if args.offline:
        report = build_data(config, encoder=encoder, examples=examples)
    else:
        from lore_rag.cli.llm import llm_options
        from lore_rag.llm import connect

        options = llm_options(args)
        with connect(**options) as client:
            if args.concurrency is None:
                config.concurrency = client.concurrency
            if args.anchor_question == "auto":
                from lore_rag.llm import BUNDLED_MODEL_NAME

                config.anchor_question = client.model == BUNDLED_MODEL_NAME
            else:
                config.anchor_question = args.anchor_question == "on"
            logger.info("LLM: %s at %s", client.model, client.base_url)
            report = build_data(config, client=client, encoder=encoder, examples=examples)
    for line in report.lines():
        print(line)
    if report.error:
        print(f"lore-rag: error: build-data stopped: {report.error}", file=sys.stderr)
        return 1
    return 0
