"""ChromaStore and Retriever on a real embedded Chroma, with deterministic fake encoders (no model)."""

from __future__ import annotations

import hashlib
import logging
import socket
import time

import numpy as np
import pytest

from lore_rag.errors import ConfigError, DataError
from lore_rag.retrieval import ChromaStore, Hit, Retriever, StoreError, chunk_id, compare
from lore_rag.retrieval.retriever import format_hits, format_side_by_side, name_encoders
from lore_rag.retrieval.store import FINGERPRINT_KEY

DIM = 16


def hash_vector(text: str, dim: int = DIM) -> np.ndarray:
    seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


class FakeEncoder:
    """Same interface as LoreEncoder: fixed vectors for known texts, hash vectors for the rest."""

    def __init__(self, fingerprint="docfp", name="fake", dim=DIM, vectors=None, query_vectors=None, fail_after=None):
        self.document_fingerprint = fingerprint
        self.name = name
        self.dim = dim
        self.manifest = {}
        self.batch_size = 64
        self.vectors = vectors or {}
        self.query_vectors = query_vectors or {}
        self.calls: list[list[str]] = []
        self.fail_after = fail_after
        self.is_raw = True
        self.document_model = self

    def _vec(self, table, text):
        v = np.asarray(table.get(text, hash_vector(text, self.dim)), dtype=np.float32)
        return v / np.linalg.norm(v)

    def embed_documents(self, texts, *, show_progress=None, batch_size=None):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt
        self.calls.append(list(texts))
        return np.stack([self._vec(self.vectors, t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_queries(self, queries, *, show_progress=None, batch_size=None):
        return np.stack([self._vec(self.query_vectors, q) for q in queries])


@pytest.fixture()
def store(tmp_path):
    return ChromaStore(tmp_path / "chroma", collection="test")


TEXTS = [f"chunk number {i} " + "x" * i for i in range(7)]


def test_add_is_idempotent_and_batched(store):
    enc = FakeEncoder()
    assert store.add_texts(TEXTS, enc, batch_size=3, show_progress=False) == 7
    assert [len(c) for c in enc.calls] == [3, 3, 1]
    assert enc.calls[0][0] == TEXTS[-1]  # longest first, like SentenceTransformer.encode
    assert store.count() == 7
    enc.calls.clear()
    assert store.add_texts(TEXTS, enc, show_progress=False) == 0
    assert enc.calls == []  # present ids are skipped before embedding
    assert store.add_texts(TEXTS + ["a new one"], enc, show_progress=False) == 1
    assert enc.calls == [["a new one"]]
    assert store.count() == 8


def test_duplicates_in_one_call_are_stored_once(store):
    enc = FakeEncoder()
    assert store.add_texts(["same", "same", "other"], enc, show_progress=False) == 2
    assert store.count() == 2
    assert {h.id for h in store.get([chunk_id("same"), chunk_id("other")])} == {chunk_id("same"), chunk_id("other")}


def test_query_scores_are_cosine_and_rank_is_known(store):
    basis = np.eye(DIM, dtype=np.float32)
    docs = {"east": basis[0], "north-east": basis[0] + basis[1], "north": basis[1], "south": -basis[1]}
    enc = FakeEncoder(vectors=docs, query_vectors={"q": basis[0] + 0.1 * basis[1]})
    store.add_texts(list(docs), enc, metadatas=[{"name": n} for n in docs], show_progress=False)
    hits = Retriever(store, enc, k=4).search("q")
    assert [h.text for h in hits] == ["east", "north-east", "north", "south"]
    assert [h.rank for h in hits] == [1, 2, 3, 4]
    q = enc.embed_queries(["q"])[0]
    for h in hits:
        assert h.score == pytest.approx(float(enc._vec(docs, h.text) @ q), abs=1e-5)
        assert h.metadata == {"name": h.text}
    assert Retriever(store, enc).search("q", k=2, where={"name": "north"})[0].text == "north"


def test_ids_and_metadata_are_stored(store):
    enc = FakeEncoder()
    store.add_texts(
        ["a", "b"], enc, ids=["id-a", "id-b"], metadatas=[{"k": 1, "tags": ["x", "y"]}, {}], show_progress=False
    )
    got = {h.id: h for h in store.get(["id-a", "id-b", "missing"])}
    assert set(got) == {"id-a", "id-b"}
    assert got["id-a"].metadata == {"k": 1, "tags": ["x", "y"]}
    assert got["id-b"].metadata == {}
    with pytest.raises(DataError, match="metadata"):
        store.add_texts(["c"], enc, metadatas=[{"bad": {"nested": 1}}], show_progress=False)
    with pytest.raises(DataError, match="empty"):
        store.add_texts(["ok", "  "], enc, show_progress=False)
    with pytest.raises(ValueError, match="ids"):
        store.add_texts(["ok"], enc, ids=["1", "2"], show_progress=False)


def test_fingerprint_is_recorded_and_another_document_encoder_is_refused(store):
    enc = FakeEncoder(fingerprint="base-A", name="raw")
    store.add_texts(TEXTS, enc, show_progress=False)
    assert store.document_fingerprint == "base-A"
    other = FakeEncoder(fingerprint="base-B", name="lore-from-B")
    with pytest.raises(StoreError, match="base model it was\\s+trained from") as err:
        Retriever(store, other)
    assert "base-A" in str(err.value) and "base-B" in str(err.value)
    with pytest.raises(StoreError):
        store.add_texts(["more"], other, show_progress=False)
    assert store.count() == len(TEXTS)
    # a LORE encoder is another query side over the same document side: accepted
    lore = FakeEncoder(fingerprint="base-A", name="lore", query_vectors={"x": np.ones(DIM)})
    assert len(Retriever(store, lore).search("x", k=3)) == 3


def test_dimension_mismatch_is_refused(store):
    store.add_texts(TEXTS, FakeEncoder(), show_progress=False)
    with pytest.raises(StoreError, match="8-d"):
        Retriever(store, FakeEncoder(dim=8))


def test_collection_made_outside_lore_rag_is_usable_and_adopted(store, caplog):
    col = store.client.create_collection("foreign", configuration={"hnsw": {"space": "l2"}}, embedding_function=None)
    vecs = np.stack([hash_vector(t) for t in TEXTS])
    col.add(ids=[str(i) for i in range(len(TEXTS))], embeddings=vecs, documents=TEXTS)
    foreign = ChromaStore(store.path, collection="foreign")
    assert foreign.document_fingerprint is None
    enc = FakeEncoder(query_vectors={"q": vecs[2]})
    with caplog.at_level(logging.WARNING):
        hits = Retriever(foreign, enc, k=2).search("q")
    assert "records no document encoder" in caplog.text
    assert hits[0].text == TEXTS[2]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)  # l2 distance converted back to cosine
    assert foreign.add_texts(["new text"], enc, show_progress=False) == 1
    assert foreign.document_fingerprint == "docfp"
    assert foreign.count() == len(TEXTS) + 1


def test_interrupted_add_keeps_finished_batches_and_resumes(store):
    texts = [f"text {i}" for i in range(10)]
    with pytest.raises(KeyboardInterrupt):
        store.add_texts(texts, FakeEncoder(fail_after=2), batch_size=3, show_progress=False)
    assert store.count() == 6  # two batches landed
    enc = FakeEncoder()
    assert store.add_texts(texts, enc, batch_size=3, show_progress=False) == 4
    assert sum(len(c) for c in enc.calls) == 4
    assert store.count() == 10


def test_missing_or_empty_collection_gives_a_clear_error(tmp_path):
    store = ChromaStore(tmp_path / "c", collection="nothing")
    assert not store.exists() and store.count() == 0
    with pytest.raises(StoreError, match="does not exist"):
        store.query(np.ones((1, DIM), np.float32))
    store.collection  # noqa: B018 - creates it, empty
    with pytest.raises(StoreError, match="is empty"):
        store.query(np.ones((1, DIM), np.float32))
    with pytest.raises(StoreError, match="no Chroma store"):
        ChromaStore(tmp_path / "absent", must_exist=True)


def test_cosine_space_and_record_in_metadata(store):
    store.add_texts(["a"], FakeEncoder(), show_progress=False)
    col = store.collection
    assert col.configuration["hnsw"]["space"] == "cosine"
    assert col.metadata[FINGERPRINT_KEY] == "docfp"


@pytest.mark.parametrize("name", ["ab", "-bad", "has space", "a..b"])
def test_bad_collection_names(tmp_path, name):
    with pytest.raises(ConfigError, match="collection name"):
        ChromaStore(tmp_path, collection=name)


def test_store_path_that_is_a_file(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(StoreError, match="not a folder"):
        ChromaStore(path)


def test_unreachable_server_fails_fast_with_a_hint():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(StoreError, match="chroma run"):
        ChromaStore(host="127.0.0.1", port=port, timeout=2)
    assert time.monotonic() - start < 10


def test_compare_and_side_by_side(store):
    basis = np.eye(DIM, dtype=np.float32)
    docs = {"one": basis[0], "two": basis[1], "three": basis[2]}
    store.add_texts(list(docs), FakeEncoder(vectors=docs), show_progress=False)
    raw = FakeEncoder(vectors=docs, name="raw", query_vectors={"q": basis[0] + 0.5 * basis[1]})
    lore = FakeEncoder(vectors=docs, name="lore", query_vectors={"q": basis[1] + 0.5 * basis[2]})
    (result,) = compare(store, [raw, lore], ["q"], k=2)
    assert [h.text for h in result["raw"]] == ["one", "two"]
    assert [h.text for h in result["lore"]] == ["two", "three"]
    table = format_side_by_side(result, width=100)
    assert "[raw #2]" in table and "[new]" in table
    assert "one" in format_hits(result["raw"])
    assert list(name_encoders([raw, raw])) == ["raw", "raw-2"]


def test_hit_to_dict():
    assert Hit("i", "t", 0.5, 1, {"a": 1}).to_dict() == {
        "id": "i",
        "text": "t",
        "score": 0.5,
        "rank": 1,
        "metadata": {"a": 1},
    }


def test_a_plain_chromadb_client_can_open_the_same_folder(store):
    """chromadb refuses a second client of one folder with other settings; lore-rag keeps the defaults."""
    import chromadb

    store.add_texts(["shared text"], FakeEncoder(), show_progress=False)
    other = chromadb.PersistentClient(path=str(store.path))
    assert other.get_collection("test").count() == 1
