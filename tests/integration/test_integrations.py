"""LlamaIndex and LangChain integrations with a real LORE checkpoint, the real base model and a real Chroma.

Vectors are compared with independently loaded SentenceTransformer models: queries must go through the tuned
query encoder, documents through the original one.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _checkpoints import make_checkpoints, perturbed

from lore_rag.data.io import read_examples
from lore_rag.models.checkpoint import save_checkpoint
from lore_rag.models.encoder import DEFAULT_MODEL, LoreEncoder, bundled_model_path
from lore_rag.retrieval import ChromaStore, Retriever, StoreError, raw_counterpart

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lore"
VALIDATION = DATA / "validation_hotpotqa.jsonl"
QUERY = "Which American director made horror films such as Sinister?"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The raw bundled model, a LORE checkpoint trained from it, and one trained from another base model."""
    made = make_checkpoints(tmp_path_factory.mktemp("models"), name="lore")
    return {"raw": made["raw"], "lore_path": made["lore"], "other_path": made["other"], "root": made["root"]}


@pytest.fixture(scope="module")
def references(models):
    """Independent reference encoders: the checkpoint folder and the bundled model, loaded by sentence-transformers."""
    from sentence_transformers import SentenceTransformer

    tuned = SentenceTransformer(str(models["lore_path"]), device="cpu")
    base = SentenceTransformer(str(bundled_model_path()), device="cpu")

    def enc(model, texts, side="document"):
        encode = model.encode_query if side == "query" else model.encode_document
        return encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    # The checkpoint holds both sides: encode_query is the tuned encoder, encode_document the original.
    return {"tuned": lambda t: enc(tuned, t, "query"), "base": lambda t: enc(base, t)}


@pytest.fixture(scope="module")
def chunks():
    rows = read_examples(VALIDATION)[:2]
    return list(dict.fromkeys(c for r in rows for c in r.chunks))


@pytest.fixture(scope="module")
def raw_index(models, chunks, tmp_path_factory):
    """An index built with the raw model, before any LORE checkpoint is loaded."""
    store = ChromaStore(tmp_path_factory.mktemp("chroma"), collection="raw-built")
    assert store.add_texts(chunks, models["raw"], show_progress=False) == len(chunks)
    return store


def assert_same(a, b, tol=1e-4):
    assert np.allclose(np.asarray(a), np.asarray(b), atol=tol), float(np.abs(np.asarray(a) - np.asarray(b)).max())


def assert_differs(a, b):
    assert float(np.abs(np.asarray(a) - np.asarray(b)).max()) > 1e-3


def test_checkpoint_pairs_tuned_queries_with_the_base_document_model(models, references):
    lore = LoreEncoder.from_checkpoint(models["lore_path"])
    assert not lore.is_raw
    assert lore.document_fingerprint == models["raw"].document_fingerprint
    assert_same(lore.embed_queries([QUERY])[0], references["tuned"]([QUERY])[0])
    assert_same(lore.embed_documents([QUERY])[0], references["base"]([QUERY])[0])
    assert_differs(references["tuned"]([QUERY])[0], references["base"]([QUERY])[0])
    raw = raw_counterpart(lore)
    assert raw.is_raw and raw.document_model is lore.document_model


# ---------------------------------------------------------------------------------------------- LlamaIndex
def test_llama_index_embedding_sends_queries_and_documents_to_the_right_encoder(models, references):
    from lore_rag.integrations.llama_index import LoreEmbedding

    emb = LoreEmbedding(models["lore_path"])
    assert emb.encoder is not None and not emb.encoder.is_raw  # the private attribute survived __init__
    q = emb.get_query_embedding(QUERY)
    t = emb.get_text_embedding(QUERY)
    batch = emb.get_text_embedding_batch([QUERY, "Another text."])
    assert_same(q, references["tuned"]([QUERY])[0])
    assert_same(t, references["base"]([QUERY])[0])
    assert_same(batch, references["base"]([QUERY, "Another text."]))
    assert_differs(q, t)
    assert_same(asyncio.run(emb.aget_query_embedding(QUERY)), q)
    assert_same(asyncio.run(emb.aget_text_embedding(QUERY)), t)


