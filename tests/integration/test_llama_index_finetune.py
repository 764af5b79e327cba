"""LoreFinetuneEngine (SentenceTransformersFinetuneEngine's shape) and the LlamaIndex behaviours users rely on,
with a real (briefly) trained checkpoint and a real Chroma store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from lore_rag.data.io import read_examples
from lore_rag.errors import ConfigError, DataError
from lore_rag.integrations.finetune import LoreFinetuneEngine, QADataset, qa_dataset_rows
from lore_rag.models.encoder import bundled_model_path
from lore_rag.retrieval import ChromaStore

pytestmark = pytest.mark.integration

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lore" / "validation_hotpotqa.jsonl"


def qa_dataset(rows) -> QADataset:
    """An EmbeddingQAFinetuneDataset-shaped set from real HotpotQA rows: plain questions, gold paragraphs."""
    corpus, queries, relevant = {}, {}, {}
    for row in rows:
        for chunk, label in zip(row.chunks, row.tiers, strict=True):
            cid = corpus.setdefault(chunk, f"c{len(corpus)}")
            if int(label) == 1:
                relevant.setdefault(row.id, []).append(cid)
        queries[row.id] = row.original_query or row.query
    return QADataset(queries=queries, corpus={v: k for k, v in corpus.items()}, relevant_docs=relevant)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("finetune")
    rows = read_examples(VALIDATION)[:24]
    qa_dataset(rows[:16]).save_json(root / "train_dataset.json")
    qa_dataset(rows[16:]).save_json(root / "val_dataset.json")
    engine = LoreFinetuneEngine(
        QADataset.from_json(root / "train_dataset.json"),
        model_output_path=str(root / "run"),
        val_dataset=str(root / "val_dataset.json"),
        batch_size=8,
        offline=True,
        candidates=6,
        show_progress_bar=False,
        train_options={"max_steps": 2, "lr": 5e-5, "cache_dir": str(root / "cache"), "save_steps": 2},
    )
    result = engine.finetune()
    return {"root": root, "engine": engine, "result": result, "rows": rows}


def test_engine_builds_tiered_rows_from_a_qa_dataset_and_trains(run):
    engine, result = run["engine"], run["result"]
    built = read_examples(engine.data_dir / "train_offline.jsonl")
    assert 0 < len(built) <= 16
    rewritten = [e for e in built if e.original_query and e.query != e.original_query]
    assert rewritten, "offline rewriting wove distractors into some queries"
    assert any(-1 in [int(t) for t in e.tiers] for e in rewritten)  # mined distractors (N1)
    for example in built:
        assert sum(int(t) == 1 for t in example.tiers) >= 1
    assert (engine.data_dir / "validation_offline.jsonl").is_file()
    assert result.best.is_dir() and (result.best / "lore_manifest.json").is_file()
    manifest = json.loads((result.best / "lore_manifest.json").read_text())
    assert "train_offline.jsonl" in json.dumps(manifest)


def test_qa_rows_hold_each_querys_gold_and_bm25_candidates(run):
    qa = QADataset.from_json(run["root"] / "train_dataset.json")
    rows = qa_dataset_rows(qa, candidates=3)
    assert len(rows) == len(qa.queries)
    for row in rows:
        gold = {qa.corpus[d] for d in qa.relevant_docs[row.id]}
        assert {c for c, t in zip(row.chunks, row.tiers, strict=True) if int(t) == 1} == gold
        assert len(row.chunks) == len(gold) + 3


def test_bad_datasets_and_options_are_refused(tmp_path):
    with pytest.raises(DataError, match="relevant_docs"):
        QADataset.of({"queries": {"q": "?"}, "corpus": {"c": "text"}, "relevant_docs": {"q": ["nope"]}})
    (tmp_path / "bad.json").write_text('{"queries": [], "corpus": {}, "relevant_docs": {}}')
    with pytest.raises(DataError, match="queries"):
        QADataset.from_json(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="unknown option"):
        LoreFinetuneEngine("x.jsonl", train_options={"learning_rate": 1})


def test_finetuned_model_is_a_lore_embedding_with_tuned_queries_only(run):
    from sentence_transformers import SentenceTransformer

    from lore_rag.integrations.llama_index import LoreEmbedding

    emb = run["engine"].get_finetuned_model(embed_batch_size=3)
    assert isinstance(emb, LoreEmbedding) and emb.embed_batch_size == 3
    query = run["rows"][0].original_query or run["rows"][0].query
    # a two-sided checkpoint: encode_query is the tuned side (plain encode is the document side)
    tuned = SentenceTransformer(str(run["result"].best), device="cpu").encode_query(query, normalize_embeddings=True)
    base = SentenceTransformer(str(bundled_model_path()), device="cpu").encode(query, normalize_embeddings=True)
    assert np.allclose(emb.get_query_embedding(query), tuned, atol=1e-4)
    assert np.allclose(emb.get_text_embedding(query), base, atol=1e-4)
    assert not np.allclose(tuned, base, atol=1e-4)  # two steps moved the query encoder
    # the engine also takes tiered JSONL as it is
    again = LoreFinetuneEngine(
        str(run["engine"].data_dir / "train_offline.jsonl"),
        model_output_path=str(run["root"] / "run2"),
        batch_size=8,
        show_progress_bar=False,
        train_options={"max_steps": 1, "cache_dir": str(run["root"] / "cache")},
    )
    assert (again.finetune().best / "lore_manifest.json").is_file()


def test_llama_index_behaviours_over_real_chroma(run, tmp_path):
    """Batch size, async query embedding, as_retriever(similarity_top_k) and metadata filters, as users call them."""
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

    from lore_rag.integrations.llama_index import lore_vector_store

    emb = run["engine"].get_finetuned_model(embed_batch_size=3)
    seen: list[int] = []
    embed_documents = emb.encoder.embed_documents

    def spy(texts, **kwargs):
        seen.append(len(texts))
        return embed_documents(texts, **kwargs)

    emb.encoder.embed_documents = spy  # type: ignore[method-assign]
    rows = run["rows"][:3]
    nodes = [
        TextNode(text=chunk, metadata={"row": n, "title": f"t{n}"}, excluded_embed_metadata_keys=["row", "title"])
        for n, row in enumerate(rows)
        for chunk in row.chunks[:4]
    ]
    store = ChromaStore(tmp_path, collection="llama-finetune")
    index = VectorStoreIndex(
        nodes, storage_context=StorageContext.from_defaults(vector_store=lore_vector_store(store, emb)), embed_model=emb
    )
    assert seen == [3, 3, 3, 3] and store.count() == 12  # embed_batch_size is honoured
    query = rows[1].original_query or rows[1].query

    # async query embedding gives the sync one
    assert np.allclose(asyncio.run(emb.aget_query_embedding(query)), emb.get_query_embedding(query), atol=1e-6)
    retriever = index.as_retriever(similarity_top_k=2)
    found = retriever.retrieve(query)
    assert len(found) == 2
    assert [n.node.node_id for n in asyncio.run(retriever.aretrieve(query))] == [n.node.node_id for n in found]
    # ranked by the tuned query vector against the stored (base model) document vectors
    q = np.asarray(emb.get_query_embedding(query))
    docs = np.asarray(emb.encoder.document_model.encode([n.get_content() for n in nodes], normalize_embeddings=True))
    best = {nodes[i].get_content() for i in np.argsort(-(docs @ q))[:2]}
    assert {n.node.get_content() for n in found} == best

    # metadata filters, exact and with an operator
    only_row2 = MetadataFilters(filters=[MetadataFilter(key="row", value=2)])
    hits = index.as_retriever(similarity_top_k=10, filters=only_row2).retrieve(query)
    assert len(hits) == 4 and {h.node.metadata["row"] for h in hits} == {2}
    not_row2 = MetadataFilters(filters=[MetadataFilter(key="row", value=2, operator=FilterOperator.NE)])
    hits = index.as_retriever(similarity_top_k=10, filters=not_row2).retrieve(query)
    assert len(hits) == 8 and 2 not in {h.node.metadata["row"] for h in hits}
