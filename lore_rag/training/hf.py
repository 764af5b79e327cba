"""The ``SentenceTransformerTrainer`` wiring of :func:`lore_rag.training.train`: arguments, callbacks, LoRA, resume.

Kept apart from :mod:`lore_rag.training.trainer` so that importing lore-rag does not import the Trainer stack.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag.errors import ConfigError
from lore_rag.evaluation.evaluator import LoreEvaluator
from lore_rag.losses.lore_loss import LoreLoss
from lore_rag.models.crash_points import crash_point
from lore_rag.models.encoder import query_prompt, resolve_device
from lore_rag.training.data import LoreDataCollator, PermutationBatchSampler
from lore_rag.training.resume import CHECKPOINTS, ResumePlan, mark_complete
from lore_rag.training.selection import needs_corpus, parse_selection_rule, select

if TYPE_CHECKING:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

    from lore_rag.data.schema import Example
    from lore_rag.evaluation.tradeoff_rule import Rule
    from lore_rag.models.doc_cache import DocEmbeddingCache
    from lore_rag.training.args import TrainConfig

__all__ = ["add_lora", "main_process_first", "run_trainer", "world_size"]

logger = logging.getLogger(__name__)

EVALUATOR_NAME = "lore"


def world_size() -> int:
    """Processes in this run (``torchrun`` / ``accelerate launch`` set ``WORLD_SIZE``)."""
    return max(1, int(os.environ.get("WORLD_SIZE", "1")))


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


@contextlib.contextmanager
def main_process_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. fills the document cache on disk); the other ranks then read its results."""
    if world_size() == 1:
        yield
        return
    from accelerate import PartialState

    with PartialState().main_process_first():
        yield


def add_lora(model: SentenceTransformer, config: TrainConfig) -> None:
    """Wrap the model's transformer in a PEFT LoRA adapter; only the adapter's weights then train.

    PEFT's own ``get_peft_model`` is used (not ``SentenceTransformer.add_adapter``, whose transformers integration
    asks for a newer PEFT than some installs have).

    Raises:
        ConfigError: when PEFT cannot wrap this model (no module matches ``--lora-target-modules``, or PEFT has no
            default targets for the architecture).
    """
    from peft import LoraConfig, get_peft_model

    module = model[0]
    inner = getattr(module, "model", None)
    if inner is None or not hasattr(module, "auto_model"):
        raise ConfigError(f"flag --lora-r: {config.base_model} has no transformer module for PEFT to wrap")
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,  # type: ignore[arg-type]
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_target_modules) or None,
    )
    try:
        wrapped = get_peft_model(inner, lora)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"flag --lora-r: PEFT cannot add a LoRA adapter to {config.base_model}: {first}") from None
    module.model = wrapped
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("LoRA r=%d: %d trainable parameter(s)", config.lora_r, trainable)


