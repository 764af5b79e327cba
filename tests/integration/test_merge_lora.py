"""``lore-rag merge-lora`` on a real LoRA checkpoint: plain sentence-transformers, lore-rag's loaders, refusals."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _checkpoints import perturbed

from lore_rag.cli import main
from lore_rag.data.io import read_examples, write_examples
from lore_rag.defaults import bundled_train_path, bundled_validation_path
from lore_rag.errors import ConfigError, ModelError
from lore_rag.models import LoreEncoder, merge_lora_checkpoint, read_manifest
from lore_rag.models.checkpoint import MANIFEST_NAME

pytestmark = pytest.mark.slow

QUERIES = ["Which American director made horror films such as Sinister?", "Who founded the company?"]
DOCUMENTS = ["Scott Derrickson is an American director known for Sinister.", "The company was founded in 1901."]


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory) -> Path:
    """A real LoRA run (r = 8): two optimiser steps of the trainer on 8 bundled rows, merged too (``--merge-lora``)."""
    from lore_rag.training.trainer import TrainConfig, train

    root = tmp_path_factory.mktemp("lora")
    write_examples(read_examples(bundled_train_path())[:8], root / "train.jsonl")
    result = train(
        TrainConfig(
            train_files=[str(root / "train.jsonl")],
            output_dir=str(root / "run"),
            batch_size=4,
            lr=1e-3,
            warmup_ratio=0.0,
            max_steps=2,
            anchor_weight=0.0,
            lora_r=8,
            merge_lora=True,
            cache_dir=str(root / "cache"),
            device="cpu",
            show_progress=False,
        )
    )
    assert result.merged == root / "run" / "merged"
    return root / "run"


@pytest.fixture(scope="module")
def merged(lora_run, tmp_path_factory) -> Path:
    """The run's LoRA checkpoint merged (given the run folder: its best/ is used)."""
    out = tmp_path_factory.mktemp("merged") / "merged"
    assert merge_lora_checkpoint(lora_run, out, device="cpu") == out
    return out


@pytest.fixture(scope="module")
def adapter_encoder(lora_run) -> LoreEncoder:
    """lore-rag's own loading of the LoRA checkpoint: the reference the merged folder must reproduce."""
    return LoreEncoder.from_checkpoint(lora_run, device="cpu")


def test_plain_sentence_transformers_gets_the_tuned_query_side_and_the_base_document_side(
    merged, adapter_encoder, base_model
):
    from sentence_transformers import SentenceTransformer

    raw = LoreEncoder(base_model)
    assert not np.allclose(adapter_encoder.embed_queries(QUERIES), raw.embed_queries(QUERIES), atol=1e-4)
    plain = SentenceTransformer(str(merged), device="cpu")  # no trust_remote_code, no lore-rag
    query = plain.encode_query(QUERIES, normalize_embeddings=True)
    document = plain.encode_document(DOCUMENTS, normalize_embeddings=True)
    assert np.allclose(query, adapter_encoder.embed_queries(QUERIES), atol=1e-5)
    assert np.allclose(document, raw.embed_documents(DOCUMENTS), atol=1e-5)
    assert not np.allclose(plain.encode_document(QUERIES, normalize_embeddings=True), query, atol=1e-4)
    assert not list(merged.rglob("adapter_*"))
    assert list(merged.glob("query_0_*/model.safetensors")) and list(merged.glob("document_0_*/model.safetensors"))


