"""The reranker in LangChain (a document compressor in ContextualCompressionRetriever) and LlamaIndex (a node
postprocessor in a query engine), with a real CrossEncoder built from the bundled weights and a real Chroma.

Expected orders come from the same cross-encoder loaded by sentence-transformers itself.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from _cross_encoder import make_cross_encoder

from lore_rag.data.io import read_examples
from lore_rag.models.encoder import LoreEncoder
from lore_rag.retrieval import ChromaStore
from lore_rag.retrieval.rerank import Reranker

pytestmark = pytest.mark.integration

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lore" / "validation_hotpotqa.jsonl"
QUERY = "Which American director made horror films such as Sinister?"
FETCH_K, TOP_N = 8, 3


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory) -> Path:
    return make_cross_encoder(tmp_path_factory.mktemp("rerank-int") / "tiny-ce", seed=1)


@pytest.fixture(scope="module")
def direct(cross_encoder_dir):
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(cross_encoder_dir), device="cpu")
    return lambda query, texts: np.asarray(model.predict([(query, t) for t in texts], show_progress_bar=False))


@pytest.fixture(scope="module")
def reranker(cross_encoder_dir) -> Reranker:
    return Reranker.load(cross_encoder_dir)


@pytest.fixture(scope="module")
def raw(base_model) -> LoreEncoder:
    return LoreEncoder(base_model, name="raw")


@pytest.fixture(scope="module")
def store(raw, tmp_path_factory) -> ChromaStore:
    rows = read_examples(VALIDATION)[:3]
    chunks = list(dict.fromkeys(c for r in rows for c in r.chunks))
    chroma = ChromaStore(tmp_path_factory.mktemp("rerank-int-store"), collection="lore")
    chroma.add_texts(chunks, raw, show_progress=False)
    return chroma


def expected_top(direct, texts, n=TOP_N):
    scores = direct(QUERY, texts)
    order = np.argsort(-scores, kind="stable")[:n]
    return [texts[i] for i in order], [float(scores[i]) for i in order]


def test_langchain_contextual_compression_retriever(store, raw, reranker, direct, cross_encoder_dir):
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_core.documents.compressor import BaseDocumentCompressor

    from lore_rag.integrations.langchain import LoreRetriever
    from lore_rag.integrations.langchain_rerank import LoreRerankCompressor

    base = LoreRetriever(store=store, encoder=raw, k=FETCH_K)
    fetched = [d.page_content for d in base.invoke(QUERY)]
    assert len(fetched) == FETCH_K
    compressor = LoreRerankCompressor(reranker, top_n=TOP_N)
    assert isinstance(compressor, BaseDocumentCompressor)
    retriever = ContextualCompressionRetriever(base_compressor=compressor, base_retriever=base)
    docs = retriever.invoke(QUERY)
    texts, scores = expected_top(direct, fetched)
    assert [d.page_content for d in docs] == texts
    assert np.allclose([d.metadata["relevance_score"] for d in docs], scores, atol=1e-5)
    assert all("rank" in d.metadata for d in docs)  # the base retriever's metadata travels on
    adocs = asyncio.run(retriever.ainvoke(QUERY))
    assert [d.page_content for d in adocs] == texts
    # loaded by path too; empty input stays empty
    by_path = LoreRerankCompressor(str(cross_encoder_dir), top_n=1)
    assert by_path.model == str(cross_encoder_dir) and by_path.top_n == 1
    assert [d.page_content for d in by_path.compress_documents(base.invoke(QUERY), QUERY)] == texts[:1]
    assert by_path.compress_documents([], QUERY) == []


def test_llama_index_postprocessor_in_a_query_engine(store, raw, reranker, direct):
    from llama_index.core import VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.core.postprocessor.types import BaseNodePostprocessor

    from lore_rag.integrations.llama_index import LoreEmbedding, lore_vector_store
    from lore_rag.integrations.llama_index_rerank import LoreRerankPostprocessor

    emb = LoreEmbedding(encoder=raw)
    index = VectorStoreIndex.from_vector_store(lore_vector_store(store, emb), embed_model=emb)
    nodes = index.as_retriever(similarity_top_k=FETCH_K).retrieve(QUERY)
    first_scores = {n.node.node_id: n.score for n in nodes}
    fetched = [n.node.get_content() for n in nodes]
    texts, scores = expected_top(direct, fetched)
    rerank = LoreRerankPostprocessor(reranker, top_n=TOP_N, keep_retrieval_score=True)
    assert isinstance(rerank, BaseNodePostprocessor)
    out = rerank.postprocess_nodes(nodes, query_str=QUERY)
    assert [n.node.get_content() for n in out] == texts
    assert np.allclose([n.score for n in out], scores, atol=1e-5)
    assert all(n.node.metadata["retrieval_score"] == first_scores[n.node.node_id] for n in out)
    # where users put it: node_postprocessors of a query engine
    engine = index.as_query_engine(
        llm=MockLLM(), similarity_top_k=FETCH_K, node_postprocessors=[LoreRerankPostprocessor(reranker, top_n=TOP_N)]
    )
    response = engine.query(QUERY)
    assert [n.node.get_content() for n in response.source_nodes] == texts
    with pytest.raises(ValueError, match="needs the query"):
        rerank.postprocess_nodes(nodes)
    assert LoreRerankPostprocessor.class_name() == "LoreRerankPostprocessor"
