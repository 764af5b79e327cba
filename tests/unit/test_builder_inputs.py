"""build-data's input checks: raw rows pass, already-tiered or empty input is refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lore_rag.data.builder import BuildConfig, build_data, load_inputs
from lore_rag.errors import DataError

RAW = {"query": "Who directed Sinister?", "chunks": ["Scott Derrickson directed it.", "Paris."], "labels": [1, 0]}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_raw_rows_and_kept_original_rows_are_accepted(tmp_path: Path) -> None:
    kept = {**RAW, "id": "k", "original_query": RAW["query"]}  # a P / N2 row build-data kept unrewritten
    rows = load_inputs(BuildConfig(inputs=[str(_write(tmp_path / "in.jsonl", [RAW, RAW, kept]))], output="x.jsonl"))
    assert [e.id for e in rows][1].endswith("#2") and len(rows) == 3  # duplicate ids made unique


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({**RAW, "labels": [1, -1]}, "labels"),
        ({**RAW, "relation": "Causal"}, "relation"),
        ({**RAW, "used_distractors": [1]}, "used_distractors"),
        ({**RAW, "original_query": "Where is Paris?"}, "original_query"),
    ],
)
def test_already_tiered_rows_are_refused_naming_file_line_and_field(tmp_path: Path, row: dict, field: str) -> None:
    path = _write(tmp_path / "tiered.jsonl", [RAW, row])
    output = tmp_path / "out" / "built.jsonl"
    with pytest.raises(DataError) as refused:
        build_data(BuildConfig(inputs=[str(path)], output=str(output), offline=True, show_progress=False))
    assert f"tiered.jsonl:2: field '{field}'" in str(refused.value) and "already tiered" in str(refused.value)
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder


def test_empty_input_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="no questions"):
        load_inputs(BuildConfig(inputs=[str(path)], output=str(tmp_path / "o.jsonl")))


def test_limit_stops_reading(tmp_path: Path) -> None:
    path = _write(tmp_path / "in.jsonl", [RAW, RAW, {**RAW, "labels": [1, -1]}])
    assert len(load_inputs(BuildConfig(inputs=[str(path)], output="o.jsonl", limit=2))) == 2