def _history(log_history: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``history.json``: per-step loss terms and similarities, and the evaluations, from the Trainer's log."""
    steps, evals = [], []
    prefix = f"eval_{EVALUATOR_NAME}_"
    for entry in log_history:
        if "loss" in entry and "step" in entry:
            record = {"step": entry["step"], "lr": entry.get("learning_rate"), "loss": entry.get("lore", entry["loss"])}
            record["total_loss"] = entry["loss"]
            for key in ("anchor", "l2sp", "sim_P", "sim_N1", "sim_N2", "grad_norm"):
                if key in entry:
                    record[key] = entry[key]
            for key in ("sim_P", "sim_N1", "sim_N2"):
                record.setdefault(key, float("nan"))
            steps.append(record)
        elif any(k.startswith(prefix) for k in entry):
            record = {"step": entry.get("step", 0)}
            for key, value in entry.items():
                if not key.startswith(prefix) or key == prefix + "score":
                    continue
                view, _, metric = key[len(prefix) :].partition("_")
                record[f"{view}/{metric}"] = value
            record["score"] = entry.get(prefix + "score")
            evals.append(record)
    return {"steps": steps, "evals": evals}


def _evals_of(log_history: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """``{step: {view: {metric: value}}}`` of every evaluation in the Trainer's log (step 0: the base model)."""
    prefix = f"eval_{EVALUATOR_NAME}_"
    return {int(e.get("step", 0)): _metrics_of(e) for e in log_history if any(k.startswith(prefix) for k in e)}


def _metrics_of(entry: dict[str, Any]) -> dict[str, Any]:
    """``{view: {metric: value}}`` from one evaluation log entry."""
    prefix = f"eval_{EVALUATOR_NAME}_"
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key.startswith(prefix) and key != prefix + "score":
            view, _, metric = key[len(prefix) :].partition("_")
            out.setdefault(view, {})[metric] = value
    return out


@dataclass
class _Run:
    """What the Trainer subclass and the export callback share with :func:`run_trainer`."""

    config: TrainConfig
    loss: LoreLoss
    query_model: SentenceTransformer
    export: Callable[[str, SentenceTransformer, int, dict[str, Any]], None]
    timings: dict[str, float]
    run_key: str
    settings: dict[str, Any]
    best_metrics: dict[str, Any] = field(default_factory=dict)
    rule: Rule | None = None


def _evaluator(
    config: TrainConfig, validation: list[Example], documents: DocEmbeddingCache, rule: Rule | None
) -> LoreEvaluator | None:
    if not validation:
        if rule is not None:
            raise ConfigError("flag --select-rule needs a validation set to evaluate (--validation FILE)")
        return None
    return LoreEvaluator(
        validation,
        embed_documents=documents.embed,
        name=EVALUATOR_NAME,
        primary_metric=config.metric_for_best,
        corpus=rule is not None and needs_corpus(rule),
    )


def _training_arguments(
    config: TrainConfig, evaluator: LoreEvaluator | None, *, fresh: bool, total_steps: int, n_rows: int
) -> tuple[Any, int]:
    """The Trainer's arguments for ``config``, and the run's optimiser steps (fewer per rank under DDP)."""
    from sentence_transformers import SentenceTransformerTrainingArguments

    out = Path(config.output_dir)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / CHECKPOINTS),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type="linear",
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        seed=config.seed,
        logging_steps=1,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=config.save_steps or total_steps,
        save_total_limit=config.save_total_limit,
        eval_strategy="steps" if evaluator is not None else "no",
        eval_steps=(config.eval_steps or total_steps) if evaluator is not None else None,
        eval_on_start=evaluator is not None and fresh,
        metric_for_best_model=(f"eval_{evaluator.metric_key}" if evaluator is not None else None),
        greater_is_better=evaluator.greater_is_better if evaluator is not None else None,
        report_to=[r for r in config.report_to if r != "none"] or "none",
        disable_tqdm=not config.show_progress,
        bf16=config.use_bf16,
        fp16=config.fp16,
        # one fused kernel per step instead of a loop over parameter groups: ~3x faster AdamW on CPU and CUDA
        optim="adamw_torch_fused" if resolve_device(config.device).split(":")[0] in ("cpu", "cuda") else "adamw_torch",
        activation_checkpointing=config.gradient_checkpointing,
        use_cpu=resolve_device(config.device) == "cpu",
        dataloader_drop_last=False,
        # a BatchSampler factory, as ST documents
        batch_sampler=functools.partial(PermutationBatchSampler, group_by_length=config.group_by_length),  # type: ignore[arg-type]
        remove_unused_columns=False,
        save_only_model=False,
        # BERT-style models carry a pooler that sentence pooling never uses
        ddp_find_unused_parameters=True if world_size() > 1 else None,
    )
    if args.world_size > 1 and config.max_steps is None:
        # every rank takes its own batches, so one epoch is fewer optimiser steps
        per_rank = math.ceil(n_rows / (config.batch_size * args.world_size))
        total_steps = math.ceil(per_rank / config.grad_accum) * config.epochs
        if config.eval_steps is None and evaluator is not None:
            args.eval_steps = total_steps
        if config.save_steps is None:
            args.save_steps = total_steps
    return args, total_steps


