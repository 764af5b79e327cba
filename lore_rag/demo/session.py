"""The demo session: raw and LORE retrievers over one store, example sets, and an optional LLM."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lore_rag.data.schema import Example
from lore_rag.demo.examples import ExampleSet, example_query, index_examples, load_example_set
from lore_rag.demo.results import (
    _TOP,
    LORE,
    RAW,
    ColumnAnswer,
    ColumnResult,
    Comparison,
    LabelledHit,
    chunk_labels,
    label_hits,
)
from lore_rag.errors import ConfigError, DemoError, LoreError
from lore_rag.evaluation.answer_cache import AnswerCache

if TYPE_CHECKING:
    from lore_rag.demo.tradeoff import TradeoffFinding
    from lore_rag.llm import LLMClient
    from lore_rag.models.encoder import LoreEncoder
    from lore_rag.retrieval import ChromaStore, Hit
    from lore_rag.retrieval.rerank import Reranker

__all__ = [
    "DemoSession",
    "answer_from_hits",
    "app_store_path",
    "ensure_default_checkpoint",
    "training_curves_path",
]

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------------------------- set-up helpers


def app_store_path() -> Path:
    """Return the app's own Chroma folder: ``$LORE_RAG_HOME/app_store`` (``~/.cache/lore-rag/app_store``).

    Not :func:`lore_rag.retrieval.store.default_store_path` (``chroma/``, where ``lore-rag index`` writes): the app
    indexes the example sets it shows into a store of its own.
    """
    from lore_rag.defaults import home_dir

    return home_dir() / "app_store"


def ensure_default_checkpoint(folder: str | os.PathLike[str] | None = None, *, show_progress: bool = True) -> Path:
    """Return the default LORE checkpoint, trained once on the bundled data when it is not there yet.

    Only a finished run counts: ``folder/best`` is written when training ends, so a run interrupted earlier is
    resumed (from ``folder/last``) instead of being used half-trained.

    Args:
        folder: The training output folder; default ``$LORE_RAG_HOME/checkpoints/default``.
        show_progress: tqdm bars while training (about 24 steps; a few minutes on a 2-core CPU).

    Returns:
        The checkpoint folder (``folder/best``).
    """
    from lore_rag.defaults import cache_dir, home_dir
    from lore_rag.models.checkpoint import MANIFEST_NAME

    root = Path(folder) if folder is not None else home_dir() / "checkpoints" / "default"
    best = root / "best"
    if (best / MANIFEST_NAME).is_file():
        return best
    from lore_rag.training.trainer import TrainConfig, train

    logger.info("no LORE checkpoint in %s: training the default one on the bundled data (once)", root)
    result = train(
        TrainConfig(output_dir=str(root), cache_dir=str(cache_dir("doc_embeddings")), show_progress=show_progress)
    )
    return Path(result.best)


def training_curves_path(checkpoint: str | os.PathLike[str]) -> Path | None:
    """Return the ``training_curves.png`` of the run a checkpoint comes from (``None`` when there is none).

    The trainer writes it into the run folder, the parent of ``best/``; a checkpoint folder given as the run
    folder itself is looked into too.
    """
    path = Path(checkpoint)
    for folder in (path, path.parent):
        candidate = folder / "training_curves.png"
        if candidate.is_file():
            return candidate
    return None


# ----------------------------------------------------------------------------------------------- answers


def answer_from_hits(
    llm: LLMClient,
    question: str,
    hits: Sequence[Hit | LabelledHit],
    *,
    golds: Sequence[str] = (),
    dataset: str | None = None,
    cache: AnswerCache | None = None,
) -> ColumnAnswer:
    """Ask the LLM to answer ``question`` from ``hits`` (shown to it with their ranks as ids) and score the answer.

    The answer comes from :func:`lore_rag.evaluation.answering.answer_from_chunks`, the path ``lore-rag qa-eval``
    takes too. LLM failures do not raise: they come back as :attr:`ColumnAnswer.error`.

    Args:
        llm: The client.
        question: The question as the user asked it.
        hits: The chunks to answer from, best first.
        golds: Gold answers, for EM / F1.
        dataset: Data set name, picking the official F1 variant.
        cache: Answer cache shared by callers (identical prompts are asked once, also when asked at once).
    """
    from lore_rag.evaluation.answering import answer_from_chunks
    from lore_rag.evaluation.qa import score_answer, style_for_dataset

    plain = [h.hit if isinstance(h, LabelledHit) else h for h in hits]
    started = time.perf_counter()
    try:
        reply = answer_from_chunks(
            llm, question, [h.text for h in plain], chunk_ids=[str(h.rank) for h in plain], cache=cache
        )
    except Exception as exc:  # noqa: BLE001 - any LLM failure becomes a message in the UI
        logger.warning("LLM answer failed: %s", exc)
        return ColumnAnswer(error=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - started)
    answer = ColumnAnswer(
        text=reply.text,
        cited=[int(c) for c in reply.cited],
        reply=reply.reply,
        seconds=0.0 if reply.cached else time.perf_counter() - started,
    )
    if golds and reply.text:
        score = score_answer(reply.text, list(golds), style=style_for_dataset(dataset))
        answer.em, answer.f1 = score.em, score.f1
    elif golds:
        answer.em, answer.f1 = 0.0, 0.0
    return answer


# ----------------------------------------------------------------------------------------------- the session


class DemoSession:
    """Raw and LORE retrievers over one store, the loaded example sets, and an optional LLM.

    Thread-safe: the Gradio app calls one session from many request threads.

    Args:
        raw: The raw model (both sides).
        lore: The LORE checkpoint; its document side must be the one that built ``store``.
        store: The Chroma collection both columns search.
        llm: Client for answers (``None``: retrieval only).
        llm_error: Why there is no LLM, shown in the app.
        k: Default hits per column.
        answer_k: How many top hits the LLM answers from.
        checkpoint: The checkpoint folder (for the training curves and the summary).
        index_data: Add the chunks of every example set loaded to ``store``.
        reranker: A cross-encoder that reranks each column's top ``fetch_k`` (``None``: no reranking).
        fetch_k: Chunks each column hands to the reranker (default 20, never fewer than k).
        tradeoff: A ``lore-rag tradeoff`` output folder (or its ``tradeoff.json``) for the Summary tab; ``None``
            looks for one beside the checkpoint (:func:`~lore_rag.demo.tradeoff.find_tradeoff`).

    Raises:
        StoreError: when ``store`` was built by another document encoder.
    """

    def __init__(
        self,
        raw: LoreEncoder,
        lore: LoreEncoder,
        store: ChromaStore,
        *,
        llm: LLMClient | None = None,
        llm_error: str | None = None,
        k: int = 5,
        answer_k: int = _TOP,
        checkpoint: str | os.PathLike[str] | None = None,
        index_data: bool = True,
        reranker: Reranker | None = None,
        fetch_k: int | None = None,
        tradeoff: str | os.PathLike[str] | None = None,
    ) -> None:
        from lore_rag.retrieval.retriever import side_by_side

        if k < 1 or answer_k < 1:
            raise ConfigError(f"k and answer_k must be at least 1, got k={k}, answer_k={answer_k}")
        self.raw = raw
        self.lore = lore
        self.store = store
        self.llm = llm
        self.llm_error = llm_error
        self.k = k
        self.answer_k = answer_k
        self.checkpoint = Path(checkpoint) if checkpoint is not None else _manifest_path(lore)
        self.index_data = index_data
        self.reranker = reranker
        self.fetch_k = fetch_k
        self.tradeoff_path = tradeoff
        self._tradeoff: TradeoffFinding | None = None
        self.retrievers = side_by_side(store, {RAW: raw, LORE: lore}, k=k, reranker=reranker, fetch_k=fetch_k)
        self.names = {RAW: _display_name(raw, "raw"), LORE: _display_name(lore, "LORE")}
        if reranker is not None:
            self.names = {key: f"{name} + reranker" for key, name in self.names.items()}
        self._sets: dict[str, ExampleSet] = {}
        self._summaries: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._summary_lock = threading.Lock()
        self._answers = AnswerCache(None, max_size=1024)

    @classmethod
    def create(
        cls,
        checkpoint: str | os.PathLike[str] | None = None,
        *,
        data: str | os.PathLike[str] | None = None,
        store: ChromaStore | str | os.PathLike[str] | None = None,
        collection: str = "lore",
        index_data: bool | None = None,
        llm: LLMClient | None = None,
        llm_error: str | None = None,
        k: int = 5,
        answer_k: int = _TOP,
        device: str | None = None,
        show_progress: bool = True,
        reranker: Reranker | str | os.PathLike[str] | None = None,
        fetch_k: int | None = None,
        tradeoff: str | os.PathLike[str] | None = None,
    ) -> DemoSession:
        """Build the offline default set-up, each part replaceable.

        Args:
            checkpoint: LORE checkpoint folder; ``None`` trains (once) or reuses the default one
                (:func:`ensure_default_checkpoint`).
            data: Tiered JSONL file for the examples; ``None`` is the bundled validation set when the store is
                the app's own, and no set for a store of your own.
            store: A :class:`ChromaStore` or a folder; ``None`` is :func:`app_store_path`.
            collection: Collection name in a store given as a folder.
            index_data: Index the data's chunks into the store (default: yes for the app's own store, no for
                yours).
            llm: LLM client for answers, or ``None``.
            llm_error: Why there is no LLM (shown in the app).
            k: Hits per column.
            answer_k: Top hits the LLM answers from.
            device: Torch device.
            show_progress: Progress bars for training and indexing.
            reranker: A cross-encoder (loaded, or a Hugging Face id / folder) reranking both columns' top
                ``fetch_k``; ``None`` for none.
            fetch_k: Chunks each column hands to the reranker.
            tradeoff: The ``lore-rag tradeoff`` output to show; ``None`` looks beside the checkpoint.

        Raises:
            ModelError: for a checkpoint or reranker that cannot be loaded.
            StoreError: for a store built with another document encoder.
            DataError: for a bad data file.
        """
        from lore_rag.models.checkpoint import find_checkpoint
        from lore_rag.models.encoder import LoreEncoder
        from lore_rag.retrieval import ChromaStore, raw_counterpart

        folder = (
            find_checkpoint(checkpoint)
            if checkpoint is not None
            else ensure_default_checkpoint(show_progress=show_progress)
        )
        lore = LoreEncoder.from_checkpoint(folder, device=device)
        raw = raw_counterpart(lore, name="raw")
        if isinstance(reranker, (str, os.PathLike)):
            from lore_rag.retrieval.rerank import Reranker

            reranker = Reranker.load(reranker, device=device)
        own_store = store is None
        if not isinstance(store, ChromaStore):
            store = ChromaStore(store if store is not None else app_store_path(), collection=collection)
        session = cls(
            raw,
            lore,
            store,
            llm=llm,
            llm_error=llm_error,
            k=k,
            answer_k=answer_k,
            checkpoint=folder,
            index_data=own_store if index_data is None else index_data,
            reranker=reranker,
            fetch_k=fetch_k,
            tradeoff=tradeoff,
        )
        if data is not None or own_store:
            session.load(data, show_progress=show_progress)
        return session

    # ------------------------------------------------------------------ example sets
    @property
    def sets(self) -> list[ExampleSet]:
        """The example sets loaded so far, in load order."""
        with self._lock:
            return list(self._sets.values())

    def dataset(self, key: str | None = None) -> ExampleSet:
        """Return the example set ``key`` (default: the first one loaded).

        Raises:
            DemoError: when no such set is loaded.
        """
        with self._lock:
            if key is None and self._sets:
                return next(iter(self._sets.values()))
            if key is not None and key in self._sets:
                return self._sets[key]
        raise DemoError(f"no example set {key!r} is loaded" if key else "no example set is loaded")

    def load(
        self, path: str | os.PathLike[str] | None = None, *, name: str | None = None, show_progress: bool = True
    ) -> ExampleSet:
        """Load a tiered JSONL file (``None``: the bundled validation set) and index its chunks.

        Loading the same file again reads it afresh (it may have changed).

        Raises:
            DataError: for a missing or malformed file.
            StoreError: when indexing fails.
        """
        loaded = load_example_set(path, name=name)
        if self.index_data:
            with self._index_lock:
                added = index_examples(self.store, self.raw, loaded.examples, show_progress=show_progress)
            if added:
                logger.info("indexed %d new chunk(s) of %s into %s", added, loaded.name, self.store.describe())
        with self._lock:
            self._sets[loaded.key] = loaded
            self._summaries.pop(loaded.key, None)
        return loaded

    # ------------------------------------------------------------------ retrieval and answers
    def compare(self, query: str, *, k: int | None = None, example: Example | None = None) -> Comparison:
        """Top-k chunks of both models for ``query``, labelled when ``example`` is given.

        A retrieval failure (store down, ...) is kept in the column's ``error``, not raised.

        Raises:
            DemoError: for an empty query.
        """
        query = " ".join(str(query or "").split())
        if not query:
            raise DemoError("the query is empty: type a question or pick an example")
        k = int(k or self.k)
        if k < 1:
            raise DemoError(f"k must be at least 1, got {k}")
        labels = chunk_labels(example) if example is not None else None
        columns: dict[str, ColumnResult] = {}
        for key, retriever in self.retrievers.items():
            column = ColumnResult(key=key, name=self.names[key])
            started = time.perf_counter()
            try:
                column.hits = label_hits(retriever.search(query, k), labels)
            except Exception as exc:  # noqa: BLE001 - a failing index is a message, not a dead app
                logger.warning("%s retrieval failed: %s", key, exc)
                column.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, LoreError) else str(exc)
            column.seconds = time.perf_counter() - started
            columns[key] = column
        raw_ranks = {h.hit.id: h.rank for h in columns[RAW].hits}
        lore_ranks = {h.hit.id: h.rank for h in columns[LORE].hits}
        for h in columns[RAW].hits:
            h.other_rank = lore_ranks.get(h.hit.id)
        for h in columns[LORE].hits:
            h.other_rank = raw_ranks.get(h.hit.id)
        return Comparison(query=query, example=example, columns=columns, k=k, answer_k=min(self.answer_k, k))

    def answer(self, comparison: Comparison, key: str) -> ColumnAnswer:
        """Ask the LLM for the answer of one column (``"raw"`` or ``"lore"``) and store it in the comparison.

        Raises:
            DemoError: when the session has no LLM.
        """
        if self.llm is None:
            raise DemoError(self.llm_error or "no LLM configured: answers are off")
        column = comparison.columns[key]
        if column.error:
            column.answer = ColumnAnswer(error=f"no chunks to answer from ({column.error})")
            return column.answer
        example = comparison.example
        column.answer = answer_from_hits(
            self.llm,
            comparison.query,
            column.hits[: comparison.answer_k],
            golds=comparison.golds,
            dataset=example.dataset if example is not None else None,
            cache=self._answers,
        )
        return column.answer

    def run(
        self, query: str, *, k: int | None = None, example: Example | None = None, answers: bool = True
    ) -> Comparison:
        """:meth:`compare` then, with ``answers`` and an LLM, :meth:`answer` for both columns."""
        comparison = self.compare(query, k=k, example=example)
        if answers and self.llm is not None:
            for key in comparison.columns:
                self.answer(comparison, key)
        return comparison

    def run_example(
        self, index: int, *, key: str | None = None, view: str = "rewritten", k: int | None = None, answers: bool = True
    ) -> Comparison:
        """Run question ``index`` (0-based) of example set ``key`` with its rewritten or original query.

        Raises:
            DemoError: for an unknown set, index or view, or a question without an original query.
        """
        example = self.dataset(key).example(index)
        return self.run(example_query(example, view), k=k, example=example, answers=answers)

    def match_example(self, query: str, key: str | None, index: int | None) -> Example | None:
        """Return question ``index`` of set ``key`` if ``query`` is its rewritten or original query, else ``None``.

        The app uses it to keep labels only while the query box still holds the example's question.
        """
        if index is None or index < 0:
            return None
        try:
            example = self.dataset(key).example(int(index))
        except DemoError:
            return None
        wanted = " ".join(str(query or "").split())
        for text in (example.query, example.original_query):
            if text and " ".join(text.split()) == wanted:
                return example
        return None

    # ------------------------------------------------------------------ summary
    def summary(self, key: str | None = None, *, show_progress: bool = False) -> list[dict[str, Any]]:
        """P@k / N1@k of both models on example set ``key`` (the paper's protocol, within each question's candidates).

        Document vectors come from the store where it holds them, so this takes seconds once the set is indexed.
        Computed once per set and kept.

        Returns:
            One row per (model, view): ``{"model", "view", "P@3", "N1@3", "P@5", "N1@5", "n"}``.
        """
        from lore_rag.evaluation.candidates import evaluate_candidates

        loaded = self.dataset(key)
        with self._summary_lock:
            cached = self._summaries.get(loaded.key)
            if cached is not None:
                return cached
            rows: list[dict[str, Any]] = []
            for column, encoder in ((RAW, self.raw), (LORE, self.lore)):
                metrics = evaluate_candidates(
                    encoder,
                    loaded.examples,
                    ks=(3, 5),
                    embed_documents=self._document_vectors,
                    show_progress=show_progress,
                )
                for view, values in metrics.items():
                    rows.append(
                        {
                            "model": self.names[column],
                            "view": view,
                            **{m: round(values[m], 1) for m in ("P@3", "N1@3", "P@5", "N1@5")},
                            "n": int(values["n"]),
                        }
                    )
            self._summaries[loaded.key] = rows
            return rows

    def _document_vectors(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` from the store when it holds them, else from the raw document encoder."""
        from lore_rag.retrieval import chunk_id

        ids = [chunk_id(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        try:
            found = self.store.stored_vectors(ids)
        except Exception as exc:  # noqa: BLE001 - fall back to encoding
            logger.warning("could not read vectors from %s (%s); encoding instead", self.store.describe(), exc)
            found = {}
        missing = [t for t, i in zip(texts, ids, strict=True) if i not in found]
        if missing:
            unique = list(dict.fromkeys(missing))
            vectors = self.raw.embed_documents(unique, show_progress=False)
            for text, vector in zip(unique, vectors, strict=True):
                found[chunk_id(text)] = vector
        if not texts:
            return np.zeros((0, self.raw.dim), dtype=np.float32)
        return np.stack([found[i] for i in ids]).astype(np.float32)

    # ------------------------------------------------------------------ descriptions
    @property
    def training_curves(self) -> Path | None:
        """The checkpoint's ``training_curves.png``, when the run left one."""
        return training_curves_path(self.checkpoint) if self.checkpoint is not None else None

    @property
    def tradeoff(self) -> TradeoffFinding:
        """The checkpoint's trade-off curve (``lore-rag tradeoff`` output), looked up once; never raises."""
        if self._tradeoff is None:
            from lore_rag.demo.tradeoff import find_tradeoff
            from lore_rag.models.encoder import model_fingerprint

            try:
                self._tradeoff = find_tradeoff(
                    self.checkpoint,
                    self.lore.manifest or {},
                    lambda: model_fingerprint(self.lore.query_model),
                    self.tradeoff_path,
                )
            except Exception as exc:  # noqa: BLE001 - an unreadable folder is a line on the tab, not a dead app
                from lore_rag.demo.tradeoff import TradeoffFinding

                logger.warning("could not look for the trade-off output: %s", exc)
                self._tradeoff = TradeoffFinding(problem=f"could not look for the trade-off output: {exc}")
        return self._tradeoff

    @property
    def llm_name(self) -> str:
        """The LLM's model name ('' without an LLM, or when the endpoint does not say)."""
        if self.llm is None:
            return ""
        try:
            return str(self.llm.model)
        except Exception:  # noqa: BLE001 - an endpoint that lists no model
            return ""

    def describe(self) -> dict[str, Any]:
        """Describe what the session runs on: models, checkpoint, store, LLM (for the app's header)."""
        manifest = self.lore.manifest or {}
        info: dict[str, Any] = {
            "raw": self.names[RAW],
            "lore": self.names[LORE],
            "checkpoint": str(self.checkpoint) if self.checkpoint else None,
            "base_model": manifest.get("base_model"),
            "trained_steps": manifest.get("step"),
            "store": self.store.describe(),
            "chunks": _safe_count(self.store),
            "llm": None,
            "llm_error": self.llm_error,
            "reranker": None
            if self.reranker is None
            else f"{self.reranker.name} (top {self.retrievers[RAW].fetch_depth(self.k)} of each column rescored)",
        }
        if self.llm is not None:
            try:
                info["llm"] = f"{self.llm.model} at {self.llm.base_url}"
            except Exception as exc:  # noqa: BLE001 - an endpoint that lists no model
                info["llm"] = self.llm.base_url
                info["llm_error"] = str(exc)
        return info


def _display_name(encoder: LoreEncoder, default: str) -> str:
    from lore_rag.models.encoder import DEFAULT_MODEL

    if encoder.is_raw:
        return f"raw ({DEFAULT_MODEL})" if _is_bundled(encoder) else default
    return encoder.name or default


def _is_bundled(encoder: LoreEncoder) -> bool:
    try:
        from lore_rag.models.encoder import bundled_model_path

        auto_model = getattr(encoder.document_model[0], "auto_model", None)
        ref = Path(str(getattr(auto_model, "name_or_path", "")))
        return ref.resolve() == bundled_model_path().resolve()
    except Exception:  # noqa: BLE001
        return False


def _manifest_path(encoder: LoreEncoder) -> Path | None:
    path = (encoder.manifest or {}).get("path")
    return Path(path) if path else None


def _safe_count(store: ChromaStore) -> int | None:
    try:
        return store.count()
    except Exception:  # noqa: BLE001
        return None