def test_llama_index_vector_store_index_over_chroma(models, references, chunks, tmp_path):
    from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
    from llama_index.core.llms import MockLLM

    from lore_rag.integrations.llama_index import LoreEmbedding, lore_vector_store

    emb = LoreEmbedding(models["lore_path"])
    old_embed, old_llm = Settings._embed_model, Settings._llm
    Settings.embed_model = emb  # only llama-index-core is installed: no OpenAI default to fall back on
    Settings.llm = MockLLM()
    try:
        store = ChromaStore(tmp_path, collection="llama")
        docs = [Document(text=c, metadata={"n": i}, excluded_embed_metadata_keys=["n"]) for i, c in enumerate(chunks)]
        index = VectorStoreIndex.from_documents(
            docs, storage_context=StorageContext.from_defaults(vector_store=lore_vector_store(store, emb))
        )
        stored = store.collection.get(include=["embeddings", "documents"])
        assert len(stored["ids"]) == len(chunks)
        assert_same(stored["embeddings"], references["base"](list(stored["documents"])))
        assert store.document_fingerprint == models["raw"].document_fingerprint

        nodes = index.as_retriever(similarity_top_k=3).retrieve(QUERY)
        q_tuned, q_raw = references["tuned"]([QUERY])[0], references["base"]([QUERY])[0]
        for node in nodes:  # LlamaIndex's Chroma score is exp(-cosine distance)
            d = references["base"]([node.node.get_content()])[0]
            assert node.score == pytest.approx(np.exp(-(1 - float(d @ q_tuned))), abs=1e-4)
            assert abs(node.score - np.exp(-(1 - float(d @ q_raw)))) > 1e-5
        response = index.as_query_engine(similarity_top_k=2).query(QUERY)
        assert len(response.source_nodes) == 2
    finally:
        Settings._embed_model, Settings._llm = old_embed, old_llm


def test_llama_index_reads_an_index_built_by_lore_rag(models, raw_index, references):
    from llama_index.core import VectorStoreIndex

    from lore_rag.integrations.llama_index import LoreEmbedding, lore_vector_store

    emb = LoreEmbedding(models["lore_path"])
    index = VectorStoreIndex.from_vector_store(lore_vector_store(raw_index, emb), embed_model=emb)
    nodes = index.as_retriever(similarity_top_k=2).retrieve(QUERY)
    assert "Scott Derrickson" in nodes[0].node.get_content()


def test_llama_index_refuses_a_mismatched_base_model(models, raw_index):
    from lore_rag.integrations.llama_index import LoreEmbedding, lore_vector_store

    with pytest.raises(StoreError, match="base model"):
        lore_vector_store(raw_index, LoreEmbedding(models["other_path"]))


# ---------------------------------------------------------------------------------------------- LangChain
def test_langchain_embeddings_send_queries_and_documents_to_the_right_encoder(models, references):
    from lore_rag.integrations.langchain import LoreEmbeddings

    emb = LoreEmbeddings(models["lore_path"])
    q = emb.embed_query(QUERY)
    docs = emb.embed_documents([QUERY, "Another text."])
    assert_same(q, references["tuned"]([QUERY])[0])
    assert_same(docs, references["base"]([QUERY, "Another text."]))
    assert_differs(q, docs[0])
    assert_same(asyncio.run(emb.aembed_query(QUERY)), q)
    assert_same(asyncio.run(emb.aembed_documents([QUERY])), docs[:1])


def test_langchain_chroma_over_the_raw_built_index(models, raw_index, references):
    from lore_rag.integrations.langchain import LoreEmbeddings, lore_chroma

    before = raw_index.count()
    vectorstore = lore_chroma(raw_index, LoreEmbeddings(models["lore_path"]))
    results = vectorstore.similarity_search_with_score(QUERY, k=3)
    q = references["tuned"]([QUERY])[0]
    for doc, distance in results:
        d = references["base"]([doc.page_content])[0]
        assert distance == pytest.approx(1 - float(d @ q), abs=1e-4)
    assert "Scott Derrickson" in results[0][0].page_content
    assert raw_index.count() == before  # nothing re-indexed


def test_langchain_retriever_returns_scores_in_metadata(models, raw_index, references):
    from lore_rag.integrations.langchain import LoreEmbeddings, LoreRetriever

    retriever = LoreRetriever(store=raw_index, encoder=LoreEmbeddings(models["lore_path"]), k=3)
    docs = retriever.invoke(QUERY)
    assert [d.metadata["rank"] for d in docs] == [1, 2, 3]
    q = references["tuned"]([QUERY])[0]
    for doc in docs:
        d = references["base"]([doc.page_content])[0]
        assert doc.metadata["score"] == pytest.approx(float(d @ q), abs=1e-4)
        assert doc.id == doc.metadata["id"]
    assert docs[0].metadata["score"] >= docs[1].metadata["score"] >= docs[2].metadata["score"]
    assert [d.page_content for d in asyncio.run(retriever.ainvoke(QUERY))] == [d.page_content for d in docs]
    with pytest.raises(StoreError, match="base model"):
        LoreRetriever(store=raw_index, encoder=LoreEncoder.from_checkpoint(models["other_path"]))


