"""The flags of a QA evaluation, generated from :class:`QAEvalConfig` and the LLM settings, and a run from them.

``lore-rag qa-eval`` and the ``recipes/qa_*.py`` scripts build the same flags with :func:`add_qa_eval_arguments`
and run with :func:`run_qa_eval_from_args`; a recipe adds its own defaults with :func:`parse_recipe_args`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag.config import add_config_arguments, apply_config_file, argument_group, config_from_args
from lore_rag.evaluation.qa_run import QAEvalConfig
from lore_rag.llm.settings import LLM_GROUP, LLMSettings
from lore_rag.retrieval.settings import RerankSettings, rerank_overrides

if TYPE_CHECKING:
    from lore_rag.evaluation.qa_run import QAEvalResult

__all__ = ["add_qa_eval_arguments", "parse_recipe_args", "qa_settings", "run_qa_eval_from_args"]

#: The ``--help`` sections, in order.
_GROUPS = ("data and retrievers", "retrieval", LLM_GROUP, "output")


def add_qa_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every flag of a QA evaluation: :class:`QAEvalConfig`'s, the LLM's, ``--plot`` and ``--plot-runs``."""
    for title in _GROUPS:  # the order of the --help sections
        argument_group(parser, title)
    add_config_arguments(parser, QAEvalConfig)
    add_config_arguments(parser, RerankSettings, overrides=rerank_overrides("each retriever's", group="retrieval"))
    # --max-tokens and --concurrency are QAEvalConfig's (the answers' settings); qa-eval never had the old LLM
    # flag names, and a hidden --model there would shadow the abbreviation of --models
    add_config_arguments(
        parser,
        LLMSettings,
        skip=("max_tokens", "concurrency"),
        overrides={"timeout": {"default": 120.0, "help": "seconds per LLM request (default 120)"}},
        deprecated=False,
    )
    argument_group(parser, LLM_GROUP).add_argument(
        "--llm-api-key-env",
        metavar="VAR",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key, when --api-key is not given (default OPENAI_API_KEY)",
    )
    out = argument_group(parser, "output")
    out.add_argument("--plot", metavar="PNG", help="also draw EM / F1 per retriever as a PNG")
    out.add_argument(
        "--plot-runs",
        nargs="+",
        metavar="DIR",
        help="only draw --plot from finished run folders (a bar group per run); no evaluation",
    )


def qa_settings(args: argparse.Namespace) -> tuple[QAEvalConfig, LLMSettings]:
    """The checked run settings and LLM settings of the flags of :func:`add_qa_eval_arguments`.

    With no ``--data``, the bundled HotpotQA validation set.

    Raises:
        ConfigError: naming the bad field.
    """
    config = config_from_args(QAEvalConfig, args, reranker=args.reranker, fetch_k=args.fetch_k)
    if not config.data:
        from lore_rag.defaults import bundled_validation_path

        config.data = [str(bundled_validation_path())]
    config.validate()
    api_key = args.api_key or (os.environ.get(args.llm_api_key_env) if args.llm_api_key_env else None)
    llm = config_from_args(
        LLMSettings, args, api_key=api_key, max_tokens=config.max_tokens, concurrency=config.concurrency
    )
    return config, llm


def run_qa_eval_from_args(args: argparse.Namespace) -> QAEvalResult:
    """Connect to the LLM of the flags (starting a local server if so configured) and run the QA evaluation."""
    from lore_rag.evaluation.qa_run import run_qa_eval
    from lore_rag.llm import connect

    config, llm = qa_settings(args)
    with connect(**llm.connect_options()) as client:
        return run_qa_eval(config, client)


def parse_recipe_args(
    description: str,
    data: Path,
    config: Path,
    argv: Sequence[str] | None,
    *,
    checkpoint: Callable[[], Any],
) -> argparse.Namespace:
    """Parse a QA recipe's command line: raw vs one LORE checkpoint on the recipe's data, with its config file.

    Every flag of :func:`add_qa_eval_arguments` works; ``--config`` (default: the recipe's) sets their defaults,
    ``--data`` defaults to the recipe's file, and ``--checkpoint`` (default: ``checkpoint()``, called only when
    needed) is compared with the raw model as ``raw`` vs ``lore`` unless ``--models`` is given.

    Raises:
        ConfigError: for a bad config file; a bad flag exits with argparse's one-line error (code 2).
    """
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--config", type=Path, default=config)
    known, _ = first.parse_known_args(argv)
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=config, help=f"options of this run (default {config})")
    parser.add_argument(
        "--checkpoint", type=Path, help="LORE checkpoint (default: the default one; trained when missing)"
    )
    add_qa_eval_arguments(parser)
    apply_config_file(parser, known.config, command=parser.prog)
    parser.set_defaults(data=[str(data)], models=None)  # the recipe's file beats one named in the config
    args = parser.parse_args(argv)
    if args.models is None:
        args.models = ["raw", str(args.checkpoint or checkpoint())]
        args.names = args.names or ["raw", "lore"]
    return args
