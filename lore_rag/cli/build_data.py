"""``lore-rag build-data``: raw rows to tiered LORE rows (P / N1 / N2), with an LLM or offline, resumable."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

from lore_rag.cli import add_config_option
from lore_rag.cli.options import add_config_arguments, check_output_file, config_from_args
from lore_rag.data.builder.model_settings import BuildModelSettings
from lore_rag.errors import ConfigError

logger = logging.getLogger(__name__)

_EPILOG = """\
input: raw JSONL rows {id, query, chunks, labels 1/0, answer, titles} as written by 'lore-rag convert'.
output: LORE rows {id, query (rewritten), original_query, chunks, labels 1 P / -1 N1 / 0 N2, relation,
used_distractors, answer, ...}, appended and fsync-ed one by one; OUTPUT.skipped.jsonl records skipped
questions with their reason, OUTPUT.meta.json the options. Run the same command again to resume.

LLM mode (default) uses --llm-base-url / $OPENAI_BASE_URL, else serves the bundled SmolLM2 locally for the run
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
    from lore_rag.data.builder import BuildConfig

    add_config_arguments(parser, BuildConfig)
    add_config_arguments(parser, BuildModelSettings)
    add_llm_arguments(parser)
    add_config_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build (or resume), print the counts and the relation spread."""
    from lore_rag.data.builder import BuildConfig, build_data, load_inputs

    config = config_from_args(BuildConfig, args)
    models = config_from_args(BuildModelSettings, args)
    config.show_progress = config.show_progress and not args.quiet
    config.validate()
    output = check_output_file(args.output, "-o/--output")
    for raw in args.inputs:
        if Path(raw).resolve() == output.resolve():
            raise ConfigError(f"-o/--output {output}: is also an input; write the tiered rows to another file")
    examples = load_inputs(config)  # bad input fails now, before a model or an LLM is started
    encoder = None
    if config.mining in ("embedding", "hybrid") and models.embedding_model:
        from lore_rag.models.encoder import LoreEncoder

        encoder = LoreEncoder.raw(models.embedding_model)
    if config.offline:
        report = build_data(config, encoder=encoder, examples=examples)
    else:
        from lore_rag.cli.llm import llm_options
        from lore_rag.llm import connect

        with connect(**llm_options(args)) as client:
            anchor = models.anchors(client.model)
            # questions in flight: --concurrency, else the client's own default (the local server: one at a time)
            llm_config = dataclasses.replace(config, concurrency=client.concurrency, anchor_question=anchor)
            logger.info("LLM: %s at %s", client.model, client.base_url)
            report = build_data(llm_config, client=client, encoder=encoder, examples=examples)
    for line in report.lines():
        print(line)
    if report.error:
        print(f"lore-rag: error: build-data stopped: {report.error}", file=sys.stderr)
        return 1
    return 0
