"""End-to-end QA evaluation: does LORE retrieval give better answers than raw retrieval.

For each question, each retriever (the raw model and one or more LORE checkpoints) picks its top-k chunks,
either among the question's own candidates (the paper's setting) or from a shared Chroma index of every chunk
of the data (the open setting). One LLM, with one prompt, answers from those chunks; the answer is scored with
EM and F1 (:mod:`lore_rag.evaluation.qa`). The same LLM, index and prompt serve every retriever, so the only
difference between the rows of the table is the retrieval.

With a reranker (a sentence-transformers ``CrossEncoder``, :mod:`lore_rag.retrieval.rerank`), every retriever
also runs as ``NAME + reranker``: its top ``fetch_k`` chunks rescored by the cross-encoder, the best k given to
the LLM. ``raw``, ``raw + reranker``, ``lore``, ``lore + reranker`` side by side answer the question a team asks
first: does a reranker fix distractors as well as LORE, and at what latency. Each retriever's retrieval latency
(ms/query, questions retrieved one at a time) is measured and reported.

Runs are resumable and cheap to repeat:

* every finished (question, retriever) pair is appended to ``results.jsonl`` in the run folder and fsynced,
  so a run killed at any point (even ``kill -9``) continues where it stopped;
* every LLM answer is stored in an answer cache keyed by the LLM model name, the generation settings and the
  prompt messages: two retrievers that retrieve the same chunks share one LLM call, and a later run with
  another checkpoint reuses the answers already computed for the raw model.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lore_rag._hashing import file_sha256
from lore_rag.config import option, positive_int
from lore_rag.data.io import expand_paths, read_examples
from lore_rag.data.jsonl_log import JsonlAppender, read_log
from lore_rag.data.schema import Example, Tier, query_view
from lore_rag.errors import ConfigError, LoreError
from lore_rag.evaluation.answer_cache import AnswerCache, answer_key, default_cache_path
from lore_rag.evaluation.answering import answer_record, answer_request, llm_temperature
from lore_rag.evaluation.candidates import rank_candidates, recall_at_k
from lore_rag.evaluation.qa import gold_answers, score_answer, style_for_dataset
from lore_rag.llm.prompts import parse_answer
from lore_rag.llm.settings import LLM_GROUP
from lore_rag.runs import check_same_run, read_run_state, write_run_state

if TYPE_CHECKING:
    from lore_rag.llm import LLMClient
    from lore_rag.models.encoder import LoreEncoder
    from lore_rag.retrieval.rerank import Reranker

__all__ = [
    "AnswerCache",
    "QAEvalConfig",
    "QAEvalResult",
    "QAQuestion",
    "QARunError",
    "Retrieval",
    "answer_key",
    "format_table",
    "load_questions",
    "load_summary",
    "plot_qa_results",
    "run_qa_eval",
]

logger = logging.getLogger(__name__)

SETTINGS = ("candidates", "open")
#: Suffix of the label of a retriever whose top ``fetch_k`` is reranked.
RERANKED = " + reranker"
#: Values of ``queries``: a :data:`~lore_rag.data.schema.QueryView`, or ``file`` (the name qa-eval first used for
#: ``rewritten``, still what run folders record).
QUERY_VIEWS = ("file", "rewritten", "original")
_RUN_FILE, _RESULTS_FILE, _SUMMARY_FILE = "run.json", "results.jsonl", "summary.json"


class QARunError(LoreError):
    """A run folder that does not fit the run asked for, or a run that left questions unanswered."""


#: ``--help`` sections of ``lore-rag qa-eval``.
_DATA, _RETRIEVAL, _OUTPUT = "data and retrievers", "retrieval", "output"


@dataclass
class QAEvalConfig:
    """One QA evaluation run: data, retrievers, retrieval setting, LLM generation settings, run folder."""

    data: list[str] = option(
        "JSONL file(s) or folders: query, chunks, labels (1 / -1 / 0), answer (default: the bundled HotpotQA "
        "validation set with disturbed queries)",
        default_factory=list,
        metavar="PATH",
        group=_DATA,
    )
    models: list[str] = option(
        "retrievers: 'raw', 'raw:MODEL' or LORE checkpoint folders; the first is the baseline (default: raw)",
        default_factory=lambda: ["raw"],
        metavar="SPEC",
        group=_DATA,
    )
    names: list[str] | None = option("labels of the retrievers in the table", None, metavar="NAME", group=_DATA)
    queries: str = option(
        "'file': each row's query (disturbed in LORE data); 'original': its original question",
        "file",
        choices=QUERY_VIEWS,
        group=_DATA,
    )
    limit: int | None = option(
        "only the first N questions with a gold answer", None, type=positive_int, metavar="N", group=_DATA
    )
    dataset: str | None = option("dataset name in the table (default: the rows' 'dataset' field)", None, group=_DATA)
    f1_style: str | None = option(
        "F1 corner cases of which official script (default: the dataset's own)",
        None,
        choices=("hotpotqa", "squad", "squad2"),
        group=_DATA,
    )
    setting: str = option(
        "'candidates': rank each question's own chunks (paper); 'open': retrieve from one Chroma index of every "
        "chunk of the data",
        "candidates",
        choices=SETTINGS,
        group=_RETRIEVAL,
    )
    k: int = option(
        "chunks retrieved and given to the LLM (default 3)", 3, flags=("-k", "--k"), type=positive_int, group=_RETRIEVAL
    )
    reranker: str | None = option(
        "cross-encoder (Hugging Face id or folder): every retriever also runs with its top fetch_k reranked",
        None,
        cli=False,  # the flag is RerankSettings', shared with query, eval and app
    )
    fetch_k: int | None = option(
        "chunks each retriever hands to the reranker (default 20, at least k)", None, cli=False
    )
    index_path: str | None = option(
        "open setting: Chroma folder (default: OUTPUT/index)", None, flags=("--index",), metavar="DIR", group=_RETRIEVAL
    )
    chroma_host: str | None = option("open setting: a Chroma server instead of a folder", None, group=_RETRIEVAL)
    chroma_port: int | None = option("open setting: the Chroma server's port", None, group=_RETRIEVAL)
    collection: str = option("open setting: collection name prefix", "lore-qa", group=_RETRIEVAL)
    max_tokens: int = option("answer length limit in tokens (default 32)", 32, type=positive_int, group=LLM_GROUP)
    concurrency: int | None = option(
        "concurrent LLM requests (default: 4 for an endpoint, 1 for a local server)",
        None,
        type=positive_int,
        group=LLM_GROUP,
    )
    answer_cache: str | None = option(
        "answer cache (default: ~/.cache/lore-rag/answers/)", None, metavar="FILE", group=LLM_GROUP
    )
    output_dir: str = option(
        "run folder (default ./qa-eval)", "qa-eval", flags=("-o", "--output"), metavar="DIR", group=_OUTPUT
    )
    overwrite: bool = option(
        "start the run folder afresh instead of resuming", False, action="store_true", group=_OUTPUT
    )
    show_progress: bool = option(
        "no progress bars", True, flags=("--no-progress",), action="store_false", group=_OUTPUT
    )

    def validate(self) -> None:
        """Check the values.

        Raises:
            ConfigError: naming the bad field.
        """
        if isinstance(self.data, str):
            self.data = [self.data]
        if isinstance(self.models, str):
            self.models = [self.models]
        if not self.data:
            raise ConfigError("field 'data': give at least one JSONL file of questions")
        if not self.models:
            raise ConfigError("field 'models': give at least one retriever ('raw' or a checkpoint)")
        if self.names is not None and len(self.names) != len(self.models):
            raise ConfigError(f"field 'names': {len(self.names)} names for {len(self.models)} models")
        if self.setting not in SETTINGS:
            raise ConfigError(f"field 'setting': must be one of {', '.join(SETTINGS)}, got {self.setting!r}")
        if self.queries not in QUERY_VIEWS:
            raise ConfigError(f"field 'queries': must be one of {', '.join(QUERY_VIEWS)}, got {self.queries!r}")
        self.queries = "file" if query_view(self.queries) == "rewritten" else "original"
        if self.f1_style not in (None, "hotpotqa", "squad", "squad2"):
            raise ConfigError(f"field 'f1_style': must be hotpotqa, squad or squad2, got {self.f1_style!r}")
        for name in ("k", "max_tokens", "concurrency"):
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise ConfigError(f"field '{name}': must be >= 1, got {getattr(self, name)}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"field 'limit': must be >= 1, got {self.limit}")
        if self.fetch_k is not None:
            if not self.reranker:
                raise ConfigError("field 'fetch_k': it is the number of chunks handed to the reranker; set 'reranker'")
            from lore_rag.retrieval.rerank import check_fetch_k

            check_fetch_k(self.fetch_k, int(self.k), flag="field 'fetch_k'")


@dataclass
class QAQuestion:
    """One question to answer: the text the retriever and the LLM see, its candidates and its golds."""

    qid: str
    query: str
    example: Example
    golds: list[str]


@dataclass
class Retrieval:
    """The top-k of one retriever for one question.

    Attributes:
        indices: Index of each retrieved chunk among the question's candidates (-1: not one of them).
        ids: Chunk ids (``"<qid>:<index>"`` among candidates, the store id in the open setting).
        texts: Chunk texts, best first.
        tiers: Tier of each chunk for this question (chunks from other questions count as N2).
        seconds: Wall time of this retrieval (query encoding, search and reranking; document vectors precomputed).
    """

    indices: list[int]
    ids: list[str]
    texts: list[str]
    tiers: list[int]
    seconds: float = 0.0

    def recall(self, example: Example, tier: Tier) -> float:
        """Share of the question's chunks of ``tier`` that were retrieved (0 when it has none)."""
        order = np.asarray([i for i in self.indices if i >= 0], dtype=np.int64)
        return recall_at_k(order, example.tiers, tier, len(order))


