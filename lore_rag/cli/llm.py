"""``lore-rag llm serve`` (run the local llama.cpp server) and ``lore-rag llm ask "question"`` (a quick check).

Also the LLM endpoint flags every command that needs an LLM shares: :func:`add_llm_arguments` adds them and
:func:`llm_options` turns them into ``lore_rag.llm.connect(**options)`` arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from lore_rag.cli.options import add_config_arguments, check_port_free, config_from_args
from lore_rag.errors import ConfigError
from lore_rag.llm.settings import AskSettings, LLMSettings, LocalServerSettings

__all__ = ["add_llm_arguments", "llm_options", "llm_settings", "register", "run"]

_EPILOG = """\
actions:
  serve   run the llama.cpp OpenAI-compatible server in the foreground (bundled SmolLM2-135M-Instruct, or
          --llm-gguf FILE) until Ctrl-C; point lore-rag or any OpenAI client at the URL it prints
  ask     send one question to the configured endpoint (or to a local server started for it) and print the
          answer; with --context, answer from those chunks and show the cited chunk ids

endpoint: --llm-base-url / $OPENAI_BASE_URL, key: $OPENAI_API_KEY (or --api-key), model: --llm-model /
$LORE_RAG_LLM_MODEL. With none of these set, the bundled model is served locally for the command.
(--base-url, --model and --model-path, the names before, still work for one release.)

examples:
  lore-rag llm serve --port 8080
  OPENAI_BASE_URL=http://127.0.0.1:8080/v1 lore-rag llm ask "What is the capital of France?"
  lore-rag llm ask "Who directed Sinister?" --context "Sinister is a 2012 film directed by Scott Derrickson."
"""


def add_llm_arguments(parser: argparse.ArgumentParser, **options: Any) -> None:
    """Add the LLM flags of :class:`~lore_rag.llm.settings.LLMSettings` (``--llm-base-url``, ``--llm-model``, ...).

    Args:
        parser: The command's parser.
        **options: For :func:`~lore_rag.cli.options.add_config_arguments` (``skip``, ``overrides``, ``deprecated``).
    """
    add_config_arguments(parser, LLMSettings, **options)


def llm_settings(args: argparse.Namespace, **values: Any) -> LLMSettings:
    """The :class:`~lore_rag.llm.settings.LLMSettings` of the flags of :func:`add_llm_arguments` (``values`` win)."""
    return config_from_args(LLMSettings, args, **values)


def llm_options(args: argparse.Namespace) -> dict[str, Any]:
    """The flags of :func:`add_llm_arguments` as keyword arguments for :func:`lore_rag.llm.connect`."""
    return llm_settings(args).connect_options()


def register(subparsers: Any) -> None:
    """Add ``lore-rag llm``."""
    from lore_rag.cli import add_config_option

    parser = subparsers.add_parser(
        "llm",
        help="serve the bundled LLM locally, or ask the configured LLM a question",
        description="Serve the bundled LLM (llama.cpp, OpenAI-compatible) or ask the configured LLM a question.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("serve", "ask"), help="serve or ask (see below)")
    add_config_option(parser)
    add_config_arguments(parser, AskSettings)
    add_config_arguments(parser, LocalServerSettings)
    add_llm_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``lore-rag llm serve`` or ``lore-rag llm ask``."""
    if args.action == "serve":
        return _serve(args)
    return _ask(args)


def _serve(args: argparse.Namespace) -> int:
    from lore_rag.llm import LocalLLMServer

    if args.question:
        raise ConfigError("lore-rag llm serve takes no question (did you mean: lore-rag llm ask ...?)")
    settings = llm_settings(args)
    options = settings.connect_options()
    server_options = config_from_args(LocalServerSettings, args).server_options(serving=True)
    check_port_free(server_options["host"], server_options["port"])  # before the model loads
    server = LocalLLMServer(
        settings.llm_gguf,
        model_alias=settings.llm_model,
        **server_options,
        **options.get("server_options", {}),
    )
    server.start()
    try:
        print(
            f"Serving {server.model} ({server.model_path.name}, {server.n_threads} threads) at {server.base_url}\n"
            f"Use it from lore-rag or any OpenAI client:  export OPENAI_BASE_URL={server.base_url}\n"
            "Ctrl-C stops it.",
            file=sys.stderr,
            flush=True,
        )
        code = server.wait()
        print(f"lore-rag: the llama.cpp server exited with code {code}", file=sys.stderr)
        return 1 if code else 0
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


def _ask(args: argparse.Namespace) -> int:
    from lore_rag.llm import connect
    from lore_rag.llm.prompts import answer_messages, parse_answer

    ask = config_from_args(AskSettings, args)
    question = ask.question or ""
    if not question.strip():
        raise ConfigError('lore-rag llm ask needs a question: lore-rag llm ask "What is ...?"')
    chunks = list(ask.context or [])
    if ask.context_file:
        path = Path(ask.context_file)
        try:
            chunks += [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise ConfigError(f"--context-file {path}: cannot read it ({exc.strerror or exc})") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"--context-file {path}: not UTF-8 text (byte {exc.start + 1})") from None
    options = llm_options(args)
    local_server = config_from_args(LocalServerSettings, args).server_options(serving=False)
    server_options = {**local_server, **options.pop("server_options", {})}
    started = time.monotonic()
    with connect(**options, server_options=server_options) as llm:
        ready = time.monotonic()
        if chunks:
            reply = llm.chat(answer_messages(question, chunks, short=not ask.long))
            answer = parse_answer(reply, chunk_ids=[str(i) for i in range(1, len(chunks) + 1)], short=not ask.long)
            text, cited = answer.text, answer.cited
        else:
            messages = [{"role": "system", "content": ask.system}] if ask.system else []
            messages.append({"role": "user", "content": question})
            reply = llm.chat(messages)
            text, cited = reply.strip(), []
        seconds = time.monotonic() - ready
        if ask.json:
            record = {
                "answer": text,
                "cited": cited,
                "reply": reply,
                "model": llm.model,
                "base_url": llm.base_url,
                "seconds": round(seconds, 3),
                "startup_seconds": round(ready - started, 3),
            }
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(text)
            if cited:
                print(f"cited: {', '.join(cited)}")
            print(f"({llm.model} at {llm.base_url}, {seconds:.1f} s)", file=sys.stderr)
    return 0
