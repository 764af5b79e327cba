"""The reranker stage with a real sentence-transformers CrossEncoder, a real Chroma and the real bi-encoders.

The cross-encoder is built from the bundled all-MiniLM-L6-v2 weights with an untrained (seeded) head
(``_cross_encoder.py``): its ranking is arbitrary, so every check compares our reranking with the same model's
own ``CrossEncoder.predict`` scores, computed independently, never with a hoped-for relevance order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _checkpoints import make_checkpoints
from _cross_encoder import make_cross_encoder

from lore_rag.cli import main
from lore_rag.data.io import read_examples, write_examples
from lore_rag.retrieval import ChromaStore, Retriever
from lore_rag.retrieval.rerank import RerankedHit, Reranker

pytestmark = pytest.mark.integration

VALIDATION = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lore" / "validation_hotpotqa.jsonl"
QUERY = "Which American director made horror films such as Sinister?"


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory) -> Path:
    return make_cross_encoder(tmp_path_factory.mktemp("rerank") / "tiny-ce")


@pytest.fixture(scope="module")
def direct(cross_encoder_dir):
    """The same cross-encoder loaded by sentence-transformers itself: the reference scores."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(cross_encoder_dir), device="cpu")
    return lambda query, texts: np.asarray(model.predict([(query, t) for t in texts], show_progress_bar=False))


@pytest.fixture(scope="module")
def reranker(cross_encoder_dir) -> Reranker:
    return Reranker.load(cross_encoder_dir)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return make_checkpoints(tmp_path_factory.mktemp("rerank-models"))


@pytest.fixture(scope="module")
def rows():
    return read_examples(VALIDATION)[:4]


