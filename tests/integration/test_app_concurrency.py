"""Concurrent use of the real app: 10 simultaneous queries (retrieval and LLM answers) through gradio_client."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_QUERIES = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def questions(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lore_rag.data.io import read_examples, write_examples

    path = tmp_path_factory.mktemp("concurrency_data") / "questions.jsonl"
    write_examples(read_examples(shared_data / "lore" / "validation_hotpotqa.jsonl")[:N_QUERIES], path)
    return path


@pytest.fixture(scope="module")
def app_url(lore_checkpoint: Path, questions: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app in this process: tiny real checkpoint, fresh Chroma store, bundled LLM on a local llama.cpp server."""
    from lore_rag.demo import DemoSession
    from lore_rag.demo.ui import build_demo, launch
    from lore_rag.llm import connect

    root = tmp_path_factory.mktemp("concurrency_app")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "LORE_RAG_LLM_MODEL"):
            patch.delenv(name, raising=False)
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        session = DemoSession.create(
            lore_checkpoint, data=questions, store=root / "store", index_data=True, show_progress=False
        )
        with connect(server_options={"log_path": root / "llm.log"}) as llm:
            session.llm = llm
            demo = build_demo(session)
            port = _free_port()
            launch(demo, port=port, block=False, quiet=True)
            try:
                yield f"http://127.0.0.1:{port}/"
            finally:
                demo.close()


def test_ten_simultaneous_queries_all_complete(app_url: str, questions: Path) -> None:
    from gradio_client import Client

    from lore_rag.data.io import read_examples

    examples = read_examples(questions)
    assert len(examples) == N_QUERIES
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    client = Client(app_url, verbose=False)

    def one(query: str) -> tuple[float, tuple]:
        started = time.perf_counter()
        outputs = client.submit(query, 5, True, api_name="/search").result(timeout=900)
        return time.perf_counter() - started, outputs

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=N_QUERIES) as pool:
        results = list(pool.map(one, [e.query for e in examples]))
    wall = time.perf_counter() - started
    print(f"{N_QUERIES} simultaneous queries with answers: {wall:.1f} s wall, "
          f"slowest {max(s for s, _ in results):.1f} s")  # fmt: skip
    for _, outputs in results:
        status, _legend, raw_answer, raw_hits, lore_answer, lore_hits, _verdict = outputs
        assert "lore-note-error" not in status, status
        for answer, hits in ((raw_answer, raw_hits), (lore_answer, lore_hits)):
            assert hits.count('class="lore-hit ') == 5
            assert 'data-state="done"' in answer, answer
            assert "LLM failed" not in answer
    # free-text queries have no labels; the labelled ones come from the examples panel
    for _, outputs in results:
        assert 'data-label="other"' in outputs[3] and 'data-label="positive"' not in outputs[3]
