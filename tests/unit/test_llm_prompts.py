"""QA prompts from retrieved chunks, and parsing short answers with their cited chunk ids."""

from __future__ import annotations

import pytest

from lore_rag.llm.prompts import UNKNOWN, Answer, answer_messages, format_chunks, parse_answer

CHUNKS = [
    "Sinister is a 2012 supernatural horror film directed by Scott Derrickson.",
    "Ed Wood is a 1994 American film directed by Tim Burton.",
]


def test_short_messages_hold_numbered_chunks_and_the_question() -> None:
    messages = answer_messages("  Who directed   Sinister? ", CHUNKS)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "shortest possible answer" in messages[0]["content"] and UNKNOWN in messages[0]["content"]
    last = messages[-1]["content"]
    assert f"[1] {CHUNKS[0]}" in last and f"[2] {CHUNKS[1]}" in last
    assert last.endswith("Question: Who directed Sinister?")
    assert last.index("[1]") < last.index("[2]") < last.index("Question:")


def test_long_mode_and_no_example() -> None:
    messages = answer_messages("Who?", CHUNKS, short=False)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "one to three sentences" in messages[0]["content"]
    assert len(answer_messages("Who?", CHUNKS, example=False)) == 2


def test_chunk_ids_are_shown_and_cut_to_length() -> None:
    text = format_chunks(["a" * 50, "b b\n b"], ["doc-7", "x[1]"], max_chunk_chars=10)
    assert text.splitlines() == ["[doc-7] aaaaaaa...", "[x(1)] b b b"]
    assert "(no passages)" in answer_messages("Who?", [])[-1]["content"]


@pytest.mark.parametrize(
    ("chunks", "ids", "message"),
    [(CHUNKS, ["only-one"], "2 chunks but 1 chunk ids"), (CHUNKS, ["a", "a"], "unique")],
)
def test_bad_chunk_ids_are_refused(chunks: list[str], ids: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        answer_messages("Who?", chunks, chunk_ids=ids)


def test_empty_question_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        answer_messages("  ", CHUNKS)


@pytest.mark.parametrize(
    ("reply", "text", "cited"),
    [
        ("Scott Derrickson [1]", "Scott Derrickson", ["1"]),
        ("Answer: Scott Derrickson [1, 2].", "Scott Derrickson", ["1", "2"]),
        ('"Paris" [2][1][2]', "Paris", ["2", "1"]),
        ("The answer is:\n[1] Scott Derrickson", "Scott Derrickson", ["1"]),
        ("The answer to this question is yes.", "yes", []),
        ("**1994** [2]\nSources: 1", "1994", ["2", "1"]),
        ("Tim Burton\nBecause passage [2] says so.", "Tim Burton", ["2"]),
        ("unknown", "unknown", []),
        ("", "", []),
    ],
)
def test_parse_short_answers(reply: str, text: str, cited: list[str]) -> None:
    assert parse_answer(reply) == Answer(text=text, cited=cited)


def test_parse_keeps_brackets_that_are_not_known_ids() -> None:
    answer = parse_answer("It is [sic] Derrickson [d7]", chunk_ids=["d7", "d9"])
    assert answer == Answer(text="It is [sic] Derrickson", cited=["d7"])
    assert parse_answer("Derrickson [x(1)]", chunk_ids=["x[1]"]).cited == ["x[1]"]


def test_parse_long_answers_keeps_all_sentences() -> None:
    reply = "Scott Derrickson directed it [1]. He is American [1][3].\nSources: 1"
    answer = parse_answer(reply, short=False, chunk_ids=["1", "2", "3"])
    assert answer.text == "Scott Derrickson directed it. He is American."
    assert answer.cited == ["1", "3"]


def test_unknown_is_recognised() -> None:
    assert parse_answer("Unknown.").is_unknown
    assert not parse_answer("Paris").is_unknown
