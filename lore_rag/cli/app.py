"""``lore-rag app``: the Gradio app, raw vs LORE side by side (also ``python -m app``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from typing import Any

from lore_rag.cli.llm import add_llm_arguments, llm_options
from lore_rag.cli.options import add_config_arguments, check_port_free
from lore_rag.cli.rerank_options import add_reranker_options
from lore_rag.demo.app_config import AppConfig
from lore_rag.errors import ConfigError, LoreError

__all__ = ["parse_auth", "register", "run"]

_EPILOG = """\
With no arguments everything is offline: the bundled all-MiniLM-L6-v2, the default LORE checkpoint (trained once on
the bundled data when missing, a few minutes on a 2-core CPU), the bundled HotpotQA validation set indexed into
$LORE_RAG_HOME/app_store, and the bundled SmolLM2 on a local llama.cpp server (stopped when the app stops).

examples:
  lore-rag app                                    # http://127.0.0.1:7860
  lore-rag app --checkpoint runs/lore/best --data my_tiered.jsonl
  lore-rag app --checkpoint runs/lore-tradeoff/checkpoint        # the chosen ratio; its curve on the Summary tab
  lore-rag app --store my_index/ --collection docs --no-llm     # your own index: free-text queries, no labels
  LORE_RAG_APP_AUTH=me:secret lore-rag app --host 0.0.0.0 --port 8080
  OPENAI_BASE_URL=http://127.0.0.1:8000/v1 lore-rag app          # answers from your endpoint
"""


def register(subparsers: Any) -> None:
    """Add ``lore-rag app``."""
    from lore_rag.cli import add_config_option

    parser = subparsers.add_parser(
        "app",
        help="Gradio app: raw vs LORE retrieval side by side, labelled chunks, LLM answers",
        description=(
            "Serve a web app that searches one Chroma index with the raw model and with a LORE checkpoint side "
            "by side, labels each retrieved chunk positive / distractor from a tiered data set, and shows the "
            "LLM's answer from each column's chunks."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(parser, AppConfig)
    add_reranker_options(parser, what="both columns'")
    add_config_option(parser)
    add_llm_arguments(parser)
    parser.set_defaults(func=run)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``"user:pass"`` as ``(user, pass)``; ``None`` or ``""`` as no login.

    Raises:
        ConfigError: for a value without a user or a password.
    """
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ConfigError("--auth / LORE_RAG_APP_AUTH must be USER:PASS, with both parts non-empty")
    return user, password


def _data_dir(path: str) -> str:
    if not os.path.isdir(os.path.expanduser(path)):
        raise ConfigError(f"--data-dir {path}: no such folder")
    return path


def _terminate(signum: int, frame: Any) -> None:  # pragma: no cover - signal handler
    raise KeyboardInterrupt


def _check_before_loading(args: argparse.Namespace) -> tuple[tuple[str, str] | None, list[str]]:
    """Everything a bad flag can break, checked before the models load (minutes on a cold start).

    Returns:
        The login (or ``None``) and the ``--data-dir`` folders.
    """
    auth = parse_auth(args.auth or os.environ.get("LORE_RAG_APP_AUTH"))
    if args.port is not None:
        check_port_free(args.host, args.port)
    data_dirs = [_data_dir(d) for d in args.data_dirs or []]
    for path, flag in ((args.data, "--data"), (args.checkpoint, "--checkpoint"), (args.tradeoff, "--tradeoff")):
        if path is not None and not os.path.exists(os.path.expanduser(path)):
            raise ConfigError(f"{flag} {path}: no such file or folder")
    return auth, data_dirs


def _create_session(args: argparse.Namespace) -> Any:
    """The :class:`~lore_rag.demo.DemoSession` of the flags: models, store, example set and reranker."""
    from lore_rag.cli.rerank_options import load_reranker
    from lore_rag.demo import DemoSession

    reranker, fetch_k = load_reranker(args, args.top_k)
    if args.checkpoint is None:
        print("lore-rag app: loading the default LORE checkpoint (trained on first start)", file=sys.stderr)
    return DemoSession.create(
        args.checkpoint,
        data=args.data,
        store=args.store,
        collection=args.collection,
        index_data=args.index_data,
        k=args.top_k,
        answer_k=args.answer_k,
        device=args.device,
        show_progress=not args.no_progress,
        reranker=reranker,
        fetch_k=fetch_k,
        tradeoff=args.tradeoff,
    )


def _connect_llm(args: argparse.Namespace, session: Any, stack: contextlib.ExitStack) -> None:
    """Give the session its LLM (stopped with ``stack``); without one the app runs and says why there are no answers."""
    if args.no_llm:
        session.llm_error = "started with --no-llm"
        return
    from lore_rag.llm import connect

    try:
        session.llm = stack.enter_context(connect(**llm_options(args)))
        print(f"lore-rag app: LLM {session.llm.model} at {session.llm.base_url}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - the app runs without answers, saying why
        session.llm_error = str(exc) if isinstance(exc, LoreError) else f"{type(exc).__name__}: {exc}"
        print(f"lore-rag app: warning: no LLM answers: {exc}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Build the session (train, index, start the LLM as needed) and serve the app until Ctrl-C."""
    auth, data_dirs = _check_before_loading(args)
    from lore_rag.defaults import home_dir

    # the app's own upload folder (Gradio reads it when the app is built)
    os.environ.setdefault("GRADIO_TEMP_DIR", str(home_dir() / "app_uploads"))
    try:
        from lore_rag.demo.ui import build_demo, default_server_files, launch
    except ImportError as exc:
        raise ConfigError(f"the app needs Gradio: pip install 'lore-rag[app]' ({exc})") from None
    if args.host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        print(
            f"lore-rag app: warning: serving on {args.host} without --auth: anyone who can reach it can use it",
            file=sys.stderr,
        )
    session = _create_session(args)
    try:  # SIGTERM stops the app like Ctrl-C, so the LLM server is stopped too
        previous: Any = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread
        previous = None
    with contextlib.ExitStack() as stack:
        _connect_llm(args, session, stack)
        server_files = default_server_files(data_dirs)
        print(f"lore-rag app: clients may load data files from {server_files.describe()}", file=sys.stderr)
        demo = build_demo(session, server_files=server_files)
        try:
            launch(demo, host=args.host, port=args.port, auth=auth, block=True, max_upload_mb=args.max_upload_mb)
        except KeyboardInterrupt:
            pass
        finally:
            demo.close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    return 0
