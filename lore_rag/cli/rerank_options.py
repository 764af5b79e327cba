"""``--reranker`` / ``--fetch-k``: the cross-encoder stage, shared by query, qa-eval, eval and app."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lore_rag.retrieval.rerank import Reranker

__all__ = ["add_reranker_options", "load_reranker"]


def add_reranker_options(parser: argparse.ArgumentParser | Any, *, what: str = "each retriever's") -> None:
    """Add ``--reranker MODEL`` and ``--fetch-k N`` (:class:`~lore_rag.retrieval.settings.RerankSettings`)."""
    from lore_rag.config import add_config_arguments
    from lore_rag.retrieval.settings import RerankSettings, rerank_overrides

    add_config_arguments(parser, RerankSettings, overrides=rerank_overrides(what))


def load_reranker(args: argparse.Namespace, k: int) -> tuple[Reranker | None, int | None]:
    """The reranker of ``--reranker`` (``None`` without it) and the checked ``--fetch-k``.

    Raises:
        ConfigError: for ``--fetch-k`` without ``--reranker``, below 1 or below ``k``.
        ModelError: for a reranker that cannot be loaded or is not a cross-encoder.
    """
    from lore_rag.errors import ConfigError
    from lore_rag.retrieval.rerank import Reranker, check_fetch_k

    name = getattr(args, "reranker", None)
    fetch_k = getattr(args, "fetch_k", None)
    if not name:
        if fetch_k is not None:
            raise ConfigError("--fetch-k is the number of chunks handed to --reranker: give --reranker MODEL too")
        return None, None
    fetch_k = check_fetch_k(fetch_k, k, flag="--fetch-k")
    return Reranker.load(name, device=getattr(args, "device", None)), fetch_k
