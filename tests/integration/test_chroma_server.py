"""Client/server mode against a real ``chroma run`` on 127.0.0.1 (started and stopped by these tests).

The ``chroma_server`` fixture starts ``chroma run --path DIR --host 127.0.0.1 --port N`` on a free port as a
child process, waits for ``/api/v2/heartbeat``, and terminates it (kill after 10 s) when the module is done.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from _checkpoints import make_checkpoints

from lore_rag.cli import main
from lore_rag.data.io import read_examples
from lore_rag.models.encoder import LoreEncoder
from lore_rag.retrieval import ChromaStore, Retriever, StoreError

pytestmark = pytest.mark.integration

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lore" / "validation_hotpotqa.jsonl"
QUERY = "Which American director made horror films such as Sinister?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chroma_executable() -> str:
    beside = Path(sys.executable).with_name("chroma")
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        pytest.fail("the 'chroma' command (from the chromadb package) is not installed")
    return found


@contextlib.contextmanager
def run_chroma(path: Path, port: int, log: Path, timeout: float = 90.0) -> Iterator[subprocess.Popen]:
    """Start ``chroma run`` on 127.0.0.1:port, wait until it answers its heartbeat, stop it afterwards."""
    handle = log.open("ab")
    proc = subprocess.Popen(
        [chroma_executable(), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"chroma run did not answer in {timeout:.0f} s:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        handle.close()


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("chroma-server")


@pytest.fixture(scope="module")
def chroma_server(server_dir) -> Iterator[dict]:
    port = free_port()
    with run_chroma(server_dir / "data", port, server_dir / "chroma.log") as proc:
        yield {"host": "127.0.0.1", "port": port, "proc": proc, "path": server_dir / "data"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return make_checkpoints(tmp_path_factory.mktemp("server-models"))


@pytest.fixture(scope="module")
def chunks():
    rows = read_examples(VALIDATION)[:2]
    return list(dict.fromkeys(c for r in rows for c in r.chunks))


def test_add_query_and_guard_on_a_server(chroma_server, models, chunks):
    store = ChromaStore(host=chroma_server["host"], port=chroma_server["port"], collection="server-lib")
    assert store.location == f"http://127.0.0.1:{chroma_server['port']}"
    assert store.add_texts(chunks, models["raw"], batch_size=8, show_progress=False) == len(chunks)
    assert store.add_texts(chunks, models["raw"], show_progress=False) == 0
    assert store.count() == len(chunks)
    assert store.document_fingerprint == models["raw"].document_fingerprint
    assert store.collection.configuration["hnsw"]["space"] == "cosine"

    lore = LoreEncoder.from_checkpoint(models["lore"])
    hits = Retriever(store, lore, k=3).search(QUERY)
    assert "Scott Derrickson" in hits[0].text and [h.rank for h in hits] == [1, 2, 3]
    q = lore.embed_queries([QUERY])[0]
    assert hits[0].score == pytest.approx(float(lore.embed_documents([hits[0].text])[0] @ q), abs=1e-4)
    with pytest.raises(StoreError, match="base model"):
        Retriever(store, LoreEncoder.from_checkpoint(models["other"]))


def test_integrations_over_a_server(chroma_server, models, chunks):
    from lore_rag.integrations.langchain import LoreEmbeddings, LoreRetriever, lore_chroma
    from lore_rag.integrations.llama_index import LoreEmbedding, lore_vector_store

    store = ChromaStore(host=chroma_server["host"], port=chroma_server["port"], collection="server-lib")
    if store.count() == 0:
        store.add_texts(chunks, models["raw"], show_progress=False)
    docs = LoreRetriever(store=store, encoder=LoreEmbeddings(models["lore"]), k=2).invoke(QUERY)
    assert len(docs) == 2 and "score" in docs[0].metadata
    assert lore_chroma(store, LoreEmbeddings(models["lore"])).similarity_search(QUERY, k=1)[0].page_content == (
        docs[0].page_content
    )
    from llama_index.core import VectorStoreIndex

    emb = LoreEmbedding(models["lore"])
    nodes = (
        VectorStoreIndex.from_vector_store(lore_vector_store(store, emb), embed_model=emb)
        .as_retriever(similarity_top_k=1)
        .retrieve(QUERY)
    )
    assert nodes[0].node.get_content() == docs[0].page_content


def test_cli_index_and_query_against_the_server(chroma_server, models, tmp_path, capsys):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, text in enumerate(read_examples(VALIDATION)[0].chunks[:4]):
        (folder / f"doc{i}.txt").write_text(text, encoding="utf-8")
    where = ["--host", chroma_server["host"], "--port", str(chroma_server["port"]), "--collection", "server-cli"]
    assert main(["-q", "index", str(folder), *where, "--no-progress", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["added"] == first["total"] > 0
    assert main(["-q", "index", str(folder), *where, "--no-progress", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["added"] == 0 and again["total"] == first["total"]

    assert main(["-q", "query", QUERY, *where, "--model", str(models["lore"]), "--compare", "-k", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    hits = out["results"][0]["hits"]
    assert set(hits) == {"raw", "lore"} and len(hits["raw"]) == len(hits["lore"]) == 2


def test_data_survives_a_server_restart_and_a_dead_server_is_reported(models, chunks, tmp_path):
    port = free_port()
    data = tmp_path / "data"
    with run_chroma(data, port, tmp_path / "chroma.log"):
        store = ChromaStore(host="127.0.0.1", port=port, collection="restart")
        assert store.add_texts(chunks, models["raw"], show_progress=False) == len(chunks)
    # the server is gone: a clear error, not a traceback from the HTTP client
    with pytest.raises(StoreError, match="query failed|cannot reach"):
        store.query(models["raw"].embed_queries([QUERY]))
    with pytest.raises(StoreError, match="cannot reach a Chroma server"):
        ChromaStore(host="127.0.0.1", port=port, collection="restart", timeout=2)
    port = free_port()
    with run_chroma(data, port, tmp_path / "chroma.log"):
        store = ChromaStore(host="127.0.0.1", port=port, collection="restart")
        assert store.count() == len(chunks)
        assert store.add_texts(chunks, models["raw"], show_progress=False) == 0
        assert store.document_fingerprint == models["raw"].document_fingerprint


def test_cli_reports_an_unreachable_server(capsys):
    port = free_port()
    assert main(["-q", "query", "anything", "--host", "127.0.0.1", "--port", str(port)]) == 1
    assert "cannot reach a Chroma server" in capsys.readouterr().err
