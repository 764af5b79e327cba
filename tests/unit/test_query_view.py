"""One name for the rewritten-vs-original query choice, with the older spellings still accepted."""

from __future__ import annotations

import pytest

from lore_rag.data.schema import Example, Tier, query_view
from lore_rag.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "view"),
    [("rewritten", "rewritten"), ("file", "rewritten"), ("query", "rewritten"), ("original", "original"),
     ("original_query", "original")],
)  # fmt: skip
def test_every_spelling_names_one_of_two_views(value: str, view: str) -> None:
    assert query_view(value) == view


def test_an_unknown_view_names_the_flag_it_came_from() -> None:
    with pytest.raises(ConfigError, match="unknown --queries 'both'"):
        query_view("both", what="--queries")


def test_an_example_gives_its_question_per_view() -> None:
    row = Example(query="q (with distractor)", chunks=["c"], tiers=[Tier.POSITIVE], original_query="q")
    assert row.query_for("rewritten") == row.query_for("file") == "q (with distractor)"
    assert row.query_for("original") == row.query_for("original_query") == "q"
    assert Example(query="q", chunks=["c"], tiers=[Tier.POSITIVE]).query_for("original") is None