def test_lcel_chain_retriever_prompt_llm(models, raw_index):
    """retriever | prompt | llm: the retrieval side is real, the chat model a langchain-core fake."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    from lore_rag.integrations.langchain import LoreRetriever

    retriever = LoreRetriever(store=raw_index, encoder=LoreEncoder.from_checkpoint(models["lore_path"]), k=2)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the context only.\n\n{context}"), ("human", "{question}")]
    )
    seen = []

    def spy(value):
        seen.append(value)
        return value

    chain = (
        {
            "context": retriever | (lambda docs: "\n\n".join(d.page_content for d in docs)),
            "question": RunnablePassthrough(),
        }
        | prompt
        | RunnableLambda(spy)
        | FakeListChatModel(responses=["American"])
        | StrOutputParser()
    )
    assert chain.invoke(QUERY) == "American"
    messages = seen[0].to_messages()
    expected = retriever.invoke(QUERY)[0].page_content
    assert expected in messages[0].content and messages[1].content == QUERY


# ---------------------------------------------------------------------------------------------- store guard
def test_raw_built_index_answers_a_checkpoint_trained_after_it(models, raw_index, references, tmp_path):
    """The index exists first; the checkpoint is made afterwards and queries it without re-indexing."""
    raw = models["raw"]
    save_checkpoint(
        perturbed(raw.query_model, seed=7),
        tmp_path / "late",
        {"base_model": DEFAULT_MODEL, "base_fingerprint": raw.document_fingerprint},
    )
    late = LoreEncoder.from_checkpoint(tmp_path / "late")
    before = raw_index.count()
    hits = Retriever(raw_index, late, k=3).search(QUERY)
    assert len(hits) == 3 and raw_index.count() == before
    q = late.embed_queries([QUERY])[0]
    for hit in hits:
        assert hit.score == pytest.approx(float(references["base"]([hit.text])[0] @ q), abs=1e-4)
    assert raw_index.add_texts([hits[0].text], late, show_progress=False) == 0


def test_mismatched_base_model_is_refused(models, raw_index):
    other = LoreEncoder.from_checkpoint(models["other_path"])
    assert other.document_fingerprint != models["raw"].document_fingerprint
    with pytest.raises(StoreError) as err:
        Retriever(raw_index, other)
    message = str(err.value)
    assert models["raw"].document_fingerprint in message and other.document_fingerprint in message
    assert "base model" in message
    with pytest.raises(StoreError):
        raw_index.add_texts(["some new text"], other, show_progress=False)


@pytest.mark.slow
def test_corpus_eval_raw_vs_lore_on_the_validation_file(models, capsys):
    from lore_rag.evaluation.corpus import evaluate_corpus, format_corpus_table

    examples = read_examples(VALIDATION)[:20]
    lore = LoreEncoder.from_checkpoint(models["lore_path"])
    result = evaluate_corpus({"raw": raw_counterpart(lore), "LORE": lore}, examples, show_progress=False)
    table = format_corpus_table(result)
    with capsys.disabled():
        print("\n" + table)
    n_chunks = result["n_chunks"]
    assert result["n_queries"] == 20 and n_chunks == len({c for e in examples for c in e.chunks})
    for metrics in result["models"].values():
        # far above chance (10 of ~200 chunks in the top 10 would be 5 %)
        assert metrics["P@10"] > 4 * 100 * 10 / n_chunks
        assert 0 <= metrics["MRR@10"] <= 1 and 0 <= metrics["nDCG@10"] <= 1
    assert "| raw |" in table and "| LORE |" in table


def test_corpus_eval_fills_the_index_from_the_document_cache(models, tmp_path, monkeypatch):
    from lore_rag.evaluation.corpus import evaluate_corpus
    from lore_rag.models.doc_cache import DocEmbeddingCache

    examples = read_examples(VALIDATION)[:12]
    lore = LoreEncoder.from_checkpoint(models["lore_path"])
    named = {"raw": raw_counterpart(lore), "LORE": lore}
    direct = evaluate_corpus(named, examples, show_progress=False, per_query=True)
    texts = list(dict.fromkeys(c for e in examples for c in e.chunks))
    DocEmbeddingCache(lore.document_model, tmp_path / "cache", show_progress=False).embed(texts)

    def no_encoding(*_args, **_kwargs):
        raise AssertionError("the document encoder ran although every chunk is in the cache")

    for encoder in named.values():
        monkeypatch.setattr(encoder, "embed_documents", no_encoding)
    cached = evaluate_corpus(named, examples, show_progress=False, per_query=True, document_cache=tmp_path / "cache")
    for name in named:
        assert [row["top"] for row in cached["per_query"][name]] == [row["top"] for row in direct["per_query"][name]]
        assert cached["models"][name]["P@10"] == direct["models"][name]["P@10"]


def test_bf16_vectors_are_close_to_fp32_and_cached_apart(models, tmp_path):
    from lore_rag.errors import ConfigError
    from lore_rag.models.doc_cache import DocEmbeddingCache

    texts = list(dict.fromkeys(c for e in read_examples(VALIDATION)[:4] for c in e.chunks))
    lore = LoreEncoder.from_checkpoint(models["lore_path"])
    half = LoreEncoder.from_checkpoint(models["lore_path"], precision="bf16")
    fp32 = DocEmbeddingCache(lore.document_model, tmp_path, show_progress=False)
    bf16 = DocEmbeddingCache(lore.document_model, tmp_path, show_progress=False, precision="bf16")
    assert bf16.namespace == fp32.namespace + "-bf16"
    a, b = fp32.embed(texts), bf16.embed(texts)
    assert a.dtype == b.dtype == np.float32 and not np.array_equal(a, b)  # bf16 really ran
    assert np.min(np.sum(a * b, axis=1)) > 0.99  # and stays the same embedding space
    assert_same(a, lore.embed_documents(texts), tol=1e-4)
    assert np.min(np.sum(a * half.embed_documents(texts), axis=1)) > 0.99
    assert len(DocEmbeddingCache(lore.document_model, tmp_path, show_progress=False)) == len(texts)  # fp32 kept
    with pytest.raises(ConfigError, match="precision"):
        DocEmbeddingCache(lore.document_model, tmp_path, precision="fp8")


def test_integrations_import_without_the_frameworks():
    code = """
