"""BEIR-style folders (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``) to raw rows.

BEIR judges documents of a whole corpus, so each query's candidate chunks come from a first-stage retriever:
a run file you already have (TREC ``qid Q0 docid rank score tag``, ``qid<TAB>docid<TAB>score``, or JSON
``{qid: {docid: score}}`` / ``{qid: [docid, ...]}``), or BM25 / embedding retrieval over the corpus done here.
A candidate is gold when its qrels score is at least ``min_score``. Gold documents the retriever missed are
appended (``missing_positives="add"``), or the query is dropped (``"skip"``) or kept without them (``"keep"``).
The chunk is the document ``text`` (``title_in_chunk`` prepends the title); its title goes to ``titles``; a
query's ``metadata.answer`` (as in BEIR's HotpotQA) becomes the answer.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag.data.converters._common import iter_records, raw_example, require
from lore_rag.data.schema import Example
from lore_rag.errors import ConfigError, DataError

if TYPE_CHECKING:
    from lore_rag.models.encoder import LoreEncoder

__all__ = ["MISSING_POSITIVES", "iter_beir", "read_qrels", "read_run"]

logger = logging.getLogger(__name__)

MISSING_POSITIVES = ("add", "skip", "keep")


def read_qrels(path: str | os.PathLike[str]) -> dict[str, dict[str, float]]:
    """``{query_id: {doc_id: score}}`` from a BEIR qrels TSV (with or without the header line).

    Raises:
        DataError: for a line that is not ``query-id<TAB>corpus-id<TAB>score``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("no such qrels file", path=str(path))
    qrels: dict[str, dict[str, float]] = {}
    with path.open("r", encoding="utf-8", newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or not "".join(row).strip():
                continue
            if line_no == 1 and row[0].strip().lower() in ("query-id", "query_id", "qid"):
                continue
            if len(row) == 4:  # TREC qrels: qid 0 docid score
                row = [row[0], row[2], row[3]]
            if len(row) != 3:
                raise DataError(
                    f"expected query-id, corpus-id, score; got {len(row)} column(s)", path=str(path), line=line_no
                )
            try:
                score = float(row[2])
            except ValueError:
                raise DataError(f"score {row[2]!r} is not a number", path=str(path), line=line_no) from None
            qrels.setdefault(row[0].strip(), {})[row[1].strip()] = score
    return qrels


def read_run(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """``{query_id: [doc_id, ...]}`` best first, from a TREC run, a ``qid docid score`` TSV or JSON.

    Raises:
        DataError: for a line or value in none of these layouts.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("no such run file", path=str(path))
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"malformed JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
        if not isinstance(data, dict):
            raise DataError("expected {query_id: {doc_id: score}} or {query_id: [doc_id, ...]}", path=str(path))
        run: dict[str, list[str]] = {}
        for qid, docs in data.items():
            if isinstance(docs, dict):
                run[str(qid)] = [str(d) for d, _ in sorted(docs.items(), key=lambda kv: -float(kv[1]))]
            elif isinstance(docs, list):
                run[str(qid)] = [str(d) for d in docs]
            else:
                raise DataError("expected a mapping or a list of doc ids", path=str(path), field=str(qid))
        return run
    # (sort key, line, doc): the TREC rank, or the negated score; ties keep the file order
    ranked: dict[str, list[tuple[float, int, str]]] = {}
    with path.open("r", encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) not in (3, 6):
                raise DataError(
                    "expected 'qid Q0 docid rank score tag' or 'qid docid score'", path=str(path), line=line_no
                )
            try:
                # TREC: qid Q0 docid rank score tag (sorted by rank); else qid docid score (by score, descending)
                key = float(parts[3]) if len(parts) == 6 else -float(parts[2])
            except ValueError:
                if line_no == 1:
                    continue  # a header line
                raise DataError("rank or score is not a number", path=str(path), line=line_no) from None
            doc = parts[2] if len(parts) == 6 else parts[1]
            ranked.setdefault(parts[0], []).append((key, line_no, doc))
    return {qid: [doc for _, _, doc in sorted(items)] for qid, items in ranked.items()}


def _read_corpus(path: Path) -> dict[str, tuple[str, str]]:
    corpus: dict[str, tuple[str, str]] = {}
    source = str(path)
    for line, record in iter_records(path):
        did = require(record, "_id", source=source, line=line, types=(str, int))
        text = require(record, "text", source=source, line=line, types=str)
        title = record.get("title") or ""
        if not isinstance(title, str):
            raise DataError("expected a string", path=source, line=line, field="title")
        corpus[str(did)] = (title, text)
    return corpus


def _read_queries(path: Path) -> dict[str, tuple[str, Any]]:
    queries: dict[str, tuple[str, Any]] = {}
    source = str(path)
    for line, record in iter_records(path):
        qid = require(record, "_id", source=source, line=line, types=(str, int))
        text = require(record, "text", source=source, line=line, types=str)
        metadata = record.get("metadata") or {}
        answer = metadata.get("answer") if isinstance(metadata, dict) else None
        queries[str(qid)] = (text, answer)
    return queries


def iter_beir(
    folder: str | os.PathLike[str],
    *,
    split: str = "test",
    candidates: str | os.PathLike[str] = "bm25",
    k: int = 10,
    min_score: float = 1.0,
    missing_positives: str = "add",
    title_in_chunk: bool = False,
    dataset: str | None = None,
    encoder: LoreEncoder | None = None,
    show_progress: bool = True,
) -> Iterator[Example]:
    """Raw examples from a BEIR folder, one per judged query of ``split``.

    Args:
        folder: Folder holding ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.
        split: Which qrels file to use.
        candidates: A run file, or ``"bm25"`` / ``"embedding"`` to retrieve here.
        k: Candidates per query (with a run file: the first ``k`` of it).
        min_score: Lowest qrels score that counts as relevant.
        missing_positives: ``add``, ``skip`` or ``keep`` (see the module docstring).
        title_in_chunk: Chunk text is the title, a newline and the text.
        dataset: Value of the ``dataset`` field; the folder name when ``None``.
        encoder: Encoder for ``candidates="embedding"`` (the bundled raw model when ``None``).
        show_progress: Progress bars while retrieving.

    Raises:
        DataError: for missing files or malformed records; ConfigError for a bad option.
    """
    root = Path(folder)
    if missing_positives not in MISSING_POSITIVES:
        raise ConfigError(f"missing_positives must be one of {', '.join(MISSING_POSITIVES)}, got {missing_positives!r}")
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    corpus, queries, qrels, queries_path = _read_folder(root, split)
    name = dataset if dataset is not None else root.name
    qids = [qid for qid in queries if qid in qrels]
    doc_ids = list(corpus)
    ranking = _first_stage(candidates, qids, queries, corpus, doc_ids, k, encoder, show_progress)

    def chunk_text(did: str) -> str:
        title, text = corpus[did]
        return f"{title}\n{text}" if title_in_chunk and title else text

    skipped = 0
    for qid in qids:
        judged = qrels[qid]
        ranked = _chunk_ids(qid, ranking, judged, corpus, k, min_score, missing_positives)
        ranked = [d for d in ranked if chunk_text(d).strip()] if ranked is not None else []
        if not ranked:
            skipped += 1
            continue
        text, answer = queries[qid]
        yield raw_example(
            id=qid,
            query=text,
            chunks=[chunk_text(d) for d in ranked],
            relevant=[judged.get(d, 0.0) >= min_score for d in ranked],
            answer=answer if isinstance(answer, (str, list)) else None,
            titles=[corpus[d][0] for d in ranked],
            dataset=name,
            source=str(queries_path),
            line=0,
        )
    if skipped:
        logger.info(
            "%s: dropped %d quer(ies) (gold not retrieved with missing_positives=skip, or no text)", root, skipped
        )


def _read_folder(
    root: Path, split: str
) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, Any]], dict[str, dict[str, float]], Path]:
    """``(corpus, queries, qrels, queries.jsonl path)`` of a BEIR folder.

    Raises:
        DataError: for a missing file, a malformed record, or a qrels query id that is not in queries.jsonl.
    """
    corpus_path = root / "corpus.jsonl"
    queries_path = root / "queries.jsonl"
    qrels_path = root / "qrels" / f"{split}.tsv"
    for needed in (corpus_path, queries_path, qrels_path):
        if not needed.is_file():
            raise DataError(
                f"missing; a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/{split}.tsv", path=str(needed)
            )
    corpus = _read_corpus(corpus_path)
    queries = _read_queries(queries_path)
    qrels = read_qrels(qrels_path)
    unknown = [qid for qid in qrels if qid not in queries]
    if unknown:
        raise DataError(
            f"{len(unknown)} query id(s) of the qrels are not in queries.jsonl, e.g. {unknown[0]!r}",
            path=str(qrels_path),
        )
    return corpus, queries, qrels, queries_path


def _chunk_ids(
    qid: str,
    ranking: dict[str, list[str]],
    judged: dict[str, float],
    corpus: dict[str, tuple[str, str]],
    k: int,
    min_score: float,
    missing_positives: str,
) -> list[str] | None:
    """The document ids of one query's chunks, or ``None`` to drop the query.

    Its first ``k`` candidates found in the corpus, plus the relevant ones the first stage missed when
    ``missing_positives`` is ``add``; ``None`` when it is ``skip`` and one was missed.
    """
    ranked = [d for d in ranking.get(qid, []) if d in corpus][:k]
    if len(ranked) < len(ranking.get(qid, [])[:k]):
        logger.debug("query %s: run names documents missing from the corpus", qid)
    gold = [d for d, s in judged.items() if s >= min_score and d in corpus]
    missing = [d for d in gold if d not in ranked]
    if missing and missing_positives == "skip":
        return None
    if missing and missing_positives == "add":
        ranked = ranked + missing
    return ranked


def _first_stage(
    candidates: str | os.PathLike[str],
    qids: list[str],
    queries: dict[str, tuple[str, Any]],
    corpus: dict[str, tuple[str, str]],
    doc_ids: list[str],
    k: int,
    encoder: LoreEncoder | None,
    show_progress: bool,
) -> dict[str, list[str]]:
    spec = str(candidates)
    if spec in ("bm25", "embedding"):
        texts = [f"{title} {text}".strip() for title, text in corpus.values()]
        if spec == "bm25":
            from lore_rag.data.builder.mining import BM25

            index = BM25(texts)
            return {qid: [doc_ids[i] for i, _ in index.top_k(queries[qid][0], k)] for qid in qids}
        from lore_rag.data.builder.mining import embedding_top_k

        if encoder is None:
            from lore_rag.models.encoder import LoreEncoder

            encoder = LoreEncoder.raw()
        hits = embedding_top_k(encoder, [queries[q][0] for q in qids], texts, k, show_progress=show_progress)
        return {qid: [doc_ids[i] for i, _ in row] for qid, row in zip(qids, hits, strict=False)}
    if not Path(spec).is_file():
        raise ConfigError(f"candidates must be 'bm25', 'embedding' or a run file; {spec!r} is none of them")
    return read_run(spec)
