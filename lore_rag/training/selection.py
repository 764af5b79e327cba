"""Checkpoint selection by a stated rule on validation: constraints against the base model, then one objective.

``lore-rag train --select-rule RULE`` picks ``best/`` among the run's evaluations with the grammar of
``lore-rag tradeoff --rule`` (see :mod:`lore_rag.evaluation.tradeoff_rule`), where ``raw`` is the base model's
evaluation before the first step::

    candidates/plain/P@3>=raw-0.5; corpus/plain/P@10>=raw-1; min candidates/rewritten/N1@3

keeps the evaluations whose plain questions lose at most 0.5 point of candidate P@3 and 1 point of corpus-wide
P@10 against the base model, and of those the one with the fewest distractors in the top 3. A ``corpus/`` metric
makes the validation evaluation corpus-wide as well (one exact index of all validation chunks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lore_rag.errors import ConfigError
from lore_rag.evaluation.tradeoff_rule import Rule, choose, parse_rule

__all__ = ["Selection", "evaluator_view", "needs_corpus", "parse_selection_rule", "select"]

#: Rule ``PROTOCOL/VIEW`` -> the view name :class:`~lore_rag.evaluation.evaluator.LoreEvaluator` reports.
_EVALUATOR_VIEWS = {
    ("candidates", "rewritten"): "rewritten",
    ("candidates", "plain"): "original",
    ("corpus", "rewritten"): "corpus-rewritten",
    ("corpus", "plain"): "corpus-original",
}


def parse_selection_rule(text: str) -> Rule:
    """Parse a ``--select-rule``; ``raw`` is the only reference (there is no finished checkpoint yet).

    Raises:
        ConfigError: one line naming the flag and the clause that is wrong.
    """
    try:
        rule = parse_rule(text)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("--rule:", "--select-rule:", 1)) from None
    for constraint in rule.constraints:
        if constraint.ref == "tuned":
            raise ConfigError(
                f"--select-rule: {constraint.text!r}: 'tuned' is lore-rag tradeoff's finished checkpoint; while "
                "training a bound is a number or raw±x (the base model, evaluated before the first step)"
            )
    return rule


def needs_corpus(rule: Rule) -> bool:
    """Whether the rule reads a corpus-wide metric (so the evaluation must include that protocol)."""
    return any(metric.startswith("corpus/") for metric in rule.metrics)


def evaluator_view(metric: str) -> tuple[str, str]:
    """``(view, name)`` of a rule metric in the evaluator's ``{view: {name: value}}``.

    ``candidates/plain`` is the evaluator's ``original`` view, ``corpus/rewritten`` its ``corpus-rewritten``.
    """
    protocol, view, name = metric.split("/")
    return _EVALUATOR_VIEWS[(protocol, view)], name


def _value(metrics: Mapping[str, Any], metric: str, step: int) -> float:
    view, name = evaluator_view(metric)
    try:
        return float(metrics[view][name])
    except KeyError:
        raise ConfigError(
            f"--select-rule: {metric} is not among the validation metrics of step {step} "
            f"(views: {', '.join(sorted(k for k, v in metrics.items() if isinstance(v, Mapping)))})"
        ) from None


@dataclass
class Selection:
    """What :func:`select` decided.

    Attributes:
        step: The chosen evaluation's step; ``None`` when no evaluation after step 0 meets every constraint.
        feasible: Steps that meet every constraint.
        failed: ``{step: [constraint, value and bound]}`` of the others.
    """

    step: int | None
    feasible: list[int]
    failed: dict[int, list[str]] = field(default_factory=dict)


def select(rule: Rule, evals: Mapping[int, Mapping[str, Any]]) -> Selection:
    """Apply ``rule`` to ``{step: {view: {metric: value}}}``; step 0 is the base model (the ``raw`` bound).

    Step 0 is a reference, never a choice. Ties go to the earlier step.

    Raises:
        ConfigError: when a bound refers to ``raw`` and there is no step-0 evaluation, or a metric is missing.
    """
    if 0 not in evals and any(c.ref == "raw" for c in rule.constraints):
        raise ConfigError(
            "--select-rule: a bound refers to raw, but the base model was not evaluated before the first step"
        )
    flat = {float(step): {m: _value(metrics, m, step) for m in rule.metrics} for step, metrics in evals.items()}
    choice = choose(rule, flat, candidates=[step for step in flat if step > 0])
    return Selection(
        None if choice.ratio is None else int(choice.ratio),
        [int(step) for step in choice.feasible],
        {int(step): misses for step, misses in choice.failed.items()},
    )
