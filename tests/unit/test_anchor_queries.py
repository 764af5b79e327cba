"""--anchor-queries: reading a team's question list, and mining each question's base-model top-k training chunks."""

from __future__ import annotations

import numpy as np
import pytest

from lore_rag.data.schema import Tier
from lore_rag.errors import DataError
from lore_rag.training.anchor_queries import anchor_examples, mine_candidates, read_questions


def test_text_file_one_question_per_line_blank_lines_and_repeats_dropped(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text("who wrote it?\n\n  when was it built?  \nwho wrote it?\n", encoding="utf-8")
    assert read_questions(path) == ["who wrote it?", "when was it built?"]


def test_jsonl_takes_query_or_question(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"query": "a?"}\n{"question": "b?", "id": 3}\n', encoding="utf-8")
    assert read_questions(path) == ["a?", "b?"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("q.jsonl", '{"query": "a?"}\n{"query": \n', r"q.jsonl:2: not valid JSON"),
        ("q.jsonl", '{"query": "a?"}\n{"text": "b?"}\n', r"q.jsonl:2: field 'query' \(or 'question'\)"),
        ("q.jsonl", '{"query": ""}\n', r"q.jsonl:1: field 'query'"),
        ("q.txt", "\n\n", r"q.txt: no questions in it"),
    ],
)
def test_bad_files_name_file_line_and_field(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_questions(path)


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(DataError, match=r"nope.txt: no such file"):
        read_questions(tmp_path / "nope.txt")
    (tmp_path / "latin.txt").write_bytes("caf\xe9?\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.txt: not UTF-8 text at byte 3"):
        read_questions(tmp_path / "latin.txt")


def test_mining_is_the_exact_top_k_best_first_in_blocks():
    rng = np.random.default_rng(0)
    queries = rng.normal(size=(7, 5)).astype(np.float32)
    documents = rng.normal(size=(40, 5)).astype(np.float32)
    expected = np.argsort(-(queries @ documents.T), axis=1, kind="stable")[:, :4]
    assert np.array_equal(mine_candidates(queries, documents, 4, block=3), expected)
    assert mine_candidates(queries, documents[:3], 10).shape == (7, 3)  # capped at the corpus


def test_anchor_rows_have_no_positive_and_the_question_as_original_query():
    chunks = ["c0", "c1", "c2"]
    vectors = np.eye(3, dtype=np.float32)
    rows = anchor_examples(["q?"], np.array([[0.1, 0.9, 0.3]], dtype=np.float32), chunks, vectors, 2)
    assert rows[0].chunks == ["c1", "c2"] and rows[0].tiers == [Tier.NEGATIVE, Tier.NEGATIVE]
    assert rows[0].query == rows[0].original_query == "q?" and rows[0].n_positive == 0
