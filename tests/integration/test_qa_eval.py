"""qa-eval end to end: the bundled model, a real LORE checkpoint, real Chroma and the real llama.cpp server
with the bundled SmolLM2-135M, on HotpotQA questions from ../shared/data.

The kill test SIGKILLs a real ``lore-rag qa-eval`` process mid-run and checks that the re-run answers only
what was left: no finished (question, retriever) row is written twice and no prompt reaches the LLM twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lore_rag.llm import LocalLLMServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LIMIT = 6


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLLMServer]:
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with LocalLLMServer(log_path=log, n_ctx=2048) as running:
        yield running


@pytest.fixture()
def validation(shared_data: Path) -> Path:
    path = shared_data / "lore" / "validation_hotpotqa.jsonl"
    assert path.is_file()
    return path


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "LORE_RAG_LLM_MODEL")}
    env.update(LORE_RAG_HOME=str(home), PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def _rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    lines = path.read_bytes().split(b"\n")
    return [json.loads(line) for line in lines[:-1] if line.strip()]  # a torn last line is not a row


def _qa_eval(data: Path, checkpoint: Path, out: Path, server: LocalLLMServer, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "lore_rag", "qa-eval", "--data", str(data), "--models", "raw", str(checkpoint),
        "--names", "raw", "lore", "--limit", str(LIMIT), "-k", "2", "--max-tokens", "16", "--output", str(out),
        "--llm-base-url", server.base_url, "--llm-model", server.model, "--no-progress", *extra,
    ]  # fmt: skip


def test_hotpotqa_recipe_runs_offline_end_to_end(validation: Path, lore_checkpoint: Path, tmp_path: Path) -> None:
    # no endpoint configured: the recipe starts the bundled SmolLM2 on a local llama.cpp server by itself
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, str(REPO / "recipes" / "qa_hotpotqa.py"), "--data", str(validation),
         "--checkpoint", str(lore_checkpoint), "--limit", "3", "--output", str(out), "--plot", str(out / "qa.png"),
         "--no-progress"],
        env=_env(tmp_path / "home"), capture_output=True, text=True, timeout=1200, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "reader (LLM): `smollm2-135m-instruct`" in proc.stdout
    assert "| raw |" in proc.stdout and "| lore |" in proc.stdout and "P@3" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["llm_model"] == "smollm2-135m-instruct" and summary["n_questions"] == 3
    assert [m["model"] for m in summary["models"]] == ["raw", "lore"]
    assert all(m["n"] == 3 for m in summary["models"])
    assert (out / "qa.png").read_bytes()[:4] == b"\x89PNG"
    assert len((out / "per_question.csv").read_text().splitlines()) == 4
    rows = _rows(out / "results.jsonl")
    assert {r["llm_model"] for r in rows} == {"smollm2-135m-instruct"}
    # retrieval facts per row: 3 chunks, tiers of the question's own candidates
    assert all(len(r["retrieved"]["tiers"]) == 3 and min(r["retrieved"]["indices"]) >= 0 for r in rows)


def test_kill_mid_run_then_resume_recomputes_nothing(
    validation: Path, lore_checkpoint: Path, server: LocalLLMServer, tmp_path: Path
) -> None:
    out, home = tmp_path / "run", tmp_path / "home"
    command = _qa_eval(validation, lore_checkpoint, out, server)
    first = subprocess.Popen(command, env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    deadline = time.monotonic() + 900
    try:
        while len(_rows(out / "results.jsonl")) < 2:
            assert first.poll() is None, first.stderr.read().decode()[-3000:] if first.stderr else ""
            assert time.monotonic() < deadline, "no result row within 15 minutes"
            time.sleep(0.2)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL
    before = (out / "results.jsonl").read_bytes()
    finished = _rows(out / "results.jsonl")
    assert 2 <= len(finished) < 2 * LIMIT, "the kill must land mid-run"
    cache_file = next((home / "answers").glob("*.jsonl"))
    cached_before = {r["key"] for r in _rows(cache_file)}

    again = subprocess.run(command, env=_env(home), capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    rows = _rows(out / "results.jsonl")
    # the finished rows are kept byte for byte (only a torn last line may be cut), none is written twice
    keep = before[: before.rfind(b"\n") + 1]
    assert (out / "results.jsonl").read_bytes().startswith(keep)
    pairs = [(r["qid"], r["model"]) for r in rows]
    assert len(pairs) == len(set(pairs)) == 2 * LIMIT
    # the LLM answered each distinct prompt once over both runs, and the re-run asked only the missing ones
    cache_rows = _rows(cache_file)
    keys = [r["key"] for r in cache_rows]
    assert len(keys) == len(set(keys))
    needed = {r["answer_key"] for r in rows}
    assert set(keys) == needed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["llm_calls"] == len(needed - cached_before)
    assert summary["llm_calls"] < len(needed)
    # a row the re-run took from the cache was answered before the kill
    assert all(r["answer_key"] in cached_before for r in rows[len(finished) :] if r["cached"])
    # a third run finds everything done
    third = subprocess.run(command, env=_env(home), capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert third.returncode == 0, third.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["llm_calls"] == 0
    assert _rows(out / "results.jsonl") == rows


def test_open_setting_over_a_real_chroma_index(
    validation: Path, lore_checkpoint: Path, server: LocalLLMServer, raw_encoder, tmp_path: Path
) -> None:
    from lore_rag.data.io import read_examples, write_examples
    from lore_rag.evaluation.qa_run import QAEvalConfig, run_qa_eval
    from lore_rag.models.encoder import LoreEncoder
    from lore_rag.retrieval import ChromaStore

    examples = read_examples(validation)[:4]
    data = tmp_path / "four.jsonl"
    write_examples(examples, data)
    lore = LoreEncoder.from_checkpoint(lore_checkpoint, document_model=raw_encoder.document_model)
    config = QAEvalConfig(
        data=[str(data)], models=["raw", str(lore_checkpoint)], names=["raw", "lore"], output_dir=str(tmp_path / "o"),
        setting="open", k=2, max_tokens=16, answer_cache=str(tmp_path / "answers.jsonl"), show_progress=False,
    )  # fmt: skip
    with server.client() as client:
        result = run_qa_eval(config, client, encoders=[raw_encoder, lore])
    store = ChromaStore(tmp_path / "o" / "index", collection=f"lore-qa-{raw_encoder.document_fingerprint[:12]}")
    assert store.count() == len({c for e in examples for c in e.chunks})
    assert result.llm_model == server.model and result.n_questions == 4
    rows = _rows(tmp_path / "o" / "results.jsonl")
    assert len(rows) == 8
    for row in rows:
        ids = row["retrieved"]["ids"]
        assert len(ids) == 2 and all(hit.id in ids for hit in store.get(ids))
    # the same chunks for both retrievers means one shared answer
    by_q: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_q.setdefault(row["qid"], {})[row["model"]] = row
    for pair in by_q.values():
        same = pair["raw"]["retrieved"]["ids"] == pair["lore"]["retrieved"]["ids"]
        assert same == (pair["raw"]["answer_key"] == pair["lore"]["answer_key"])
