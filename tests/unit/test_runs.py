"""The run-folder identity check shared by qa-eval, build-data and train."""

from __future__ import annotations

from pathlib import Path

import pytest

from lore_rag.errors import ConfigError, DataError
from lore_rag.runs import changed_settings, check_same_run, read_run_state, write_run_state


def test_changed_settings_lists_differences_in_the_order_asked_or_sorted() -> None:
    saved, now = {"k": 3, "seed": 0, "model": "a"}, {"k": 5, "seed": 0, "model": "b", "extra": None}
    assert changed_settings(saved, now) == ["k", "model"]  # a missing key equals None
    assert changed_settings(saved, now, ["model", "k", "seed"]) == ["model", "k"]
    assert changed_settings({"k": 3}, {"k": 3, "new": 1}, saved_only=True) == []
    assert changed_settings({"k": 3}, {"k": 3, "new": 1}) == ["new"]


def test_check_same_run_names_the_file_the_first_changed_field_and_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    check_same_run(path, {"k": 3}, {"k": 3}, hint="unused")
    with pytest.raises(ConfigError) as caught:
        check_same_run(path, {"k": 3, "seed": 1}, {"k": 5, "seed": 2}, hint="pass --overwrite")
    assert str(caught.value) == f"{path}: field 'k': the run recorded here has 3, not 5; pass --overwrite"
    with pytest.raises(DataError, match="field 'seed'"):
        check_same_run(path, {"k": 3, "seed": 1}, {"k": 5, "seed": 2}, keys=["seed"], hint="", error=DataError)


def test_run_state_round_trips_and_an_unreadable_file_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    assert read_run_state(path, hint="h") is None
    write_run_state(path, {"identity": {"k": 3}, "name": "Zoë"})
    assert read_run_state(path, hint="h") == {"identity": {"k": 3}, "name": "Zoë"}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # the temporary file is gone
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run.json: unreadable \(holds a JSON list, not an object\); h$"):
        read_run_state(path, hint="h")
    path.write_text('{"k": ', encoding="utf-8")
    with pytest.raises(ConfigError, match="unreadable"):
        read_run_state(path, hint="h")
    assert read_run_state(path, hint="h", error=None) is None
