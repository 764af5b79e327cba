"""Append-only JSONL logs: what a crash can leave is repaired, anything else is reported with its line."""

from __future__ import annotations

import json
import threading

import pytest

from lore_rag.data.jsonl_log import JsonlAppender, read_log
from lore_rag.errors import DataError


def test_missing_file_has_no_rows(tmp_path):
    assert read_log(tmp_path / "none.jsonl") == ([], False)


def test_torn_last_line_is_cut_and_a_complete_one_kept(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2')
    assert read_log(path) == ([{"a": 1}], True)
    assert path.read_bytes() == b'{"a": 1}\n'
    path.write_bytes(b'{"a": 1}\n{"a": 2}')
    assert read_log(path) == ([{"a": 1}, {"a": 2}], True)
    assert path.read_bytes() == b'{"a": 1}\n{"a": 2}\n'
    assert read_log(path) == ([{"a": 1}, {"a": 2}], False)


def test_repair_false_leaves_the_file_alone(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a"')
    assert read_log(path, repair=False) == ([{"a": 1}], True)
    assert path.read_bytes() == b'{"a": 1}\n{"a"'


def test_bad_middle_line_skipped_or_raised_with_its_line(tmp_path, caplog):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\n\nnot json\n[1]\n{"a": 2}\n')
    assert read_log(path)[0] == [{"a": 1}, {"a": 2}]
    assert f"{path}:3: skipping" in caplog.text and f"{path}:4: skipping" in caplog.text
    with pytest.raises(DataError) as info:
        read_log(path, strict=True, hint="delete it")
    assert info.value.line == 3 and str(info.value).startswith(f"{path}:3") and "delete it" in str(info.value)


def test_check_sees_file_line_numbers_including_the_tail(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"id": "x"}\n\n{"id": "y"}\n{"id": 3}')
    seen = []

    def check(row, line_no):
        seen.append(line_no)
        if not isinstance(row["id"], str):
            raise DataError("bad id", path=str(path), line=line_no, field="id")

    with pytest.raises(DataError) as info:
        read_log(path, check=check)
    assert seen == [1, 3, 4] and info.value.line == 4


def test_appends_from_threads_stay_whole_lines(tmp_path):
    path = tmp_path / "sub" / "log.jsonl"
    log = JsonlAppender(path)
    assert path.read_bytes() == b""  # an empty log exists from the start
    text = "é" * 300

    def work(n):
        for i in range(20):
            log.append({"thread": n, "i": i, "text": text})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 80 and all(r["text"] == text for r in rows)
    assert sorted((r["thread"], r["i"]) for r in rows) == [(n, i) for n in range(4) for i in range(20)]
