"""``lore-rag qa-eval``: answer questions with an LLM from raw vs LORE retrieval and score EM / F1."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag.cli import add_config_option

if TYPE_CHECKING:
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
    """Add the ``qa-eval`` subcommand."""
    from lore_rag.evaluation.qa_run import QUERY_VIEWS, SETTINGS

    p = subparsers.add_parser(
        "qa-eval",
        help="end-to-end QA accuracy (EM / F1) with raw vs LORE retrieval",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_option(p)
    data = p.add_argument_group("data and retrievers")
    data.add_argument(
        "--data",
        nargs="+",
        metavar="PATH",
        help="JSONL file(s) or folders: query, chunks, labels (1 / -1 / 0), answer "
        "(default: the bundled HotpotQA validation set with disturbed queries)",
    )
    data.add_argument(
        "--models",
        nargs="+",
        default=["raw"],
        metavar="SPEC",
        help="retrievers: 'raw', 'raw:MODEL' or LORE checkpoint folders; the first is the baseline (default: raw)",
    )
    data.add_argument("--names", nargs="+", metavar="NAME", help="labels of the retrievers in the table")
    data.add_argument(
        "--queries",
        choices=QUERY_VIEWS,
        default="file",
        help="'file': each row's query (disturbed in LORE data); 'original': its original question",
    )
    data.add_argument("--limit", type=int, metavar="N", help="only the first N questions with a gold answer")
    data.add_argument("--dataset", help="dataset name in the table (default: the rows' 'dataset' field)")
    data.add_argument(
        "--f1-style",
        choices=("hotpotqa", "squad", "squad2"),
        help="F1 corner cases of which official script (default: the dataset's own)",
    )
    ret = p.add_argument_group("retrieval")
    ret.add_argument(
        "--setting",
        choices=SETTINGS,
        default="candidates",
        help="'candidates': rank each question's own chunks (paper); "
        "'open': retrieve from one Chroma index of every chunk of the data",
    )
    ret.add_argument("-k", "--k", type=int, default=3, help="chunks retrieved and given to the LLM (default 3)")
    from lore_rag.cli.rerank_options import add_reranker_options

    add_reranker_options(ret)
    ret.add_argument("--index", metavar="DIR", help="open setting: Chroma folder (default: OUTPUT/index)")
    ret.add_argument("--chroma-host", help="open setting: a Chroma server instead of a folder")
    ret.add_argument("--chroma-port", type=int, help="open setting: the Chroma server's port")
    ret.add_argument("--collection", default="lore-qa", help="open setting: collection name prefix")
    llm = p.add_argument_group("LLM (reader)")
    llm.add_argument("--llm-gguf", metavar="FILE", help="serve this GGUF model with a local llama.cpp server")
    llm.add_argument("--llm-base-url", metavar="URL", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1")
    llm.add_argument("--llm-model", metavar="NAME", help="model name at the endpoint (env LORE_RAG_LLM_MODEL)")
    llm.add_argument(
        "--llm-api-key-env",
        metavar="VAR",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key (default OPENAI_API_KEY)",
    )
    llm.add_argument("--max-tokens", type=int, default=32, help="answer length limit in tokens (default 32)")
    llm.add_argument(
        "--concurrency", type=int, help="concurrent LLM requests (default: 4 for an endpoint, 1 for a local server)"
    )
    llm.add_argument("--timeout", type=float, default=120.0, help="seconds per LLM request (default 120)")
    llm.add_argument("--answer-cache", metavar="FILE", help="answer cache (default: ~/.cache/lore-rag/answers/)")
    out = p.add_argument_group("output")
    out.add_argument("-o", "--output", default="qa-eval", metavar="DIR", help="run folder (default ./qa-eval)")
    out.add_argument("--overwrite", action="store_true", help="start the run folder afresh instead of resuming")
    out.add_argument("--plot", metavar="PNG", help="also draw EM / F1 per retriever as a PNG")
    out.add_argument(
        "--plot-runs",
        nargs="+",
        metavar="DIR",
        help="only draw --plot from finished run folders (a bar group per run); no evaluation",
    )
    out.add_argument("--no-progress", dest="show_progress", action="store_false", help="no progress bars")
    p.set_defaults(func=run)


@contextlib.contextmanager
def _reader(args: argparse.Namespace) -> Iterator[LLMClient]:
    from lore_rag.llm import connect

    api_key = os.environ.get(args.llm_api_key_env) if args.llm_api_key_env else None
    options: dict[str, Any] = {"timeout": args.timeout, "max_tokens": args.max_tokens}
    if args.concurrency:
        options["concurrency"] = args.concurrency
    with connect(args.llm_base_url, args.llm_model, api_key, model_path=args.llm_gguf, **options) as client:
        yield client


def run(args: argparse.Namespace) -> int:
    """Run ``lore-rag qa-eval``."""
    from lore_rag.evaluation.qa_run import QAEvalConfig, load_summary, plot_qa_results, run_qa_eval

    if args.plot_runs:
        summaries = [load_summary(folder) for folder in args.plot_runs]
        path = plot_qa_results(summaries, args.plot or "qa_results.png")
        print(f"plot written to {path}")
        return 0
    if args.data:
        data = list(args.data)
    else:
        from lore_rag.defaults import bundled_validation_path

        data = [str(bundled_validation_path())]
    config = QAEvalConfig(
        data=data,
        models=list(args.models),
        names=args.names,
        output_dir=args.output,
        setting=args.setting,
        k=args.k,
        reranker=args.reranker,
        fetch_k=args.fetch_k,
        queries=args.queries,
        limit=args.limit,
        dataset=args.dataset,
        f1_style=args.f1_style,
        index_path=args.index,
        chroma_host=args.chroma_host,
        chroma_port=args.chroma_port,
        collection=args.collection,
        answer_cache=args.answer_cache,
        max_tokens=args.max_tokens,
        concurrency=args.concurrency,
        overwrite=args.overwrite,
        show_progress=args.show_progress,
    )
    config.validate()
    with _reader(args) as client:
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
    from lore_rag.demo import ensure_default_checkpoint

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
    checkpoint = args.checkpoint or ensure_default_checkpoint()
    return lore_rag_main(
        ["qa-eval", "--config", str(args.config), "--data", str(args.data),
         "--models", "raw", str(checkpoint), "--names", "raw", "lore", *rest]
    )  # fmt: skip
