"""Evaluate several models on several files in one go, sharing the frozen document embeddings."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lore_rag.data.io import expand_paths, read_examples
from lore_rag.data.schema import Example
from lore_rag.defaults import cache_dir
from lore_rag.errors import ConfigError
from lore_rag.evaluation.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, Interval, paired_differences
from lore_rag.evaluation.candidates import DEFAULT_KS, evaluate_candidates, evaluate_candidates_detailed
from lore_rag.models.doc_cache import DocEmbeddingCache
from lore_rag.models.encoder import LoreEncoder

if TYPE_CHECKING:
    from lore_rag.retrieval.rerank import Reranker

__all__ = [
    "ModelGroup",
    "add_raw_baseline",
    "compare_with_baseline",
    "evaluate_groups_candidates",
    "evaluate_groups_corpus",
    "evaluate_models",
    "load_encoders",
    "load_model_groups",
]

logger = logging.getLogger(__name__)


def load_encoders(specs: Sequence[str | os.PathLike[str]], *, device: str | None = None) -> list[LoreEncoder]:
    """Load ``"raw"``, ``"raw:MODEL"`` or checkpoint folders; checkpoints on one base share its document model."""
    encoders: list[LoreEncoder] = []
    docs: dict[str, Any] = {}
    for spec in specs:
        text = str(spec)
        if text == "raw" or text.startswith("raw:"):
            enc = LoreEncoder.load(text, device=device)
            docs.setdefault(enc.document_fingerprint, enc.document_model)
            if text != "raw":
                enc.name = text
        else:
            from lore_rag.models.checkpoint import read_manifest

            manifest = read_manifest(text)
            shared = docs.get(manifest["base_fingerprint"])
            enc = LoreEncoder.from_checkpoint(text, document_model=shared, device=device)
            docs.setdefault(enc.document_fingerprint, enc.document_model)
            if sum(1 for s in specs if str(s) != "raw") > 1 or enc.name in ("best", "last"):
                enc.name = _label(Path(manifest["path"]), enc.name)
        encoders.append(enc)
    return encoders


def _label(folder: Path, name: str) -> str:
    parts = [p for p in folder.parts[-3:] if p not in ("best", "last")]
    return f"{name} ({'/'.join(parts[-2:])})" if parts else name


def evaluate_models(
    encoders: Sequence[LoreEncoder],
    files: Sequence[str | os.PathLike[str]],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    cache_folder: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Paper-protocol metrics of each encoder on each file.

    Returns:
        ``{file: {model_name: {view: metrics}}}``.
    """
    paths = expand_paths(files)
    folder = cache_folder if cache_folder is not None else cache_dir("doc_embeddings")
    caches: dict[str, DocEmbeddingCache] = {}
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for path in paths:
        examples = read_examples(path)
        out[str(path)] = {}
        for encoder in encoders:
            key = encoder.document_fingerprint
            if key not in caches:
                caches[key] = DocEmbeddingCache(
                    encoder.document_model, folder, show_progress=show_progress, precision=encoder.precision
                )
            metrics = evaluate_candidates(encoder, examples, ks=ks, embed_documents=caches[key].embed)
            out[str(path)][encoder.name] = metrics
            logger.info("%s on %s: %s", encoder.name, path.name, {v: round(m["P@3"], 1) for v, m in metrics.items()})
    return out


@dataclass
class ModelGroup:
    """One model as reported: a raw model or checkpoint, or several checkpoints that are seeds of one setting.

    Attributes:
        name: Label in tables.
        encoders: One encoder per seed (one for a raw model or a single checkpoint).
    """

    name: str
    encoders: list[LoreEncoder]


def _split_spec(spec: str) -> tuple[str | None, list[str]]:
    """``NAME=DIR1,DIR2`` (seeds of one model) or a single spec; a path that exists is never split."""
    if "=" in spec and not Path(spec).exists():
        name, _, rest = spec.partition("=")
        parts = [p for p in rest.split(",") if p]
        if not name or not parts:
            raise ConfigError(f"--model {spec!r}: use NAME=DIR[,DIR...] (seeds of one model), a folder or 'raw'")
        return name, parts
    return None, [spec]


