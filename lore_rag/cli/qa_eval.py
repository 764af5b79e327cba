"""``lore-rag qa-eval``: answer questions with an LLM from raw vs LORE retrieval and score EM / F1."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from lore_rag.cli import add_config_option
from lore_rag.cli.options import add_config_arguments, argument_group, config_from_args

if TYPE_CHECKING:
    from lore_rag.evaluation.qa_run import QAEvalConfig
    from lore_rag.llm import LLMClient

__all__ = ["register", "run"]

_DESCRIPTION = """\
For each question, retrieve the top-k chunks with every retriever (the raw model and LORE checkpoints), ask
one LLM for a short answer from those chunks, and score it with EM and F1 (official HotpotQA / SQuAD rules).
Prints retrieval P@k / N1@k and answer EM / F1 per retriever, naming the LLM that produced the answers, and
writes per-question wins and losses to OUTPUT/per_question.csv.

The LLM is, in order: --llm-gguf (a GGUF file served by a local llama.cpp server), --llm-base-url (any
OpenAI-compatible endpoint: OpenAI, vLLM, Ollama, llama.cpp), the OPENAI_BASE_URL environment variable, or
else the bundled SmolLM2-135M served locally (offline, weak: use it to check the pipeline, not to judge LORE).

With --reranker MODEL (a sentence-transformers CrossEncoder), every retriever also runs with its top --fetch-k
chunks reranked: the table shows raw, raw + reranker, LORE and LORE + reranker side by side, each with its
retrieval latency (ms/query).

A run is resumable: run the same command again after an interruption and finished questions are kept.
Answers are cached by (LLM, prompt), so a second retriever that retrieves the same chunks costs no LLM call.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``qa-eval`` subcommand: the flags of :class:`QAEvalConfig` and of the LLM settings."""
    from lore_rag.cli.llm import add_llm_arguments
    from lore_rag.cli.rerank_options import add_reranker_options
    from lore_rag.evaluation.qa_run import QAEvalConfig
    from lore_rag.llm.settings import LLM_GROUP

    p = subparsers.add_parser(
        "qa-eval",
        help="end-to-end QA accuracy (EM / F1) with raw vs LORE retrieval",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(p)
    for title in ("data and retrievers", "retrieval", LLM_GROUP, "output"):  # the order of the --help sections
        argument_group(p, title)
    add_config_arguments(p, QAEvalConfig, skip=("reranker", "fetch_k"))
    add_reranker_options(argument_group(p, "retrieval"))
    # --max-tokens and --concurrency are QAEvalConfig's (the answers' settings); qa-eval never had the old names
    add_llm_arguments(
        p,
        skip=("max_tokens", "concurrency"),
        overrides={"timeout": {"default": 120.0, "help": "seconds per LLM request (default 120)"}},
        deprecated=False,
    )
    llm = argument_group(p, LLM_GROUP)
    llm.add_argument(
        "--llm-api-key-env",
        metavar="VAR",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key, when --api-key is not given (default OPENAI_API_KEY)",
    )
    out = argument_group(p, "output")
    out.add_argument("--plot", metavar="PNG", help="also draw EM / F1 per retriever as a PNG")
    out.add_argument(
        "--plot-runs",
        nargs="+",
        metavar="DIR",
        help="only draw --plot from finished run folders (a bar group per run); no evaluation",
    )
    p.set_defaults(func=run)


@contextlib.contextmanager
def _reader(args: argparse.Namespace, config: QAEvalConfig) -> Iterator[LLMClient]:
    from lore_rag.cli.llm import llm_settings
    from lore_rag.llm import connect

    api_key = args.api_key or (os.environ.get(args.llm_api_key_env) if args.llm_api_key_env else None)
    settings = llm_settings(args, api_key=api_key, max_tokens=config.max_tokens, concurrency=config.concurrency)
    with connect(**settings.connect_options()) as client:
        yield client


def run(args: argparse.Namespace) -> int:
    """Run ``lore-rag qa-eval``."""
    from lore_rag.evaluation.qa_run import QAEvalConfig, load_summary, plot_qa_results, run_qa_eval

    if args.plot_runs:
        summaries = [load_summary(folder) for folder in args.plot_runs]
        path = plot_qa_results(summaries, args.plot or "qa_results.png")
        print(f"plot written to {path}")
        return 0
    config = config_from_args(QAEvalConfig, args)
    if not config.data:
        from lore_rag.defaults import bundled_validation_path

        config.data = [str(bundled_validation_path())]
    config.validate()
    with _reader(args, config) as client:
        result = run_qa_eval(config, client)
    print(result.table())
    print(
        f"\n{result.llm_calls} LLM call(s), {result.cache_hits} cached answer(s), {result.elapsed_s:.0f} s; "
        f"per-question wins and losses: {result.output_dir}/per_question.csv"
    )
    if args.plot:
        print(f"plot written to {plot_qa_results([result], args.plot)}")
    if result.errors:
        print(f"{result.errors} answer(s) missing after LLM errors: run the same command again to retry them")
        return 1
    return 0


def run_recipe(doc: str, data: Path, config: Path, argv: list[str] | None = None) -> int:
    """Entry point shared by the ``recipes/qa_*.py`` scripts: raw vs a LORE checkpoint on one dataset.

    Args:
        doc: The recipe's docstring (its first paragraph is the ``--help`` description).
        data: Default questions file.
        config: Default qa-eval YAML config.
        argv: Command line; every flag other than ``--data``, ``--checkpoint`` and ``--config`` goes to qa-eval.
    """
    from lore_rag.cli import main as lore_rag_main
    from lore_rag.evaluation.qa_run import default_checkpoint

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0], add_help=False)
    parser.add_argument("--data", type=Path, default=data, help=f"questions (default {data})")
    parser.add_argument(
        "--checkpoint", type=Path, help="LORE checkpoint (default: the default one; trained when missing)"
    )
    parser.add_argument("--config", type=Path, default=config, help=f"qa-eval options (default {config})")
    args, rest = parser.parse_known_args(argv)
    if "-h" in rest or "--help" in rest:
        parser.print_help()
        print("\nall other flags are those of lore-rag qa-eval:\n")
        return lore_rag_main(["qa-eval", "--help"])
    checkpoint = args.checkpoint or default_checkpoint()
    return lore_rag_main(
        ["qa-eval", "--config", str(args.config), "--data", str(args.data),
         "--models", "raw", str(checkpoint), "--names", "raw", "lore", *rest]
    )  # fmt: skip
