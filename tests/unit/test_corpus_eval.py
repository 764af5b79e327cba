"""Corpus-wide metrics: hand-computed values, and evaluate_corpus on a real embedded Chroma with fake encoders."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lore_rag.data.schema import Example, Tier
from lore_rag.errors import ConfigError, DataError
from lore_rag.evaluation.corpus import evaluate_corpus, format_corpus_table, query_metrics
from lore_rag.retrieval import chunk_id

P, N1, N2 = Tier.POSITIVE, Tier.DISTRACTOR, Tier.NEGATIVE
DIM = 8
E = np.eye(DIM, dtype=np.float32)


class FakeEncoder:
    def __init__(self, name, queries, fingerprint="docfp"):
        self.name = name
        self.document_fingerprint = fingerprint
        self.dim = DIM
        self.manifest = {}
        self.queries = queries
        self.docs = {"p1": E[0], "d1": E[1], "n1": E[2], "p2": E[3], "n2": E[4]}
        self.doc_calls = 0

    def embed_documents(self, texts, **_):
        self.doc_calls += len(texts)
        return np.stack([self.docs[t] for t in texts])

    def embed_queries(self, queries, **_):
        vs = np.stack([np.asarray(self.queries[q], dtype=np.float32) for q in queries])
        return vs / np.linalg.norm(vs, axis=1, keepdims=True)


# "p1" is the evidence of q1 and a distractor of q2: a chunk's tier is per query.
EXAMPLES = [
    Example(query="q1", chunks=["p1", "d1", "n1"], tiers=[P, N1, N2], id="e1", original_query="o1"),
    Example(query="q2", chunks=["p2", "p1", "n2"], tiers=[P, N1, N2], id="e2"),
]


def good():
    return FakeEncoder("good", {"q1": E[0] + 0.5 * E[2], "q2": E[3] + 0.5 * E[4], "o1": E[0]})


def bad():
    return FakeEncoder("bad", {"q1": E[1] + 0.5 * E[0], "q2": E[0] + 0.5 * E[3]})


def test_query_metrics_by_hand():
    m = query_metrics(["a", "x", "b", "y", "z"], {"a", "b"}, {"x", "w"}, ks=(1, 3))
    assert m["P@1"] == 50.0 and m["P@3"] == 100.0
    assert m["N1@1"] == 0.0 and m["N1@3"] == 50.0
    assert m["N1count@3"] == 1.0 and m["N1any@3"] == 100.0 and m["N1any@1"] == 0.0
    assert m["MRR@10"] == 1.0
    assert m["nDCG@10"] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    m = query_metrics(["x", "y", "b"], {"b"}, set(), ks=(3,))
    assert m["MRR@10"] == pytest.approx(1 / 3)
    assert m["nDCG@10"] == pytest.approx(0.5)
    assert m["N1@3"] == 0.0  # no distractors: counts 0
    assert query_metrics(["x"] * 10 + ["b"], {"b"}, set(), ks=(3,))["MRR@10"] == 0.0  # beyond 10
    with pytest.raises(ValueError):
        query_metrics(["a"], set(), set(), ks=(1,))


def test_evaluate_corpus_ranks_over_the_whole_index(tmp_path):
    g, b = good(), bad()
    result = evaluate_corpus({"good": g, "bad": b}, EXAMPLES, ks=(1, 3), show_progress=False, per_query=True)
    assert result["n_chunks"] == 5 and result["n_queries"] == 2 and result["ks"] == [1, 3]
    assert g.doc_calls + b.doc_calls == 5  # one shared collection, each distinct chunk embedded once
    mg, mb = result["models"]["good"], result["models"]["bad"]
    assert mg["P@1"] == 100.0 and mg["N1@1"] == 0.0 and mg["MRR@10"] == 1.0
    assert mb["P@1"] == 0.0 and mb["N1@1"] == 100.0 and mb["MRR@10"] == 0.5
    assert mb["P@3"] == 100.0 and mb["N1count@3"] == 1.0
    assert mg["n"] == 2.0
    top = result["per_query"]["bad"][1]["top"]
    assert top[0] == chunk_id("p1")
    table = format_corpus_table(result)
    assert "| good |" in table and "| bad |" in table and "P@1" in table and "nDCG@10" in table
    assert table.index("| good |") < table.index("| bad |")


class CountingEncoder(FakeEncoder):
    """Counts query-encoding calls, to tell one-at-a-time searches from batched ones."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.query_calls = 0

    def embed_queries(self, queries, **kwargs):
        self.query_calls += 1
        return super().embed_queries(queries, **kwargs)


