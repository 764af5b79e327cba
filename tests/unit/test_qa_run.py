"""The qa-eval pipeline with deterministic fake encoders and a fake LLM (no model, no server).

The fake retrievers are built so that the expected ranking is known: the "raw" one maps each question onto its
distractor chunk, the "lore" one onto its gold chunk. The fake LLM answers with the ``ANSWER=...`` word of the
first chunk in its prompt, so answer quality follows retrieval exactly.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from lore_rag.evaluation.qa_run import (
    AnswerCache,
    QAEvalConfig,
    QARunError,
    answer_key,
    format_table,
    load_questions,
    load_summary,
    plot_qa_results,
    run_qa_eval,
)
from lore_rag.models.encoder import LoreEncoder

N_QUESTIONS = 6
DIM = 256


def _hash_vector(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


class FakeST:
    """Enough of a SentenceTransformer for LoreEncoder: text -> fixed random unit vector (after a lookup)."""

    prompts: dict[str, str] = {}
    max_seq_length = 128

    def __init__(self, lookup: dict[str, str] | None = None, name: str = "fake") -> None:
        self.lookup = lookup or {}
        self._lore_fingerprint = hashlib.sha256(json.dumps(self.lookup, sort_keys=True).encode()).hexdigest()[:16]

    def get_sentence_embedding_dimension(self) -> int:
        return DIM

    def encode(self, texts, **kwargs):  # noqa: ANN001, ANN003
        return np.stack([_hash_vector(self.lookup.get(t, t)) for t in texts])


def _rows(n: int = N_QUESTIONS) -> list[dict]:
    rows = []
    for i in range(n):
        rows.append(
            {
                "id": f"q{i}",
                "query": f"disturbed question {i}?",
                "original_query": f"question {i}?",
                "chunks": [
                    f"Gold fact {i}: ANSWER=gold{i}.",
                    f"Tempting distractor {i}: ANSWER=wrong{i}.",
                    f"Unrelated chunk {i}a.",
                    f"Unrelated chunk {i}b.",
                ],
                "labels": [1, -1, 0, 0],
                "answer": f"gold{i}",
                "dataset": "toyqa",
            }
        )
    return rows


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _encoders(rows: list[dict]) -> tuple[LoreEncoder, LoreEncoder]:
    doc = FakeST()
    raw = FakeST({r[q]: r["chunks"][1] for r in rows for q in ("query", "original_query")})
    lore = FakeST({r[q]: r["chunks"][0] for r in rows for q in ("query", "original_query")})
    return LoreEncoder(raw, doc, name="raw"), LoreEncoder(lore, doc, name="lore")


class FakeLLM:
    """Answers with the ANSWER= word of the first chunk in the prompt; counts calls; can fail or stop."""

    def __init__(self, model: str = "fake-llm", *, fail_on: set[str] = frozenset(), stop_after: int | None = None):
        self.model = model
        self.temperature = 0.0
        self.calls = 0
        self.stats: collections.Counter[str] = collections.Counter()
        self.fail_on = fail_on
        self.stop_after = stop_after
        self._lock = threading.Lock()

    def chat(self, messages, *, temperature=None, max_tokens=None, stop=None) -> str:  # noqa: ANN001
        text = "\n".join(m["content"] for m in messages)
        with self._lock:
            self.calls += 1
            self.stats["requests"] += 1
        for word in self.fail_on:
            if word in text:
                raise RuntimeError(f"simulated LLM failure on {word}")
        found = re.findall(r"ANSWER=(\w+)", text)
        return found[0] if found else "unknown"

    def map(self, fn, items, *, concurrency=None, show_progress=True, desc=""):  # noqa: ANN001
        for n, item in enumerate(items):
            if self.stop_after is not None and n >= self.stop_after:
                raise SystemExit("simulated kill")
            try:
                yield item, fn(item)
            except Exception as exc:  # noqa: BLE001
                yield item, exc


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LORE_RAG_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return _write(tmp_path / "toy.jsonl", _rows())


def _config(data: Path, out: Path, **kw) -> QAEvalConfig:
    values = {"data": [str(data)], "models": ["raw", "ckpt"], "names": ["raw", "lore"], "output_dir": str(out),
              "k": 1, "show_progress": False}  # fmt: skip
    values.update(kw)
    return QAEvalConfig(**values)


def _results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]


def test_lore_retrieval_gives_better_answers_than_distractor_retrieval(home: Path, data: Path, tmp_path: Path):
    llm = FakeLLM()
    out = tmp_path / "run"
    result = run_qa_eval(_config(data, out), llm, encoders=_encoders(_rows()))
    raw, lore = result.models
    assert (raw["model"], lore["model"]) == ("raw", "lore")
    assert raw["P@k"] == 0.0 and raw["N1@k"] == 100.0 and raw["EM"] == 0.0 and raw["F1"] == 0.0
    assert lore["P@k"] == 100.0 and lore["N1@k"] == 0.0 and lore["EM"] == 100.0 and lore["F1"] == 100.0
    assert (lore["wins"], lore["ties"], lore["losses"]) == (N_QUESTIONS, 0, 0)
    assert result.llm_model == "fake-llm" and result.n_questions == N_QUESTIONS
    assert result.llm_calls == llm.calls == 2 * N_QUESTIONS
    # every row names the reader, and the per-question files tell wins and losses
    rows = _results(out)
    assert len(rows) == 2 * N_QUESTIONS and {r["llm_model"] for r in rows} == {"fake-llm"}
    per_q = [json.loads(x) for x in (out / "per_question.jsonl").read_text().splitlines()]
    assert [r["lore.vs_raw"] for r in per_q] == ["win"] * N_QUESTIONS
    assert per_q[0]["raw.retrieved"] == "N1" and per_q[0]["lore.retrieved"] == "P"
    header = (out / "per_question.csv").read_text().splitlines()[0]
    assert "lore.vs_raw" in header and "raw.answer" in header
    assert load_summary(out)["models"][1]["EM"] == 100.0
    table = format_table(result)
    assert "`fake-llm`" in table and "| lore |" in table and "P@1" in table and "N1@1" in table


def test_retrievers_that_retrieve_the_same_chunks_share_one_llm_call(home: Path, data: Path, tmp_path: Path):
    raw, lore = _encoders(_rows())
    llm = FakeLLM()
    result = run_qa_eval(_config(data, tmp_path / "run"), llm, encoders=[lore, lore])
    assert llm.calls == N_QUESTIONS
    assert result.models[0]["EM"] == result.models[1]["EM"] == 100.0
    assert result.models[1]["ties"] == N_QUESTIONS


def test_rerun_with_another_checkpoint_reuses_the_baseline_answers(home: Path, data: Path, tmp_path: Path):
    raw, lore = _encoders(_rows())
    first = FakeLLM()
    run_qa_eval(_config(data, tmp_path / "a", models=["raw"], names=["raw"]), first, encoders=[raw])
    assert first.calls == N_QUESTIONS
    second = FakeLLM()
    result = run_qa_eval(_config(data, tmp_path / "b"), second, encoders=[raw, lore])
    assert second.calls == N_QUESTIONS  # only the new retriever's prompts
    assert result.cache_hits == N_QUESTIONS
    assert all(r["cached"] for r in _results(tmp_path / "b") if r["model"] == "raw")
    # another reader does not see those answers
    third = FakeLLM(model="other-llm")
    run_qa_eval(_config(data, tmp_path / "c", models=["raw"], names=["raw"]), third, encoders=[raw])
    assert third.calls == N_QUESTIONS


def test_killed_run_resumes_without_recomputing_finished_questions(home: Path, data: Path, tmp_path: Path):
    encoders = _encoders(_rows())
    out = tmp_path / "run"
    crashing = FakeLLM(stop_after=4)
    with pytest.raises(SystemExit):
        run_qa_eval(_config(data, out), crashing, encoders=encoders)
    before = (out / "results.jsonl").read_bytes()
    finished = {(r["qid"], r["model"]) for r in _results(out)}
    assert len(finished) == 4
    # a kill in the middle of a write leaves a torn last line
    with (out / "results.jsonl").open("ab") as handle:
        handle.write(b'{"qid": "q5", "model": "lo')
    resumed = FakeLLM()
    result = run_qa_eval(_config(data, out), resumed, encoders=encoders)
    assert resumed.calls == 2 * N_QUESTIONS - 4
    rows = _results(out)
    assert (out / "results.jsonl").read_bytes().startswith(before)
    keys = [(r["qid"], r["model"]) for r in rows]
    assert len(keys) == len(set(keys)) == 2 * N_QUESTIONS
    assert result.models[1]["EM"] == 100.0
    # a third run has nothing left to do
    idle = FakeLLM()
    again = run_qa_eval(_config(data, out), idle, encoders=encoders)
    assert idle.calls == 0 and again.llm_calls == 0
    assert again.models == result.models


def test_failed_llm_calls_are_left_for_the_next_run(home: Path, data: Path, tmp_path: Path):
    encoders = _encoders(_rows())
    out = tmp_path / "run"
    flaky = FakeLLM(fail_on={"gold2", "wrong3"})
    result = run_qa_eval(_config(data, out), flaky, encoders=encoders)
    assert result.errors == 2
    assert {(r["qid"], r["model"]) for r in _results(out)}.isdisjoint({("q2", "lore"), ("q3", "raw")})
    fixed = FakeLLM()
    result = run_qa_eval(_config(data, out), fixed, encoders=encoders)
    assert fixed.calls == 2 and result.errors == 0
    assert result.models[0]["n"] == result.models[1]["n"] == N_QUESTIONS


def test_run_folder_of_another_run_is_refused(home: Path, data: Path, tmp_path: Path):
    encoders = _encoders(_rows())
    out = tmp_path / "run"
    run_qa_eval(_config(data, out), FakeLLM(), encoders=encoders)
    with pytest.raises(QARunError, match="'k'"):
        run_qa_eval(_config(data, out, k=2), FakeLLM(), encoders=encoders)
    with pytest.raises(QARunError, match="llm_model"):
        run_qa_eval(_config(data, out), FakeLLM(model="other"), encoders=encoders)
    with pytest.raises(QARunError, match="different model"):
        run_qa_eval(_config(data, out), FakeLLM(), encoders=encoders[::-1])
    llm = FakeLLM()
    result = run_qa_eval(_config(data, out, k=2, overwrite=True), llm, encoders=encoders)
    assert llm.calls == 2 * N_QUESTIONS and result.k == 2


def test_original_queries_and_limit(home: Path, data: Path, tmp_path: Path):
    config = _config(data, tmp_path / "run", queries="original", limit=3)
    questions, corpus = load_questions(config)
    assert [q.query for q in questions] == ["question 0?", "question 1?", "question 2?"]
    assert len(corpus) == N_QUESTIONS
    result = run_qa_eval(config, FakeLLM(), encoders=_encoders(_rows()))
    # the tiers stay as in the file: N1 still says whether the distractor was retrieved
    assert result.n_questions == 3 and result.models[0]["N1@k"] == 100.0


def test_questions_without_gold_are_left_out_and_aliases_count(home: Path, tmp_path: Path):
    rows = _rows(3)
    rows[0]["answer"] = None
    rows[1]["answer"] = "No Answer Present."
    rows[2]["answer"] = "the gold answer"
    rows[2]["answer_aliases"] = ["gold2"]
    rows.append(dict(rows[2]))  # a duplicate id gets its own qid
    data = _write(tmp_path / "d.jsonl", rows)
    questions, _ = load_questions(_config(data, tmp_path / "run"))
    assert [q.qid for q in questions] == ["q2", "q2#2"]
    assert questions[0].golds == ["the gold answer", "gold2"]
    result = run_qa_eval(_config(data, tmp_path / "run"), FakeLLM(), encoders=_encoders(rows))
    assert result.models[1]["EM"] == 100.0  # "gold2" matches the alias


def test_bad_config_values_are_refused(data: Path, tmp_path: Path):
    from lore_rag.errors import ConfigError

    for kw, field in (({"setting": "web"}, "setting"), ({"k": 0}, "k"), ({"queries": "x"}, "queries"),
                      ({"names": ["a"]}, "names"), ({"limit": 0}, "limit")):  # fmt: skip
        with pytest.raises(ConfigError, match=field):
            _config(data, tmp_path, **kw).validate()


def test_answer_cache_survives_a_torn_line_and_keys_differ(tmp_path: Path):
    path = tmp_path / "cache.jsonl"
    cache = AnswerCache(path)
    cache.put("k1", {"raw": "a [1]", "answer": "a"})
    with path.open("ab") as handle:
        handle.write(b'{"key": "k2", "ans')
    again = AnswerCache(path)
    assert len(again) == 1 and again.get("k1")["answer"] == "a" and again.get("k2") is None
    again.put("k3", {"raw": "c", "answer": "c"})
    assert len(AnswerCache(path)) == 2
    messages = [{"role": "user", "content": "q"}]
    base = answer_key("m", messages, max_tokens=32, temperature=0.0)
    assert base == answer_key("m", list(messages), max_tokens=32, temperature=0.0)
    assert base != answer_key("m2", messages, max_tokens=32, temperature=0.0)
    assert base != answer_key("m", [{"role": "user", "content": "q2"}], max_tokens=32, temperature=0.0)
    assert base != answer_key("m", messages, max_tokens=64, temperature=0.0)


def test_plot_writes_a_png(home: Path, data: Path, tmp_path: Path):
    result = run_qa_eval(_config(data, tmp_path / "run"), FakeLLM(), encoders=_encoders(_rows()))
    other = dict(result.to_dict(), dataset="other")
    path = plot_qa_results([result, other], tmp_path / "plots" / "qa.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError):
        plot_qa_results([], tmp_path / "none.png")


def test_cli_parses_flags_and_config_file(tmp_path: Path):
    from lore_rag.cli import _apply_config, build_parser

    config = tmp_path / "qa.yaml"
    config.write_text("setting: open\nk: 5\nlimit: 40\nmodels: [raw, ckpt]\n", encoding="utf-8")
    parser = build_parser()
    args = _apply_config(parser, ["qa-eval", "--config", str(config), "--k", "2", "--data", "x.jsonl"])
    assert (args.setting, args.k, args.limit, args.models, args.data) == ("open", 2, 40, ["raw", "ckpt"], ["x.jsonl"])
    assert args.func.__module__ == "lore_rag.cli.qa_eval"


def test_open_setting_retrieves_from_one_shared_index(home: Path, data: Path, tmp_path: Path):
    # a real embedded Chroma store, filled once with every chunk of the data and searched by both retrievers
    out = tmp_path / "run"
    llm = FakeLLM()
    result = run_qa_eval(_config(data, out, setting="open"), llm, encoders=_encoders(_rows()))
    raw, lore = result.models
    assert raw["N1@k"] == 100.0 and raw["EM"] == 0.0
    assert lore["P@k"] == 100.0 and lore["EM"] == 100.0
    assert (out / "index").is_dir()
    row = next(r for r in _results(out) if r["model"] == "lore")
    assert row["retrieved"]["indices"] == [0] and row["retrieved"]["tiers"] == [1]
    # with k = 2 a chunk of another question can come back: it counts as N2 and has no candidate index
    again = run_qa_eval(_config(data, tmp_path / "run2", setting="open", k=2, index_path=str(out / "index")),
                        FakeLLM(), encoders=_encoders(_rows()))  # fmt: skip
    assert again.models[1]["P@k"] == 100.0
    second = [r["retrieved"] for r in _results(tmp_path / "run2") if r["model"] == "lore"]
    assert all(len(r["indices"]) == 2 and r["indices"][0] == 0 for r in second)
    assert any(-1 in r["indices"] for r in second) and all(
        t == 0 for r in second for i, t in zip(r["indices"], r["tiers"], strict=True) if i == -1
    )


def test_a_stopped_run_has_every_retriever_on_the_same_questions(home: Path, data: Path, tmp_path: Path):
    out = tmp_path / "run"
    with pytest.raises(SystemExit):
        run_qa_eval(_config(data, out), FakeLLM(stop_after=4), encoders=_encoders(_rows()))
    pairs = sorted((r["qid"], r["model"]) for r in _results(out))
    assert pairs == [("q0", "lore"), ("q0", "raw"), ("q1", "lore"), ("q1", "raw")]


def test_table_marks_a_retriever_with_missing_answers(home: Path, data: Path, tmp_path: Path):
    result = run_qa_eval(_config(data, tmp_path / "run"), FakeLLM(fail_on={"gold1"}), encoders=_encoders(_rows()))
    assert f"| lore (answered {N_QUESTIONS - 1}) |" in format_table(result)
    assert "| raw |" in format_table(result)


@pytest.mark.parametrize("name", ["hotpotqa", "musique", "2wikimultihopqa", "msmarco"])
def test_recipe_configs_are_qa_eval_options_and_data_exists(name: str):
    import importlib.util

    from lore_rag.cli import _apply_config, build_parser

    repo = Path(__file__).resolve().parents[2]
    config = repo / "recipes" / "configs" / f"qa_{name}.yaml"
    args = _apply_config(build_parser(), ["qa-eval", "--config", str(config)])
    assert args.limit == 40 and args.k >= 1 and args.output_dir == f"runs/qa_{name}"
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", repo / "recipes" / f"qa_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.CONFIG == config
    if (repo.parent / "shared" / "data").is_dir():
        assert module.DATA.is_file()


def test_the_answer_cache_bounds_memory_but_keeps_everything_in_its_file(tmp_path: Path):
    path = tmp_path / "bounded.jsonl"
    cache = AnswerCache(path, max_size=2)
    for key in ("a", "b", "c"):
        cache.put(key, {"raw": key, "answer": key})
    assert len(cache) == 2 and cache.get("a") is None and cache.get("c")["raw"] == "c"
    assert len(AnswerCache(path)) == 3  # the file holds every answer
    assert cache.get_or_compute("b", lambda: {"raw": "new"}) == ({"key": "b", "raw": "b", "answer": "b"}, True)
