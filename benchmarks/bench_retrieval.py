"""Retrieval benchmark: indexing throughput vs bare encoding, and query latency raw vs LORE, embedded and server.

Measured in one run, on the same chunks and queries:

* bare ``SentenceTransformer.encode`` of the chunks (the floor any indexer pays);
* ``ChromaStore.add_texts`` of the same chunks into a fresh collection: embedded (PersistentClient) and server
  (a ``chroma run`` on 127.0.0.1 started and stopped by this script);
* query latency (encode one query + top-10 from Chroma) with the raw model and with a LORE checkpoint, both
  modes, queries alternating between raw and LORE so machine load hits both alike.

Targets: indexing >= 0.9x bare encode throughput; LORE query latency <= 1.1x raw.

    python benchmarks/bench_retrieval.py --checkpoint runs/lore/best     # ~3 min on a quiet 2-core CPU
    python benchmarks/bench_retrieval.py --chunks 200 --queries 30        # quicker, stand-in checkpoint

Indexing is measured in paired slices (each slice encoded bare, indexed embedded, indexed on the server, back
to back in rotating order), so a change of machine load hits all three alike. On a quiet 2-core CPU it printed
(600 chunks, 100 queries, a trained checkpoint):

| measure | embedded | server |
|---|---:|---:|
| bare SentenceTransformer.encode (chunks/s) | 14.5 | 14.5 |
| index: ChromaStore.add_texts (chunks/s) | 15.8 | 16.2 |
| index / bare encode throughput (target >= 0.9x) | 1.09x | 1.12x |
| query latency raw: median / p95 (ms) | 40.9 / 524.1 | 25.8 / 60.7 |
| query latency LORE: median / p95 (ms) | 44.6 / 540.0 | 29.5 / 52.9 |
| Chroma top-10 alone: median (ms) | 1.4 | 3.2 |
| LORE / raw latency, median of per-query ratios (target <= 1.1x) | 1.01x | 1.07x |

Under heavy load from other jobs (load average 12 on 2 cores) the ratios move by about 0.1 either way.

With the documents measure (``--chunks 200 --queries 30 --documents 24``, load average ~16 from other jobs, so
absolute speeds about a third of the above): index / bare encode 0.97x embedded, 0.93x server; documents chunked in
model tokens + truncation report + add_texts / bare encode of the same 164 chunks: 0.97x.

Without ``--checkpoint`` a stand-in checkpoint (the bundled model's query side with perturbed weights) is
made: latency depends on the architecture, not on the weights.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import itertools
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lore_rag.data.io import read_examples  # noqa: E402
from lore_rag.defaults import bundled_validation_path  # noqa: E402
from lore_rag.models.checkpoint import save_checkpoint  # noqa: E402
from lore_rag.models.encoder import DEFAULT_MODEL, LoreEncoder  # noqa: E402
from lore_rag.retrieval import ChromaStore, Retriever, raw_counterpart  # noqa: E402
from lore_rag.retrieval.chunking import Document, TokenCounter, chunk_documents  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def chroma_server(path: Path):
    port = free_port()
    exe = Path(sys.executable).with_name("chroma")
    log = open(path.parent / "chroma.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("chroma run did not start in 90 s") from None
                time.sleep(0.3)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def stand_in_checkpoint(raw: LoreEncoder, folder: Path) -> LoreEncoder:
    import torch

    model = copy.deepcopy(raw.query_model)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.numel() > 1:
                p.add_(torch.randn(p.shape, generator=generator) * 0.05 * p.std())
    model._lore_fingerprint = None
    save_checkpoint(model, folder, {"base_model": DEFAULT_MODEL, "base_fingerprint": raw.document_fingerprint})
    return LoreEncoder.from_checkpoint(folder)


def load_data(n_chunks: int, n_queries: int) -> tuple[list[str], list[str]]:
    shared = REPO / ".." / "shared" / "data" / "lore" / "validation_hotpotqa.jsonl"
    examples = read_examples(shared if shared.exists() else bundled_validation_path())
    chunks = list(dict.fromkeys(c for e in examples for c in e.chunks))[:n_chunks]
    queries = [e.query for e in examples][:n_queries]
    return chunks, queries


def load_documents(n_docs: int) -> list[Document]:
    shared = REPO / ".." / "shared" / "data" / "lore" / "validation_hotpotqa.jsonl"
    examples = read_examples(shared if shared.exists() else bundled_validation_path())[:n_docs]
    return [Document(text="\n\n".join(e.chunks), source=f"row{i}") for i, e in enumerate(examples)]


def time_chunk_index(store: ChromaStore, encoder: LoreEncoder, docs: list[Document], batch_size: int) -> float:
    """Chunk documents in model tokens, count every chunk against the model window, and index the chunks."""
    start = time.perf_counter()
    counter = TokenCounter(encoder.document_model)
    chunks = list(chunk_documents(docs, counter=counter))
    report = counter.report(chunks)
    assert report.truncated == 0, report.describe()
    store.add_texts(
        [c.text for c in chunks], encoder, ids=[c.id for c in chunks], batch_size=batch_size, show_progress=False
    )
    return time.perf_counter() - start


def time_bare(encoder: LoreEncoder, chunks: list[str]) -> float:
    start = time.perf_counter()
    encoder.document_model.encode(
        chunks,
        batch_size=encoder.batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return time.perf_counter() - start


def time_index(store: ChromaStore, encoder: LoreEncoder, chunks: list[str], batch_size: int) -> float:
    start = time.perf_counter()
    added = store.add_texts(chunks, encoder, batch_size=batch_size, show_progress=False)
    elapsed = time.perf_counter() - start
    assert added == len(set(chunks)), added
    return elapsed


def latencies(store: ChromaStore, raw: LoreEncoder, lore: LoreEncoder, queries: list[str]) -> dict[str, list[float]]:
    """Per-query latency (ms) of raw and LORE search, back to back per query in alternating order.

    Also times Chroma's top-10 alone ("store"), with a query vector computed beforehand.
    """
    retrievers = {"raw": Retriever(store, raw, k=10), "lore": Retriever(store, lore, k=10)}
    for r in retrievers.values():  # warm-up
        r.search(queries[0])
    vectors = raw.embed_queries(queries, show_progress=False)
    out: dict[str, list[float]] = {"raw": [], "lore": [], "store": []}
    for i, query in enumerate(queries):
        order = ("raw", "lore") if i % 2 == 0 else ("lore", "raw")
        for name in order:
            start = time.perf_counter()
            hits = retrievers[name].search(query)
            out[name].append(1000 * (time.perf_counter() - start))
            assert len(hits) == 10
        start = time.perf_counter()
        store.query(vectors[i : i + 1], 10)
        out["store"].append(1000 * (time.perf_counter() - start))
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=600, help="chunks to index (default: %(default)s)")
    parser.add_argument("--queries", type=int, default=100, help="queries per model and mode (default: %(default)s)")
    parser.add_argument("--slice", type=int, default=50, help="chunks per paired measurement (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=256, help="add_texts batch size (default: %(default)s)")
    parser.add_argument("--checkpoint", help="LORE checkpoint (default: a stand-in made from the bundled model)")
    parser.add_argument(
        "--documents", type=int, default=40, help="documents for the chunk + index measure (default: %(default)s)"
    )
    args = parser.parse_args()

    chunks, queries = load_data(args.chunks, args.queries)
    with tempfile.TemporaryDirectory(prefix="lore-bench-") as tmp:
        root = Path(tmp)
        if args.checkpoint:
            lore = LoreEncoder.from_checkpoint(args.checkpoint)
        else:
            lore = stand_in_checkpoint(LoreEncoder.raw(), root / "ckpt")
        raw = raw_counterpart(lore)
        time_bare(raw, chunks[:64])  # warm-up
        # Paired measurement: the chunks go in slices, and each slice is encoded bare, indexed embedded and
        # indexed on the server back to back, in an order that rotates through all six permutations, so a
        # change of machine load hits the three alike. Each add_texts call pays its own fixed costs (id lookup,
        # fingerprint check, the last write not overlapped): a pessimistic setting for the indexer.
        methods = ("bare", "embedded", "server")
        orders = list(itertools.permutations(methods))
        total = dict.fromkeys(methods, 0.0)
        slices = [chunks[i : i + args.slice] for i in range(0, len(chunks), args.slice)]
        with chroma_server(root / "server-data") as port:
            embedded = ChromaStore(root / "embedded", collection="bench")
            server = ChromaStore(host="127.0.0.1", port=port, collection="bench")
            for j, part in enumerate(slices):
                for method in orders[j % len(orders)]:
                    if method == "bare":
                        total[method] += time_bare(raw, part)
                    else:
                        store = embedded if method == "embedded" else server
                        total[method] += time_index(store, raw, part, args.batch_size)
            lat = {
                "embedded": latencies(embedded, raw, lore, queries),
                "server": latencies(server, raw, lore, queries),
            }
        # the index command's path on documents: token chunking + truncation report + add_texts, paired with bare
        # encode of the chunks it makes (4 documents per slice, order alternating)
        docs = load_documents(args.documents)
        counter = TokenCounter(raw.document_model)
        doc_total = {"bare": 0.0, "index": 0.0}
        n_doc_chunks = 0
        for j in range(0, len(docs), 4):
            part = docs[j : j + 4]
            texts = [c.text for c in chunk_documents(part, counter=counter)]
            n_doc_chunks += len(texts)
            store = ChromaStore(root / "docs", collection=f"docs-{j}")
            for method in ("bare", "index") if (j // 4) % 2 == 0 else ("index", "bare"):
                if method == "bare":
                    doc_total["bare"] += time_bare(raw, texts)
                else:
                    doc_total["index"] += time_chunk_index(store, raw, part, args.batch_size)

    n = len(chunks)
    bare_rate = n / total["bare"]
    rows = [
        ("bare SentenceTransformer.encode (chunks/s)", f"{bare_rate:.1f}", f"{bare_rate:.1f}"),
        ("index: ChromaStore.add_texts (chunks/s)", *(f"{n / total[m]:.1f}" for m in ("embedded", "server"))),
        (
            "index / bare encode throughput (target >= 0.9x)",
            *(f"{total['bare'] / total[m]:.2f}x" for m in ("embedded", "server")),
        ),
    ]
    rows.append(
        (
            "documents: chunk in tokens + index / bare encode of the chunks (target >= 0.9x)",
            f"{doc_total['bare'] / doc_total['index']:.2f}x",
            "",
        )
    )
    for name, label in (("raw", "raw"), ("lore", "LORE")):
        rows.append(
            (
                f"query latency {label}: median / p95 (ms)",
                *(f"{statistics.median(lat[m][name]):.1f} / {p95(lat[m][name]):.1f}" for m in ("embedded", "server")),
            )
        )
    rows.append(
        (
            "Chroma top-10 alone: median (ms)",
            *(f"{statistics.median(lat[m]['store']):.1f}" for m in ("embedded", "server")),
        )
    )
    # the same query timed back to back with both encoders: the median of those paired ratios is what machine
    # load disturbs least
    rows.append(
        (
            "LORE / raw latency, median of per-query ratios (target <= 1.1x)",
            *(
                f"{statistics.median(a / b for a, b in zip(lat[m]['lore'], lat[m]['raw'], strict=True)):.2f}x"
                for m in ("embedded", "server")
            ),
        )
    )
    print(
        f"\n{n} chunks (HotpotQA validation paragraphs) in {len(slices)} paired slices, {len(queries)} queries "
        f"per model and mode, top-10, {lore.name} vs its raw base model; {len(docs)} documents -> {n_doc_chunks} "
        f"token chunks\n"
    )
    print("| measure | embedded | server |")
    print("|---|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
