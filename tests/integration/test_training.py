"""The trainer on the real bundled model: query-only updates, checkpoints, cache reuse, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from lore_rag.data.io import read_examples, write_examples
from lore_rag.models.checkpoint import MANIFEST_NAME, read_manifest
from lore_rag.models.encoder import LoreEncoder, model_fingerprint
from lore_rag.models.doc_cache import DocEmbeddingCache
from lore_rag.training.trainer import STATE_NAME, TrainConfig, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_data(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("data")
    train_rows = read_examples(shared_data / "lore" / "train.jsonl")[:24]
    val_rows = read_examples(shared_data / "lore" / "validation_hotpotqa.jsonl")[:12]
    write_examples(train_rows, root / "train.jsonl")
    write_examples(val_rows, root / "val.jsonl")
    return root


def _config(small_data, out, **kw):
    values = dict(
        train_files=[str(small_data / "train.jsonl")],
        validation_file=str(small_data / "val.jsonl"),
        output_dir=str(out),
        batch_size=8,
        lr=5e-5,
        max_steps=3,
        cache_dir=str(small_data / "cache"),
        show_progress=False,
    )
    values.update(kw)
    return TrainConfig(**values)


def test_only_the_query_encoder_learns(small_data, tmp_path, base_model):
    result = train(_config(small_data, tmp_path / "run"))
    manifest = read_manifest(result.best)
    assert manifest["base_fingerprint"] == model_fingerprint(base_model)
    assert manifest["loss"] == {"name": "lore", "tau": 0.05, "alpha": 1.0, "beta": 3.0}
    assert manifest["train_data"][0]["sha256"] and manifest["train_rows"] == 24
    assert "rewritten" in manifest["metrics"] and "original" in manifest["metrics"]
    encoder = LoreEncoder.from_checkpoint(tmp_path / "run")  # the folder itself resolves to best/
    assert model_fingerprint(encoder.document_model) == model_fingerprint(base_model)
    assert model_fingerprint(encoder.query_model) != model_fingerprint(base_model)
    text = ["Who founded the company?"]
    assert torch.allclose(
        torch.from_numpy(encoder.embed_documents(text)),
        torch.from_numpy(LoreEncoder(base_model).embed_documents(text)),
    )
    assert not torch.allclose(
        torch.from_numpy(encoder.embed_queries(text)), torch.from_numpy(LoreEncoder(base_model).embed_queries(text))
    )
    # a plain sentence-transformers folder with safetensors weights
    from sentence_transformers import SentenceTransformer

    assert list(result.best.glob("*.safetensors"))
    plain = SentenceTransformer(str(result.best), device="cpu")
    assert model_fingerprint(plain) == model_fingerprint(encoder.query_model)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [s["step"] for s in history["steps"]] == [1, 2, 3]
    assert {"loss", "sim_P", "sim_N1", "sim_N2"} <= set(history["steps"][0])
    png = (tmp_path / "run" / "training_curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    phases = ("load", "embed_documents", "steps", "evaluate", "save")
    assert set(result.timings) == {*phases, "total"}
    assert result.timings["steps"] > 0 and result.timings["evaluate"] > 0
    assert sum(result.timings[k] for k in phases) <= result.timings["total"] + 1e-6


def test_document_cache_is_reused_across_runs(small_data, tmp_path, base_model):
    train(_config(small_data, tmp_path / "a"))
    cache = DocEmbeddingCache(base_model, small_data / "cache", show_progress=False)
    rows = read_examples(small_data / "train.jsonl")
    chunks = [c for e in rows for c in e.chunks]
    vectors = cache.embed(chunks)
    assert cache.misses == 0 and cache.hits == len(chunks)
    fresh = base_model.encode(chunks[:5], normalize_embeddings=True, convert_to_numpy=True)
    assert vectors[:5] == pytest.approx(fresh, abs=1e-5)


def test_loss_must_be_lore_or_infonce_and_beta_above_alpha():
    from lore_rag.errors import ConfigError

    with pytest.raises(ConfigError, match="field 'loss'"):
        TrainConfig(loss="triplet")
    with pytest.raises(ConfigError, match="beta > alpha"):
        TrainConfig(alpha=2.0, beta=1.5)


def _cli(args, env_extra=None, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env_extra or {}))
    return subprocess.Popen([sys.executable, "-m", "lore_rag", *args], env=env, **kw)


def test_resume_after_kill_matches_an_uninterrupted_run(small_data, tmp_path):
    common = [
        "train",
        "--train",
        str(small_data / "train.jsonl"),
        "--no-compare",
        "--batch-size",
        "4",
        "--max-steps",
        "6",
        "--save-steps",
        "2",
        "--lr",
        "5e-5",
        "--cache-dir",
        str(small_data / "cache"),
        "--no-show-progress",
        "--anchor-weight",
        "0",
    ]
    straight = tmp_path / "straight"
    assert _cli([*common, "--output", str(straight)]).wait(timeout=600) == 0

    run = tmp_path / "killed"
    proc = _cli([*common, "--output", str(run)])
    state = run / "last" / STATE_NAME
    deadline = time.time() + 600
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = torch.load(state, weights_only=False)["step"]
    assert 2 <= killed_at < 6

    log = tmp_path / "resume.log"
    with log.open("w") as handle:
        assert _cli([*common, "--output", str(run)], stderr=handle).wait(timeout=600) == 0
    assert f"resuming {run} at step {killed_at}" in log.read_text()
    a = read_manifest(straight / "last")
    b = read_manifest(run / "last")
    assert a["step"] == b["step"] == 6
    from safetensors.torch import load_file

    wa = load_file(str(straight / "last" / "model.safetensors"))
    wb = load_file(str(run / "last" / "model.safetensors"))
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.allclose(wa[key], wb[key], atol=1e-6), key
    assert (run / "last" / MANIFEST_NAME).is_file()


def test_cli_errors_name_the_problem(tmp_path, small_data):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q", "chunks": ["a", "b"], "labels": [1, 2]}\n')
    out = subprocess.run(
        [sys.executable, "-m", "lore_rag", "train", "--train", str(bad), "--output", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1
    assert f"{bad}:1: field 'labels[1]': label must be 1, 0 or -1, got 2" in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "lore_rag", "eval", "--model", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1 and "no such checkpoint folder" in out.stderr
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lore_rag",
            "train",
            "--base-model",
            str(tmp_path / "no-model"),
            "--train",
            str(small_data / "train.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1 and "no such model folder" in out.stderr
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("lr: 1e-5\nbogus_option: 3\n")
    out = subprocess.run(
        [sys.executable, "-m", "lore_rag", "train", "--config", str(cfg)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 2 and f"{cfg}: field 'bogus_option'" in out.stderr


def test_base_model_config_is_honoured(small_data, tmp_path, base_model):
    """A model folder with its own prompts and pooling (as Qwen3-Embedding or bge-m3 ship): both are used in
    training and evaluation, and the checkpoint keeps them."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    folder = tmp_path / "prompted"
    base_model.save(str(folder))
    config_file = folder / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text())
    config["prompts"] = {"query": "query: ", "document": "passage: "}
    config_file.write_text(json.dumps(config))
    pooling_file = folder / "1_Pooling" / "config.json"
    pooling = json.loads(pooling_file.read_text())
    pooling["pooling_mode"] = "cls"
    pooling_file.write_text(json.dumps(pooling))

    plain = SentenceTransformer(str(folder), device="cpu")
    raw = LoreEncoder.raw(str(folder))
    q, d = "Who founded the company?", "The company was founded in 1901."
    expected_q = plain.encode(["query: " + q], normalize_embeddings=True)
    expected_d = plain.encode(["passage: " + d], normalize_embeddings=True)
    assert np.allclose(raw.embed_queries([q]), expected_q, atol=1e-5)
    assert np.allclose(raw.embed_documents([d]), expected_d, atol=1e-5)
    assert not np.allclose(raw.embed_queries([q]), plain.encode([q], normalize_embeddings=True), atol=1e-3)
    # CLS pooling, not the mean pooling of the bundled model it was copied from
    assert not np.allclose(raw.embed_documents([d]), LoreEncoder(base_model).embed_documents(["passage: " + d]))

    result = train(_config(small_data, tmp_path / "run", base_model=str(folder), max_steps=1))
    tuned = SentenceTransformer(str(result.best), device="cpu")
    assert tuned.prompts["query"] == "query: " and tuned.prompts["document"] == "passage: "
    assert json.loads((result.best / "1_Pooling" / "config.json").read_text())["pooling_mode"] == "cls"
    encoder = LoreEncoder.from_checkpoint(result.best)
    assert model_fingerprint(encoder.document_model) == model_fingerprint(raw.document_model)
    assert np.allclose(encoder.embed_documents([d]), expected_d, atol=1e-5)
    assert np.allclose(encoder.embed_queries([q]), tuned.encode(["query: " + q], normalize_embeddings=True), atol=1e-5)