@pytest.fixture(scope="module")
def store(models, rows, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("rerank-store")
    chunks = list(dict.fromkeys(c for r in rows for c in r.chunks))
    ChromaStore(folder, collection="lore").add_texts(chunks, models["raw"], show_progress=False)
    return folder


def test_scores_are_the_cross_encoders_own(reranker, direct, rows):
    texts = rows[0].chunks
    ours = reranker.score(rows[0].query, texts)
    assert ours.shape == (len(texts),) and ours.dtype == np.float32
    assert np.allclose(ours, direct(rows[0].query, texts), atol=1e-5)
    assert float(np.ptp(ours)) > 0  # an untrained head still tells the chunks apart
    small = Reranker.load(reranker.describe()["model"], batch_size=2)
    assert np.allclose(small.score(rows[0].query, texts), ours, atol=1e-5)  # batching changes nothing
    assert small.fingerprint == reranker.fingerprint
    assert reranker.name == "tiny-ce" and reranker.max_length == 128


def test_retriever_reranks_the_first_stage_top_fetch_k_by_the_cross_encoder(reranker, direct, models, store):
    chroma = ChromaStore(store, collection="lore")
    first = Retriever(chroma, models["raw"], k=8).search(QUERY)
    hits = Retriever(chroma, models["raw"], k=3, reranker=reranker, fetch_k=8).search(QUERY)
    expected = np.argsort(-direct(QUERY, [h.text for h in first]), kind="stable")[:3]
    assert [h.id for h in hits] == [first[i].id for i in expected]
    assert all(isinstance(h, RerankedHit) for h in hits)
    assert [h.retrieval_rank for h in hits] == [first[i].rank for i in expected]
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_query_cli_reranks_and_reports_the_reranker(cross_encoder_dir, models, store, reranker, capsys):
    args = ["query", QUERY, "--store", str(store), "-k", "3", "--reranker", str(cross_encoder_dir), "--fetch-k", "6"]
    assert main(["-q", *args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reranker"]["fingerprint"] == reranker.fingerprint and out["reranker"]["fetch_k"] == 6
    hits = out["results"][0]["hits"]["raw"]
    assert len(hits) == 3 and all(1 <= h["retrieval_rank"] <= 6 for h in hits)
    chroma = ChromaStore(store, collection="lore")
    expected = Retriever(chroma, models["raw"], k=3, reranker=reranker, fetch_k=6).search(QUERY)
    assert [h["id"] for h in hits] == [h.id for h in expected]
    # LORE vs raw side by side, both reranked
    assert main(["-q", *args, "--model", str(models["lore"]), "--compare", "--width", "160"]) == 0
    text = capsys.readouterr().out
    assert "raw + tiny-ce" in text and "LORE (lore) + tiny-ce" in text and "Reranker: tiny-ce" in text


def test_cli_reranker_errors_are_one_line(models, store, tmp_path, capsys):
    base = ["-q", "query", QUERY, "--store", str(store)]
    assert main([*base, "--fetch-k", "5"]) == 1
    assert "--fetch-k is the number of chunks handed to --reranker" in capsys.readouterr().err
    assert main([*base, "--reranker", str(tmp_path / "nope")]) == 1
    assert "no such reranker folder" in capsys.readouterr().err
    from lore_rag.models.encoder import bundled_model_path

    assert main([*base, "--reranker", str(bundled_model_path())]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("lore-rag: error: ") and "is not a cross-encoder" in err
    assert main([*base, "-k", "5", "--reranker", "x", "--fetch-k", "3"]) == 1
    assert "--fetch-k (3) must be at least the number of chunks kept (k=5)" in capsys.readouterr().err


def test_eval_corpus_prints_raw_reranked_lore_reranked(cross_encoder_dir, models, rows, tmp_path, capsys):
    data = tmp_path / "four.jsonl"
    write_examples(rows, data)
    out = tmp_path / "eval.json"
    argv = ["-q", "eval", "--mode", "corpus", "--model", "raw", str(models["lore"]), "--data", str(data)]
    argv += ["--reranker", str(cross_encoder_dir), "--fetch-k", "12", "--json", str(out), "--no-show-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    corpus = json.loads(out.read_text())["files"][str(data)]["corpus"]
    result = corpus["views"]["rewritten"]
    names = list(result["models"])
    assert len(names) == 4 and names[0] == "raw" and names[1] == "raw + reranker"
    assert names[3] == names[2] + " + reranker"
    for name in names:
        assert f"| {name} |" in text
        assert result["models"][name]["ms/query"] > 0
    assert result["models"]["raw + reranker"]["rerank ms/query"] > 0 and result["models"]["raw"]["rerank ms/query"] == 0
    assert result["reranker"]["fetch_k"] == 12 and "ms/query" in text
    assert main(["-q", "eval", "--reranker", str(cross_encoder_dir), "--data", str(data)]) == 1
    assert "--reranker / --fetch-k work with --mode corpus" in capsys.readouterr().err


def test_demo_session_reranks_both_columns(cross_encoder_dir, models, store, reranker):
    from lore_rag.demo import LORE, RAW, DemoSession
    from lore_rag.models.encoder import LoreEncoder

    lore = LoreEncoder.from_checkpoint(models["lore"])
    session = DemoSession(
        models["raw"], lore, ChromaStore(store, collection="lore"), k=3, reranker=reranker, fetch_k=8, index_data=False
    )
    comparison = session.compare(QUERY)
    for key in (RAW, LORE):
        column = comparison.columns[key]
        assert column.error is None and len(column.hits) == 3, column.error
        assert all(isinstance(h.hit, RerankedHit) for h in column.hits)
        assert column.name.endswith("+ reranker")
    assert session.describe()["reranker"] == "tiny-ce (top 8 of each column rescored)"
    from lore_rag.demo.ui.blocks import _header

    assert "**reranker:** tiny-ce" in _header(session)


def test_app_flags_carry_the_reranker():
    from lore_rag.cli import build_parser

    args = build_parser().parse_args(["app", "--reranker", "cross-encoder/ms-marco-MiniLM-L6-v2", "--fetch-k", "30"])
    assert (args.reranker, args.fetch_k) == ("cross-encoder/ms-marco-MiniLM-L6-v2", 30)
    assert build_parser().parse_args(["app"]).reranker is None