def _lore_trainer_class(run: _Run) -> type:
    """The ``SentenceTransformerTrainer`` subclass of one run.

    It logs the P/N1/N2 similarities, marks complete checkpoints, keeps lore-rag's learning-rate schedule, and has
    named crash points for tests.
    """
    from sentence_transformers import SentenceTransformerTrainer

    class LoreTrainer(SentenceTransformerTrainer):
        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            if "loss" in logs:
                logs = dict(logs)
                logs.update({k: round(v, 4) for k, v in run.loss.pop_similarities().items()})
            super().log(logs, start_time)

        def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
            crash_point("save-model")
            super()._save_optimizer_and_scheduler(output_dir)
            crash_point("save-optimizer")

        def _save_rng_state(self, output_dir: str) -> None:
            super()._save_rng_state(output_dir)
            crash_point("save-rng")

        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            mark = time.perf_counter()
            super()._save_checkpoint(model, trial)
            crash_point("save-state")
            folder = Path(str(self.args.output_dir)) / f"checkpoint-{self.state.global_step}"
            # the Trainer pickles its arguments there for humans; nothing reads it back, and no pickle stays
            (folder / "training_args.bin").unlink(missing_ok=True)
            if self.args.should_save and folder.is_dir():
                mark_complete(folder, run.run_key, run.settings, self.state.global_step)
            crash_point("save-marker")
            run.timings["save"] += time.perf_counter() - mark

        def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
            """Linear warmup that starts at lr/warmup (not 0), then linear decay: the schedule lore-rag always had."""
            import torch

            if self.lr_scheduler is None:
                warmup = int(round(run.config.warmup_ratio * num_training_steps))

                def factor(step: int) -> float:
                    if step < warmup:
                        return (step + 1) / max(1, warmup)
                    return max(0.0, (num_training_steps - step) / max(1, num_training_steps - warmup))

                self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer or self.optimizer, factor)  # type: ignore[arg-type]
                self._created_lr_scheduler = True
            return self.lr_scheduler

        def create_model_card(self, *args: Any, **kwargs: Any) -> None:
            """lore-rag writes its own card into best/ and last/; checkpoints/ needs none."""

    return LoreTrainer


def _exporter(run: _Run, *, skip_first: bool) -> Any:
    """A callback that writes best/ whenever the primary metric improves (from the live model) and times evaluation.

    ``skip_first``: the first evaluation is the base model's (step 0), a reference rather than a candidate.
    """
    from transformers import TrainerCallback

    class Exporter(TrainerCallback):
        def __init__(self) -> None:
            self.skip = skip_first
            self.eval_started = 0.0

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if control.should_evaluate:
                self.eval_started = time.perf_counter()

        def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            metrics: dict[str, float] = kwargs.get("metrics") or {}
            if self.eval_started:
                run.timings["evaluate"] += time.perf_counter() - self.eval_started
                self.eval_started = 0.0
            if self.skip:
                self.skip = False
                return
            if run.rule is not None:
                evals = _evals_of(state.log_history)
                evals.setdefault(state.global_step, _metrics_of(metrics))
                if select(run.rule, evals).step == state.global_step:
                    run.best_metrics = {"step": state.global_step, **evals[state.global_step]}
                    if state.is_world_process_zero:
                        run.export("best", run.query_model, state.global_step, run.best_metrics)
                return
            key = args.metric_for_best_model
            if key not in metrics:
                return
            value, best = metrics[key], state.best_metric
            better = best is None or (value > best if args.greater_is_better else value < best)
            if better:
                run.best_metrics = {"step": state.global_step, **_metrics_of(metrics)}
                if state.is_world_process_zero:
                    run.export("best", run.query_model, state.global_step, run.best_metrics)

    return Exporter()


