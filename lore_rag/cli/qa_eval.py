"""``lore-rag qa-eval``: answer questions with an LLM from raw vs LORE retrieval and score EM / F1."""

from __future__ import annotations

import argparse

from lore_rag.cli import add_config_option

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
    """Add the ``qa-eval`` subcommand: the flags of :class:`~lore_rag.evaluation.qa_run.QAEvalConfig` and the LLM's."""
    from lore_rag.evaluation.qa_args import add_qa_eval_arguments

    p = subparsers.add_parser(
        "qa-eval",
        help="end-to-end QA accuracy (EM / F1) with raw vs LORE retrieval",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(p)
    add_qa_eval_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``lore-rag qa-eval``."""
    from lore_rag.evaluation.qa_args import run_qa_eval_from_args
    from lore_rag.evaluation.qa_run import load_summary, plot_qa_results

    if args.plot_runs:
        summaries = [load_summary(folder) for folder in args.plot_runs]
        path = plot_qa_results(summaries, args.plot or "qa_results.png")
        print(f"plot written to {path}")
        return 0
    result = run_qa_eval_from_args(args)
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
