"""The trainer on the real bundled model: query-only updates, checkpoints, cache reuse, resume after kill -9."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lore_rag.data.io import read_examples, write_examples
from lore_rag.data.schema import Tier
from lore_rag.models.checkpoint import read_manifest
from lore_rag.models.doc_cache import DocEmbeddingCache
from lore_rag.models.encoder import LoreEncoder, model_fingerprint
from lore_rag.training.resume import MARKER
from lore_rag.training.trainer import TrainConfig, train

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
    assert manifest["loss"] == {"name": "lore", "tau": 0.05, "alpha": 1.0, "beta": 20.0}
    assert manifest["train_data"][0]["sha256"] and manifest["train_rows"] == 2 * 24  # and their plain questions
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
    # one sentence-transformers folder with both sides: encode_query is the tuned side, encode_document the original
    from sentence_transformers import SentenceTransformer

    assert list(result.best.glob("query_0_*/*.safetensors")) and list(result.best.glob("document_0_*/*.safetensors"))
    plain = SentenceTransformer(str(result.best), device="cpu")
    assert torch.allclose(
        torch.from_numpy(plain.encode_query(text, normalize_embeddings=True)),
        torch.from_numpy(encoder.embed_queries(text)),
        atol=1e-5,
    )
    assert torch.allclose(
        torch.from_numpy(plain.encode_document(text, normalize_embeddings=True)),
        torch.from_numpy(LoreEncoder(base_model).embed_documents(text)),
        atol=1e-5,
    )
    card = (result.best / "README.md").read_text()
    assert "all-MiniLM-L6-v2" in card and "LORE" in card
    assert "tau 0.05, alpha 1.0, beta 20.0" in card and manifest["train_data"][0]["sha256"][:16] in card
    assert "| rewritten |" in card and "encode_document" in card and "LlamaIndex" in card and "LangChain" in card
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [s["step"] for s in history["steps"]] == [1, 2, 3]
    assert {"loss", "anchor", "sim_P", "sim_N1", "sim_N2"} <= set(history["steps"][0])
    assert [e["step"] for e in history["evals"]] == [0, 3]
    png = (tmp_path / "run" / "training_curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    phases = ("load", "embed_documents", "steps", "evaluate", "save")
    assert set(result.timings) == {*phases, "total"}
    assert result.timings["steps"] > 0 and result.timings["evaluate"] > 0
    assert sum(result.timings[k] for k in phases) <= result.timings["total"] + 1e-6


def test_document_cache_is_reused_across_runs(small_data, tmp_path, base_model):
    train(_config(small_data, tmp_path / "a", bf16=False))  # fp32, as the index holds (bf16: tested below)
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
    with pytest.raises(ConfigError, match="field 'max_steps': must be >= 1"):
        TrainConfig(max_steps=-1)
    with pytest.raises(ConfigError, match="--bf16 and --fp16"):
        TrainConfig(bf16=True, fp16=True)


def _cli(args, env_extra=None, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env_extra or {}))
    return subprocess.Popen([sys.executable, "-m", "lore_rag", *args], env=env, **kw)


RESUME_ARGS = [
    "--no-compare",
    "--batch-size",
    "4",
    "--max-steps",
    "6",
    "--save-steps",
    "2",
    "--lr",
    "5e-5",
    "--no-show-progress",
    "--anchor-weight",
    "0",
]


def _resume_args(small_data):
    return ["train", "--train", str(small_data / "train.jsonl"), "--cache-dir", str(small_data / "cache"), *RESUME_ARGS]


@pytest.fixture(scope="module")
def straight_run(small_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    assert _cli([*_resume_args(small_data), "--output", str(out)]).wait(timeout=600) == 0
    return out


def _query_weights(folder):
    from safetensors.torch import load_file

    return load_file(str(next(folder.glob("query_0_*/model.safetensors"))))


# (crash point, its occurrence): the second checkpoint save (step 4) cut at each phase, or the final export
PHASES = [
    ("save-model", 2, 2),
    ("save-optimizer", 2, 2),
    ("save-rng", 2, 2),
    ("save-state", 2, 2),
    ("save-marker", 2, 4),
    ("export-last", 1, 6),
]


@pytest.mark.parametrize(("point", "nth", "resumed_at"), PHASES, ids=[p[0] for p in PHASES])
def test_kill_9_at_every_phase_of_a_save_then_resume_matches_an_uninterrupted_run(
    small_data, tmp_path, straight_run, point, nth, resumed_at
):
    run = tmp_path / "killed"
    crashed = _cli([*_resume_args(small_data), "--output", str(run)], {"LORE_RAG_CRASH_AT": f"{point}#{nth}"})
    assert crashed.wait(timeout=600) == 137
    log = tmp_path / "resume.log"
    with log.open("w") as handle:
        assert _cli([*_resume_args(small_data), "--output", str(run)], stderr=handle).wait(timeout=600) == 0
    text = log.read_text()
    assert f"resuming {run} at step {resumed_at}" in text, text[-2000:]
    if resumed_at == 2:
        assert f"ignoring {run / 'checkpoints' / 'checkpoint-4'}: its save did not finish" in text
    a, b = read_manifest(straight_run / "last"), read_manifest(run / "last")
    assert a["step"] == b["step"] == 6
    wa, wb = _query_weights(straight_run / "last"), _query_weights(run / "last")
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.allclose(wa[key], wb[key], atol=1e-6), key
    assert not list(run.rglob("*.bin")) and not list(run.rglob("*.pkl"))


def test_only_the_newest_checkpoints_are_kept(straight_run):
    from lore_rag.errors import ConfigError

    # 6 steps saved every 2: checkpoint-2 is deleted once checkpoint-6 is complete (save_total_limit 2)
    kept = sorted(p.name for p in (straight_run / "checkpoints").glob("checkpoint-*"))
    assert kept == ["checkpoint-4", "checkpoint-6"]
    assert all((straight_run / "checkpoints" / name / "lore_checkpoint.json").is_file() for name in kept)
    with pytest.raises(ConfigError, match="field 'save_total_limit': must be >= 2"):
        TrainConfig(save_total_limit=1)


def test_a_planted_pickle_is_refused_and_never_unpickled(small_data, tmp_path, straight_run):
    import hashlib
    import pickle
    import shutil

    run = tmp_path / "run"
    shutil.copytree(straight_run, run)
    checkpoint = run / "checkpoints" / "checkpoint-6"
    marker_file = tmp_path / "unpickled-marker"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker_file}",))

    target = checkpoint / "rng_state.pth"
    target.write_bytes(pickle.dumps(Evil()))
    # a careful attacker also fixes the completion marker's hash: the file itself must still be refused
    marker = json.loads((checkpoint / MARKER).read_text())
    marker["files"]["rng_state.pth"] = {
        "size": target.stat().st_size,
        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
    }
    (checkpoint / MARKER).write_text(json.dumps(marker))
    out = subprocess.run(
        [sys.executable, "-m", "lore_rag", *_resume_args(small_data), "--output", str(run)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 1
    assert not marker_file.exists()
    assert f"{target}: refusing to load it: it is not a plain tensor file" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_truncated_trainer_state_is_named_and_nothing_is_touched(small_data, tmp_path, straight_run):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(straight_run, run)
    state = run / "checkpoints" / "checkpoint-6" / "trainer_state.json"
    state.write_text(state.read_text()[:100])
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in run.rglob("*")}
    out = subprocess.run(
        [sys.executable, "-m", "lore_rag", *_resume_args(small_data), "--output", str(run)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 1
    assert f"{state}: truncated since it was saved" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in run.rglob("*")} == before


def test_train_cli_refuses_bad_output_and_max_steps_before_any_work(small_data, tmp_path):
    base = [sys.executable, "-m", "lore_rag", "train", "--train", str(small_data / "train.jsonl")]
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me\n")
    out = subprocess.run([*base, "--output", str(a_file)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and f"flag --output: {a_file} exists and is not a folder" in out.stderr
    assert a_file.read_text() == "keep me\n"
    read_only = next((p for p in (Path("/proc"), Path("/sys")) if not _writable(p)), None)
    if read_only is not None:
        out = subprocess.run(
            [*base, "--output", str(read_only / "lore-out")], capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 1 and f"flag --output: cannot write in {read_only}" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    out = subprocess.run(
        [*base, "--output", str(tmp_path / "o"), "--max-steps", "-1"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 1 and "field 'max_steps': must be >= 1" in out.stderr
    assert "best checkpoint" not in out.stdout and not (tmp_path / "o").exists()


def _writable(folder):
    try:
        (folder / "lore-probe").mkdir()
    except OSError:
        return False
    (folder / "lore-probe").rmdir()
    return True


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
    assert json.loads((result.best / "query_1_Pooling" / "config.json").read_text())["pooling_mode"] == "cls"
    assert json.loads((result.best / "document_1_Pooling" / "config.json").read_text())["pooling_mode"] == "cls"
    encoder = LoreEncoder.from_checkpoint(result.best)
    assert model_fingerprint(encoder.document_model) == model_fingerprint(raw.document_model)
    assert np.allclose(encoder.embed_documents([d]), expected_d, atol=1e-5)
    assert np.allclose(encoder.embed_queries([q]), tuned.encode_query([q], normalize_embeddings=True), atol=1e-5)
    assert np.allclose(tuned.encode_document([d], normalize_embeddings=True), expected_d, atol=1e-5)


def test_lora_checkpoint_is_an_adapter_that_every_loader_takes(small_data, tmp_path, base_model):
    import numpy as np

    result = train(_config(small_data, tmp_path / "lora", lora_r=4, lr=5e-4, max_steps=2, anchor_weight=0.0))
    best = result.best
    assert (best / "adapter_model.safetensors").is_file() and (best / "adapter_config.json").is_file()
    weights = sum(p.stat().st_size for p in best.rglob("*.safetensors"))
    assert weights < 2_000_000  # the adapter alone, not the 90 MB model
    manifest = read_manifest(best)
    assert manifest["training"]["lora_r"] == 4 and manifest["base_fingerprint"] == model_fingerprint(base_model)
    raw = LoreEncoder(base_model)
    q, d = ["Who founded the company?"], ["The company was founded in 1901."]
    for encoder in (
        LoreEncoder.from_checkpoint(best),
        __import__("lore_rag.integrations.langchain", fromlist=["LoreEmbeddings"]).LoreEmbeddings(checkpoint=str(best)),
    ):
        embed_q = encoder.embed_queries if hasattr(encoder, "embed_queries") else encoder.embed_query
        embed_d = encoder.embed_documents
        assert np.allclose(np.asarray(embed_d(d)).reshape(1, -1), raw.embed_documents(d), atol=1e-5)
        assert not np.allclose(
            np.asarray(embed_q(q if embed_q.__name__ == "embed_queries" else q[0])).reshape(1, -1),
            raw.embed_queries(q),
            atol=1e-4,
        )
    from lore_rag.integrations.llama_index import LoreEmbedding

    li = LoreEmbedding(checkpoint=str(best))
    assert np.allclose(li.get_text_embedding(d[0]), raw.embed_documents(d)[0], atol=1e-5)
    out = subprocess.run(
        [sys.executable, "-m", "lore_rag", "eval", "--model", "raw", str(tmp_path / "lora"), "--data",
         str(small_data / "val.jsonl")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "P@3" in out.stdout


def test_lora_on_a_model_peft_cannot_wrap_is_one_line_before_training(small_data, tmp_path):
    from lore_rag.errors import ConfigError

    with pytest.raises(ConfigError, match="flag --lora-r: PEFT cannot add a LoRA adapter"):
        train(_config(small_data, tmp_path / "x", lora_r=4, lora_target_modules=["no_such_module"], max_steps=1))


def test_comparison_reports_both_protocols_with_paired_intervals(small_data, tmp_path):
    """`lore-rag train --compare` (the default pipeline's path): candidate sets and one index of all chunks."""
    from lore_rag.training.pipeline import train_and_evaluate

    val = str(small_data / "val.jsonl")
    result = train_and_evaluate(_config(small_data, tmp_path / "cmp", max_steps=1), eval_files=[val])
    assert sorted(result.checkpoints) == ["infonce", "lore"]
    text = result.tables[val]
    assert "each query's own candidates" in text and "corpus-wide: one index of all chunks" in text
    assert "paired difference from raw" in text
    summary = json.loads(result.json_path.read_text())
    corpus = summary["files"][val]["corpus"]
    for view in ("rewritten", "original"):
        table = corpus["views"][view]
        assert set(table["models"]) == {"raw", "InfoNCE", "LORE"}
        assert table["n_chunks"] == len({c for e in read_examples(val) for c in e.chunks})
        for model in ("InfoNCE", "LORE"):
            cell = corpus["differences"][view][model]["P@3"]
            assert cell["low"] <= cell["estimate"] <= cell["high"] and cell["n_resamples"] >= 1000
            observed = table["models"][model]["P@3"] - table["models"]["raw"]["P@3"]
            assert cell["estimate"] == pytest.approx(observed, abs=1e-6)
    assert "N1@3" in corpus["differences"]["rewritten"]["LORE"]
    assert (tmp_path / "cmp" / "results.md").read_text().count("corpus-wide") >= 2
    # a rerun reuses the index kept in the run folder
    assert (tmp_path / "cmp" / "corpus_store").is_dir()


@pytest.mark.skipif(
    not torch.cuda.is_available() and "avx512_bf16" not in Path("/proc/cpuinfo").read_text(), reason="no bf16 here"
)
def test_a_bf16_comparison_embeds_and_evaluates_in_bf16_only(small_data, tmp_path):
    """--bf16 covers the frozen side too: its vectors are cached apart, and the summary's searches are batched."""
    from lore_rag.training.pipeline import train_and_evaluate

    val = str(small_data / "val.jsonl")
    config = _config(small_data, tmp_path / "cmp", max_steps=1, bf16=True, cache_dir=str(tmp_path / "cache"))
    result = train_and_evaluate(config, losses=("lore",), eval_files=[val])
    namespaces = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert namespaces and all(name.endswith("-bf16") for name in namespaces), namespaces
    assert read_manifest(result.checkpoints["lore"][0])["training"]["bf16"] is True
    text = result.tables[val]
    assert "corpus-wide: one index of all chunks" in text and "ms/query" not in text


def test_l2sp_is_trained_logged_and_on_the_card(small_data, tmp_path):
    result = train(_config(small_data, tmp_path / "l2sp", l2sp_weight=10.0, max_steps=2, anchor_weight=0.0))
    steps = json.loads((tmp_path / "l2sp" / "history.json").read_text())["steps"]
    assert steps[0]["l2sp"] == 0.0 and steps[-1]["l2sp"] > 0.0  # zero before the first update, then grows
    assert read_manifest(result.best)["training"]["l2sp_weight"] == 10.0
    assert "| L2-SP weight (pull toward the base weights) | 10.0 |" in (result.best / "README.md").read_text()


def test_anchor_queries_add_anchor_rows_mined_from_the_training_chunks(small_data, tmp_path):
    from lore_rag.errors import ConfigError, DataError

    questions = tmp_path / "questions.txt"
    questions.write_text("\n".join(e.original_query for e in read_examples(small_data / "val.jsonl")[:8]) + "\n")
    config = _config(small_data, tmp_path / "anchorq", anchor_queries=str(questions), max_steps=None, epochs=1)
    result = train(config)
    history = json.loads((tmp_path / "anchorq" / "history.json").read_text())
    # 24 training rows, their 24 plain questions and 8 anchor rows, batch 8: one epoch is 7 steps; the anchor term is
    # trained and logged
    assert [s["step"] for s in history["steps"]] == [1, 2, 3, 4, 5, 6, 7]
    assert all(s["anchor"] >= 0 for s in history["steps"]) and any(s["anchor"] > 0 for s in history["steps"])
    manifest = read_manifest(result.best)
    assert manifest["anchor_queries"]["rows"] == 8 and manifest["anchor_queries"]["candidates"] == 10
    assert len(manifest["anchor_queries"]["sha256"]) == 64
    with pytest.raises(ConfigError, match="'anchor_queries' needs 'anchor_weight' > 0"):
        _config(small_data, tmp_path / "x", anchor_queries=str(questions), anchor_weight=0.0)
    with pytest.raises(DataError, match=r"missing.txt: no such file \(--anchor-queries\)"):
        train(_config(small_data, tmp_path / "y", anchor_queries=str(tmp_path / "missing.txt")))


def test_mined_negatives_reach_the_loss_as_extra_n2_candidates_and_are_recorded(small_data, tmp_path, base_model):
    from lore_rag.errors import ConfigError
    from lore_rag.training.trainer import _embed_once

    examples = read_examples(small_data / "train.jsonl")
    config = _config(small_data, tmp_path / "mined", mined_negatives=4, anchor_weight=0.0)
    documents, _, dataset = _embed_once(config, base_model, examples, [], [])
    pool = set(documents.rows(list(dict.fromkeys(c for e in examples for c in e.chunks))))
    for example, row in zip(examples, dataset, strict=True):
        assert len(row["candidates"]) == len(example.chunks) + 4
        assert row["tiers"][: len(example.chunks)] == [int(t) for t in example.tiers]
        assert row["tiers"][len(example.chunks) :] == [int(Tier.NEGATIVE)] * 4
    assert {r for row in dataset for r in row["candidates"]} <= pool  # mined from the training chunks only
    result = train(config)
    assert read_manifest(result.best)["training"]["mined_negatives"] == 4
    assert "| mined hard negatives per row | 4 |" in (result.best / "README.md").read_text()
    with pytest.raises(ConfigError, match="field 'mined_negatives': must be >= 0"):
        _config(small_data, tmp_path / "x", mined_negatives=-1)


def test_a_select_rule_picks_best_by_its_constraints_and_objective(small_data, tmp_path, base_model):
    """best/ is the evaluation the rule picks from history.json; a corpus/ metric makes validation corpus-wide."""
    rule = "candidates/plain/P@3>=raw-20; corpus/plain/P@10>=raw-20; max corpus/rewritten/MRR@10"
    config = _config(small_data, tmp_path / "rule", max_steps=4, eval_steps=1, lr=2e-4, select_rule=rule, bf16=False)
    result = train(config)
    evals = {e["step"]: e for e in json.loads((tmp_path / "rule" / "history.json").read_text())["evals"]}
    assert sorted(evals) == [0, 1, 2, 3, 4]
    raw = evals[0]
    feasible = [
        s
        for s in range(1, 5)
        if evals[s]["original/P@3"] >= raw["original/P@3"] - 20
        and evals[s]["corpus-original/P@10"] >= raw["corpus-original/P@10"] - 20
    ]
    assert feasible, evals
    expected = max(feasible, key=lambda s: (evals[s]["corpus-rewritten/MRR@10"], -s))
    manifest = read_manifest(result.best)
    assert manifest["metrics"]["step"] == expected == result.metrics["step"]
    assert manifest["training"]["select_rule"] == rule
    assert manifest["metrics"]["corpus-rewritten"]["MRR@10"] == pytest.approx(
        evals[expected]["corpus-rewritten/MRR@10"]
    )
    assert "corpus-original" in manifest["metrics"] and "N1@3" in manifest["metrics"]["corpus-rewritten"]

    # the corpus-wide numbers are an exact search over every validation chunk, as lore-rag eval --mode corpus does
    import numpy as np

    val = read_examples(small_data / "val.jsonl")
    raw_encoder = LoreEncoder(base_model, base_model)
    texts = list(dict.fromkeys(c for e in val for c in e.chunks))
    docs = raw_encoder.embed_documents(texts)
    recalls = []
    for e, q in zip(val, raw_encoder.embed_queries([e.original_query for e in val]), strict=True):
        top = {texts[i] for i in np.argsort(-(docs @ q), kind="stable")[:10]}
        gold = {c for c, t in zip(e.chunks, e.tiers, strict=True) if t == Tier.POSITIVE}
        recalls.append(100.0 * len(top & gold) / len(gold))
    assert raw["corpus-original/P@10"] == pytest.approx(float(np.mean(recalls)), abs=0.6)


def test_a_select_rule_nothing_meets_keeps_the_last_checkpoint_and_warns(small_data, tmp_path, caplog):
    rule = "candidates/rewritten/P@3>=raw+101; min candidates/rewritten/N1@3"
    with caplog.at_level("WARNING", logger="lore_rag"):
        result = train(_config(small_data, tmp_path / "none", max_steps=2, eval_steps=1, select_rule=rule))
    assert "no evaluation met --select-rule" in caplog.text and "needs >=" in caplog.text
    assert read_manifest(result.best)["step"] == 2 == read_manifest(tmp_path / "none" / "last")["step"]
