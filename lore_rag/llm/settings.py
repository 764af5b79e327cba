"""Which LLM a command talks to, and how: the settings (and flags) every command that needs an LLM shares.

``lore-rag llm``, ``build-data``, ``qa-eval`` and ``app`` all take these as ``--llm-base-url``, ``--llm-model``,
``--llm-gguf``, ``--api-key``, ... (generated from :class:`LLMSettings`). The spellings used before
(``--base-url``, ``--model``, ``--model-path``) still work for one release and print a deprecation warning.
``lore-rag llm`` adds :class:`AskSettings` (the question and its chunks) and :class:`LocalServerSettings` (where
the local llama.cpp server listens).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lore_rag.config import (
    non_negative_float,
    non_negative_int,
    option,
    port_number,
    positive_float,
    positive_int,
)

__all__ = ["ASK_GROUP", "LLM_GROUP", "SERVE_GROUP", "AskSettings", "LLMSettings", "SERVE_PORT", "LocalServerSettings"]

#: The ``--help`` section of the LLM flags.
LLM_GROUP = "LLM endpoint (default: $OPENAI_BASE_URL, else the bundled local model)"
#: The ``--help`` section of the flags of ``lore-rag llm ask``.
ASK_GROUP = "ask"
#: The ``--help`` section of the local server's flags.
SERVE_GROUP = "serve (and the local server that ask may start)"
#: The port ``lore-rag llm serve`` listens on when none is given.
SERVE_PORT = 8080


@dataclass
class LLMSettings:
    """The LLM endpoint (or local llama.cpp server) and its request settings; ``None`` means the client's default."""

    llm_base_url: str | None = option(
        "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (default: $OPENAI_BASE_URL)",
        None,
        metavar="URL",
        group=LLM_GROUP,
        deprecated=("--base-url",),
    )
    llm_model: str | None = option(
        "model name at the endpoint (default: $LORE_RAG_LLM_MODEL, else what the endpoint serves)",
        None,
        metavar="NAME",
        group=LLM_GROUP,
        deprecated=("--model",),
    )
    llm_gguf: str | None = option(
        "serve this GGUF file with a local llama.cpp server (default: the bundled SmolLM2-135M-Instruct)",
        None,
        metavar="FILE",
        group=LLM_GROUP,
        deprecated=("--model-path",),
    )
    api_key: str | None = option(
        "API key (prefer $OPENAI_API_KEY: a flag shows in the process list); never logged", None, group=LLM_GROUP
    )
    local: bool = option(
        "use the local llama.cpp server even if an endpoint is configured", False, action="store_true", group=LLM_GROUP
    )
    n_threads: int | None = option(
        "local server threads (default: $LORE_RAG_LLM_THREADS or auto)", None, type=positive_int, group=LLM_GROUP
    )
    n_ctx: int | None = option(
        "local server context size in tokens (default: 4096)", None, type=positive_int, group=LLM_GROUP
    )
    timeout: float | None = option(
        "seconds per request (default: 60, local server 180)", None, type=positive_float, group=LLM_GROUP
    )
    max_retries: int | None = option(
        "retries after a failed request (default: 2)", None, type=non_negative_int, group=LLM_GROUP
    )
    temperature: float | None = option(
        "sampling temperature (default: 0)", None, type=non_negative_float, group=LLM_GROUP
    )
    max_tokens: int | None = option("most tokens per reply (default: 256)", None, type=positive_int, group=LLM_GROUP)
    concurrency: int | None = option(
        "requests in flight at once (default: 4, local server 1)", None, type=positive_int, group=LLM_GROUP
    )

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`lore_rag.llm.connect` (settings left at ``None`` are not passed)."""
        options: dict[str, Any] = {
            "base_url": self.llm_base_url,
            "model": self.llm_model,
            "api_key": self.api_key,
            "model_path": self.llm_gguf,
            "local": True if self.local else None,
        }
        for name in ("timeout", "max_retries", "temperature", "max_tokens", "concurrency"):
            value = getattr(self, name)
            if value is not None:
                options[name] = value
        server = {name: getattr(self, name) for name in ("n_threads", "n_ctx") if getattr(self, name) is not None}
        if server:
            options["server_options"] = server
        return options


@dataclass
class AskSettings:
    """One question for ``lore-rag llm ask``: the chunks to answer from, the answer's length, the output form."""

    question: str | None = option("the question (ask)", None, flags=("question",), nargs="?")
    context: list[str] | None = option(
        "a retrieved chunk (repeatable)", None, action="append", metavar="TEXT", group=ASK_GROUP
    )
    context_file: str | None = option("chunks, one per line", None, metavar="FILE", group=ASK_GROUP)
    long: bool = option(
        "with --context: a few sentences, not a short answer", False, action="store_true", group=ASK_GROUP
    )
    system: str | None = option("system message (without --context)", None, group=ASK_GROUP)
    json: bool = option(
        "print one JSON object (answer, cited, model, seconds)", False, action="store_true", group=ASK_GROUP
    )


@dataclass
class LocalServerSettings:
    """Where the local llama.cpp server listens and logs (``lore-rag llm serve``, and the one ``ask`` may start)."""

    host: str = option("listen address (default: 127.0.0.1, no auth!)", "127.0.0.1", group=SERVE_GROUP)
    port: int | None = option(
        f"listen port (default: serve {SERVE_PORT}, ask a free port)", None, type=port_number, group=SERVE_GROUP
    )
    log_file: str | None = option(
        "server log file (default: serve the terminal, ask a temporary file)", None, group=SERVE_GROUP
    )

    def server_options(self, *, serving: bool) -> dict[str, Any]:
        """Keyword arguments of :class:`~lore_rag.llm.LocalLLMServer` (``host``, ``port``, ``log_path``).

        Args:
            serving: ``True`` for ``lore-rag llm serve``: port :data:`SERVE_PORT` and the log on the terminal
                unless set; ``False`` for a server started for one command: a free port, a temporary log file.
        """
        options: dict[str, Any] = {"host": self.host}
        port = self.port if self.port is not None else (SERVE_PORT if serving else None)
        if port is not None:
            options["port"] = port
        if self.log_file or serving:
            options["log_path"] = self.log_file or "-"
        return options
