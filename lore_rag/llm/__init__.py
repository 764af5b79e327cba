"""LLM access through one OpenAI-compatible client, with an offline default served by llama.cpp.

``connect()`` is the entry point: it talks to the endpoint given (or ``$OPENAI_BASE_URL``, or api.openai.com
when only ``$OPENAI_API_KEY`` is set), and when none is configured it starts the bundled SmolLM2-135M-Instruct
on a local llama.cpp server for the duration of the ``with`` block::

    from lore_rag.llm import connect

    with connect() as llm:
        print(llm.chat([{"role": "user", "content": "Name a colour."}]))
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lore_rag.llm.client import (
    DEFAULT_OPENAI_MODEL,
    JSON_MODES,
    LLMClient,
    LLMError,
    LLMOutputError,
)
from lore_rag.llm.json_replies import check_schema, extract_json
from lore_rag.llm.local_server import (
    BUNDLED_MODEL_NAME,
    LocalLLMServer,
    bundled_gguf_path,
    default_threads,
    missing_server_packages,
)
from lore_rag.llm.settings import AskSettings, LLMSettings, LocalServerSettings

__all__ = [
    "BUNDLED_MODEL_NAME",
    "AskSettings",
    "LLMSettings",
    "LocalServerSettings",
    "DEFAULT_OPENAI_MODEL",
    "JSON_MODES",
    "LLMClient",
    "LLMError",
    "LLMOutputError",
    "LocalLLMServer",
    "bundled_gguf_path",
    "check_schema",
    "connect",
    "default_threads",
    "endpoint_configured",
    "extract_json",
    "missing_server_packages",
]

logger = logging.getLogger(__name__)


def endpoint_configured(base_url: str | None = None, api_key: str | None = None) -> bool:
    """Tell whether an endpoint is configured: ``base_url``/``api_key``, or ``$OPENAI_BASE_URL``/``$OPENAI_API_KEY``."""
    return bool(base_url or api_key or os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY"))


@contextmanager
def connect(
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    *,
    model_path: str | os.PathLike[str] | None = None,
    local: bool | None = None,
    server_options: dict[str, Any] | None = None,
    **client_kwargs: Any,
) -> Iterator[LLMClient]:
    """Yield an :class:`LLMClient` for the configured endpoint, or for a local llama.cpp server started here.

    The local server (bundled SmolLM2-135M-Instruct, or the GGUF at ``model_path``) is used when ``local`` is
    true, when ``model_path`` is given, or when no endpoint is configured (no ``base_url``/``api_key`` argument
    and no ``$OPENAI_BASE_URL``/``$OPENAI_API_KEY``). It is stopped when the block ends, also on an exception.

    Args:
        base_url: The endpoint; else ``$OPENAI_BASE_URL``; else api.openai.com if an API key is set.
        model: Model name (for the local server, the name it is served under).
        api_key: API key; else ``$OPENAI_API_KEY``. Never logged.
        model_path: A GGUF file to serve locally instead of the bundled model.
        local: Force (``True``) or forbid (``False``) the local server.
        server_options: Arguments for :class:`LocalLLMServer` (``n_threads``, ``n_ctx``, ``port``, ...).
        **client_kwargs: Arguments for :class:`LLMClient` (``timeout``, ``max_retries``, ``concurrency``, ...).

    Raises:
        LLMError: when the local server cannot start, or ``local=False`` with no endpoint configured.
    """
    use_local = local if local is not None else (model_path is not None or not endpoint_configured(base_url, api_key))
    if not use_local:
        if not endpoint_configured(base_url, api_key):
            raise LLMError(
                "no LLM endpoint configured: set OPENAI_BASE_URL (and OPENAI_API_KEY if it needs one), pass "
                "--base-url, or allow the bundled local model"
            )
        client = LLMClient.from_env(base_url=base_url, model=model, api_key=api_key, **client_kwargs)
        logger.info("using LLM endpoint %s (model %s)", client.base_url, client.configured_model or "first listed")
        try:
            yield client
        finally:
            client.close()
        return
    options = dict(server_options or {})
    if model:
        options.setdefault("model_alias", model)
    with LocalLLMServer(model_path, **options) as server:
        client = server.client(**client_kwargs)
        try:
            yield client
        finally:
            client.close()