def load_questions(config: QAEvalConfig) -> tuple[list[QAQuestion], list[Example]]:
    """Load the questions to evaluate (those with a gold answer, up to ``limit``) and every example of the data.

    With ``queries="original"`` the retriever and the LLM see each row's ``original_query``; the tiers stay
    as in the file, so N1@k still tells whether the distractors were retrieved.

    Raises:
        DataError: for malformed data or data with no usable question.
    """
    examples = read_examples(config.data)
    questions: list[QAQuestion] = []
    seen: Counter[str] = Counter()
    no_gold = 0
    for example in examples:
        golds = gold_answers(example.answer, example.extra)
        if not golds:
            no_gold += 1
            continue
        query = example.query_for(config.queries) or example.query
        base_id = example.id or hashlib.sha256(example.query.encode("utf-8")).hexdigest()[:12]
        seen[base_id] += 1
        qid = base_id if seen[base_id] == 1 else f"{base_id}#{seen[base_id]}"
        questions.append(QAQuestion(qid=qid, query=query, example=example, golds=golds))
        if config.limit is not None and len(questions) >= config.limit:
            break
    if no_gold:
        logger.warning("left out %d question(s) with no gold answer", no_gold)
    if not questions:
        from lore_rag.errors import DataError

        raise DataError(f"no question with a gold answer in {', '.join(config.data)}", field="answer")
    return questions, examples


