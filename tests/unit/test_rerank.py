"""The reranker stage with a deterministic fake cross-encoder: scoring, reordering, fetch_k, timings, errors.

The same wiring with a real sentence-transformers CrossEncoder is in tests/integration/test_rerank_real.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from lore_rag.errors import ConfigError, DataError, ModelError
from lore_rag.retrieval import ChromaStore, Hit, Retriever, compare
from lore_rag.retrieval.rerank import DEFAULT_FETCH_K, RerankedHit, Reranker, check_fetch_k

DIM = 8
E = np.eye(DIM, dtype=np.float32)


class FakeCrossEncoder:
    """Scores a pair by how many of the query's words the text holds (ties broken by nothing: equal scores)."""

    num_labels = 1
    max_seq_length = 128

    def __init__(self, labels: int = 1) -> None:
        self.num_labels = labels
        self.calls: list[list[tuple[str, str]]] = []

    def predict(self, pairs, batch_size=32, show_progress_bar=None, convert_to_numpy=True):
        self.calls.append(list(pairs))
        scores = [float(len(set(q.lower().split()) & set(t.lower().split()))) for q, t in pairs]
        out = np.asarray(scores, dtype=np.float32)
        return np.repeat(out[:, None], self.num_labels, axis=1) if self.num_labels > 1 else out


class FakeEncoder:
    """LoreEncoder interface with fixed vectors: the first stage ranks chunk i by its table entry."""

    def __init__(self, vectors, query_vectors, name="fake"):
        self.document_fingerprint = "docfp"
        self.name = name
        self.dim = DIM
        self.manifest = {}
        self.batch_size = 64
        self.vectors = vectors
        self.query_vectors = query_vectors
        self.is_raw = True
        self.document_model = self
        self.query_calls: list[list[str]] = []

    def embed_documents(self, texts, *, show_progress=None, batch_size=None):
        return np.stack([self.vectors[t] for t in texts])

    def embed_queries(self, queries, *, show_progress=None, batch_size=None):
        self.query_calls.append(list(queries))
        vs = np.stack([self.query_vectors[q] for q in queries]).astype(np.float32)
        return vs / np.linalg.norm(vs, axis=1, keepdims=True)


# The first stage ranks c0 > c1 > ... > c7 for the query; only c6 holds the query's words.
CHUNKS = [f"chunk number {i} filler" for i in range(6)] + ["alpha beta gamma answer", "chunk number 7 filler"]
QUERY = "alpha beta gamma"


def first_stage_encoder(name="fake"):
    vectors = {text: E[i] for i, text in enumerate(CHUNKS)}
    weights = np.asarray([8, 7, 6, 5, 4, 3, 2, 1], dtype=np.float32)
    return FakeEncoder(vectors, {QUERY: weights, "other words": weights[::-1].copy()}, name=name)


@pytest.fixture()
def indexed(tmp_path):
    store = ChromaStore(tmp_path / "chroma", collection="rerank")
    encoder = first_stage_encoder()
    store.add_texts(CHUNKS, encoder, show_progress=False)
    return store, encoder


def hits_of(texts):
    return [Hit(id=f"id{i}", text=t, score=1.0 - i / 10, rank=i + 1, metadata={"n": i}) for i, t in enumerate(texts)]


def test_scores_keep_the_order_of_the_pairs():
    model = FakeCrossEncoder()
    reranker = Reranker(model, name="fake")
    scores = reranker.score("a b c", ["x", "a b", "a b c d", "c"])
    assert scores.dtype == np.float32 and scores.tolist() == [0.0, 2.0, 3.0, 1.0]
    assert len(model.calls) == 1  # one batched call
    many = reranker.score_many(["a", "b c"], [["a", "b"], ["b", "c", "b c", "z"]])
    assert [m.tolist() for m in many] == [[1.0, 0.0], [1.0, 1.0, 2.0, 0.0]]
    assert len(model.calls) == 2  # all pairs of all queries in one call
    assert reranker.score("q", []).shape == (0,)


def test_rerank_reorders_renumbers_and_remembers_the_first_stage():
    reranker = Reranker(FakeCrossEncoder(), name="fake")
    hits = hits_of(["nothing here", "two words", "words", "two words here words"])
    out = reranker.rerank("two words", hits)
    assert [h.text for h in out] == ["two words", "two words here words", "words", "nothing here"]
    assert [h.rank for h in out] == [1, 2, 3, 4]
    assert [h.score for h in out] == [2.0, 2.0, 1.0, 0.0]  # ties keep the first stage's order
    assert all(isinstance(h, RerankedHit) and isinstance(h, Hit) for h in out)
    assert [h.retrieval_rank for h in out] == [2, 4, 3, 1]
    assert out[0].retrieval_score == pytest.approx(0.9) and out[0].metadata == {"n": 1} and out[0].id == "id1"
    assert out[0].to_dict()["retrieval_rank"] == 2
    top = reranker.rerank("two words", hits, k=2)
    assert [h.text for h in top] == ["two words", "two words here words"]
    again = reranker.rerank("words", top, k=1)  # reranking reranked hits keeps the first stage's numbers
    assert again[0].retrieval_rank == 2