def run_trainer(
    config: TrainConfig,
    *,
    query_model: SentenceTransformer,
    base: SentenceTransformer,
    dataset: Dataset,
    documents: DocEmbeddingCache,
    teacher: DocEmbeddingCache | None,
    validation: list[Example],
    total_steps: int,
    resume_from: ResumePlan,
    export: Callable[[str, SentenceTransformer, int, dict[str, Any]], None],
    timings: dict[str, float],
) -> dict[str, Any]:
    """Train ``query_model`` with ``SentenceTransformerTrainer``; export ``best/`` and ``last/`` through ``export``.

    Returns:
        ``history``, ``best_metrics``, ``step`` and ``is_main`` (rank 0).
    """
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    if config.lora_r:
        add_lora(query_model, config)
    rule = parse_selection_rule(config.select_rule) if config.select_rule else None
    evaluator = _evaluator(config, validation, documents, rule)
    fresh = resume_from.checkpoint is None
    args, total_steps = _training_arguments(
        config, evaluator, fresh=fresh, total_steps=total_steps, n_rows=len(dataset)
    )
    loss = LoreLoss(
        query_model,
        tau=config.tau,
        alpha=config.alpha,
        beta=config.beta,
        anchor_weight=config.anchor_weight if teacher is not None else 0.0,
        l2sp_weight=config.l2sp_weight,
    )
    collator = LoreDataCollator(
        preprocess_fn=query_model.preprocess,
        documents=documents.matrix(),
        teachers=teacher.matrix() if teacher is not None else None,
        query_prompt=query_prompt(query_model),
        max_length=min(config.max_seq_length, query_model.max_seq_length or config.max_seq_length),
    )
    run = _Run(config, loss, query_model, export, timings, config.run_key(), config.result_settings(), rule=rule)
    exporter = _exporter(run, skip_first=args.eval_on_start)
    trainer = _lore_trainer_class(run)(
        model=query_model,
        args=args,
        train_dataset=dataset,
        loss=loss,
        evaluator=evaluator,
        data_collator=collator,  # type: ignore[arg-type]
        callbacks=[exporter],
    )
    trainer.remove_callback(PrinterCallback)
    if config.show_progress:
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(_QuietProgress())
    if trainer.is_world_process_zero():
        resume_from.apply()
    if evaluator is not None and fresh:
        exporter.eval_started = time.perf_counter()
    mark = time.perf_counter()
    if resume_from.checkpoint is not None and resume_from.step >= total_steps:
        # the run was killed after its final checkpoint: Trainer.train would take one more step when that step ends
        # mid-epoch (it checks max_steps only after a step), so load the finished state instead
        from transformers.trainer_callback import TrainerState

        trainer._load_from_checkpoint(resume_from.checkpoint)
        trainer.state = TrainerState.load_from_json(str(Path(resume_from.checkpoint) / "trainer_state.json"))
    else:
        trainer.train(resume_from_checkpoint=resume_from.checkpoint)
    timings["steps"] += time.perf_counter() - mark - timings["evaluate"]
    return _finish(trainer, run, has_evaluator=evaluator is not None)


def _finish(trainer: Any, run: _Run, *, has_evaluator: bool) -> dict[str, Any]:
    """After training: the history, the best metrics, and ``last/`` exported by rank 0.

    The best metrics come from the log when the run resumed after its best step; ``best/`` is exported here too
    when no evaluation ever chose one.
    """
    args, log = trainer.args, trainer.state.log_history
    step = trainer.state.global_step
    history = _history(log)
    is_main = trainer.is_world_process_zero()
    best_metrics = run.best_metrics
    key = args.metric_for_best_model or ""
    if run.rule is not None and history["evals"]:
        evals = _evals_of(log)
        choice = select(run.rule, evals)
        if choice.step is not None:
            best_metrics = best_metrics or {"step": choice.step, **evals[choice.step]}
        elif is_main:
            misses = "; ".join(choice.failed.get(max(evals), [])) if evals else ""
            logger.warning(
                "no evaluation met --select-rule %r (last one: %s); best/ is the last checkpoint",
                run.rule.text,
                misses or "not evaluated",
            )
    elif not best_metrics and history["evals"]:
        scored = [e for e in log if key in e and e.get("step", 0) > 0]
        if scored:
            pick = max if args.greater_is_better else min
            entry = pick(scored, key=lambda e: e[key])
            best_metrics = {"step": entry["step"], **_metrics_of(entry)}
    if is_main:
        final: dict[str, Any] = {"step": step}
        last_eval = next((e for e in reversed(log) if key and key in e), None)
        if last_eval is not None and last_eval.get("step") == step:
            final = {"step": step, **_metrics_of(last_eval)}
        run.export("last", run.query_model, step, final)
        if not (Path(run.config.output_dir) / "best").is_dir() or not has_evaluator:
            best_metrics = best_metrics or final
            run.export("best", run.query_model, step, best_metrics if has_evaluator else final)
    if world_size() > 1:
        trainer.accelerator.wait_for_everyone()
    return {"history": history, "best_metrics": best_metrics, "step": step, "is_main": is_main}


def _quiet_progress_class() -> type:
    from transformers.trainer_callback import ProgressCallback

    class QuietProgress(ProgressCallback):
        """tqdm bar without the log dict printed at every step."""

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if state.is_world_process_zero and self.training_bar is not None and logs and "loss" in logs:
                self.training_bar.set_postfix(loss=f"{logs['loss']:.3f}")

    return QuietProgress


def _QuietProgress() -> Any:  # noqa: N802 - a factory that reads like the class it makes
    return _quiet_progress_class()()


def check_resume_point(plan: ResumePlan) -> None:
    """Raise when a plan points at a checkpoint that vanished since it was planned."""
    if plan.checkpoint and not Path(plan.checkpoint).is_dir():
        raise ConfigError(f"{plan.checkpoint}: the checkpoint to resume from disappeared")