# --- retrieval -------------------------------------------------------------------------------------------------


def _retrieve_candidates(
    encoder: LoreEncoder,
    questions: Sequence[QAQuestion],
    k: int,
    embed_documents: Any,
    show_progress: bool,
    reranker: Reranker | None = None,
    fetch_k: int | None = None,
) -> list[Retrieval]:
    """Rank each question's own candidates; one question at a time so that each retrieval is timed.

    The candidates' document vectors are computed (or read from the cache) first and not timed: a deployed
    retriever has them in its index.
    """
    from lore_rag.retrieval.rerank import check_fetch_k

    texts = list(dict.fromkeys(chunk for q in questions for chunk in q.example.chunks))
    row_of = {text: i for i, text in enumerate(texts)}
    doc_vectors = embed_documents(texts) if texts else np.zeros((0, 0), dtype=np.float32)
    depth = check_fetch_k(fetch_k, k) if reranker is not None else k
    out = []
    for question in questions:
        ex = question.example
        started = time.perf_counter()
        query_vector = encoder.embed_queries([question.query], show_progress=False)[0]
        scores = doc_vectors[[row_of[c] for c in ex.chunks]] @ query_vector
        top = [int(i) for i in rank_candidates(scores)[:depth]]
        if reranker is not None:
            top = [top[j] for j, _ in reranker.rank(question.query, [ex.chunks[i] for i in top], k)]
        elapsed = time.perf_counter() - started
        out.append(
            Retrieval(
                indices=top,
                ids=[f"{question.qid}:{i}" for i in top],
                texts=[ex.chunks[i] for i in top],
                tiers=[int(ex.tiers[i]) for i in top],
                seconds=elapsed,
            )
        )
    return out


def _open_store(config: QAEvalConfig, encoder: LoreEncoder, corpus: Sequence[Example]) -> Any:
    from lore_rag.retrieval import ChromaStore

    collection = f"{config.collection}-{encoder.document_fingerprint[:12]}"
    if config.chroma_host:
        store = ChromaStore(host=config.chroma_host, port=config.chroma_port, collection=collection)
    else:
        path = Path(config.index_path) if config.index_path else Path(config.output_dir) / "index"
        store = ChromaStore(path, collection=collection)
    texts = list(dict.fromkeys(chunk for example in corpus for chunk in example.chunks))
    added = store.add_texts(texts, encoder, show_progress=config.show_progress)
    logger.info("open setting: index %s holds %d chunk(s) (%d new)", collection, store.count(), added)
    return store


