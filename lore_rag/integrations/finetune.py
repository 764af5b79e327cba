"""``LoreFinetuneEngine``: LORE fine-tuning with the shape of LlamaIndex's ``SentenceTransformersFinetuneEngine``.

LlamaIndex users fine-tune an embedding model with ``engine = SentenceTransformersFinetuneEngine(train_dataset,
model_id=..., model_output_path=..., val_dataset=...)``, ``engine.finetune()`` and
``embed_model = engine.get_finetuned_model()``. :class:`LoreFinetuneEngine` takes the same calls and trains a LORE
query encoder instead: only the query side learns, so the index built with the base model stays valid, and
:meth:`~LoreFinetuneEngine.get_finetuned_model` returns a :class:`~lore_rag.integrations.llama_index.LoreEmbedding`
(tuned queries, original documents).

The training data may be

* tiered LORE JSONL (files or folders, as ``lore-rag train`` reads), used as it is; or
* a LlamaIndex ``EmbeddingQAFinetuneDataset`` (``queries``, ``corpus``, ``relevant_docs``; from
  ``generate_qa_embedding_pairs`` or ``EmbeddingQAFinetuneDataset.from_json``), or the JSON file it saves. It is
  turned into tiered rows the way ``lore-rag build-data`` makes them: each query's candidates are its relevant
  chunks plus the corpus chunks BM25 ranks highest for it; distractors are mined among the candidates and woven into
  a rewritten query by the configured LLM (``lore_rag.llm.connect()``: ``LORE_RAG_LLM_*`` settings or the bundled
  local model), or by the offline template rewriter with ``offline=True``. The intermediate files go to
  ``model_output_path/data/`` and a re-run resumes them.

```python
from llama_index.finetuning import EmbeddingQAFinetuneDataset      # or lore_rag's QADataset.from_json
from lore_rag.integrations.finetune import LoreFinetuneEngine

engine = LoreFinetuneEngine(EmbeddingQAFinetuneDataset.from_json("train_dataset.json"),
                            model_output_path="runs/lore", val_dataset=..., offline=True)
engine.finetune()
Settings.embed_model = engine.get_finetuned_model()
```

Training goes through :func:`lore_rag.training.train` with a :class:`~lore_rag.training.args.TrainConfig`; any
of its fields can be passed as keyword arguments.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag.data.builder.mining import BM25
from lore_rag.data.converters._common import raw_example
from lore_rag.data.io import write_examples
from lore_rag.errors import ConfigError, DataError
from lore_rag.models.encoder import DEFAULT_MODEL

if TYPE_CHECKING:
    from lore_rag.data.schema import Example
    from lore_rag.integrations.llama_index import LoreEmbedding
    from lore_rag.llm import LLMClient

__all__ = ["LoreFinetuneEngine", "QADataset", "qa_dataset_rows"]

logger = logging.getLogger(__name__)


def _training() -> tuple[Any, Any]:
    """``(TrainConfig, train)``, imported when first needed (training pulls in the Trainer stack)."""
    from lore_rag.training import TrainConfig, train

    return TrainConfig, train


@dataclass
class QADataset:
    """Queries, a corpus and which corpus entries answer which query: LlamaIndex's ``EmbeddingQAFinetuneDataset``.

    The JSON layout is the one ``EmbeddingQAFinetuneDataset.save_json`` writes, so files pass between the two.

    Attributes:
        queries: Query id to query text.
        corpus: Chunk id to chunk text.
        relevant_docs: Query id to the ids of its relevant chunks.
    """

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant_docs: dict[str, list[str]]
    mode: str = "text"

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> QADataset:
        """Read a file written by ``EmbeddingQAFinetuneDataset.save_json`` (or :meth:`save_json`).

        Raises:
            DataError: naming the file and the field that is missing or malformed.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise DataError(f"cannot read: {exc.strerror or exc}", path=str(path)) from None
        except ValueError as exc:
            raise DataError(f"not JSON: {exc}", path=str(path)) from None
        if not isinstance(data, dict):
            raise DataError("expected a JSON object with queries, corpus and relevant_docs", path=str(path))
        return cls.of(data, source=str(path))

    @classmethod
    def of(cls, dataset: Any, *, source: str = "dataset") -> QADataset:
        """A checked copy of any object (or mapping) with ``queries``, ``corpus`` and ``relevant_docs``.

        Raises:
            DataError: for a missing or malformed field, a relevant id not in the corpus, or no usable query.
        """

        def get(name: str) -> Any:
            value = dataset.get(name) if isinstance(dataset, Mapping) else getattr(dataset, name, None)
            if not isinstance(value, Mapping):
                raise DataError(f"expected a mapping, got {type(value).__name__}", path=source, field=name)
            return value

        queries, corpus, relevant = get("queries"), get("corpus"), get("relevant_docs")
        for name, values in (("queries", queries), ("corpus", corpus)):
            for key, text in values.items():
                if not isinstance(text, str) or not text.strip():
                    raise DataError("expected a non-empty string", path=source, field=f"{name}[{key!r}]")
        docs: dict[str, list[str]] = {}
        for qid, ids in relevant.items():
            if isinstance(ids, str) or not isinstance(ids, Sequence):
                raise DataError("expected a list of corpus ids", path=source, field=f"relevant_docs[{qid!r}]")
            missing = [d for d in ids if str(d) not in corpus]
            if missing:
                raise DataError(
                    f"corpus id {missing[0]!r} is not in the corpus", path=source, field=f"relevant_docs[{qid!r}]"
                )
            docs[str(qid)] = [str(d) for d in ids]
        usable = [q for q in queries if docs.get(str(q))]
        if not usable:
            raise DataError("no query has a relevant chunk in relevant_docs", path=source)
        return cls(
            queries={str(k): v for k, v in queries.items()},
            corpus={str(k): v for k, v in corpus.items()},
            relevant_docs=docs,
        )

    def save_json(self, path: str | os.PathLike[str]) -> None:
        """Write the dataset in ``EmbeddingQAFinetuneDataset``'s JSON layout."""
        payload = {
            "queries": self.queries,
            "corpus": self.corpus,
            "relevant_docs": self.relevant_docs,
            "mode": self.mode,
        }
        Path(path).write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")


