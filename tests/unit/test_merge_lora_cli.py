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
