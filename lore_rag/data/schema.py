"""The tiered example: a query, its candidate chunks and one tier per chunk (paper Sec. 3.1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal, cast

from lore_rag.errors import ConfigError, DataError

__all__ = [
    "QUERY_VIEWS",
    "QUERY_VIEW_ALIASES",
    "RELATIONS",
    "DataError",
    "Example",
    "QueryView",
    "Tier",
    "query_view",
]

#: Which question of a row a retriever is asked: its ``query`` (in LORE data the rewritten question, with
#: distractor content woven in) or its ``original_query`` (the question as first asked).
QueryView = Literal["rewritten", "original"]
QUERY_VIEWS: tuple[QueryView, ...] = ("rewritten", "original")
#: Other spellings of the same choice, still accepted: qa-eval's ``file`` and the corpus evaluation's field names.
QUERY_VIEW_ALIASES: dict[str, QueryView] = {"file": "rewritten", "query": "rewritten", "original_query": "original"}


def query_view(value: str, *, what: str = "view") -> QueryView:
    """The :data:`QueryView` that ``value`` names (a view or one of :data:`QUERY_VIEW_ALIASES`).

    Args:
        value: ``"rewritten"``, ``"original"`` or an alias.
        what: The flag or field the value came from, for the error.

    Raises:
        ConfigError: for anything else, naming ``what``.
    """
    if value in QUERY_VIEWS:
        return cast(QueryView, value)
    if value in QUERY_VIEW_ALIASES:
        return QUERY_VIEW_ALIASES[value]
    raise ConfigError(f"unknown {what} {value!r}: use 'rewritten' (the row's query) or 'original' (its original_query)")


#: The eight Rhetorical Structure Theory relations used to weave distractors into a query.
RELATIONS: tuple[str, ...] = (
    "Sequential",
    "Transitional",
    "Supplementary",
    "Contrastive",
    "Causal",
    "Parallel",
    "Hypothetical",
    "Explanatory",
)


class Tier(IntEnum):
    """Tier of a candidate chunk; the values are the labels used on disk (and by the paper's code)."""

    POSITIVE = 1
    NEGATIVE = 0
    DISTRACTOR = -1


_OPTIONAL_STR = ("id", "original_query", "relation", "dataset")


def _check_chunks(chunks: Any, fail: Callable[[str, str], DataError]) -> None:
    """Refuse ``chunks`` unless it is a non-empty list of non-blank strings."""
    if not isinstance(chunks, list):
        raise fail("chunks", f"expected a list of strings, got {type(chunks).__name__}")
    if not chunks:
        raise fail("chunks", "no candidate chunks")
    for i, chunk in enumerate(chunks):
        if not isinstance(chunk, str):
            raise fail(f"chunks[{i}]", f"expected a string, got {type(chunk).__name__}")
        if not chunk.strip():
            raise fail(f"chunks[{i}]", "empty chunk")


def _tiers(labels: Any, n_chunks: int, fail: Callable[[str, str], DataError]) -> list[Tier]:
    """The tiers of ``labels``: one 1 / 0 / -1 per chunk."""
    if not isinstance(labels, list):
        raise fail("labels", f"expected a list of 1 / 0 / -1, got {type(labels).__name__}")
    if len(labels) != n_chunks:
        raise fail("labels", f"{len(labels)} labels for {n_chunks} chunks")
    tiers: list[Tier] = []
    for i, label in enumerate(labels):
        # bool is an int subclass: true/false would silently become 1/0, so refuse it.
        if isinstance(label, bool) or not isinstance(label, int) or label not in (1, 0, -1):
            raise fail(f"labels[{i}]", f"label must be 1, 0 or -1, got {label!r}")
        tiers.append(Tier(label))
    return tiers


@dataclass
class Example:
    """One query with its candidate chunks, each given a :class:`Tier`.

    Attributes:
        query: The query the retriever sees (rewritten with distractors in LORE data).
        chunks: Candidate chunk texts.
        tiers: One tier per chunk.
        id: Optional identifier.
        original_query: The question before rewriting, when known.
        relation: RST relation used for the rewrite, when known.
        used_distractors: Indices of chunks woven into the rewrite.
        answer: Gold answer: a string, or a list of acceptable strings.
        extra: Any other fields of the source row, written back unchanged.
    """

    query: str
    chunks: list[str]
    tiers: list[Tier]
    id: str | None = None
    original_query: str | None = None
    relation: str | None = None
    used_distractors: list[int] = field(default_factory=list)
    answer: str | list[str] | None = None
    dataset: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_positive(self) -> int:
        """Number of positive chunks."""
        return sum(t == Tier.POSITIVE for t in self.tiers)

    @property
    def n_distractor(self) -> int:
        """Number of distractor (N1) chunks."""
        return sum(t == Tier.DISTRACTOR for t in self.tiers)

    def query_for(self, view: QueryView | str) -> str | None:
        """The question this row asks in ``view`` (:func:`query_view` spellings); ``None`` when it has no original."""
        return self.query if query_view(view) == "rewritten" else self.original_query

    def as_original(self) -> Example:
        """The same candidates seen from the original question: distractors become plain negatives.

        Raises:
            ValueError: if the example has no ``original_query``.
        """
        if not self.original_query:
            raise ValueError(f"example {self.id!r} has no original_query")
        tiers: list[Tier] = [Tier.NEGATIVE if t == Tier.DISTRACTOR else t for t in self.tiers]
        return Example(
            query=self.original_query,
            chunks=list(self.chunks),
            tiers=tiers,
            id=self.id,
            original_query=self.original_query,
            answer=self.answer,
            dataset=self.dataset,
        )

    def to_dict(self) -> dict[str, Any]:
        """The on-disk form: ``labels`` as 1 / 0 / -1, optional fields only when set."""
        row: dict[str, Any] = {}
        if self.id is not None:
            row["id"] = self.id
        row["query"] = self.query
        if self.original_query is not None:
            row["original_query"] = self.original_query
        row["chunks"] = list(self.chunks)
        row["labels"] = [int(t) for t in self.tiers]
        if self.relation is not None:
            row["relation"] = self.relation
        if self.used_distractors:
            row["used_distractors"] = list(self.used_distractors)
        if self.answer is not None:
            row["answer"] = self.answer
        if self.dataset is not None:
            row["dataset"] = self.dataset
        for key, value in self.extra.items():
            row.setdefault(key, value)
        return row

    @classmethod
    def from_dict(cls, row: Any, *, source: str = "<dict>", line: int = 0) -> Example:
        """Validate one row and build an example.

        Args:
            row: The decoded JSON object.
            source: File name used in error messages.
            line: 1-based line number used in error messages.

        Raises:
            DataError: naming the file, line and field of the first problem found.
        """

        def fail(field_name: str, problem: str) -> DataError:
            return DataError(problem, path=source, line=line, field=field_name or None)

        if not isinstance(row, dict):
            raise fail("", f"expected a JSON object, got {type(row).__name__}")
        for name in ("query", "chunks", "labels"):
            if name not in row:
                raise fail(name, "missing required field")
        query = row["query"]
        if not isinstance(query, str):
            raise fail("query", f"expected a string, got {type(query).__name__}")
        if not query.strip():
            raise fail("query", "empty query")
        chunks = row["chunks"]
        _check_chunks(chunks, fail)
        tiers = _tiers(row["labels"], len(chunks), fail)
        kwargs: dict[str, Any] = {}
        for name in _OPTIONAL_STR:
            value = row.get(name)
            if value is not None and not isinstance(value, str):
                raise fail(name, f"expected a string, got {type(value).__name__}")
            kwargs[name] = value
        used = row.get("used_distractors") or []
        if not isinstance(used, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in used):
            raise fail("used_distractors", "expected a list of chunk indices")
        for i in used:
            if not 0 <= i < len(chunks):
                raise fail("used_distractors", f"index {i} is outside the {len(chunks)} chunks")
        answer = row.get("answer")
        if answer is not None and not (
            isinstance(answer, str) or (isinstance(answer, list) and all(isinstance(a, str) for a in answer))
        ):
            raise fail("answer", "expected a string or a list of strings")
        known = {"query", "chunks", "labels", "used_distractors", "answer", *_OPTIONAL_STR}
        extra = {k: v for k, v in row.items() if k not in known}
        return cls(
            query=query,
            chunks=list(chunks),
            tiers=tiers,
            used_distractors=list(used),
            answer=answer,
            extra=extra,
            **kwargs,
        )