def qa_dataset_rows(dataset: Any, *, candidates: int = 10, name: str = "qa") -> list[Example]:
    """Raw rows (P / N2) of a QA dataset: each query's relevant chunks plus its BM25 top ``candidates`` of the corpus.

    Queries without a relevant chunk are left out (and counted in the log).

    Args:
        dataset: An ``EmbeddingQAFinetuneDataset``, a :class:`QADataset`, or a mapping with the same three fields.
        candidates: Corpus chunks BM25 ranks highest for a query, offered beside its relevant ones.
        name: The rows' ``dataset`` field.

    Raises:
        DataError: for a malformed dataset.
        ConfigError: for ``candidates`` < 1.
    """
    if candidates < 1:
        raise ConfigError(f"candidates must be at least 1, got {candidates}")
    qa = dataset if isinstance(dataset, QADataset) else QADataset.of(dataset)
    doc_ids = list(qa.corpus)
    bm25 = BM25([qa.corpus[d] for d in doc_ids])
    rows = []
    skipped = 0
    for qid, query in qa.queries.items():
        gold = qa.relevant_docs.get(qid) or []
        if not gold:
            skipped += 1
            continue
        ranked = [doc_ids[i] for i, _ in bm25.top_k(query, candidates + len(gold))]
        others = [d for d in ranked if d not in gold][:candidates]
        ids = list(dict.fromkeys([*gold, *others]))
        rows.append(
            raw_example(
                id=qid,
                query=query,
                chunks=[qa.corpus[d] for d in ids],
                relevant=[d in gold for d in ids],
                answer=None,
                titles=None,
                dataset=name,
                source=name,
                line=0,
            )
        )
    if skipped:
        logger.info("%d quer(ies) without a relevant chunk left out", skipped)
    return rows


