"""LangChain conventions on a real Chroma store: search_kwargs / search_type, HuggingFaceEmbeddings arguments,
and the langchain-tests standard suites for LoreEmbeddings and LoreRetriever (as partner packages run them)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from _checkpoints import make_checkpoints
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from lore_rag.data.io import read_examples
from lore_rag.integrations.langchain import LoreEmbeddings, LoreRetriever
from lore_rag.models.encoder import LoreEncoder, bundled_model_path
from lore_rag.retrieval import ChromaStore

pytestmark = pytest.mark.integration

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lore" / "validation_hotpotqa.jsonl"
QUERY = "Which American director made horror films such as Sinister?"
_STATE: dict = {}


@pytest.fixture(scope="module", autouse=True)
def setup(tmp_path_factory):
    """A LORE checkpoint (perturbed bundled model) and a Chroma index of 3 validation rows built with the raw model."""
    made = make_checkpoints(tmp_path_factory.mktemp("models"), name="lore")
    rows = read_examples(VALIDATION)[:3]
    texts, metas = [], []
    for n, row in enumerate(rows):
        for i, chunk in enumerate(row.chunks):
            if chunk not in texts:
                texts.append(chunk)
                metas.append({"row": n, "chunk_index": i, "title": (row.extra.get("titles") or [""] * 99)[i] or ""})
    store = ChromaStore(tmp_path_factory.mktemp("chroma"), collection="langchain")
    store.add_texts(texts, made["raw"], metadatas=metas, show_progress=False)
    lore = LoreEncoder.from_checkpoint(made["lore"])
    _STATE.update(store=store, lore=lore, raw=made["raw"], path=made["lore"], texts=texts, metas=metas)
    yield
    _STATE.clear()


def retriever(**kwargs) -> LoreRetriever:
    return LoreRetriever(store=_STATE["store"], encoder=_STATE["lore"], **kwargs)


# ----------------------------------------------------------------------------------------- search_kwargs / search_type
def test_search_kwargs_k_returns_that_many_documents():
    assert len(retriever(search_kwargs={"k": 1}).invoke(QUERY)) == 1
    assert len(retriever(k=2).invoke(QUERY)) == 2
    assert len(retriever().invoke(QUERY)) == 4  # LangChain's default
    r = retriever(search_kwargs={"k": 5})
    assert len(r.invoke(QUERY, k=2)) == 2  # per call wins over construction
    assert len(r.invoke(QUERY, search_kwargs={"k": 3})) == 3
    assert len(asyncio.run(r.ainvoke(QUERY, k=1))) == 1
    assert len(r.invoke(QUERY)) == 5  # a per-call value does not stick


def test_filter_restricts_to_matching_metadata_at_construction_and_per_call():
    docs = retriever(search_kwargs={"k": 50, "filter": {"row": 1}}).invoke(QUERY)
    expected = sum(1 for m in _STATE["metas"] if m["row"] == 1)
    assert len(docs) == expected and {d.metadata["row"] for d in docs} == {1}
    docs = retriever(k=50).invoke(QUERY, filter={"row": {"$in": [0, 2]}})
    assert {d.metadata["row"] for d in docs} == {0, 2}
    assert retriever(where={"row": 2}, k=50).invoke(QUERY)[0].metadata["row"] == 2  # the older name still works


def test_similarity_score_threshold_keeps_only_close_documents():
    everything = retriever(k=50).invoke(QUERY)
    scores = [d.metadata["score"] for d in everything]
    cut = (scores[2] + scores[3]) / 2  # between the 3rd and 4th best
    docs = retriever(search_type="similarity_score_threshold", search_kwargs={"k": 10, "score_threshold": cut}).invoke(
        QUERY
    )
    assert [d.page_content for d in docs] == [d.page_content for d in everything[:3]]
    assert [d.metadata["rank"] for d in docs] == [1, 2, 3]
    assert (
        retriever(search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.99}).invoke(QUERY) == []
    )
    with pytest.raises(ValueError, match="score_threshold"):
        retriever(search_type="similarity_score_threshold")


def test_mmr_trades_relevance_for_diversity_with_the_stored_vectors():
    store, lore = _STATE["store"], _STATE["lore"]
    k, fetch_k = 4, 12
    plain = retriever(k=fetch_k).invoke(QUERY)
    q = lore.embed_queries([QUERY])[0]
    ids = [d.id for d in plain]
    vectors = store.vectors(ids)
    # the stored vectors are the raw model's document vectors of those texts
    expected = _STATE["raw"].embed_documents([d.page_content for d in plain])
    assert np.allclose(vectors, expected, atol=1e-4)

    def mmr(lam):
        return retriever(search_type="mmr", search_kwargs={"k": k, "fetch_k": fetch_k, "lambda_mult": lam}).invoke(
            QUERY
        )

    # lambda_mult=1: pure relevance, the similarity ranking
    assert [d.id for d in mmr(1.0)] == ids[:k]
    # lambda_mult=0.25: computed independently, greedy MMR over the fetch_k candidates
    chosen: list[int] = []
    sims_q = vectors @ q
    sims = vectors @ vectors.T
    while len(chosen) < k:
        best, best_score = None, -np.inf
        for i in range(len(ids)):
            if i in chosen:
                continue
            redundancy = max((sims[i, j] for j in chosen), default=0.0)
            score = 0.25 * sims_q[i] - 0.75 * redundancy
            if score > best_score:
                best, best_score = i, score
        chosen.append(best)
    diverse = mmr(0.25)
    assert [d.id for d in diverse] == [ids[i] for i in chosen]
    assert [d.id for d in diverse] != ids[:k]
    assert [d.metadata["rank"] for d in diverse] == [1, 2, 3, 4]
    # per call, with a filter
    docs = retriever().invoke(QUERY, search_type="mmr", k=2, filter={"row": 0})
    assert len(docs) == 2 and {d.metadata["row"] for d in docs} == {0}


def test_bad_search_settings_are_refused_with_the_key_named():
    cases = [
        ({"search_type": "fuzzy"}, "search_type must be one of similarity, mmr, similarity_score_threshold"),
        ({"search_kwargs": {"kk": 1}}, "unknown key(s) 'kk'"),
        ({"search_kwargs": {"k": 0}}, "search_kwargs['k'] must be an integer >= 1"),
        ({"search_kwargs": {"lambda_mult": 2}}, "lambda_mult"),
        ({"search_kwargs": {"filter": "row=1"}}, "Chroma where-dict"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError) as caught:
            retriever(**kwargs)
        assert message in str(caught.value)
    with pytest.raises(ValueError, match="unknown key"):
        retriever().invoke(QUERY, top_k=3)


# ----------------------------------------------------------------------------------------- HuggingFaceEmbeddings args
def test_embeddings_take_huggingface_embeddings_arguments():
    from sentence_transformers import SentenceTransformer

    base = SentenceTransformer(str(bundled_model_path()), device="cpu")
    emb = LoreEmbeddings(
        model_name="sentence-transformers/all-MiniLM-L6-v2",
        model_kwargs={"device": "cpu", "truncate_dim": 64},
        encode_kwargs={"normalize_embeddings": False, "batch_size": 2},
        query_encode_kwargs={"normalize_embeddings": True},
    )
    texts = ["Scott Derrickson is an American director.", "Ed Wood was a filmmaker."]
    docs = np.asarray(emb.embed_documents(texts))
    assert docs.shape == (2, 64)
    assert np.allclose(docs, base.encode(texts, convert_to_numpy=True)[:, :64], atol=1e-4)
    assert not np.allclose(np.linalg.norm(docs, axis=1), 1.0)
    q = np.asarray(emb.embed_query(QUERY))
    assert q.shape == (64,) and np.isclose(np.linalg.norm(q), 1.0)
    assert emb.batch_size == 2


def test_embeddings_model_name_loads_a_lore_checkpoint():
    emb = LoreEmbeddings(model_name=str(_STATE["path"]), model_kwargs={"device": "cpu"})
    assert not emb.encoder.is_raw
    assert np.allclose(emb.embed_query(QUERY), _STATE["lore"].embed_queries([QUERY])[0], atol=1e-5)
    assert np.allclose(emb.embed_documents([QUERY])[0], _STATE["raw"].embed_documents([QUERY])[0], atol=1e-5)
    with pytest.raises(ValueError, match="'device' only"):
        LoreEmbeddings(model_name=str(_STATE["path"]), model_kwargs={"trust_remote_code": True})
    with pytest.raises(ValueError, match="not both"):
        LoreEmbeddings("raw", model_name=str(_STATE["path"]))
    with pytest.raises(ValueError, match="multi_process"):
        LoreEmbeddings(multi_process=True)


# ----------------------------------------------------------------------------------------- langchain-tests suites
class TestLoreEmbeddingsStandardUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[LoreEmbeddings]:
        return LoreEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model_name": "sentence-transformers/all-MiniLM-L6-v2", "encode_kwargs": {"batch_size": 4}}


class TestLoreEmbeddingsStandardIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[LoreEmbeddings]:
        return LoreEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"encoder": _STATE["lore"]}  # the LORE checkpoint, loaded once for the module


class TestLoreRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[LoreRetriever]:
        return LoreRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"store": _STATE["store"], "encoder": _STATE["lore"], "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return QUERY