def load_model_groups(specs: Sequence[str | os.PathLike[str]], *, device: str | None = None) -> list[ModelGroup]:
    """Load models as :func:`load_encoders` does; ``NAME=DIR1,DIR2,...`` makes one model of several seeds.

    Raises:
        ConfigError: for a malformed spec or two models with the same name.
        ModelError: for a missing checkpoint.
    """
    split = [_split_spec(str(s)) for s in specs]
    flat = [part for _, parts in split for part in parts]
    encoders = iter(load_encoders(flat, device=device))
    groups: list[ModelGroup] = []
    for name, parts in split:
        members = [next(encoders) for _ in parts]
        groups.append(ModelGroup(name or members[0].name, members))
    names = [g.name for g in groups]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"--model: two models are named {name!r}; name them with NAME=DIR")
    return groups


def add_raw_baseline(groups: list[ModelGroup]) -> ModelGroup | None:
    """The raw base model of the first checkpoint, sharing its document encoder; ``None`` when a raw model is given.

    Used so that every checkpoint can be compared with the model it was tuned from.
    """
    from lore_rag.retrieval.retriever import raw_counterpart

    if any(enc.is_raw for g in groups for enc in g.encoders):
        return None
    first = groups[0].encoders[0]
    return ModelGroup("raw", [raw_counterpart(first, name="raw")])