def _retrieve_open(
    encoder: LoreEncoder,
    questions: Sequence[QAQuestion],
    k: int,
    store: Any,
    reranker: Reranker | None = None,
    fetch_k: int | None = None,
) -> list[Retrieval]:
    from lore_rag.retrieval import Retriever

    retriever = Retriever(store, encoder, k=k, reranker=reranker, fetch_k=fetch_k)
    hits_per_query, timings = retriever.search_timed([q.query for q in questions], k=k)
    out = []
    for question, hits, first, second in zip(questions, hits_per_query, timings.retrieval, timings.rerank, strict=True):
        ex = question.example
        position = {chunk: i for i, chunk in reversed(list(enumerate(ex.chunks)))}
        indices = [position.get(hit.text, -1) for hit in hits]
        out.append(
            Retrieval(
                indices=indices,
                ids=[hit.id for hit in hits],
                texts=[hit.text for hit in hits],
                tiers=[int(ex.tiers[i]) if i >= 0 else int(Tier.NEGATIVE) for i in indices],
                seconds=first + second,
            )
        )
    return out


# --- the run ---------------------------------------------------------------------------------------------------


@dataclass
class QAEvalResult:
    """What :func:`run_qa_eval` measured; numbers are percentages (0-100).

    Attributes:
        dataset: Dataset name.
        llm_model: The LLM (reader) that produced every answer.
        setting: ``"candidates"`` or ``"open"``.
        k: Chunks retrieved per question.
        queries: ``"file"`` or ``"original"``.
        f1_style: The official script whose F1 corner cases were used.
        n_questions: Questions evaluated.
        models: One summary per retriever: ``model``, ``spec``, ``n``, ``P@k``, ``N1@k``, ``EM``, ``F1``,
            ``ms/query`` (mean retrieval latency, questions one at a time) and, for all but the baseline, ``wins`` /
            ``losses`` / ``ties`` (per-question F1 against the baseline).
        llm_calls: LLM calls made by this run (answers not found in the cache).
        cache_hits: Answers taken from the cache by this run.
        errors: Questions left unanswered because the LLM call failed (a re-run retries them).
        output_dir: The run folder.
        elapsed_s: Wall time of the run.
        reranker: The cross-encoder behind the ``+ reranker`` rows (name, model, fingerprint, fetch_k), or ``None``.
    """

    dataset: str
    llm_model: str
    setting: str
    k: int
    queries: str
    f1_style: str
    n_questions: int
    models: list[dict[str, Any]]
    llm_calls: int = 0
    cache_hits: int = 0
    errors: int = 0
    output_dir: str = ""
    elapsed_s: float = 0.0
    reranker: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (what ``summary.json`` holds)."""
        return asdict(self)

    def table(self) -> str:
        """Render the Markdown table of :func:`format_table`."""
        return format_table(self)


def _model_labels(config: QAEvalConfig, encoders: Sequence[LoreEncoder]) -> list[str]:
    if config.names:
        labels = list(config.names)
    else:
        labels = []
        for spec, encoder in zip(config.models, encoders, strict=True):
            if str(spec) == "raw" or encoder.is_raw:
                labels.append("raw" if str(spec) == "raw" else str(spec))
                continue
            name = encoder.name
            if name in ("best", "last"):
                folder = Path(encoder.manifest.get("path", spec))
                name = f"{folder.parent.name}/{folder.name}"
            labels.append(f"lore:{name}")
    counts: Counter[str] = Counter()
    unique = []
    for label in labels:
        counts[label] += 1
        unique.append(label if counts[label] == 1 else f"{label}#{counts[label]}")
    return unique


def _prepare_run_folder(config: QAEvalConfig, identity: dict[str, Any], models: dict[str, str]) -> None:
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    run_file = out / _RUN_FILE
    if config.overwrite:
        for name in (_RUN_FILE, _RESULTS_FILE, _SUMMARY_FILE, "per_question.csv", "per_question.jsonl"):
            (out / name).unlink(missing_ok=True)
    previous = read_run_state(run_file, hint="pass --overwrite to start afresh", error=QARunError)
    if previous is not None:
        check_same_run(
            run_file,
            previous.get("identity", {}),
            identity,
            keys=identity,
            hint="use another --output folder, or --overwrite to start afresh",
            error=QARunError,
        )
        known = previous.get("models", {})
        for label, fingerprint in models.items():
            if label in known and known[label] != fingerprint:
                raise QARunError(
                    f"{run_file}: retriever '{label}' was a different model (query fingerprint {known[label]}, "
                    f"now {fingerprint}); give it another name (--names) or use --overwrite"
                )
        models = {**known, **models}
    write_run_state(run_file, {"identity": identity, "models": models, "config": asdict(config)})


@dataclass(frozen=True)
class _Run:
    """One retriever of the table: its label, its spec (as reported), its encoder and its reranker, if any."""

    label: str
    spec: str
    encoder: LoreEncoder
    reranker: Reranker | None = None


def _plan_runs(
    config: QAEvalConfig, encoders: Sequence[LoreEncoder] | None, reranker: Reranker | None
) -> tuple[list[_Run], Reranker | None, int | None]:
    """Each retriever, then itself reranked when there is a reranker; and the reranker and its ``fetch_k``."""
    from lore_rag.models.encoder import LoreEncoder

    if encoders is None:
        encoders = [LoreEncoder.load(spec) for spec in config.models]
    if len(encoders) != len(config.models):
        raise ConfigError(f"{len(encoders)} encoders for {len(config.models)} models")
    if reranker is None and config.reranker:
        from lore_rag.retrieval.rerank import Reranker

        reranker = Reranker.load(config.reranker)
    fetch_k = None
    if reranker is not None:
        from lore_rag.retrieval.rerank import check_fetch_k

        fetch_k = check_fetch_k(config.fetch_k, config.k, flag="field 'fetch_k'")
    runs: list[_Run] = []
    for label, spec, encoder in zip(_model_labels(config, encoders), config.models, encoders, strict=True):
        runs.append(_Run(label, str(spec), encoder))
        if reranker is not None:
            described = f"{spec} + reranker {reranker.name} (fetch_k {fetch_k})"
            runs.append(_Run(label + RERANKED, described, encoder, reranker))
    return runs, reranker, fetch_k


def _run_identity(config: QAEvalConfig, llm_model: str, temperature: float, f1_style: str) -> dict[str, Any]:
    """What a resumed run must share with the run in its folder (the data by content, not by path)."""
    return {
        "data": sorted(file_sha256(p)[:16] for p in expand_paths(config.data)),
        "setting": config.setting,
        "k": config.k,
        "queries": config.queries,
        "llm_model": llm_model,
        "max_tokens": config.max_tokens,
        "temperature": temperature,
        "f1_style": f1_style,
    }


def _run_fingerprints(runs: Sequence[_Run], fetch_k: int | None) -> dict[str, str]:
    """Each retriever's query-model fingerprint (plus its reranker's): a label may not change model on resume."""
    from lore_rag.models.encoder import model_fingerprint

    return {
        run.label: model_fingerprint(run.encoder.query_model)
        + ("" if run.reranker is None else f"+{run.reranker.fingerprint}@{fetch_k}")
        for run in runs
    }


def _retrieve_pending(
    config: QAEvalConfig,
    runs: Sequence[_Run],
    fetch_k: int | None,
    questions: Sequence[QAQuestion],
    corpus: Sequence[Example],
    done: Mapping[tuple[Any, Any], Any],
) -> list[tuple[QAQuestion, str, Retrieval]]:
    """Retrieve for every (question, retriever) pair not finished yet, ordered question by question.

    Question by question, so that a run stopped half-way has every retriever on the same questions.
    """
    from lore_rag.defaults import cache_dir
    from lore_rag.models.doc_cache import DocEmbeddingCache

    pending: list[tuple[QAQuestion, str, Retrieval]] = []
    doc_caches: dict[str, DocEmbeddingCache] = {}
    stores: dict[str, Any] = {}
    for run in runs:
        todo = [q for q in questions if (q.qid, run.label) not in done]
        if not todo:
            continue
        encoder, fingerprint = run.encoder, run.encoder.document_fingerprint
        if config.setting == "candidates":
            if fingerprint not in doc_caches:
                doc_caches[fingerprint] = DocEmbeddingCache(
                    encoder.document_model,
                    cache_dir("doc_embeddings"),
                    show_progress=config.show_progress,
                    precision=encoder.precision,
                )
            embed = doc_caches[fingerprint].embed
            retrievals = _retrieve_candidates(
                encoder, todo, config.k, embed, config.show_progress, run.reranker, fetch_k
            )
        else:
            if fingerprint not in stores:
                stores[fingerprint] = _open_store(config, encoder, corpus)
            retrievals = _retrieve_open(encoder, todo, config.k, stores[fingerprint], run.reranker, fetch_k)
        pending.extend((q, run.label, r) for q, r in zip(todo, retrievals, strict=True))
    position = {q.qid: i for i, q in enumerate(questions)}
    pending.sort(key=lambda item: position[item[0].qid])
    return pending


def _result_row(
    question: QAQuestion,
    label: str,
    retrieval: Retrieval,
    record: Mapping[str, Any],
    *,
    key: str,
    cached: bool,
    f1_style: str,
    llm_model: str,
) -> dict[str, Any]:
    """One line of ``results.jsonl``: the answer of one retriever to one question, scored."""
    answer = parse_answer(record["raw"]).text
    score = score_answer(answer, question.golds, style=f1_style)  # type: ignore[arg-type]
    return {
        "qid": question.qid,
        "model": label,
        "question": question.query,
        "golds": question.golds,
        "answer": answer,
        "em": score.em,
        "f1": score.f1,
        "p_at_k": retrieval.recall(question.example, Tier.POSITIVE),
        "n1_at_k": retrieval.recall(question.example, Tier.DISTRACTOR),
        "retrieved": {"indices": retrieval.indices, "ids": retrieval.ids, "tiers": retrieval.tiers},
        "retrieval_ms": round(1000.0 * retrieval.seconds, 3),
        "llm_model": llm_model,
        "answer_key": key,
        "cached": cached,
    }


@dataclass
class _AnswerCounts:
    calls: int = 0
    cache_hits: int = 0
    errors: int = 0


def _answer_pending(
    config: QAEvalConfig,
    client: LLMClient,
    pending: Sequence[tuple[QAQuestion, str, Retrieval]],
    cache: AnswerCache,
    finish: Callable[[QAQuestion, str, Retrieval, str, dict[str, Any], bool], None],
    *,
    desc: str,
) -> _AnswerCounts:
    """Answer every pending pair: from the cache, else with one LLM call per distinct prompt; ``finish`` each."""
    llm_model, temperature = str(client.model), llm_temperature(client)
    counts = _AnswerCounts()
    waiting: dict[str, list[tuple[QAQuestion, str, Retrieval]]] = defaultdict(list)
    prompts: dict[str, list[dict[str, str]]] = {}
    for question, label, retrieval in pending:
        request = answer_request(
            question.query, retrieval.texts, llm_model=llm_model, max_tokens=config.max_tokens, temperature=temperature
        )
        record = cache.get(request.key) if request.key not in waiting else None
        if record is not None:
            counts.cache_hits += 1
            finish(question, label, retrieval, request.key, record, True)
        else:
            waiting[request.key].append((question, label, retrieval))
            prompts[request.key] = request.messages

    def ask(key: str) -> str:
        return client.chat(prompts[key], max_tokens=config.max_tokens)

    if not waiting:
        return counts
    answered = client.map(
        ask, list(waiting), concurrency=config.concurrency, show_progress=config.show_progress, desc=desc
    )
    for key, text in answered:
        if isinstance(text, BaseException):
            counts.errors += len(waiting[key])
            logger.warning("LLM call failed (%s: %s); a re-run retries it", type(text).__name__, text)
            continue
        counts.calls += 1
        record = cache.put(key, answer_record(llm_model, text))
        for question, label, retrieval in waiting[key]:
            finish(question, label, retrieval, key, record, False)
    return counts


def run_qa_eval(
    config: QAEvalConfig,
    client: LLMClient,
    *,
    encoders: Sequence[LoreEncoder] | None = None,
    reranker: Reranker | None = None,
) -> QAEvalResult:
    """Retrieve, answer and score every question with every retriever; resume what a previous run finished.

    Writes into ``config.output_dir``: ``run.json`` (what the run is), ``results.jsonl`` (one row per finished
    question and retriever, fsynced), ``summary.json``, ``per_question.csv`` and ``per_question.jsonl`` (answers,
    EM/F1 and the win / tie / loss of each LORE retriever against the baseline per question).

    Args:
        config: The run.
        client: The LLM (reader); its ``model`` name is recorded with every answer.
        encoders: Already loaded retrievers, one per ``config.models`` entry (loaded from the specs when ``None``).
        reranker: An already loaded cross-encoder (loaded from ``config.reranker`` when ``None`` and it is set):
            every retriever also runs as ``NAME + reranker``, right after its own row.

    Returns:
        The summary; also in ``summary.json``.

    Raises:
        ConfigError: for bad settings.
        QARunError: when the run folder holds a different run.
        DataError: for malformed data.
        ModelError: for a reranker that cannot be loaded.
    """
    started = time.perf_counter()
    config.validate()
    questions, corpus = load_questions(config)
    runs, reranker, fetch_k = _plan_runs(config, encoders, reranker)
    labels = [run.label for run in runs]
    dataset = config.dataset or Counter(q.example.dataset or "data" for q in questions).most_common(1)[0][0]
    f1_style = config.f1_style or style_for_dataset(dataset)
    llm_model = str(client.model)
    identity = _run_identity(config, llm_model, llm_temperature(client), f1_style)
    _prepare_run_folder(config, identity, _run_fingerprints(runs, fetch_k))
    out = Path(config.output_dir)
    done = {(r.get("qid"), r.get("model")): r for r in read_log(out / _RESULTS_FILE)[0]}
    results = JsonlAppender(out / _RESULTS_FILE)

    pending = _retrieve_pending(config, runs, fetch_k, questions, corpus, done)
    logger.info(
        "%d question(s) x %d retriever(s): %d finished before, %d to do",
        len(questions), len(labels), len(questions) * len(labels) - len(pending), len(pending),
    )  # fmt: skip

    def finish(question: QAQuestion, label: str, retrieval: Retrieval, key: str, record: dict, cached: bool) -> None:
        row = _result_row(
            question, label, retrieval, record, key=key, cached=cached, f1_style=f1_style, llm_model=llm_model
        )
        results.append(row)
        done[(question.qid, label)] = row

    cache = AnswerCache(config.answer_cache or default_cache_path(llm_model))
    counts = _answer_pending(config, client, pending, cache, finish, desc=f"QA {dataset}")
    result = QAEvalResult(
        dataset=dataset,
        llm_model=llm_model,
        setting=config.setting,
        k=config.k,
        queries=config.queries,
        f1_style=f1_style,
        n_questions=len(questions),
        models=_summarise(questions, labels, [run.spec for run in runs], done),
        llm_calls=counts.calls,
        cache_hits=counts.cache_hits,
        errors=counts.errors,
        output_dir=str(out),
        elapsed_s=round(time.perf_counter() - started, 2),
        reranker=None if reranker is None else {**reranker.describe(), "fetch_k": fetch_k},
    )
    _write_per_question(out, questions, labels, done)
    (out / _SUMMARY_FILE).write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    if counts.errors:
        logger.warning("%d answer(s) missing after LLM errors: run the same command again to retry them", counts.errors)
    return result


def _summarise(
    questions: Sequence[QAQuestion], labels: Sequence[str], specs: Sequence[str], done: dict[tuple[Any, Any], dict]
) -> list[dict[str, Any]]:
    baseline = labels[0]
    summaries = []
    for label, spec in zip(labels, specs, strict=True):
        rows = [done[(q.qid, label)] for q in questions if (q.qid, label) in done]
        summary: dict[str, Any] = {"model": label, "spec": str(spec), "n": len(rows)}
        for name, key in (("P@k", "p_at_k"), ("N1@k", "n1_at_k"), ("EM", "em"), ("F1", "f1")):
            summary[name] = round(100.0 * float(np.mean([r[key] for r in rows])), 2) if rows else float("nan")
        timed = [float(r["retrieval_ms"]) for r in rows if "retrieval_ms" in r]
        summary["ms/query"] = round(float(np.mean(timed)), 2) if timed else float("nan")
        if label != baseline:
            outcome: Counter[str] = Counter()
            for q in questions:
                a, b = done.get((q.qid, label)), done.get((q.qid, baseline))
                if a is not None and b is not None:
                    outcome[_outcome(a["f1"], b["f1"])] += 1
            summary.update(wins=outcome["win"], losses=outcome["loss"], ties=outcome["tie"])
        summaries.append(summary)
    return summaries


def _outcome(f1: float, baseline_f1: float) -> str:
    if f1 > baseline_f1 + 1e-9:
        return "win"
    if f1 < baseline_f1 - 1e-9:
        return "loss"
    return "tie"


def _write_per_question(
    out: Path, questions: Sequence[QAQuestion], labels: Sequence[str], done: dict[tuple[Any, Any], dict]
) -> None:
    baseline = labels[0]
    tier_names = {int(Tier.POSITIVE): "P", int(Tier.DISTRACTOR): "N1", int(Tier.NEGATIVE): "N2"}
    rows = []
    for q in questions:
        row: dict[str, Any] = {"qid": q.qid, "question": q.query, "golds": " | ".join(q.golds)}
        base = done.get((q.qid, baseline))
        for label in labels:
            r = done.get((q.qid, label))
            row[f"{label}.answer"] = r["answer"] if r else None
            row[f"{label}.em"] = r["em"] if r else None
            row[f"{label}.f1"] = round(r["f1"], 4) if r else None
            row[f"{label}.retrieved"] = ",".join(tier_names[t] for t in r["retrieved"]["tiers"]) if r else None
            if label != baseline:
                row[f"{label}.vs_{baseline}"] = _outcome(r["f1"], base["f1"]) if r and base else None
        rows.append(row)
    with (out / "per_question.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (out / "per_question.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["qid"])
        writer.writeheader()
        writer.writerows(rows)


# --- reporting -------------------------------------------------------------------------------------------------

_SETTING_TEXT = {"candidates": "from each question's own candidates", "open": "from a shared index of all chunks"}


def format_table(result: QAEvalResult | dict[str, Any]) -> str:
    """Markdown table: retrieval P@k / N1@k and answer EM / F1 per retriever, with the reader named above it."""
    r = result.to_dict() if isinstance(result, QAEvalResult) else result
    k = r["k"]
    view = "queries as in the file" if r["queries"] == "file" else "original queries"
    lines = [
        f"**{r['dataset']}**: {r['n_questions']} questions, {view}, top-{k} {_SETTING_TEXT[r['setting']]}; "
        f"reader (LLM): `{r['llm_model']}`; F1 as in the {r['f1_style']} script",
        "",
        f"| retriever | P@{k} | N1@{k} | EM | F1 | ms/query | F1 wins / ties / losses vs {r['models'][0]['model']} |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in r["models"]:
        name = m["model"] if m["n"] == r["n_questions"] else f"{m['model']} (answered {m['n']})"
        versus = f"{m['wins']} / {m['ties']} / {m['losses']}" if "wins" in m else "–"
        ms = m.get("ms/query", float("nan"))
        latency = f"{ms:.1f}" if ms == ms else "–"
        lines.append(
            f"| {name} | {m['P@k']:.1f} | {m['N1@k']:.1f} | {m['EM']:.1f} | {m['F1']:.1f} | {latency} | {versus} |"
        )
    lines.append("")
    lines.append("ms/query: mean retrieval latency (query encoding, search, reranking), one question at a time.")
    rerank = r.get("reranker")
    if rerank:
        lines.append(
            f"+ reranker: the retriever's top {rerank['fetch_k']} chunks rescored by the cross-encoder "
            f"`{rerank['name']}` (fingerprint {rerank['fingerprint']}), the best {k} given to the reader."
        )
    return "\n".join(lines)


def load_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the ``summary.json`` of a run folder (or the file itself).

    Raises:
        QARunError: when there is no readable summary.
    """
    path = Path(path)
    file = path / _SUMMARY_FILE if path.is_dir() else path
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise QARunError(f"{file}: no readable QA summary ({exc}); run lore-rag qa-eval first") from exc


