"""Query-encoder-only LORE fine-tuning.

Query and document encoders start from one base model. The document encoder stays frozen, so each
chunk is embedded once (:class:`~lore_rag.training.doc_cache.DocEmbeddingCache`) and an index built with
the base model stays valid; only the query encoder is optimised.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from lore_rag import __version__
from lore_rag.data.io import expand_paths, read_examples
from lore_rag.data.schema import Example, Tier
from lore_rag.defaults import bundled_train_path, bundled_validation_path, cache_dir
from lore_rag.evaluation.candidates import evaluate_candidates
from lore_rag.losses.tiered_infonce import compute_loss
from lore_rag.models.checkpoint import MANIFEST_NAME, save_checkpoint
from lore_rag.models.encoder import LoreEncoder, load_model, model_fingerprint, query_prompt
from lore_rag.training.args import TrainConfig
from lore_rag.training.collate import collate
from lore_rag.training.doc_cache import DocEmbeddingCache

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["TrainConfig", "TrainResult", "train"]

logger = logging.getLogger(__name__)

STATE_NAME = "trainer_state.pt"


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes:
        output_dir: The run folder.
        best: The best checkpoint (``output_dir/best``).
        last: The last checkpoint (``output_dir/last``).
        history: Per-step records (loss, mean P/N1/N2 similarity) and evaluations.
        metrics: Validation metrics of the best checkpoint.
        timings: Wall-clock seconds of this call by phase: ``load`` (data and models), ``embed_documents``
            (chunks missing from the document cache), ``steps`` (forward, backward and optimiser steps),
            ``evaluate``, ``save`` (checkpoints, history, plot) and ``total``.
    """

    output_dir: Path
    best: Path
    last: Path
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _embed_queries_train(model: SentenceTransformer, texts: Sequence[str], device: str) -> torch.Tensor:
    """Differentiable, normalised query embeddings (the model's query prompt prepended)."""
    prompt = query_prompt(model)
    features = model.tokenize([prompt + t for t in texts])
    features = {k: v.to(device) for k, v in features.items() if isinstance(v, torch.Tensor)}
    out = model(features)["sentence_embedding"]
    return F.normalize(out, p=2, dim=-1)


def _metric_value(metrics: dict[str, dict[str, float]], name: str) -> float:
    """Validation score that picks ``best/``.

    ``score`` (the default) is the mean of P@3 on rewritten and on original queries minus N1@3 on rewritten
    ones: it rewards robustness to distractors without paying for it on normal queries.
    """
    if name == "score":
        rewritten = metrics.get("rewritten", {})
        original = metrics.get("original", {})
        p_values = [v["P@3"] for v in (rewritten, original) if v]
        return float(np.mean(p_values)) - rewritten.get("N1@3", 0.0)
    view, _, metric = name.partition("/")
    try:
        value = metrics[view][metric]
    except KeyError:
        raise KeyError(f"metric_for_best {name!r} not in validation metrics {sorted(metrics)}") from None
    return -value if metric.startswith("N1") else value


