"""``lore-rag eval``: paper-protocol and corpus-wide metrics of raw models and checkpoints, with paired CIs.

Every model is compared with a baseline (the raw model unless ``--baseline``): the paired difference per metric with
a bootstrap confidence interval over questions (and seeds).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag.errors import ConfigError, DataError
from lore_rag.evaluation.eval_config import EvalConfig

if TYPE_CHECKING:
    from lore_rag.data.schema import Example
    from lore_rag.evaluation.runner import ModelGroup
    from lore_rag.retrieval.rerank import Reranker

#: The flags listed after the reranker's in ``--help`` (as before they were generated).
_AFTER_RERANKER = ("baseline", "bootstrap", "confidence", "bootstrap_seed", "only_ids", "device", "show_progress")
#: Metrics compared against the baseline, per protocol and view (``{k}`` is each cut-off).
_CANDIDATE_METRICS = {"rewritten": ("P@{k}", "N1@{k}"), "original": ("P@{k}",)}
_CORPUS_METRICS = {
    "rewritten": ("P@{k}", "MRR@10", "nDCG@10", "N1@{k}"),
    "original": ("P@{k}", "MRR@10", "nDCG@10"),
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``eval`` subcommand."""
    from lore_rag.cli import add_config_option
    from lore_rag.cli.options import add_config_arguments
    from lore_rag.cli.rerank_options import add_reranker_options

    parser = sub.add_parser(
        "eval",
        help="evaluate raw models and LORE checkpoints: P@k and N1@k, rewritten and original queries, with CIs",
        description=(
            "Rank each query's own candidates (paper protocol) and/or, with --mode corpus or both, search one index "
            "of all chunks; report P-recall@k (higher is better) and N1-recall@k (lower is better), and each "
            "model's paired difference from the baseline (the raw model unless --baseline) with a bootstrap "
            "confidence interval over questions (and seeds, for NAME=DIR1,DIR2,...)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_config_option(parser)
    add_config_arguments(parser, EvalConfig, skip=_AFTER_RERANKER)
    add_reranker_options(parser, what="each model's")  # corpus mode only
    add_config_arguments(parser, EvalConfig, skip=[f.name for f in fields(EvalConfig) if f.name not in _AFTER_RERANKER])
    parser.set_defaults(func=run)


def read_id_list(path: str) -> set[str]:
    """Ids from a JSONL file (each row's ``id``) or a plain list (one per line; blank lines and ``#`` skipped).

    Raises:
        DataError: for a missing file, a JSON row without an id, or no ids at all.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"--only-ids {file}: cannot read it ({exc})") from exc
    ids: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{file}:{number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or row.get("id") in (None, ""):
                raise DataError(f"{file}:{number}: field 'id': missing")
            ids.add(str(row["id"]))
        else:
            ids.add(line)
    if not ids:
        raise DataError(f"--only-ids {file}: no ids in it")
    return ids


def _pick_baseline(groups: list[ModelGroup], wanted: str | None) -> str | None:
    from lore_rag.evaluation.runner import add_raw_baseline

    names = [g.name for g in groups]
    if wanted is not None:
        if wanted not in names:
            raise ConfigError(f"--baseline {wanted}: not among the models ({', '.join(names)})")
        return wanted
    raw = add_raw_baseline(groups)
    if raw is not None:
        if raw.name in names:
            raw.name = "raw (base)"
        groups.insert(0, raw)
        return raw.name
    return next(g.name for g in groups if any(enc.is_raw for enc in g.encoders))


def _metric_names(template: dict[str, tuple[str, ...]], ks: list[int]) -> dict[str, list[str]]:
    return {
        view: [name.format(k=k) for name in names for k in (ks if "{k}" in name else [None])]
        for view, names in template.items()
    }


def run(args: argparse.Namespace) -> int:
    """Evaluate and print, per file, the metric tables and the paired differences from the baseline."""
    from lore_rag.cli.options import check_output_file, config_from_args
    from lore_rag.data.io import expand_paths, read_examples
    from lore_rag.defaults import bundled_validation_path
    from lore_rag.evaluation.report import write_json
    from lore_rag.evaluation.runner import load_model_groups

    config_from_args(EvalConfig, args).validate()
    if args.json:  # before any model is loaded: a bad --json fails in a second, not after the evaluation
        check_output_file(args.json, "--json")
    if args.mode == "candidates" and (args.reranker or args.fetch_k is not None):
        raise ConfigError("--reranker / --fetch-k work with --mode corpus or both (one index of all chunks)")
    ks = sorted(set(args.ks))
    only = read_id_list(args.only_ids) if args.only_ids else None
    paths = expand_paths(args.data or [str(bundled_validation_path())])
    from lore_rag.cli.rerank_options import load_reranker

    reranker, fetch_k = load_reranker(args, max([*ks, 10])) if args.mode != "candidates" else (None, None)
    groups = load_model_groups(args.models, device=args.device)
    baseline = _pick_baseline(groups, args.baseline) if len(groups) > 1 or args.baseline else None
    if baseline is None and any(not enc.is_raw for g in groups for enc in g.encoders):
        baseline = _pick_baseline(groups, None)
    modes = ["candidates", "corpus"] if args.mode == "both" else [args.mode]
    output: dict[str, Any] = {
        "mode": args.mode,
        "baseline": baseline,
        "bootstrap": {"resamples": args.bootstrap, "confidence": args.confidence, "seed": args.bootstrap_seed},
        "models": {g.name: [str(enc.manifest.get("path", enc.name)) for enc in g.encoders] for g in groups},
        "files": {},
    }
    for path in paths:
        examples = read_examples(path)
        if only is not None:
            examples = [e for e in examples if e.id is not None and str(e.id) in only]
            if not examples:
                raise DataError(f"{path}: no row has an id listed in --only-ids {args.only_ids}")
        entry: dict[str, Any] = {"n_rows": len(examples)}
        for protocol in modes:
            rerank = {"reranker": reranker, "fetch_k": fetch_k} if protocol == "corpus" else {}
            entry[protocol] = _run_protocol(protocol, args, groups, examples, ks, baseline, Path(path).name, **rerank)
        output["files"][str(path)] = entry
    if args.json:
        write_json(output, args.json)
        print(f"wrote {args.json}")
    return 0


def _differences(
    args: argparse.Namespace, per_query: dict[str, Any], baseline: str | None, metrics: dict[str, list[str]]
) -> dict[str, Any]:
    from lore_rag.evaluation.runner import compare_with_baseline

    if baseline is None:
        return {}
    return compare_with_baseline(
        per_query, baseline, metrics, n_resamples=args.bootstrap, confidence=args.confidence, seed=args.bootstrap_seed
    )


def _evaluate_protocol(
    protocol: str,
    args: argparse.Namespace,
    groups: list[ModelGroup],
    examples: list[Example],
    ks: list[int],
    label: str,
    *,
    reranker: Reranker | None = None,
    fetch_k: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Evaluate every model in one protocol: the runner's result, its metrics as JSON, and the tables to print.

    ``candidates`` ranks each query's own candidates (paper protocol); ``corpus`` searches one index of all chunks.
    """
    from lore_rag.evaluation.report import format_table, to_jsonable
    from lore_rag.evaluation.runner import evaluate_groups_candidates, evaluate_groups_corpus

    if protocol == "candidates":
        result = evaluate_groups_candidates(groups, examples, ks=ks, show_progress=args.show_progress)
        models = {name: runs if len(runs) > 1 else runs[0] for name, runs in result["models"].items()}
        tables = [format_table(models, ks=ks, title=f"**{label}** (each query's own candidates)")]
        return result, {"models": to_jsonable(models)}, tables
    from lore_rag.evaluation.corpus import format_corpus_table

    result = evaluate_groups_corpus(
        groups, examples, ks=ks, store_dir=args.store, show_progress=args.show_progress, reranker=reranker,
        fetch_k=fetch_k,
    )  # fmt: skip
    tables = [
        f"**{label}** ({view} queries, corpus-wide: one index of all chunks)\n\n{format_corpus_table(table)}"
        for view, table in result["views"].items()
    ]
    return result, {"views": to_jsonable(result["views"])}, tables


def _run_protocol(
    protocol: str,
    args: argparse.Namespace,
    groups: list[ModelGroup],
    examples: list[Example],
    ks: list[int],
    baseline: str | None,
    label: str,
    **rerank: Any,
) -> dict[str, Any]:
    """Evaluate one file in one protocol, print its tables and the paired differences, return its JSON part."""
    from lore_rag.evaluation.report import differences_to_json, format_differences, to_jsonable

    result, metrics, tables = _evaluate_protocol(protocol, args, groups, examples, ks, label, **rerank)
    for table in tables:
        print(table)
        print()
    where = "candidate sets" if protocol == "candidates" else "corpus-wide"
    template = _CANDIDATE_METRICS if protocol == "candidates" else _CORPUS_METRICS
    diffs = _differences(args, result["per_query"], baseline, _metric_names(template, ks))
    for view, by_model in diffs.items():
        print(format_differences(by_model, baseline=str(baseline), title=f"{label}, {view} queries, {where}:"))
        print()
    return {
        **metrics,
        "differences": differences_to_json(diffs),
        "per_query": to_jsonable(result["per_query"]),
        "ids": result["ids"],
    }