def plot_qa_results(
    results: Iterable[QAEvalResult | dict[str, Any]], path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Bar chart of EM and F1 per dataset, one bar per retriever (raw vs LORE), saved as PNG.

    Args:
        results: Results of :func:`run_qa_eval` or summaries from :func:`load_summary`, one per dataset.
        path: The PNG file to write.
        title: Figure title (default: names the reader(s)).

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r.to_dict() if isinstance(r, QAEvalResult) else r for r in results]
    if not runs:
        raise ValueError("no result to plot")
    datasets = [f"{r['dataset']}\n({r['setting']}, k={r['k']}, n={r['n_questions']})" for r in runs]
    labels = list(dict.fromkeys(m["model"] for r in runs for m in r["models"]))
    readers = sorted({r["llm_model"] for r in runs})
    fig, axes = plt.subplots(1, 2, figsize=(max(6.0, 2.6 * len(runs) + 2), 4.2), sharey=True)
    width = 0.8 / max(1, len(labels))
    x = np.arange(len(runs))
    top = max(
        [m[metric] for r in runs for m in r["models"] for metric in ("EM", "F1") if m[metric] == m[metric]] or [0]
    )
    top = min(100.0, max(10.0, 1.25 * top))
    for ax, metric in zip(axes, ("EM", "F1"), strict=True):
        for j, label in enumerate(labels):
            values = [next((m[metric] for m in r["models"] if m["model"] == label), np.nan) for r in runs]
            bars = ax.bar(x + (j - (len(labels) - 1) / 2) * width, values, width, label=label)
            ax.bar_label(bars, fmt="%.1f", fontsize=8, padding=2)
        ax.set_xticks(x, datasets, fontsize=8)
        ax.set_title(metric)
        ax.set_ylim(0, top)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("score (%)")
    axes[1].legend(fontsize=8, loc="upper right")
    fig.suptitle(title or f"QA answers with raw vs LORE retrieval; reader: {', '.join(readers)}", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
