"""``lore-rag convert``: public QA formats or a team's own table to raw rows (query, chunks, 1/0 labels, answer)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lore_rag.cli import add_config_option
from lore_rag.cli.options import check_output_file, finite_float, positive_int
from lore_rag.errors import ConfigError

_FORMATS = ("hotpotqa", "2wiki", "musique", "msmarco", "beir", "table")

# option dest -> formats it applies to
_SCOPED = {
    "with_aliases": ("musique",),
    "prefer_well_formed": ("msmarco",),
    "split": ("beir",),
    "candidates": ("beir",),
    "k": ("beir",),
    "min_score": ("beir",),
    "missing_positives": ("beir",),
    "title_in_chunk": ("beir",),
    "layout": ("table",),
    "id_field": ("table",),
    "query_field": ("table",),
    "chunk_field": ("table",),
    "label_field": ("table",),
    "answer_field": ("table",),
    "title_field": ("table",),
    "positives_field": ("table",),
    "negatives_field": ("table",),
    "label_threshold": ("table",),
    "delimiter": ("table",),
}

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


def _add_beir_options(parser: argparse.ArgumentParser) -> None:
    """The flags of ``convert beir``: qrels split, first-stage candidates, cut-off, relevance and missing golds."""
    group = parser.add_argument_group("beir")
    group.add_argument("--split", default="test", help="qrels split (qrels/SPLIT.tsv; default test)")
    group.add_argument(
        "--candidates",
        default="bm25",
        help="first-stage candidates: a run file (TREC, 'qid docid score' TSV or JSON), "
        "'bm25' or 'embedding' (default bm25)",
    )
    group.add_argument("--k", type=positive_int, default=10, help="candidates per query (default 10)")
    group.add_argument("--min-score", type=finite_float, default=1.0, help="lowest qrels score that is relevant (1)")
    group.add_argument(
        "--missing-positives",
        choices=("add", "skip", "keep"),
        default="add",
        help="gold documents the retriever missed: add them, skip the query, or keep it as is",
    )
    group.add_argument("--title-in-chunk", action="store_true", help="chunk text is 'title\\ntext'")


def _add_table_options(parser: argparse.ArgumentParser) -> None:
    """The flags of ``convert table``: layout, column names, label threshold, delimiter."""
    group = parser.add_argument_group("table (your own CSV / TSV / JSONL)")
    group.add_argument(
        "--layout",
        choices=("auto", "long", "wide", "split"),
        default="auto",
        help="long: a line per question-chunk pair; wide: lists of chunks and labels per line; "
        "split: lists of positive and negative chunks per line (default: guess)",
    )
    group.add_argument("--id-field", help="question id column (long rows are grouped by it)")
    group.add_argument("--query-field", help="question column")
    group.add_argument("--chunk-field", help="chunk column (a list in the wide layout)")
    group.add_argument("--label-field", help="relevance column: 1/0, true/false, yes/no or a grade")
    group.add_argument("--answer-field", help="gold answer column")
    group.add_argument("--title-field", help="chunk title / source column")
    group.add_argument("--positives-field", help="split layout: list of relevant chunks")
    group.add_argument("--negatives-field", help="split layout: list of non-relevant chunks")
    group.add_argument(
        "--label-threshold",
        type=finite_float,
        default=1.0,
        help="smallest numeric label that counts as relevant (default 1)",
    )
    group.add_argument("--delimiter", help="CSV delimiter (default: tab for .tsv, comma otherwise)")


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
    parser.add_argument("format", choices=_FORMATS, help="input format")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="input file(s) (a folder for beir)")
    parser.add_argument("-o", "--output", required=True, help="output JSONL file (.jsonl or .jsonl.gz)")
    parser.add_argument("--dataset", help="value of the 'dataset' field (default: the format's name)")
    parser.add_argument("--limit", type=positive_int, help="stop after this many rows (at least 1)")
    group = parser.add_argument_group("musique / msmarco")
    group.add_argument(
        "--with-aliases", action="store_true", help="musique: write the answer as [answer, *answer_aliases]"
    )
    group.add_argument(
        "--prefer-well-formed",
        action="store_true",
        help="msmarco: use the first wellFormedAnswers entry as the answer when present",
    )
    _add_beir_options(parser)
    _add_table_options(parser)
    add_config_option(parser)
    parser.set_defaults(func=run)


def _options(args: argparse.Namespace, parser_defaults: dict[str, Any]) -> dict[str, Any]:
    fmt = args.format
    for dest, formats in _SCOPED.items():
        if fmt not in formats and getattr(args, dest) != parser_defaults.get(dest):
            flag = "--" + dest.replace("_", "-")
            raise ConfigError(f"{flag} applies to {', '.join(formats)} only, not to {fmt}")
    options: dict[str, Any] = {}
    if args.dataset is not None:
        options["dataset"] = args.dataset
    if fmt == "musique":
        options["with_aliases"] = args.with_aliases
    elif fmt == "msmarco":
        options["prefer_well_formed"] = args.prefer_well_formed
    elif fmt == "beir":
        options.update(
            split=args.split,
            candidates=args.candidates,
            k=args.k,
            min_score=args.min_score,
            missing_positives=args.missing_positives,
            title_in_chunk=args.title_in_chunk,
            show_progress=not args.quiet,
        )
    elif fmt == "table":
        from lore_rag.data.converters import TableMapping

        options["mapping"] = TableMapping(
            id_field=args.id_field,
            query_field=args.query_field,
            chunk_field=args.chunk_field,
            label_field=args.label_field,
            answer_field=args.answer_field,
            title_field=args.title_field,
            positives_field=args.positives_field,
            negatives_field=args.negatives_field,
            layout=args.layout,
            label_threshold=args.label_threshold,
            delimiter=args.delimiter,
        )
    return options


_DEFAULTS = {
    "with_aliases": False,
    "prefer_well_formed": False,
    "split": "test",
    "candidates": "bm25",
    "k": 10,
    "min_score": 1.0,
    "missing_positives": "add",
    "title_in_chunk": False,
    "layout": "auto",
    "label_threshold": 1.0,
}


def run(args: argparse.Namespace) -> int:
    """Convert, write the output atomically and print the counts."""
    from lore_rag.data.converters import convert_to_file

    options = _options(args, _DEFAULTS)
    output = check_output_file(args.output, "-o/--output")
    for raw in args.inputs:
        if Path(raw).resolve() == output.resolve():
            raise ConfigError(f"-o/--output {output}: is also an input; write the rows to another file")
    counts = convert_to_file(args.format, args.inputs, args.output, limit=args.limit, **options)
    print(f"wrote {counts['rows']} rows ({counts['chunks']} chunks) to {args.output}")
    if counts["no_positive"]:
        print(f"  {counts['no_positive']} row(s) have no gold chunk; readers and build-data skip them", file=sys.stderr)
    return 0