def evaluate_groups_candidates(
    groups: Sequence[ModelGroup],
    examples: Sequence[Example],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    cache_folder: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Paper-protocol metrics of each model (each seed) on one file, keeping each question's values.

    Returns:
        ``{"models": {name: [per-seed {view: metrics}]}, "per_query": {view: {name: {metric: [seeds, n]}}},
        "ids": {view: [example id]}}``.
    """
    folder = cache_folder if cache_folder is not None else cache_dir("doc_embeddings")
    caches: dict[str, DocEmbeddingCache] = {}
    models: dict[str, list[dict[str, dict[str, float]]]] = {}
    per_query: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    ids: dict[str, list[str]] = {}
    for group in groups:
        runs = []
        stacked: dict[str, dict[str, list[np.ndarray]]] = {}
        for encoder in group.encoders:
            key = encoder.document_fingerprint
            if key not in caches:
                caches[key] = DocEmbeddingCache(
                    encoder.document_model, folder, show_progress=show_progress, precision=encoder.precision
                )
            detailed = evaluate_candidates_detailed(encoder, examples, ks=ks, embed_documents=caches[key].embed)
            runs.append({view: r.metrics for view, r in detailed.items()})
            for view, r in detailed.items():
                ids.setdefault(view, r.ids)
                for metric, values in r.per_query.items():
                    stacked.setdefault(view, {}).setdefault(metric, []).append(values)
        models[group.name] = runs
        for view, by_metric in stacked.items():
            per_query.setdefault(view, {})[group.name] = {m: np.stack(v) for m, v in by_metric.items()}
    return {"models": models, "per_query": per_query, "ids": ids}


def evaluate_groups_corpus(
    groups: Sequence[ModelGroup],
    examples: list[Example],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    store_dir: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
    reranker: Reranker | None = None,
    fetch_k: int | None = None,
    cache_folder: str | os.PathLike[str] | None = None,
    latency: bool = True,
) -> dict[str, Any]:
    """Corpus-wide metrics (one index of all chunks of ``examples``) of each model and seed, per view.

    With a ``reranker``, every model also gets the row ``"NAME + reranker"`` (its top ``fetch_k`` rescored by the
    cross-encoder), compared with the baseline like any other row.

    Views as in the candidate protocol: ``rewritten`` searches with each row's ``query`` and ``original`` with its
    ``original_query``; a file with no ``original_query`` (plain questions) is searched once, as ``original``. Both
    views search the same index, embedded once per document encoder, from the document-embedding cache in
    ``cache_folder`` (default: lore-rag's cache folder, as for the candidate protocol). ``latency=False`` searches in
    batches and reports no ``ms/query`` (see :func:`~lore_rag.evaluation.corpus.evaluate_corpus`).

    Returns:
        ``{"views": {view: evaluate_corpus result with one (seed-averaged) row per model}, "per_query": {view:
        {name: {metric: [seeds, n]}}}, "ids": {view: [example id]}}``.
    """
    from lore_rag.evaluation.corpus import RERANKED_SUFFIX, evaluate_corpus, per_query_arrays

    rewritten_data = any(e.original_query for e in examples)
    fields = {"rewritten": "query", "original": "original_query"} if rewritten_data else {"original": "query"}
    named: dict[str, LoreEncoder] = {}
    members: dict[str, list[str]] = {}
    for group in groups:
        members[group.name] = []
        for i, encoder in enumerate(group.encoders):
            key = group.name if len(group.encoders) == 1 else f"{group.name}#{i}"
            named[key] = encoder
            members[group.name].append(key)
    if reranker is not None:
        members = {
            row: [key + suffix for key in keys]
            for name, keys in members.items()
            for row, suffix in ((name, ""), (name + RERANKED_SUFFIX, RERANKED_SUFFIX))
        }
    tmp = tempfile.TemporaryDirectory(prefix="lore-corpus-") if store_dir is None else None
    root = tmp.name if tmp is not None else store_dir
    views: dict[str, Any] = {}
    per_query: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    ids: dict[str, list[str]] = {}
    try:
        for view, field_name in fields.items():
            result = evaluate_corpus(
                named,
                examples,
                ks=ks,
                store_dir=root,
                show_progress=show_progress,
                query_field=field_name,
                per_query=True,
                reranker=reranker,
                fetch_k=fetch_k,
                document_cache=cache_folder if cache_folder is not None else cache_dir("doc_embeddings"),
                latency=latency,
            )
            per_query[view] = {}
            table_models: dict[str, dict[str, float]] = {}
            for name, keys in members.items():
                arrays = [per_query_arrays(result, key) for key in keys]
                per_query[view][name] = {m: np.stack([a[m] for a in arrays]) for m in arrays[0]}
                runs = [result["models"][key] for key in keys]
                table_models[name] = {m: float(np.mean([r[m] for r in runs])) for m in runs[0]}
                table_models[name]["seeds"] = float(len(keys))
            ids[view] = [str(row["id"]) for row in result["per_query"][members[groups[0].name][0]]]
            result = {k: v for k, v in result.items() if k != "per_query"}
            result["models"] = table_models
            views[view] = result
    finally:
        if tmp is not None:
            tmp.cleanup()
    return {"views": views, "per_query": per_query, "ids": ids}


def compare_with_baseline(
    per_query: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]],
    baseline: str,
    metrics: Mapping[str, Sequence[str]],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> dict[str, dict[str, dict[str, Interval]]]:
    """Paired bootstrap differences of every model against ``baseline``, per view.

    Args:
        per_query: ``{view: {model: {metric: [seeds, n]}}}`` as the ``evaluate_groups_*`` functions return.
        baseline: Name of the baseline model.
        metrics: ``{view: metrics to compare}``; metrics a view lacks are skipped.
        n_resamples: Bootstrap resamples.
        confidence: Interval coverage.
        seed: Resampling seed.

    Returns:
        ``{view: {model: {metric: Interval}}}``.
    """
    out: dict[str, dict[str, dict[str, Interval]]] = {}
    for view, by_model in per_query.items():
        if baseline not in by_model:
            raise ConfigError(f"baseline {baseline!r} is not among the models: {', '.join(by_model)}")
        wanted = [m for m in metrics.get(view, ()) if m in by_model[baseline]]
        out[view] = paired_differences(
            by_model, baseline, metrics=wanted, n_resamples=n_resamples, confidence=confidence, seed=seed
        )
    return out
