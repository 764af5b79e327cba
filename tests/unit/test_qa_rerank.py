"""qa-eval with a reranker stage: the four-row table (raw, raw + reranker, lore, lore + reranker) and latency.

Fake encoders, a fake cross-encoder and a fake LLM (see test_qa_run.py): raw retrieves each question's
distractor first, LORE its gold chunk; the fake cross-encoder scores gold chunks highest, so reranking the top
fetch_k fixes raw retrieval when fetch_k reaches the gold chunk, and only then.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from test_qa_run import N_QUESTIONS, FakeLLM, _config, _encoders, _results, _rows, _write

from lore_rag.errors import ConfigError
from lore_rag.evaluation.qa_run import QARunError, format_table, load_summary, run_qa_eval
from lore_rag.retrieval.rerank import Reranker


class GoldFirstCrossEncoder:
    """Scores a pair 2 for the question's own gold chunk, 1 for its distractor, 0 otherwise."""

    num_labels = 1
    max_seq_length = 64

    def __init__(self) -> None:
        self.pairs = 0

    def predict(self, pairs, batch_size=32, show_progress_bar=None, convert_to_numpy=True):  # noqa: ANN001
        self.pairs += len(pairs)
        return np.asarray([self._score(q, t) for q, t in pairs])

    @staticmethod
    def _score(query: str, text: str) -> float:
        n = re.findall(r"question (\d+)\?", query)[0]
        return 2.0 if f"Gold fact {n}:" in text else 1.0 if f"distractor {n}:" in text else 0.0


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LORE_RAG_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return _write(tmp_path / "toy.jsonl", _rows())


# candidates: each question's 4 own chunks; open: the 24 chunks of the shared index (the gold one is anywhere)
@pytest.mark.parametrize(("setting", "fetch_k"), [("candidates", 4), ("open", 4 * N_QUESTIONS)])
def test_four_rows_side_by_side_with_latency(home: Path, data: Path, tmp_path: Path, setting: str, fetch_k: int):
    model = GoldFirstCrossEncoder()
    out = tmp_path / setting
    result = run_qa_eval(
        _config(data, out, setting=setting, fetch_k=fetch_k, reranker="fake"),
        FakeLLM(),
        encoders=_encoders(_rows()),
        reranker=Reranker(model, name="gold-first"),
    )
    names = [m["model"] for m in result.models]
    assert names == ["raw", "raw + reranker", "lore", "lore + reranker"]
    by = {m["model"]: m for m in result.models}
    assert by["raw"]["P@k"] == 0.0 and by["raw"]["N1@k"] == 100.0 and by["raw"]["EM"] == 0.0
    for name in ("raw + reranker", "lore", "lore + reranker"):
        assert by[name]["P@k"] == 100.0 and by[name]["N1@k"] == 0.0 and by[name]["EM"] == 100.0, name
    assert (by["raw + reranker"]["wins"], by["raw + reranker"]["losses"]) == (N_QUESTIONS, 0)
    assert all(m["ms/query"] > 0 for m in result.models)
    assert model.pairs == 2 * N_QUESTIONS * fetch_k  # each question's top fetch_k pairs, for raw and for lore
    assert result.reranker["name"] == "gold-first" and result.reranker["fetch_k"] == fetch_k
    rows = _results(out)
    assert all(r["retrieval_ms"] > 0 for r in rows) and len(rows) == 4 * N_QUESTIONS
    table = format_table(result)
    assert table.count("| raw + reranker |") == 1 and "| lore + reranker |" in table and "ms/query" in table
    assert "`gold-first`" in table and "`fake-llm`" in table
    assert load_summary(out)["reranker"]["fetch_k"] == fetch_k
    per_q = [json.loads(x) for x in (out / "per_question.jsonl").read_text().splitlines()]
    assert per_q[0]["raw + reranker.retrieved"] == "P" and per_q[0]["raw.retrieved"] == "N1"


def test_a_reranker_only_reaches_the_top_fetch_k(home: Path, data: Path, tmp_path: Path):
    # raw ranks the distractor first and the gold chunk somewhere below: with fetch_k = k = 1 nothing changes
    result = run_qa_eval(
        _config(data, tmp_path / "run", k=1, fetch_k=1, reranker="fake"),
        FakeLLM(),
        encoders=_encoders(_rows()),
        reranker=Reranker(GoldFirstCrossEncoder(), name="gold-first"),
    )
    by = {m["model"]: m for m in result.models}
    assert by["raw + reranker"]["P@k"] == by["raw"]["P@k"] == 0.0


def test_reranked_rows_are_added_to_a_finished_run_and_resume(home: Path, data: Path, tmp_path: Path):
    out = tmp_path / "run"
    encoders = _encoders(_rows())
    first = FakeLLM()
    run_qa_eval(_config(data, out), first, encoders=encoders)
    assert first.calls == 2 * N_QUESTIONS
    second = FakeLLM()
    model = GoldFirstCrossEncoder()
    result = run_qa_eval(
        _config(data, out, reranker="fake", fetch_k=4), second, encoders=encoders, reranker=Reranker(model, name="g")
    )
    assert [m["model"] for m in result.models] == ["raw", "raw + reranker", "lore", "lore + reranker"]
    assert second.calls == 0  # the reranked rows retrieve gold chunks: lore's answers, already cached
    assert result.cache_hits == 2 * N_QUESTIONS
    third = FakeLLM()
    again = run_qa_eval(
        _config(data, out, reranker="fake", fetch_k=4), third, encoders=encoders, reranker=Reranker(model, name="g")
    )
    assert third.calls == 0 and again.cache_hits == 0  # nothing left to do
    # the same labels with a different fetch_k are a different retriever: refused, not mixed
    with pytest.raises(QARunError, match="raw \\+ reranker"):
        run_qa_eval(
            _config(data, out, reranker="fake", fetch_k=3), FakeLLM(), encoders=encoders, reranker=Reranker(model)
        )


def test_fetch_k_needs_a_reranker_and_at_least_k(data: Path, tmp_path: Path):
    with pytest.raises(ConfigError, match="field 'fetch_k'.*set 'reranker'"):
        _config(data, tmp_path / "a", fetch_k=5).validate()
    with pytest.raises(ConfigError, match="field 'fetch_k' .1. must be at least the number of chunks kept .k=3."):
        _config(data, tmp_path / "a", k=3, fetch_k=1, reranker="x").validate()
