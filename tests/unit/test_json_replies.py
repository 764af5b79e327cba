"""LLM replies are validated with jsonschema: every keyword the schemas use is enforced, in the project's words."""

from __future__ import annotations

import pytest

from lore_rag.data.builder.prompts import rewrite_schema
from lore_rag.llm.json_replies import check_schema

QUESTION = "Where was the man who founded the Kyoto temple buried?"


def fails(value, schema) -> str:
    with pytest.raises(ValueError) as caught:
        check_schema(value, schema)
    return str(caught.value)


def test_the_rewrite_schema_pattern_is_enforced():
    schema = rewrite_schema([2, 3], ["Causal", "Contrastive"], anchor=QUESTION)
    query = "Daigo is named after his burial place; " + QUESTION
    good = {"relation": "Causal", "distractor_ids": ["2"], "query": query}
    check_schema(good, schema)
    # the query keeps its length but drops the original question: only 'pattern' catches it
    broken = {**good, "query": "Daigo is named after his burial place; where was the founder of it laid to rest?"}
    message = fails(broken, schema)
    assert message.startswith("$.query should match the pattern '^[A-Z]")
    assert "where was the founder" in message


def test_each_keyword_of_the_rewrite_schema_fails_in_its_own_words():
    schema = rewrite_schema([2, 3], ["Causal"], max_distractors=1, max_chars=80, anchor=None)
    good = {"relation": "Causal", "distractor_ids": ["3"], "query": "Because of Daigo, " + QUESTION}
    check_schema(good, schema)
    cases = [
        ({**good, "relation": "Parallel"}, "$.relation should be one of ['Causal'], got 'Parallel'"),
        ({**good, "distractor_ids": ["7"]}, "$.distractor_ids[0] should be one of ['2', '3'], got '7'"),
        ({**good, "distractor_ids": [3]}, "$.distractor_ids[0] should be string, got integer"),
        ({**good, "distractor_ids": []}, "$.distractor_ids should have at least 1 items, got 0"),
        ({**good, "distractor_ids": ["2", "3"]}, "$.distractor_ids should have at most 1 items, got 2"),
        ({**good, "query": "short"}, "$.query should have at least 10 characters, got 5"),
        ({**good, "query": "x" * 81}, "$.query should have at most 80 characters, got 81"),
        ({k: v for k, v in good.items() if k != "query"}, "$ lacks the required field 'query'"),
        ({**good, "note": "hi"}, "$ has a field 'note' the schema does not allow"),
        ([good], "$ should be object, got array"),
    ]
    for value, message in cases:
        assert fails(value, schema) == message


def test_keywords_beyond_the_old_subset_are_enforced():
    schema = {
        "type": "object",
        "properties": {
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "tags": {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
            "kind": {"const": "rewrite"},
            "when": {"type": "string", "format": "date"},
        },
    }
    check_schema({"score": 0.5, "tags": ["a", "b"], "kind": "rewrite", "when": "2024-02-29"}, schema)
    assert "$.score" in fails({"score": 1.5}, schema)
    assert "$.tags" in fails({"tags": ["a", "a"]}, schema)
    assert fails({"kind": "other"}, schema) == "$.kind should be 'rewrite', got 'other'"
    assert "$.when" in fails({"when": "yesterday"}, schema)
    assert fails({"score": True}, schema) == "$.score should be number, got boolean"


def test_a_broken_schema_is_reported_as_such():
    message = fails({"a": 1}, {"type": "object", "properties": {"a": {"type": "integr"}}})
    assert message.startswith("invalid JSON schema at #.properties.a.type")
