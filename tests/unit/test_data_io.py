"""Tiered data: round trips, and one clear error naming file, line and field for each bad input."""

from __future__ import annotations

import gzip
import json
import logging

import pytest

from lore_rag.data.io import expand_paths, iter_examples, read_examples, write_examples
from lore_rag.data.schema import Example, Tier
from lore_rag.errors import DataError

GOOD = {"query": "who?", "chunks": ["a", "b", "c"], "labels": [1, -1, 0]}


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(**changes):
    data = dict(GOOD)
    data.update(changes)
    for key in [k for k, v in changes.items() if v is KeyError]:
        del data[key]
    return json.dumps(data)


def test_round_trip_keeps_every_field(tmp_path):
    example = Example(
        query="rewritten q",
        chunks=["p", "d", "n"],
        tiers=[Tier.POSITIVE, Tier.DISTRACTOR, Tier.NEGATIVE],
        id="x1",
        original_query="q",
        relation="Causal",
        used_distractors=[1],
        answer=["a", "b"],
        dataset="hotpotqa",
        extra={"titles": ["P", "D", "N"]},
    )
    for name in ("out.jsonl", "out.jsonl.gz"):
        path = tmp_path / name
        assert write_examples([example], path) == 1
        (back,) = read_examples(path)
        assert back == example
        assert back.to_dict()["labels"] == [1, -1, 0]


def test_shared_files_load_unchanged(shared_data):
    rows = read_examples(shared_data / "lore" / "validation_hotpotqa.jsonl")
    assert len(rows) == 196
    assert all(r.n_positive >= 1 and r.original_query for r in rows)
    raw = read_examples(shared_data / "raw" / "hotpotqa_dev_distractor.jsonl")
    assert all(Tier.DISTRACTOR not in r.tiers for r in raw)


def test_folder_of_files_reads_all_in_order(tmp_path):
    write_lines(tmp_path / "b.jsonl", [row(query="second")])
    write_lines(tmp_path / "a.jsonl", [row(query="first")])
    (tmp_path / "notes.txt").write_text("ignored")
    assert [e.query for e in read_examples(tmp_path)] == ["first", "second"]


def test_rows_without_positive_are_skipped_and_counted(tmp_path, caplog):
    path = write_lines(tmp_path / "d.jsonl", [row(), row(labels=[0, -1, 0]), row(labels=[0, 0, 0])])
    with caplog.at_level(logging.WARNING):
        examples = read_examples(path)
    assert len(examples) == 1
    assert "skipped 2 row(s) with no positive" in caplog.text
    assert str(path) in caplog.text


@pytest.mark.parametrize(
    ("line", "field", "needle"),
    [
        ('{"query": "q", "chunks": ["a"], ', None, "malformed JSON"),
        ("[1, 2]", None, "expected a JSON object"),
        (row(query=KeyError), "query", "missing required field"),
        (row(chunks=KeyError), "chunks", "missing required field"),
        (row(labels=KeyError), "labels", "missing required field"),
        (row(query=3), "query", "expected a string"),
        (row(query="   "), "query", "empty query"),
        (row(chunks="abc"), "chunks", "expected a list"),
        (row(chunks=[]), "chunks", "no candidate chunks"),
        (row(chunks=["a", 2, "c"]), "chunks[1]", "expected a string"),
        (row(chunks=["a", "", "c"]), "chunks[1]", "empty chunk"),
        (row(labels=[1, 0]), "labels", "2 labels for 3 chunks"),
        (row(labels=[1, 2, 0]), "labels[1]", "must be 1, 0 or -1"),
        (row(labels=[1, True, 0]), "labels[1]", "must be 1, 0 or -1"),
        (row(labels=[1, "0", 0]), "labels[1]", "must be 1, 0 or -1"),
        (row(labels="1,0,0"), "labels", "expected a list"),
        (row(used_distractors=[7]), "used_distractors", "outside the 3 chunks"),
        (row(used_distractors="1"), "used_distractors", "list of chunk indices"),
        (row(answer=5), "answer", "string or a list of strings"),
        (row(relation=["Causal"]), "relation", "expected a string"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, line, field, needle):
    path = write_lines(tmp_path / "bad.jsonl", [row(), "", line])
    with pytest.raises(DataError) as info:
        read_examples(path)
    err = info.value
    assert err.path == str(path) and err.line == 3 and err.field == field
    message = str(err)
    assert message.startswith(f"{path}:3") and needle in message
    if field:
        assert f"field '{field}'" in message


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(row().encode() + b"\n" + '{"query": "caf\u00e9"}'.encode("latin-1") + b"\n")
    with pytest.raises(DataError, match=r"latin1.jsonl:2: not UTF-8"):
        read_examples(path)


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        expand_paths(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match="folder holds no .jsonl"):
        expand_paths(tmp_path)


def test_file_with_no_usable_row_is_an_error(tmp_path):
    path = write_lines(tmp_path / "empty.jsonl", [row(labels=[0, 0, 0])])
    with pytest.raises(DataError, match="no usable example"):
        read_examples(path)
    assert list(iter_examples(path)) == []


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "keep.jsonl"
    write_examples([Example.from_dict(json.loads(row()))], path)
    before = path.read_bytes()

    def broken():
        yield Example.from_dict(json.loads(row(query="new")))
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_examples(broken(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.jsonl"]


def test_gzip_is_deterministic(tmp_path):
    example = Example.from_dict(json.loads(row()))
    write_examples([example], tmp_path / "a.jsonl.gz")
    write_examples([example], tmp_path / "b.jsonl.gz")
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()
    with gzip.open(tmp_path / "a.jsonl.gz", "rt") as handle:
        assert json.loads(handle.readline())["labels"] == [1, -1, 0]
