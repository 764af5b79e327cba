"""``lore-rag convert``: public QA formats or a team's own table to raw rows (query, chunks, 1/0 labels, answer)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lore_rag.cli import add_config_option
from lore_rag.cli.options import add_config_arguments, check_output_file, config_from_args
from lore_rag.data.converters.settings import ConvertConfig
from lore_rag.errors import ConfigError

_EPILOG = """\
formats:
  hotpotqa   HotpotQA JSON list (hotpot_dev_distractor_v1.json, hotpot_train_v1.1.json)
  2wiki      2WikiMultiHopQA JSON list (dev.json, train.json)
  musique    MuSiQue JSONL (musique_ans_v1.0_train.jsonl)
  msmarco    MS MARCO QnA v1.1 JSONL or v2.1 JSON (non-commercial research use only)
  beir       a BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv); candidates from a run file or BM25
  table      your own CSV / TSV / JSONL: long (one line per question-chunk pair), wide or split layout

examples:
  lore-rag convert hotpotqa hotpot_dev_distractor_v1.json -o raw/hotpotqa.jsonl
  lore-rag convert beir scifact/ --candidates bm25 --k 10 -o raw/scifact.jsonl
  lore-rag convert table logs.csv --query-field question --chunk-field passage --label-field clicked \\
      --id-field session -o raw/ours.jsonl
"""


def register(subparsers: Any) -> None:
    """Add the ``convert`` subcommand."""
    parser = subparsers.add_parser(
        "convert",
        help="convert HotpotQA / 2Wiki / MuSiQue / MS MARCO / BEIR / your CSV to raw rows",
        description="Convert a QA data set or your own table of questions, chunks and relevance labels into "
        "raw JSONL rows {id, query, chunks, labels 1/0, answer, titles, dataset}, the input of "
        "'lore-rag build-data'.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(parser, ConvertConfig)
    add_config_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Convert, write the output atomically and print the counts."""
    from lore_rag.data.converters import convert_to_file

    config = config_from_args(ConvertConfig, args)
    options = config.converter_options(show_progress=not args.quiet)
    output = check_output_file(config.output, "-o/--output")
    for raw in config.inputs:
        if Path(raw).resolve() == output.resolve():
            raise ConfigError(f"-o/--output {output}: is also an input; write the rows to another file")
    counts = convert_to_file(config.format, config.inputs, config.output, limit=config.limit, **options)
    print(f"wrote {counts['rows']} rows ({counts['chunks']} chunks) to {config.output}")
    if counts["no_positive"]:
        print(f"  {counts['no_positive']} row(s) have no gold chunk; readers and build-data skip them", file=sys.stderr)
    return 0
