"""Query-encoder-only LORE fine-tuning on sentence-transformers' ``SentenceTransformerTrainer``.

Query and document encoders start from one base model. The document encoder stays frozen, so each chunk is embedded
once (:class:`~lore_rag.models.doc_cache.DocEmbeddingCache`, memory-mapped into the collator) and an index built
with the base model stays valid; only the query encoder (or a LoRA adapter on it) is optimised. Schedule, gradient
accumulation, clipping, evaluation, checkpoints, resume, mixed precision, DDP (``torchrun`` / ``accelerate
launch``) and ``report_to`` are Hugging Face Trainer's; lore-rag adds the loss, the evaluator, the document cache,
checkpoint checks on resume and the two-sided export (``best/``, ``last/``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lore_rag import __version__
from lore_rag._hashing import file_sha256
from lore_rag.data.io import expand_paths, read_examples
from lore_rag.data.schema import Example
from lore_rag.defaults import bundled_train_path, bundled_validation_path, cache_dir
from lore_rag.errors import ConfigError
from lore_rag.models.card import model_card
from lore_rag.models.checkpoint import MANIFEST_NAME, save_checkpoint
from lore_rag.models.crash_points import crash_point
from lore_rag.models.doc_cache import DocEmbeddingCache
from lore_rag.models.encoder import load_model, model_fingerprint, query_prompt
from lore_rag.models.loading import resolve_device
from lore_rag.training.args import TrainConfig
from lore_rag.training.resume import CHECKPOINTS, find_resume_point

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

__all__ = ["TrainConfig", "TrainResult", "train"]

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes:
        output_dir: The run folder.
        best: The best checkpoint (``output_dir/best``).
        last: The last checkpoint (``output_dir/last``).
        history: Per-step records (loss terms, learning rate, mean P/N1/N2 similarity) and evaluations.
        metrics: Validation metrics of the best checkpoint.
        timings: Wall-clock seconds of this call by phase: ``load`` (data and models), ``embed_documents``
            (chunks missing from the document cache), ``steps`` (forward, backward and optimiser steps),
            ``evaluate``, ``save`` (checkpoints, history, plot) and ``total``.
        merged: ``output_dir/merged``, the best checkpoint with its LoRA adapter merged (``merge_lora``), or ``None``.
    """

    output_dir: Path
    best: Path
    last: Path
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    merged: Path | None = None


def _examples_from(data: Any) -> list[Example]:
    """In-memory examples from a list of :class:`Example` / dicts or a ``datasets.Dataset`` of such rows."""
    rows = list(data)
    out = []
    for i, row in enumerate(rows):
        out.append(row if isinstance(row, Example) else Example.from_dict(row, source="<train data>", line=i + 1))
    return out


def _load_data(config: TrainConfig, data: Any = None) -> tuple[list[Path], list[Example], Path | None, list[Example]]:
    train_paths: list[Path] = []
    if data is not None:
        examples = _examples_from(data)
    else:
        train_paths = expand_paths(config.train_files) if config.train_files else [bundled_train_path()]
        examples = read_examples(train_paths)
    validation_path: Path | None = None
    if config.validation_file:
        validation_path = expand_paths(config.validation_file)[0]
    elif not config.train_files and data is None:
        validation_path = bundled_validation_path()
    validation = read_examples(validation_path) if validation_path else []
    if config.include_original:
        extra = [e.as_original() for e in examples if e.original_query]
        examples = examples + extra
    if not examples:
        raise ConfigError("no training rows with a positive chunk: nothing to train on")
    return train_paths, examples, validation_path, validation