def test_the_manifest_keeps_the_source_fields_and_records_the_adapter(merged, lora_run):
    from lore_rag._hashing import file_sha256

    source = json.loads((lora_run / "best" / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest = read_manifest(merged)
    for key in ("base_model", "base_fingerprint", "loss", "training", "train_data", "train_rows", "step", "metrics"):
        assert manifest[key] == source[key], key
    adapter = lora_run / "best" / "adapter_model.safetensors"
    assert manifest["merged_from"] == {
        "path": str(lora_run / "best"),
        "adapter_file": adapter.name,
        "adapter_sha256": file_sha256(adapter),
    }
    adapter_config = json.loads((lora_run / "best" / "adapter_config.json").read_text(encoding="utf-8"))
    assert manifest["lora"]["r"] == adapter_config["r"] == 8
    assert manifest["lora"]["target_modules"] == sorted(adapter_config["target_modules"])
    assert manifest["sides"] == "query+document" and source["sides"] == "query"
    card = (merged / "README.md").read_text(encoding="utf-8")
    assert "merged from a LoRA adapter (r = 8" in card and file_sha256(adapter)[:16] in card
    assert "SentenceTransformer(" in card
    adapter_card = (lora_run / "best" / "README.md").read_text(encoding="utf-8")
    assert "lore-rag merge-lora" in adapter_card and "SentenceTransformer(" not in adapter_card


def test_lore_rag_loads_the_merged_folder_and_the_fingerprint_guard_still_holds(
    merged, adapter_encoder, base_model, tmp_path, capsys
):
    encoder = LoreEncoder.load(str(merged), device="cpu")
    assert np.allclose(encoder.embed_queries(QUERIES), adapter_encoder.embed_queries(QUERIES), atol=1e-5)
    assert np.allclose(encoder.embed_documents(DOCUMENTS), LoreEncoder(base_model).embed_documents(DOCUMENTS))
    assert encoder.document_fingerprint == encoder.manifest["base_fingerprint"]
    with pytest.raises(ModelError, match="fingerprint"):
        LoreEncoder.load(str(merged), document_model=perturbed(base_model, 1))

    corpus = tmp_path / "docs"
    corpus.mkdir()
    for i, text in enumerate(read_examples(bundled_validation_path())[0].chunks[:4] + DOCUMENTS):
        (corpus / f"c{i}.txt").write_text(text, encoding="utf-8")
    store = tmp_path / "store"
    assert main(["-q", "index", str(corpus), "--store", str(store), "--model", str(merged), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["-q", "query", QUERIES[0], "--store", str(store), "--model", str(merged), "-k", "1"]) == 0
    assert "Scott Derrickson" in capsys.readouterr().out
    assert main(["-q", "query", QUERIES[0], "--store", str(store), "--model", "raw", "-k", "1"]) == 0  # same base
    other = tmp_path / "other-base"
    perturbed(base_model, 2).save(str(other))
    assert main(["-q", "query", QUERIES[0], "--store", str(store), "--model", f"raw:{other}"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the loaders' progress bars
    assert last.startswith("lore-rag: error: ") and "fingerprint" in last


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_refusals_are_one_line_and_write_nothing(lora_run, merged, tmp_path):
    best = lora_run / "best"
    before = sorted((p.relative_to(best), p.stat().st_size) for p in best.rglob("*"))
    with pytest.raises(ModelError, match="not a LoRA checkpoint") as exc:
        merge_lora_checkpoint(merged, tmp_path / "out")
    assert str(merged) in _one_line(exc)
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match="not empty") as exc:
        merge_lora_checkpoint(lora_run, kept)
    assert str(kept) in _one_line(exc) and (kept / "notes.txt").read_text(encoding="utf-8") == "mine"
    with pytest.raises(ConfigError, match="is a file"):
        merge_lora_checkpoint(lora_run, kept / "notes.txt")
    with pytest.raises(ConfigError, match="inside the LoRA checkpoint"):
        merge_lora_checkpoint(lora_run, best / "merged")

    broken = tmp_path / "broken"
    shutil.copytree(best, broken)
    (broken / MANIFEST_NAME).unlink()
    with pytest.raises(ModelError, match="no lore_manifest.json") as exc:
        merge_lora_checkpoint(broken, tmp_path / "out")
    assert str(broken) in _one_line(exc) and "lore-rag train --lora-r" in str(exc.value)
    for text, problem in (('{"base_model": ', "unreadable manifest"), ("[1, 2]", "not a JSON object")):
        (broken / MANIFEST_NAME).write_text(text, encoding="utf-8")
        with pytest.raises(ModelError, match=problem) as exc:
            merge_lora_checkpoint(broken, tmp_path / "out")
        assert str(broken / MANIFEST_NAME) in _one_line(exc)
    shutil.copy(best / MANIFEST_NAME, broken / MANIFEST_NAME)
    (broken / "adapter_model.safetensors").unlink()
    with pytest.raises(ModelError, match="no adapter weights"):
        merge_lora_checkpoint(broken, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))
    assert sorted((p.relative_to(best), p.stat().st_size) for p in best.rglob("*")) == before


def test_a_document_side_that_is_not_the_base_stops_before_anything_is_written(lora_run, tmp_path):
    wrong = tmp_path / "wrong"
    shutil.copytree(lora_run / "best", wrong)
    manifest = json.loads((wrong / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["base_fingerprint"] = "0" * 16
    (wrong / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelError, match="fingerprint") as exc:
        merge_lora_checkpoint(wrong, tmp_path / "out", device="cpu")
    _one_line(exc)
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_the_command_merges_end_to_end_and_refuses_to_overwrite(lora_run, adapter_encoder, tmp_path, capsys):
    from sentence_transformers import SentenceTransformer

    out = tmp_path / "cli-merged"
    config = tmp_path / "merge.yaml"
    config.write_text(f"output: {out}\ndevice: cpu\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "lore_rag", "-q", "merge-lora", str(lora_run), "--config", str(config)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"merged {lora_run} into {out}" in done.stdout
    plain = SentenceTransformer(str(out), device="cpu")
    assert np.allclose(
        plain.encode_query(QUERIES, normalize_embeddings=True), adapter_encoder.embed_queries(QUERIES), atol=1e-5
    )
    weights = sorted(p.stat().st_size for p in out.rglob("*.safetensors"))
    adapter = sum(p.stat().st_size for p in (lora_run / "best").rglob("*.safetensors"))
    assert len(weights) == 2 and weights[0] == weights[1] > 50 * adapter
    capsys.readouterr()  # the loaders' progress bars
    assert main(["merge-lora", str(lora_run), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"lore-rag: error: {out}: already exists and is not empty") and err.count("\n") == 1
    with pytest.raises(SystemExit) as stop:
        main(["merge-lora", str(lora_run)])
    assert stop.value.code == 2 and "--output" in capsys.readouterr().err


def test_a_lora_run_with_its_own_query_prompt_loads_and_merges_with_the_prompt_on_both_sides(tmp_path, base_model):
    """The run's prompts live in the adapter folder only; the base model loaded for the document side gets them too."""
    from sentence_transformers import SentenceTransformer

    from lore_rag.training.trainer import TrainConfig, train

    write_examples(read_examples(bundled_train_path())[:4], tmp_path / "train.jsonl")
    run = tmp_path / "run"
    train(
        TrainConfig(
            train_files=[str(tmp_path / "train.jsonl")],
            output_dir=str(run),
            batch_size=4,
            max_steps=1,
            anchor_weight=0.0,
            lora_r=4,
            query_prompt="query: ",
            cache_dir=str(tmp_path / "cache"),
            device="cpu",
            show_progress=False,
        )
    )
    adapter = LoreEncoder.from_checkpoint(run, device="cpu")  # refused before: fingerprint of a prompt-less base
    assert adapter.query_model.prompts["query"] == adapter.document_model.prompts["query"] == "query: "
    assert np.allclose(adapter.embed_documents(DOCUMENTS), LoreEncoder(base_model).embed_documents(DOCUMENTS))
    plain = SentenceTransformer(str(merge_lora_checkpoint(run, tmp_path / "merged", device="cpu")), device="cpu")
    assert plain.prompts["query"] == "query: "
    query = plain.encode_query(QUERIES, normalize_embeddings=True)
    assert np.allclose(query, adapter.embed_queries(QUERIES), atol=1e-5)


def test_train_merge_lora_writes_merged_beside_best_and_only_an_earlier_merge_is_replaced(
    lora_run, adapter_encoder, tmp_path
):
    from sentence_transformers import SentenceTransformer

    merged = lora_run / "merged"
    assert read_manifest(merged)["merged_from"]["path"] == str(lora_run / "best")
    plain = SentenceTransformer(str(merged), device="cpu")
    query = plain.encode_query(QUERIES, normalize_embeddings=True)
    assert np.allclose(query, adapter_encoder.embed_queries(QUERIES), atol=1e-5)
    with pytest.raises(ConfigError, match="not empty"):
        merge_lora_checkpoint(lora_run, merged)  # by hand: never over anything
    first = read_manifest(merged)["created"]
    assert merge_lora_checkpoint(lora_run, merged, device="cpu", replace_merged=True) == merged  # a rerun's merge
    assert read_manifest(merged)["merged_from"] and not list(lora_run.glob(".merged*"))
    assert read_manifest(merged)["created"] >= first
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match="not empty"):
        merge_lora_checkpoint(lora_run, mine, replace_merged=True)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