class _Anchor:
    """KL from the base model's ranking of an original query to the tuned model's (per candidate list)."""

    def __init__(self, base: SentenceTransformer, examples: Sequence[Example], tau: float) -> None:
        self.tau = tau
        texts = sorted({e.original_query for e in examples if e.original_query})
        vectors = base.encode([query_prompt(base) + t for t in texts], convert_to_numpy=True, normalize_embeddings=True)
        self.teacher = {t: torch.from_numpy(np.asarray(v, dtype=np.float32)) for t, v in zip(texts, vectors)}

    def loss(
        self, student: torch.Tensor, batch: Sequence[Example], docs: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Mean KL over the rows that have an original query.

        Args:
            student: Tuned-model embeddings of those rows' original queries, in batch order.
            batch: The batch.
            docs: ``[batch, max_chunks, dim]`` candidate vectors.
            mask: ``[batch, max_chunks]`` real candidates.
        """
        rows = self.rows(batch)
        teacher = torch.stack([self.teacher[batch[i].original_query or ""] for i in rows]).to(student.device)
        d, m = docs[rows], mask[rows]
        s_student = torch.einsum("bd,bcd->bc", student, d) / self.tau
        s_teacher = torch.einsum("bd,bcd->bc", teacher, d) / self.tau
        neg_inf = torch.finfo(s_student.dtype).min
        log_q = torch.log_softmax(s_student.masked_fill(~m, neg_inf), dim=1)
        p = torch.softmax(s_teacher.masked_fill(~m, neg_inf), dim=1)
        log_p = torch.log(p.clamp_min(1e-12))
        return ((p * (log_p - log_q)) * m).sum(dim=1).mean()

    @staticmethod
    def rows(batch: Sequence[Example]) -> list[int]:
        """Indices of the batch rows that carry an original query."""
        return [i for i, e in enumerate(batch) if e.original_query]


def _load_data(config: TrainConfig) -> tuple[list[Path], list[Example], Path | None, list[Example]]:
    train_paths = expand_paths(config.train_files) if config.train_files else [bundled_train_path()]
    examples = read_examples(train_paths)
    validation_path: Path | None = None
    if config.validation_file:
        validation_path = expand_paths(config.validation_file)[0]
    elif not config.train_files:
        validation_path = bundled_validation_path()
    validation = read_examples(validation_path) if validation_path else []
    if config.include_original:
        extra = [e.as_original() for e in examples if e.original_query]
        examples = examples + extra
    return train_paths, examples, validation_path, validation


def train(config: TrainConfig) -> TrainResult:
    """Fine-tune the query encoder of ``config.base_model`` on tiered data.

    Writes ``output_dir/best`` and ``output_dir/last`` (sentence-transformers folders plus
    ``lore_manifest.json``), ``history.json`` and ``training_curves.png``. With ``resume`` (the default) a run
    interrupted at any point, even by ``kill -9``, continues from the last saved step of ``last/``.

    Raises:
        DataError: for malformed training or validation data.
        ModelError: when the base model cannot be loaded.
        ConfigError: for inconsistent arguments.
    """
    start_time = time.perf_counter()
    timings = dict.fromkeys(("load", "embed_documents", "steps", "evaluate", "save"), 0.0)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_paths, examples, validation_path, validation = _load_data(config)
    logger.info("training on %d example(s) from %s", len(examples), ", ".join(map(str, train_paths)))

    base = load_model(config.base_model, device=config.device)
    base.eval()
    for p in base.parameters():
        p.requires_grad_(False)
    base_fp = model_fingerprint(base)
    cache = DocEmbeddingCache(
        base,
        config.cache_dir if config.cache_dir is not None else cache_dir("doc_embeddings"),
        show_progress=config.show_progress,
    )
    all_chunks = list(
        dict.fromkeys([c for e in examples for c in e.chunks] + [c for e in validation for c in e.chunks])
    )
    mark = time.perf_counter()
    cache.embed(all_chunks)
    timings["embed_documents"] = time.perf_counter() - mark
    query_model = copy.deepcopy(base)
    for p in query_model.parameters():
        p.requires_grad_(True)
    original_max_len = query_model.max_seq_length
    query_model.max_seq_length = min(config.max_seq_length, original_max_len or config.max_seq_length)

    micro_per_epoch = math.ceil(len(examples) / config.batch_size)
    steps_per_epoch = math.ceil(micro_per_epoch / config.grad_accum)
    total_steps = config.max_steps or steps_per_epoch * config.epochs
    optimizer = torch.optim.AdamW(
        [p for p in query_model.parameters() if p.requires_grad], lr=config.lr, weight_decay=config.weight_decay
    )
    warmup = int(round(config.warmup_ratio * total_steps))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    anchor = (
        _Anchor(base, examples, config.tau)
        if config.anchor_weight > 0 and any(e.original_query for e in examples)
        else None
    )

    history: dict[str, list[dict[str, Any]]] = {"steps": [], "evals": []}
    step = 0
    best_value = -math.inf
    best_metrics: dict[str, Any] = {}
    run_key = config.run_key()
    state_file = out / "last" / STATE_NAME
    if config.resume and state_file.is_file():
        state = torch.load(state_file, map_location="cpu", weights_only=False)
        if state.get("run_key") != run_key:
            logger.warning("%s holds a run with other settings; starting afresh", out / "last")
        elif state["step"] >= total_steps:
            logger.info("%s: run already finished at step %d", out, state["step"])
            timings["total"] = time.perf_counter() - start_time
            timings["load"] = timings["total"] - timings["embed_documents"]
            return TrainResult(
                out, out / "best", out / "last", state["history"], state.get("best_metrics", {}), timings
            )
        else:
            last = load_model(out / "last", device=config.device)
            query_model.load_state_dict(last.state_dict())
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["torch_rng"])
            step, history = state["step"], state["history"]
            best_value, best_metrics = state["best_value"], state.get("best_metrics", {})
            logger.info("resuming %s at step %d of %d", out, step, total_steps)
    if step == 0:
        _seed_everything(config.seed)

    def evaluate_now() -> dict[str, dict[str, float]]:
        if not validation:
            return {}
        mark = time.perf_counter()
        query_model.eval()
        encoder = LoreEncoder(query_model, base, name="training")
        with torch.no_grad():
            metrics = evaluate_candidates(encoder, validation, embed_documents=cache.embed)
        query_model.train()
        timings["evaluate"] += time.perf_counter() - mark
        return metrics

    data_files = [{"path": str(p), "sha256": _file_sha256(p)} for p in train_paths]
    manifest_base: dict[str, Any] = {
        "name": config.name or ("LORE" if config.loss == "lore" else "InfoNCE"),
        "base_model": config.base_model,
        "base_fingerprint": base_fp,
        "loss": {"name": config.loss, "tau": config.tau, "alpha": config.alpha, "beta": config.beta},
        "training": config.to_dict(),
        "train_data": data_files,
        "train_rows": len(examples),
        "validation_data": (
            {"path": str(validation_path), "sha256": _file_sha256(validation_path)} if validation_path else None
        ),
        "lore_rag_version": __version__,
    }

    def save(folder: str, metrics: dict[str, Any], with_state: bool) -> None:
        mark = time.perf_counter()
        query_model.max_seq_length = original_max_len
        manifest = dict(manifest_base, step=step, total_steps=total_steps, metrics=metrics)
        save_checkpoint(query_model, out / folder, manifest)
        query_model.max_seq_length = min(config.max_seq_length, original_max_len or config.max_seq_length)
        if with_state:
            state = {
                "run_key": run_key,
                "step": step,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "history": history,
                "best_value": best_value,
                "best_metrics": best_metrics,
            }
            tmp = out / folder / f".{STATE_NAME}.tmp"
            torch.save(state, tmp)
            os.replace(tmp, out / folder / STATE_NAME)
        timings["save"] += time.perf_counter() - mark

    timings["load"] = time.perf_counter() - start_time - timings["embed_documents"]
    if step == 0 and validation:
        metrics = evaluate_now()
        history["evals"].append({"step": 0, **_flat(metrics)})
        logger.info("step 0 (base model): %s", _summary(metrics))

    query_model.train()
    order_cache: dict[int, np.ndarray] = {}
    bar = tqdm(total=total_steps, initial=step, desc=f"train {config.loss}", disable=not config.show_progress)
    while step < total_steps:
        mark = time.perf_counter()
        micro_index = step * config.grad_accum
        optimizer.zero_grad(set_to_none=True)
        record: dict[str, Any] = {"loss": 0.0, "anchor": 0.0, "sim_P": [], "sim_N1": [], "sim_N2": []}
        for _ in range(config.grad_accum):
            epoch, position = divmod(micro_index, micro_per_epoch)
            if epoch not in order_cache:
                order_cache[epoch] = np.random.default_rng(config.seed + epoch).permutation(len(examples))
            ids = order_cache[epoch][position * config.batch_size : (position + 1) * config.batch_size]
            batch = [examples[i] for i in ids]
            micro_index += 1
            vectors = [cache.embed(e.chunks) for e in batch]
            cands = collate(batch, vectors)
            docs, tiers, mask = cands.doc_vectors.to(config.device), cands.tiers, cands.mask.to(config.device)
            anchor_rows = anchor.rows(batch) if anchor is not None else []
            # One forward pass for the training queries and the anchored original queries.
            texts = [e.query for e in batch] + [batch[i].original_query or "" for i in anchor_rows]
            embedded = _embed_queries_train(query_model, texts, config.device)
            q = embedded[: len(batch)]
            scores = torch.einsum("bd,bcd->bc", q, docs)
            loss = compute_loss(scores, tiers, mask, tau=config.tau, alpha=config.alpha, beta=config.beta)
            total = loss
            if anchor is not None and anchor_rows:
                extra = anchor.loss(embedded[len(batch) :], batch, docs, mask)
                total = total + config.anchor_weight * extra
                record["anchor"] += float(extra.detach()) / config.grad_accum
            (total / config.grad_accum).backward()
            record["loss"] += float(loss.detach()) / config.grad_accum
            detached = scores.detach()
            for tier, key in ((Tier.POSITIVE, "sim_P"), (Tier.DISTRACTOR, "sim_N1"), (Tier.NEGATIVE, "sim_N2")):
                sel = detached[(tiers == tier) & mask]
                if sel.numel():
                    record[key].append(float(sel.mean()))
        if config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(query_model.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        step += 1
        timings["steps"] += time.perf_counter() - mark
        entry = {"step": step, "lr": scheduler.get_last_lr()[0], "loss": record["loss"]}
        if anchor is not None:
            entry["anchor"] = record["anchor"]
        for key in ("sim_P", "sim_N1", "sim_N2"):
            entry[key] = float(np.mean(record[key])) if record[key] else float("nan")
        history["steps"].append(entry)
        bar.update(1)
        bar.set_postfix(loss=f"{record['loss']:.3f}")
        finished = step >= total_steps
        if validation and (finished or (config.eval_steps and step % config.eval_steps == 0)):
            metrics = evaluate_now()
            history["evals"].append({"step": step, **_flat(metrics)})
            value = _metric_value(metrics, config.metric_for_best)
            logger.info("step %d: %s", step, _summary(metrics))
            if value > best_value:
                best_value, best_metrics = value, {"step": step, **metrics}
                save("best", best_metrics, with_state=False)
        if finished or (config.save_steps and step % config.save_steps == 0):
            if not validation and finished:
                best_metrics = {"step": step}
                save("best", best_metrics, with_state=False)
            save("last", {"step": step}, with_state=True)
    bar.close()
    mark = time.perf_counter()
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")
    try:
        from lore_rag.training.curves import plot_curves

        plot_curves(history, out / "training_curves.png", title=manifest_base["name"])
    except Exception as exc:  # noqa: BLE001 - a plot must never lose a finished run
        logger.warning("could not draw training curves: %s", exc)
    timings["save"] += time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start_time
    logger.info(
        "trained %d step(s) in %.1fs (%s); best: %s (%s)",
        step,
        timings["total"],
        ", ".join(f"{k} {v:.1f}s" for k, v in timings.items() if k != "total"),
        out / "best",
        MANIFEST_NAME,
    )
    return TrainResult(out, out / "best", out / "last", history, best_metrics, timings)


def _flat(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    return {f"{view}/{k}": v for view, values in metrics.items() for k, v in values.items()}


def _summary(metrics: dict[str, dict[str, float]]) -> str:
    parts = []
    for view, values in metrics.items():
        parts.append(f"{view} P@3 {values['P@3']:.1f} N1@3 {values['N1@3']:.1f}")
    return "; ".join(parts)