def _anchor_rows(
    questions: list[str],
    examples: list[Example],
    documents: DocEmbeddingCache,
    teacher: DocEmbeddingCache | None,
    k: int,
) -> list[Example]:
    """Anchor rows for ``--anchor-queries``: each question with the base model's top ``k`` training chunks."""
    if not questions or teacher is None:
        return []
    from lore_rag.training.anchor_queries import anchor_examples

    chunks = list(dict.fromkeys(c for e in examples for c in e.chunks))
    query_rows = np.asarray(teacher.rows(questions), dtype=np.int64)  # embeds the new ones: before matrix()
    chunk_rows = np.asarray(documents.rows(chunks), dtype=np.int64)
    query_vectors, chunk_vectors = teacher.matrix()[query_rows], documents.matrix()[chunk_rows]
    rows = anchor_examples(questions, query_vectors, chunks, chunk_vectors, k)
    logger.info(
        "anchor: %d question(s) of --anchor-queries, %d mined candidate(s) each", len(rows), min(k, len(chunks))
    )
    return rows


def _mined_rows(
    examples: list[Example], documents: DocEmbeddingCache, queries: DocEmbeddingCache, k: int
) -> list[Example]:
    """``--mined-negatives``: each row with the base model's top ``k`` other training chunks as extra N2."""
    from lore_rag.training.hard_negatives import add_mined_negatives

    chunks = list(dict.fromkeys(c for e in examples for c in e.chunks))
    query_rows = np.asarray(queries.rows([e.query for e in examples]), dtype=np.int64)  # before matrix()
    chunk_rows = np.asarray(documents.rows(chunks), dtype=np.int64)
    rows = add_mined_negatives(examples, queries.matrix()[query_rows], chunks, documents.matrix()[chunk_rows], k)
    logger.info("hard negatives: up to %d mined training chunk(s) added to each of %d row(s)", k, len(rows))
    return rows