def _is_qa(dataset: Any) -> bool:
    if isinstance(dataset, (QADataset, Mapping)) or all(
        hasattr(dataset, name) for name in ("queries", "corpus", "relevant_docs")
    ):
        return True
    if isinstance(dataset, (str, os.PathLike)) and str(dataset).endswith(".json") and Path(dataset).is_file():
        try:
            head = json.loads(Path(dataset).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(head, dict) and "queries" in head and "relevant_docs" in head
    return False


@dataclass
class LoreFinetuneEngine:
    """Fine-tune a LORE query encoder the way LlamaIndex fine-tunes embeddings.

    Args:
        dataset: Tiered LORE JSONL (a path, a folder, or a list of them), or a QA dataset
            (``EmbeddingQAFinetuneDataset``, :class:`QADataset`, or the JSON file it saves) to build tiered rows from.
        model_id: Base model: Hugging Face id, local folder, or the bundled all-MiniLM-L6-v2 (default).
        model_output_path: Output folder of the run (``best/``, ``last/``, curves; built data under ``data/``).
        batch_size: Queries per batch (default: the trainer's).
        val_dataset: Validation data, in the same forms as ``dataset`` (picks ``best/``); none by default.
        epochs: Passes over the training data (default: the trainer's).
        evaluation_steps: Evaluate on ``val_dataset`` every this many steps (and at the end).
        show_progress_bar: Progress bars.
        device: Torch device (CPU unless given).
        offline: Build rows from a QA dataset with the offline template rewriter instead of an LLM.
        llm: The LLM client for rewriting (default: ``lore_rag.llm.connect()``, the configured endpoint or the
            bundled local model).
        candidates: Corpus chunks offered per query beside its relevant ones (QA datasets).
        build_options: More ``BuildConfig`` options for the data builder (``fraction``, ``mining``, ``seed``...).
        train_options: More ``TrainConfig`` fields (``loss``, ``lr``, ``max_steps``, ``anchor_weight``...).

    Raises:
        ConfigError: for an unknown build or train option.
    """

    dataset: Any
    model_id: str = DEFAULT_MODEL
    model_output_path: str = "exp_finetune"
    batch_size: int | None = None
    val_dataset: Any = None
    epochs: int | None = None
    evaluation_steps: int | None = None
    show_progress_bar: bool = True
    device: str | None = None
    offline: bool = False
    llm: LLMClient | None = None
    candidates: int = 10
    build_options: dict[str, Any] = field(default_factory=dict)
    train_options: dict[str, Any] = field(default_factory=dict)
    result: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        from lore_rag.data.builder.runner import BuildConfig

        config_cls, _ = _training()
        known_build = {f.name for f in fields(BuildConfig)} - {"inputs", "output", "offline", "show_progress"}
        known_train = {f.name for f in fields(config_cls)}
        for names, known, what in (
            (self.build_options, known_build, "build_options"),
            (self.train_options, known_train, "train_options"),
        ):
            unknown = sorted(set(names) - known)
            if unknown:
                raise ConfigError(f"{what}: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")

    @property
    def data_dir(self) -> Path:
        """Where rows built from a QA dataset are written (``model_output_path/data``)."""
        return Path(self.model_output_path) / "data"

    def _tiered(self, data: Any, split: str) -> list[str]:
        """Tiered JSONL files for ``data``: as given, or built from a QA dataset (resumed when present)."""
        from lore_rag.data.builder.runner import BuildConfig, build_data

        if not _is_qa(data):
            if isinstance(data, (str, os.PathLike)):
                return [str(data)]
            if isinstance(data, Sequence) and all(isinstance(p, (str, os.PathLike)) for p in data):
                return [str(p) for p in data]
            raise ConfigError(
                f"{split} dataset: expected tiered JSONL path(s) or a QA dataset (queries, corpus, relevant_docs), "
                f"got {type(data).__name__}"
            )
        qa = QADataset.from_json(data) if isinstance(data, (str, os.PathLike)) else QADataset.of(data, source=split)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        raw = self.data_dir / f"{split}_raw.jsonl"
        write_examples(qa_dataset_rows(qa, candidates=self.candidates, name=split), raw)
        output = self.data_dir / f"{split}{'_offline' if self.offline else ''}.jsonl"
        options = {"seed": 13, **self.build_options}
        config = BuildConfig(
            inputs=[str(raw)], output=str(output), offline=self.offline, show_progress=self.show_progress_bar, **options
        )
        report = build_data(config, client=self.llm)
        if report.error:
            raise DataError(f"building {split} rows stopped: {report.error} (run again to resume)", path=str(output))
        if not report.total_rows:
            raise DataError(f"no {split} row could be built (see the skipped file beside it)", path=str(output))
        logger.info("%s: %d tiered row(s) in %s", split, report.total_rows, output)
        return [str(output)]

    def finetune(self, **train_kwargs: Any) -> Any:
        """Build rows if needed, then train through ``lore_rag.training.train``; returns its ``TrainResult``.

        Args:
            **train_kwargs: ``TrainConfig`` fields for this call, on top of ``train_options``.
        """
        config_cls, train = _training()
        settings: dict[str, Any] = {
            "base_model": self.model_id,
            "train_files": self._tiered(self.dataset, "train"),
            "output_dir": self.model_output_path,
            "show_progress": self.show_progress_bar,
        }
        if self.val_dataset is not None:
            settings["validation_file"] = self._tiered(self.val_dataset, "validation")[0]
        for name, value in (
            ("batch_size", self.batch_size),
            ("epochs", self.epochs),
            ("eval_steps", self.evaluation_steps),
            ("device", self.device),
        ):
            if value is not None:
                settings[name] = value
        settings.update(self.train_options)
        settings.update(train_kwargs)
        self.result = train(config_cls(**settings))
        return self.result

    def get_finetuned_model(self, **model_kwargs: Any) -> LoreEmbedding:
        """The tuned model as a LlamaIndex embedding: tuned query encoder, original document encoder.

        Args:
            **model_kwargs: Passed to :class:`~lore_rag.integrations.llama_index.LoreEmbedding`
                (``embed_batch_size``, ``device``...).

        Raises:
            ModelError: when no checkpoint is in ``model_output_path`` (call :meth:`finetune` first).
        """
        from lore_rag.integrations.llama_index import LoreEmbedding

        path = self.result.best if self.result is not None else Path(self.model_output_path)
        model_kwargs.setdefault("device", self.device)
        return LoreEmbedding(path, **model_kwargs)