import sys
for name in ("llama_index", "llama_index.core", "langchain_core", "langchain_chroma"):
    sys.modules[name] = None
import lore_rag.integrations as integrations
out = {}
for attr in ("LoreEmbedding", "LoreEmbeddings"):
    try:
        getattr(integrations, attr)
    except ImportError as exc:
        out[attr] = str(exc)
print(json.dumps(out))
"""
    repo = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)}
    result = subprocess.run(
        [sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True, timeout=120, env=env
    )
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert "lore-rag[llama-index]" in out["LoreEmbedding"]
    assert "lore-rag[langchain]" in out["LoreEmbeddings"]


@pytest.fixture(scope="module")
def llm_client():
    """The bundled SmolLM2 on a local llama.cpp server (lore_rag.llm), stopped after the module."""
    from lore_rag.llm import connect, missing_server_packages

    missing = missing_server_packages()
    if missing:
        pytest.fail(f"the local LLM server needs {', '.join(missing)} (pip install 'lore-rag[llm]')")
    with connect(local=True, max_tokens=48) as client:
        yield client


@pytest.mark.slow
def test_rag_chains_with_a_real_llm(models, raw_index, llm_client):
    """LangChain LCEL chain and LlamaIndex query engine, both over the raw-built index, answered by a real LLM."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough
    from llama_index.core import VectorStoreIndex

    from lore_rag.integrations.langchain import LoreChatModel, LoreRetriever
    from lore_rag.integrations.llama_index import LoreEmbedding, LoreLLM, lore_vector_store

    question = "What is Scott Derrickson's nationality?"
    retriever = LoreRetriever(store=raw_index, encoder=LoreEncoder.from_checkpoint(models["lore_path"]), k=2)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer in a few words from this context:\n\n{context}"), ("human", "{question}")]
    )
    seen = []
    chain = (
        {
            "context": retriever | (lambda docs: "\n\n".join(d.page_content for d in docs)),
            "question": RunnablePassthrough(),
        }
        | prompt
        | RunnableLambda(lambda p: seen.append(p) or p)
        | LoreChatModel(client=llm_client)
        | StrOutputParser()
    )
    answer = chain.invoke(question)
    assert isinstance(answer, str) and answer.strip()
    assert "Scott Derrickson" in seen[0].to_messages()[0].content
    assert llm_client.stats["requests"] >= 1

    emb = LoreEmbedding(models["lore_path"])
    engine = VectorStoreIndex.from_vector_store(lore_vector_store(raw_index, emb), embed_model=emb).as_query_engine(
        llm=LoreLLM(llm_client), similarity_top_k=2
    )
    response = engine.query(question)
    assert str(response).strip()
    assert any("Scott Derrickson" in n.node.get_content() for n in response.source_nodes)