def _flat(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    return {f"{view}/{k}": v for view, values in metrics.items() for k, v in values.items()}


def train(config: TrainConfig, data: Sequence[Example] | Dataset | None = None) -> TrainResult:
    """Fine-tune the query encoder of ``config.base_model`` on tiered data.

    Writes ``output_dir/best`` and ``output_dir/last`` (each one sentence-transformers folder with both sides,
    ``lore_manifest.json`` and a model card), ``history.json``, ``training_curves.png`` and the Trainer's resumable
    ``checkpoints/``. With ``resume`` (the default) a run interrupted at any point, even by ``kill -9``, continues
    from its last complete checkpoint.

    Args:
        config: The settings.
        data: Training rows given in memory (:class:`Example` objects, dicts in the JSONL layout, or a
            ``datasets.Dataset`` with ``query``, ``chunks``, ``labels`` and optionally ``original_query`` columns)
            instead of ``config.train_files``.

    Raises:
        DataError: for malformed training or validation data.
        ModelError: when the base model cannot be loaded.
        ConfigError: for inconsistent arguments, an unusable output folder, or a damaged checkpoint.
    """
    from lore_rag.training.hf import run_trainer

    start_time = time.perf_counter()
    timings = dict.fromkeys(("load", "embed_documents", "steps", "evaluate", "save"), 0.0)
    out = Path(config.output_dir)
    config.check_runtime()
    automatic_bf16 = config.bf16 is None
    config = config.resolved()  # bf16 on or off as this machine decides it, recorded in the manifest
    resume_from = find_resume_point(out, config)
    out.mkdir(parents=True, exist_ok=True)
    train_paths, examples, validation_path, validation = _load_data(config, data)
    anchor_questions: list[str] = []
    if config.anchor_queries:
        from lore_rag.training.anchor_queries import read_questions

        anchor_questions = read_questions(config.anchor_queries)
    logger.info("training on %d example(s)%s", len(examples), "".join(f" {p}" for p in train_paths))

    if automatic_bf16 and config.bf16:  # said once the inputs are known good, so a bad one stays a one-line error
        logger.info(
            "bf16 autocast: %s computes bfloat16 natively (--no-bf16 trains in fp32)", resolve_device(config.device)
        )
    base = _frozen_base(config)
    mark = time.perf_counter()
    documents, teacher, dataset = _embed_once(config, base, examples, validation, anchor_questions)
    timings["embed_documents"] = time.perf_counter() - mark

    # LoRA wraps the base model itself (the adapter is all that trains); full fine-tuning trains a copy
    query_model = base if config.lora_r else copy.deepcopy(base).requires_grad_(True)
    micro_per_epoch = math.ceil(len(dataset) / config.batch_size)
    total_steps = config.max_steps or math.ceil(micro_per_epoch / config.grad_accum) * config.epochs
    manifest_base = _manifest_base(
        config, model_fingerprint(base), train_paths, examples, data is not None, validation_path, validation
    )
    manifest_base["anchor_queries"] = _anchor_queries_record(config, len(anchor_questions))
    timings["load"] = time.perf_counter() - start_time - timings["embed_documents"]

    def export(folder_name: str, model: SentenceTransformer, step: int, metrics: dict[str, Any]) -> None:
        mark = time.perf_counter()
        manifest = dict(manifest_base, step=step, total_steps=total_steps, metrics=metrics)
        save_checkpoint(
            model,
            out / folder_name,
            manifest,
            document_model=None if config.lora_r else base,
            card=model_card(manifest, repo_id=config.push_to_hub),
        )
        crash_point(f"export-{folder_name}")
        timings["save"] += time.perf_counter() - mark

    outcome = run_trainer(
        config,
        query_model=query_model,
        base=base,
        dataset=dataset,
        documents=documents,
        teacher=teacher,
        validation=validation,
        total_steps=total_steps,
        resume_from=resume_from,
        export=export,
        timings=timings,
    )
    if outcome["is_main"]:
        mark = time.perf_counter()
        _write_history(out, outcome["history"], manifest_base["name"])
        timings["save"] += time.perf_counter() - mark
    return _report(config, out, outcome, timings, start_time)


def _anchor_queries_record(config: TrainConfig, rows: int) -> dict[str, Any] | None:
    """The manifest's record of ``--anchor-queries``: path, sha256, questions, candidates each."""
    if not config.anchor_queries:
        return None
    path = Path(config.anchor_queries)
    return {"path": str(path), "sha256": file_sha256(path), "rows": rows, "candidates": config.anchor_candidates}


def _frozen_base(config: TrainConfig) -> SentenceTransformer:
    """The base model, with the run's prompts, in eval mode and with no gradients: the frozen document side."""
    base = load_model(config.base_model, device=config.device, trust_remote_code=config.trust_remote_code)
    config.apply_prompts(base)
    base.eval()
    for p in base.parameters():
        p.requires_grad_(False)
    return base


def _embed_once(
    config: TrainConfig,
    base: SentenceTransformer,
    examples: list[Example],
    validation: list[Example],
    anchor_questions: list[str],
) -> tuple[DocEmbeddingCache, DocEmbeddingCache | None, Dataset]:
    """Embed every chunk (and anchor query) the run needs, once; return both caches and the training dataset.

    The document cache takes the training and validation chunks; for the anchor, the teacher cache takes the base
    model's vectors of the original and ``--anchor-queries`` questions. Rank 0 goes first; the other ranks read.
    """
    from lore_rag.training.data import build_dataset
    from lore_rag.training.hf import main_process_first

    folder = config.cache_dir if config.cache_dir is not None else cache_dir("doc_embeddings")
    with main_process_first():
        precision = config.precision  # --bf16 embeds the frozen side under autocast as well
        documents = DocEmbeddingCache(base, folder, show_progress=config.show_progress, precision=precision)
        all_chunks = list(
            dict.fromkeys([c for e in examples for c in e.chunks] + [c for e in validation for c in e.chunks])
        )
        documents.embed(all_chunks)
        anchored = config.anchor_weight > 0 and (any(e.original_query for e in examples) or bool(anchor_questions))
        queries: DocEmbeddingCache | None = None
        if anchored or config.mined_negatives:
            # one instance per namespace: two caches on the same files would overwrite each other's saves
            queries = DocEmbeddingCache(
                base, folder, show_progress=config.show_progress, prompt=query_prompt(base), precision=precision
            )
            if queries.namespace == documents.namespace:
                queries = documents
        teacher = queries if anchored else None
        anchor_rows = _anchor_rows(anchor_questions, examples, documents, teacher, config.anchor_candidates)
        if config.mined_negatives and queries is not None:
            examples = _mined_rows(examples, documents, queries, config.mined_negatives)
        dataset = build_dataset(examples + anchor_rows, documents, teacher)
    return documents, teacher, dataset


def _manifest_base(
    config: TrainConfig,
    base_fingerprint: str,
    train_paths: list[Path],
    examples: list[Example],
    in_memory: bool,
    validation_path: Path | None,
    validation: list[Example],
) -> dict[str, Any]:
    """The manifest fields every checkpoint of the run shares: base model, loss, settings, data hashes and sizes."""
    data_files = [{"path": str(p), "sha256": file_sha256(p), "rows": len(read_examples(p))} for p in train_paths]
    if in_memory:
        digest = hashlib.sha256(json.dumps([e.to_dict() for e in examples], sort_keys=True).encode()).hexdigest()
        data_files = [{"path": "<in memory>", "sha256": digest, "rows": len(examples)}]
    return {
        "name": config.name or ("LORE" if config.loss == "lore" else "InfoNCE"),
        "base_model": config.base_model,
        "base_fingerprint": base_fingerprint,
        "loss": {"name": config.loss, "tau": config.tau, "alpha": config.alpha, "beta": config.beta},
        "training": config.to_dict(),
        "train_data": data_files,
        "train_rows": len(examples),
        "validation_data": (
            {"path": str(validation_path), "sha256": file_sha256(validation_path), "rows": len(validation)}
            if validation_path
            else None
        ),
        "lore_rag_version": __version__,
    }


def _write_history(out: Path, history: dict[str, Any], name: str) -> None:
    """``history.json`` and ``training_curves.png`` (a plot that fails only warns: it must never lose a run)."""
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")
    try:
        from lore_rag.training.curves import plot_curves

        plot_curves(history, out / "training_curves.png", title=name)
    except Exception as exc:  # noqa: BLE001 - a plot must never lose a finished run
        logger.warning("could not draw training curves: %s", exc)


def _report(
    config: TrainConfig, out: Path, outcome: dict[str, Any], timings: dict[str, float], start_time: float
) -> TrainResult:
    """Close the timings, log them, push and merge ``best/`` when asked (rank 0), and return the result."""
    timings["total"] = time.perf_counter() - start_time
    accounted = sum(v for k, v in timings.items() if k not in ("steps", "total"))
    timings["steps"] = max(0.0, min(timings["steps"], timings["total"] - accounted))
    logger.info(
        "trained %d step(s) in %.1fs (%s); best: %s (%s)",
        outcome["step"],
        timings["total"],
        ", ".join(f"{k} {v:.1f}s" for k, v in timings.items() if k != "total"),
        out / "best",
        MANIFEST_NAME,
    )
    if config.push_to_hub and outcome["is_main"]:
        from lore_rag.models.hub import push_checkpoint

        push_checkpoint(out / "best", config.push_to_hub)
    merged = None
    if config.merge_lora and outcome["is_main"]:
        from lore_rag.models.merge import merge_lora_checkpoint

        merged = merge_lora_checkpoint(out / "best", out / "merged", device=config.device, replace_merged=True)
    return TrainResult(out, out / "best", out / "last", outcome["history"], outcome["best_metrics"], timings, merged)


def clear_checkpoints(out: Path) -> None:
    """Remove the Trainer's resumable checkpoints of a run folder (``--no-resume``)."""
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