def test_reorder_and_rank_work_on_any_items():
    reranker = Reranker(FakeCrossEncoder())
    items = [{"doc": 0}, {"doc": 1}, {"doc": 2}]
    assert reranker.reorder("b", items, ["a", "b", "c b"], k=2) == [{"doc": 1}, {"doc": 2}]
    assert reranker.rank("c", ["a", "b", "c"], k=1) == [(2, 1.0)]
    with pytest.raises(ValueError, match="2 items but 3 texts"):
        reranker.reorder("b", items[:2], ["a", "b", "c"])
    with pytest.raises(ConfigError, match="k must be at least 1"):
        reranker.rank("c", ["a"], k=0)


def test_bad_inputs_are_clear_errors():
    reranker = Reranker(FakeCrossEncoder(), name="fake")
    with pytest.raises(TypeError, match="single string"):
        reranker.score("q", "not a list")
    with pytest.raises(DataError, match="pair 1"):
        reranker.score_pairs([("q", "t"), ("q", 3)])
    with pytest.raises(ModelError, match="3 scores per pair"):
        Reranker(FakeCrossEncoder(labels=3), name="nli")
    with pytest.raises(ConfigError, match="batch_size"):
        Reranker(FakeCrossEncoder(), batch_size=0)


def test_load_refuses_what_is_not_a_cross_encoder(tmp_path):
    with pytest.raises(ModelError, match="no such reranker folder"):
        Reranker.load(str(tmp_path / "missing"))
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="must be a model folder"):
        Reranker.load(tmp_path / "file.bin")
    bi = tmp_path / "bi-encoder"
    bi.mkdir()
    (bi / "config.json").write_text('{"architectures": ["BertModel"]}')
    with pytest.raises(ModelError, match="not a cross-encoder: its config names BertModel"):
        Reranker.load(bi)
    (bi / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable model config"):
        Reranker.load(bi)
    with pytest.raises(ModelError, match="empty model name"):
        Reranker.load("  ")


def test_check_fetch_k():
    assert check_fetch_k(None, 3) == DEFAULT_FETCH_K
    assert check_fetch_k(None, 50) == 50
    assert check_fetch_k(7, 3) == 7
    with pytest.raises(ConfigError, match="--fetch-k .2. must be at least the number of chunks kept .k=3."):
        check_fetch_k(2, 3, flag="--fetch-k")
    with pytest.raises(ConfigError, match="fetch_k must be at least 1"):
        check_fetch_k(0, 3)


def test_retriever_reranks_the_top_fetch_k_of_a_real_chroma(indexed):
    store, encoder = indexed
    plain = Retriever(store, encoder, k=3).search(QUERY)
    assert [h.text for h in plain] == CHUNKS[:3]  # the first stage never reaches the answer (rank 7)
    model = FakeCrossEncoder()
    reranked = Retriever(store, encoder, k=3, reranker=Reranker(model, name="ce"), fetch_k=8).search(QUERY)
    assert reranked[0].text == "alpha beta gamma answer" and reranked[0].retrieval_rank == 7
    assert [h.rank for h in reranked] == [1, 2, 3]
    assert len(model.calls[-1]) == 8  # exactly fetch_k pairs scored
    shallow = Retriever(store, encoder, k=3, reranker=Reranker(model), fetch_k=5).search(QUERY)
    assert "alpha beta gamma answer" not in [h.text for h in shallow]  # beyond fetch_k: out of the reranker's reach
    assert len(model.calls[-1]) == 5
    # a k larger than fetch_k fetches k
    wide = Retriever(store, encoder, reranker=Reranker(model), fetch_k=2).search(QUERY, k=4)
    assert len(wide) == 4 and len(model.calls[-1]) == 4


def test_retriever_default_fetch_k_and_name(indexed):
    store, encoder = indexed
    model = FakeCrossEncoder()
    retriever = Retriever(store, encoder, k=2, reranker=Reranker(model, name="ce"))
    assert retriever.name == "fake + ce"
    retriever.search(QUERY)
    assert len(model.calls[-1]) == len(CHUNKS)  # DEFAULT_FETCH_K (20) > the 8 chunks in the store
    with pytest.raises(ConfigError, match="fetch_k must be at least 1"):
        Retriever(store, encoder, reranker=Reranker(model), fetch_k=0)


def test_search_many_batches_queries_and_pairs(indexed):
    store, encoder = indexed
    model = FakeCrossEncoder()
    retriever = Retriever(store, encoder, k=2, reranker=Reranker(model), fetch_k=8)
    results = retriever.search_many([QUERY, "other words"])
    assert len(model.calls) == 1 and len(model.calls[0]) == 16
    assert results[0][0].text == "alpha beta gamma answer"
    assert [h.text for h in results[1]] == ["chunk number 7 filler", "alpha beta gamma answer"]  # all ties: as fetched


def test_search_timed_gives_the_same_hits_and_one_timing_per_query(indexed):
    store, encoder = indexed
    retriever = Retriever(store, encoder, k=3, reranker=Reranker(FakeCrossEncoder()), fetch_k=8)
    queries = [QUERY, "other words", QUERY]
    batched = retriever.search_many(queries)
    timed, timings = retriever.search_timed(queries)
    assert [[h.id for h in r] for r in timed] == [[h.id for h in r] for r in batched]
    assert len(timings.retrieval) == len(timings.rerank) == 3
    assert all(t > 0 for t in timings.retrieval) and all(t > 0 for t in timings.rerank)
    summary = timings.summary()
    assert summary["ms/query"] >= summary["rerank ms/query"] > 0
    assert summary["ms/query p95"] >= summary["ms/query p50"] > 0
    _, plain = Retriever(store, encoder, k=3).search_timed(queries)
    assert plain.rerank == [0.0, 0.0, 0.0] and plain.summary()["rerank ms/query"] == 0.0
    assert np.isnan(type(plain)().summary()["ms/query"])


def test_compare_reranks_every_encoder(indexed):
    store, encoder = indexed
    other = first_stage_encoder(name="other")
    model = FakeCrossEncoder()
    (row,) = compare(store, [encoder, other], [QUERY], k=2, reranker=Reranker(model), fetch_k=8)
    assert list(row) == ["fake", "other"]
    assert all(hits[0].text == "alpha beta gamma answer" for hits in row.values())
    (plain,) = compare(store, [encoder], [QUERY], k=2)
    assert plain["fake"][0].text == CHUNKS[0]


def test_corpus_eval_reports_each_model_with_and_without_the_reranker():
    from lore_rag.data.schema import Example, Tier
    from lore_rag.evaluation.corpus import evaluate_corpus, format_corpus_table

    P, N1, N2 = Tier.POSITIVE, Tier.DISTRACTOR, Tier.NEGATIVE
    # the first stage ranks the answer 7th of 8 and a distractor first; the fake cross-encoder finds the answer
    example = Example(query=QUERY, chunks=CHUNKS, tiers=[N1, N2, N2, N2, N2, N2, P, N2], id="q")
    model = FakeCrossEncoder()
    result = evaluate_corpus(
        {"raw": first_stage_encoder("raw"), "lore": first_stage_encoder("lore")},
        [example],
        ks=(1, 3),
        show_progress=False,
        reranker=Reranker(model, name="ce"),
        fetch_k=10,
        per_query=True,
    )
    assert list(result["models"]) == ["raw", "raw + reranker", "lore", "lore + reranker"]
    raw, reranked = result["models"]["raw"], result["models"]["raw + reranker"]
    assert raw["P@1"] == 0.0 and raw["N1@1"] == 100.0 and raw["MRR@10"] == pytest.approx(1 / 7)
    assert reranked["P@1"] == 100.0 and reranked["N1@1"] == 0.0 and reranked["MRR@10"] == 1.0
    assert all(len(call) == len(CHUNKS) for call in model.calls)  # fetch_k 10 > 8 chunks: all of them
    assert reranked["rerank ms/query"] > 0 and raw["rerank ms/query"] == 0.0
    assert reranked["ms/query"] >= reranked["rerank ms/query"]
    assert result["reranker"]["name"] == "ce" and result["reranker"]["fetch_k"] == 10
    assert result["per_query"]["raw + reranker"][0]["top"][0] == result["per_query"]["raw"][0]["top"][6]
    table = format_corpus_table(result)
    assert "| raw + reranker | 100.0 |" in table and "ms/query ↓" in table and "`ce`" in table
    with pytest.raises(ConfigError, match="fetch_k .5. must be at least the number of chunks kept .k=10."):
        evaluate_corpus([first_stage_encoder()], [example], reranker=Reranker(model), fetch_k=5, show_progress=False)


def test_an_unknown_hub_id_offline_is_a_clear_error():
    with pytest.raises(
        ModelError, match="cannot load reranker cross-encoder/lore-rag-no-such-model .not a local folder"
    ):
        Reranker.load("cross-encoder/lore-rag-no-such-model")