def test_batched_search_ranks_as_the_timed_one_and_reports_no_latency():
    timed_enc, batched_enc = (CountingEncoder("bad", bad().queries) for _ in range(2))
    timed = evaluate_corpus([timed_enc], EXAMPLES, ks=(1, 3), show_progress=False, per_query=True)
    batched = evaluate_corpus([batched_enc], EXAMPLES, ks=(1, 3), show_progress=False, per_query=True, latency=False)
    assert timed_enc.query_calls == 2 and batched_enc.query_calls == 1  # one call per query vs one batch
    assert batched["per_query"] == timed["per_query"]
    assert "ms/query" in timed["models"]["bad"] and not any("ms/query" in k for k in batched["models"]["bad"])
    assert {k: v for k, v in timed["models"]["bad"].items() if "ms/query" not in k} == batched["models"]["bad"]
    assert "ms/query" in format_corpus_table(timed) and "ms/query" not in format_corpus_table(batched)


def test_other_document_encoder_gets_its_own_collection():
    g = good()
    other = good()
    other.name, other.document_fingerprint = "other", "another-base"
    result = evaluate_corpus([g, other], EXAMPLES, ks=(1,), show_progress=False)
    assert g.doc_calls == 5 and other.doc_calls == 5
    assert result["models"]["other"]["P@1"] == 100.0


def test_store_dir_is_reused(tmp_path):
    g = good()
    evaluate_corpus([g], EXAMPLES, store_dir=tmp_path, show_progress=False)
    g2 = good()
    again = evaluate_corpus([g2], EXAMPLES, store_dir=tmp_path, show_progress=False)
    assert g2.doc_calls == 0
    assert again["models"]["good"]["P@3"] == 100.0


def test_original_query_field_uses_rows_that_have_one():
    result = evaluate_corpus([good()], EXAMPLES, ks=(1,), show_progress=False, query_field="original_query")
    assert result["n_queries"] == 1 and result["query_field"] == "original_query"
    assert result["models"]["good"]["P@1"] == 100.0


def test_bad_arguments():
    with pytest.raises(ConfigError):
        evaluate_corpus([], EXAMPLES, show_progress=False)
    with pytest.raises(ConfigError):
        evaluate_corpus([good()], EXAMPLES, ks=(0,), show_progress=False)
    with pytest.raises(ConfigError):
        evaluate_corpus([good()], EXAMPLES, query_field="title", show_progress=False)
    no_positive = [Example(query="q1", chunks=["d1"], tiers=[N1])]
    with pytest.raises(DataError):
        evaluate_corpus([good()], no_positive, show_progress=False)


def test_exact_search_per_query_matches_the_chroma_evaluation():
    from lore_rag.evaluation.corpus import corpus_task, exact_corpus_per_query, per_query_arrays

    for make in (good, bad):
        enc = make()
        chroma = evaluate_corpus({"m": enc}, EXAMPLES, ks=(1, 3), show_progress=False, per_query=True)
        task = corpus_task(EXAMPLES)
        exact = exact_corpus_per_query(
            task, enc.embed_queries(task.queries), enc.embed_documents(task.texts), ks=(1, 3)
        )
        arrays = per_query_arrays(chroma, "m")
        assert set(exact) == set(arrays)
        for key in arrays:
            assert exact[key].tolist() == pytest.approx(arrays[key].tolist()), key
    with pytest.raises(ConfigError, match="per_query=True"):
        per_query_arrays(evaluate_corpus([good()], EXAMPLES, ks=(1,), show_progress=False), "good")
    task = corpus_task(EXAMPLES, query_field="original_query")
    assert task.queries == ["o1"] and len(task.texts) == 5
    with pytest.raises(ConfigError, match="query_field"):
        corpus_task(EXAMPLES, query_field="title")
