"""Tiered LORE data: schema, JSONL io, answers, converters and the builder.

``from lore_rag.data import Example, Tier, read_examples, write_examples, build_data, BuildConfig``. Names are
imported from their modules on first use, so ``import lore_rag.data`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lore_rag._lazy import lazy_exports

if TYPE_CHECKING:
    from lore_rag.data.answers import MSMARCO_NO_ANSWER, gold_answers, normalize_answer
    from lore_rag.data.builder.runner import BuildConfig, BuildReport, build_data
    from lore_rag.data.io import expand_paths, iter_examples, iter_json_rows, read_examples, write_examples
    from lore_rag.data.jsonl_log import JsonlAppender, read_log
    from lore_rag.data.schema import (
        QUERY_VIEW_ALIASES,
        QUERY_VIEWS,
        RELATIONS,
        DataError,
        Example,
        QueryView,
        Tier,
        query_view,
    )

__all__ = [
    "BuildConfig",
    "BuildReport",
    "DataError",
    "Example",
    "JsonlAppender",
    "MSMARCO_NO_ANSWER",
    "QUERY_VIEWS",
    "QUERY_VIEW_ALIASES",
    "QueryView",
    "RELATIONS",
    "Tier",
    "build_data",
    "expand_paths",
    "gold_answers",
    "iter_examples",
    "iter_json_rows",
    "normalize_answer",
    "query_view",
    "read_examples",
    "read_log",
    "write_examples",
]

#: Where each public name is defined.
_EXPORTS = {
    "BuildConfig": "lore_rag.data.builder.runner",
    "BuildReport": "lore_rag.data.builder.runner",
    "DataError": "lore_rag.data.schema",
    "Example": "lore_rag.data.schema",
    "JsonlAppender": "lore_rag.data.jsonl_log",
    "MSMARCO_NO_ANSWER": "lore_rag.data.answers",
    "QUERY_VIEWS": "lore_rag.data.schema",
    "QUERY_VIEW_ALIASES": "lore_rag.data.schema",
    "QueryView": "lore_rag.data.schema",
    "RELATIONS": "lore_rag.data.schema",
    "Tier": "lore_rag.data.schema",
    "build_data": "lore_rag.data.builder.runner",
    "expand_paths": "lore_rag.data.io",
    "gold_answers": "lore_rag.data.answers",
    "iter_examples": "lore_rag.data.io",
    "iter_json_rows": "lore_rag.data.io",
    "normalize_answer": "lore_rag.data.answers",
    "query_view": "lore_rag.data.schema",
    "read_examples": "lore_rag.data.io",
    "read_log": "lore_rag.data.jsonl_log",
    "write_examples": "lore_rag.data.io",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
