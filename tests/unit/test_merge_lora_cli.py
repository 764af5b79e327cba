"""``lore-rag merge-lora`` flags, and a config file that gives a required flag (fast: no model is loaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lore_rag.cli import _apply_config, build_parser, main
from lore_rag.cli.options import config_from_args
from lore_rag.models.merge import MergeLoraConfig


def test_the_flags_rebuild_the_merge_config() -> None:
    args = _apply_config(build_parser(), ["merge-lora", "runs/lora", "-o", "runs/merged", "--device", "cpu"])
    assert config_from_args(MergeLoraConfig, args) == MergeLoraConfig("runs/lora", "runs/merged", "cpu")
    args = _apply_config(build_parser(), ["merge-lora", "runs/lora", "--output", "m"])
    assert config_from_args(MergeLoraConfig, args) == MergeLoraConfig("runs/lora", "m", None)


@pytest.mark.parametrize("spelling", [["--config", "{path}"], ["--config={path}"]])
def test_a_config_file_can_give_a_required_flag(spelling: list[str], tmp_path: Path) -> None:
    config = tmp_path / "merge.yaml"
    config.write_text("output: from-file\ndevice: cpu\n", encoding="utf-8")
    tail = [word.format(path=config) for word in spelling]
    args = _apply_config(build_parser(), ["-q", "merge-lora", "runs/lora", *tail])
    assert (args.output, args.device) == ("from-file", "cpu")
    args = _apply_config(build_parser(), ["merge-lora", "runs/lora", *tail, "-o", "from-flag"])
    assert args.output == "from-flag"  # the line wins
    convert = tmp_path / "convert.yaml"
    convert.write_text("output: rows.jsonl\n", encoding="utf-8")
    args = _apply_config(build_parser(), ["convert", "hotpotqa", "in.json", "--config", str(convert)])
    assert args.output == "rows.jsonl"


def test_a_missing_output_or_a_missing_checkpoint_is_one_line(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["merge-lora", "runs/lora"])
    assert stop.value.code == 2 and "--output" in capsys.readouterr().err
    assert main(["-q", "merge-lora", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err == f"lore-rag: error: {tmp_path / 'nowhere'}: no such checkpoint folder\n"
    assert main(["-q", "merge-lora", str(tmp_path), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "no lore_manifest.json" in err and "lore-rag train --lora-r" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_the_card_tells_an_adapter_a_merged_folder_and_a_full_fine_tune_apart() -> None:
    from lore_rag.models.card import model_card

    base = {"base_model": "all-MiniLM-L6-v2", "base_fingerprint": "3768970d4aa7f94e"}
    full = model_card({**base, "training": {"lora_r": 0}})
    adapter = model_card({**base, "training": {"lora_r": 8}}, repo_id="me/lora")
    merged = model_card(
        {
            **base,
            "training": {"lora_r": 8},
            "merged_from": {"path": "runs/lora/best", "adapter_sha256": "ab" * 32},
            "lora": {"r": 8, "alpha": 16.0},
        }
    )
    assert "**both sides**" in full and "SentenceTransformer(" in full and "LoRA" not in full
    assert "as a LoRA adapter" in adapter and "SentenceTransformer(" not in adapter
    assert "hf download me/lora --local-dir lora-checkpoint\nlore-rag merge-lora lora-checkpoint -o merged/" in adapter
    assert "**both sides**" in merged and "SentenceTransformer(" in merged and "merge-lora -o" not in merged
    assert "merged from a LoRA adapter (r = 8, alpha 16.0" in merged and "ab" * 8 in merged


def test_train_merge_lora_without_lora_is_one_line_before_any_work(tmp_path: Path, capsys) -> None:
    assert main(["-q", "train", "--merge-lora", "--max-steps", "1", "-o", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err == (
        "lore-rag: error: field 'merge_lora' needs 'lora_r' > 0: without LoRA the checkpoint already holds full "
        "weights\n"
    )
    assert not (tmp_path / "run").exists()
