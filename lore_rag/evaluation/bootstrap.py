"""Paired bootstrap confidence intervals for differences between retrieval models.

Two models evaluated on the same questions give two per-question metric arrays. Their difference in means is
estimated with a *paired* bootstrap: each resample draws the questions with replacement and applies the same draw
to both models, so question difficulty cancels out. When a model was trained with several seeds, its array has one
row per seed and each resample also draws its seeds with replacement (a two-level bootstrap), so the interval
covers seed-to-seed variation as well as the choice of questions.

Intervals are percentile intervals of the resampled differences. Everything is seeded, so the same inputs always
give the same interval, and vectorised with numpy (no Python loop over resamples).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "Interval",
    "bootstrap_mean",
    "format_interval",
    "paired_bootstrap",
    "paired_differences",
]

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95
_MIN_RESAMPLES = 1000
_CHUNK = 256  # resamples drawn per block, to bound memory on large question sets


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap percentile interval.

    Attributes:
        estimate: The observed value (mean, or difference of means) on the data as given.
        low: Lower bound of the interval.
        high: Upper bound of the interval.
        std_error: Standard deviation of the resampled values.
        n_questions: Questions resampled.
        n_seeds: Seeds (runs) per model: ``(model, baseline)`` for a paired difference, ``(model,)`` for a mean.
        n_resamples: Bootstrap resamples.
        confidence: Coverage of the interval (0.95 for a 95 % interval).
    """

    estimate: float
    low: float
    high: float
    std_error: float
    n_questions: int
    n_seeds: tuple[int, ...]
    n_resamples: int
    confidence: float

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of zero."""
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        out = asdict(self)
        out["n_seeds"] = list(self.n_seeds)
        return out


def _as_runs(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name}: expected per-question values of shape [questions] or [seeds, questions]")
    if array.shape[1] == 0:
        raise ValueError(f"{name}: no questions")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: per-question values must be finite")
    return array


def _check(n_resamples: int, confidence: float) -> None:
    if int(n_resamples) < _MIN_RESAMPLES:
        raise ValueError(f"n_resamples must be at least {_MIN_RESAMPLES}, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _resampled_means(runs: np.ndarray, questions: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Mean over drawn seeds of the mean over drawn questions, one value per resample.

    Args:
        runs: ``[n_seeds, n_questions]``.
        questions: ``[resamples, n_questions]`` drawn question indices.
        seeds: ``[resamples, n_seeds]`` drawn seed indices.
    """
    # Question draws as counts: per-seed means are then one matrix product, [seeds, questions] @ [questions, R].
    n = runs.shape[1]
    resamples = questions.shape[0]
    flat = (np.arange(resamples)[:, None] * n + questions).ravel()
    counts = np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(np.float64)
    per_seed = runs @ counts.T / n  # [n_seeds, R]
    return np.take_along_axis(per_seed, seeds.T, axis=0).mean(axis=0)


def _interval(
    observed: float, draws: np.ndarray, confidence: float, n: int, seeds: tuple[int, ...], n_resamples: int
) -> Interval:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return Interval(
        estimate=float(observed),
        low=float(low),
        high=float(high),
        std_error=float(draws.std(ddof=1)),
        n_questions=n,
        n_seeds=seeds,
        n_resamples=n_resamples,
        confidence=confidence,
    )


def paired_bootstrap(
    model: Any,
    baseline: Any,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Difference of means ``model − baseline`` on the same questions, with a paired bootstrap interval.

    Args:
        model: Per-question values, ``[questions]`` or ``[seeds, questions]`` (one row per training seed).
        baseline: The same for the baseline (the raw model is one deterministic run: ``[questions]``).
        n_resamples: Bootstrap resamples (at least 1,000).
        confidence: Interval coverage.
        seed: Seed of the resampling; the same seed gives the same interval.

    Returns:
        The observed difference (mean over seeds of the mean over questions, model minus baseline) and its
        percentile interval. Questions are drawn once per resample for both models (paired); each model's
        seeds are drawn independently.

    Raises:
        ValueError: for arrays of different question counts, non-finite values or bad settings.
    """
    _check(n_resamples, confidence)
    a = _as_runs(model, "model")
    b = _as_runs(baseline, "baseline")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired bootstrap needs the same questions: model has {a.shape[1]}, baseline {b.shape[1]}")
    draws_a, draws_b = _bootstrap_means([a, b], int(n_resamples), seed)
    observed = float(a.mean() - b.mean())
    return _interval(observed, draws_a - draws_b, confidence, a.shape[1], (a.shape[0], b.shape[0]), int(n_resamples))


def bootstrap_mean(
    values: Any,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Mean of per-question values (``[questions]`` or ``[seeds, questions]``) with a bootstrap interval."""
    _check(n_resamples, confidence)
    a = _as_runs(values, "values")
    (draws,) = _bootstrap_means([a], int(n_resamples), seed)
    return _interval(float(a.mean()), draws, confidence, a.shape[1], (a.shape[0],), int(n_resamples))


def _bootstrap_means(runs: Sequence[np.ndarray], n_resamples: int, seed: int) -> list[np.ndarray]:
    """Bootstrap means of each ``[seeds, questions]`` array, ``n_resamples`` each, in chunks of :data:`_CHUNK`.

    Every array is resampled with the same question draws (so differences are paired); each draws its own seeds.
    """
    n = runs[0].shape[1]
    rng = np.random.default_rng(seed)
    draws = [np.empty(n_resamples, dtype=np.float64) for _ in runs]
    for start in range(0, n_resamples, _CHUNK):
        size = min(_CHUNK, n_resamples - start)
        questions = rng.integers(0, n, size=(size, n))
        for out, runs_of_one in zip(draws, runs, strict=True):
            seeds = rng.integers(0, runs_of_one.shape[0], size=(size, runs_of_one.shape[0]))
            out[start : start + size] = _resampled_means(runs_of_one, questions, seeds)
    return draws


def paired_differences(
    per_question: Mapping[str, Mapping[str, Any]],
    baseline: str,
    *,
    metrics: Sequence[str] | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> dict[str, dict[str, Interval]]:
    """Paired differences of every model against ``baseline``, metric by metric.

    Args:
        per_question: ``{model: {metric: values}}`` with values ``[questions]`` or ``[seeds, questions]``,
            questions in the same order for every model.
        baseline: The model the others are compared with.
        metrics: Metrics to compare; default: those the baseline has.
        n_resamples: Bootstrap resamples (at least 1,000).
        confidence: Interval coverage.
        seed: Resampling seed; every metric and model uses the same question draws.

    Returns:
        ``{model: {metric: Interval}}`` for every model except the baseline.

    Raises:
        ValueError: for an unknown baseline, or a metric a model lacks.
    """
    if baseline not in per_question:
        raise ValueError(f"baseline {baseline!r} is not among the models: {', '.join(per_question)}")
    base = per_question[baseline]
    names = list(metrics) if metrics is not None else list(base)
    out: dict[str, dict[str, Interval]] = {}
    for model, values in per_question.items():
        if model == baseline:
            continue
        out[model] = {}
        for metric in names:
            if metric not in values or metric not in base:
                raise ValueError(f"metric {metric!r} is missing for {model if metric not in values else baseline}")
            out[model][metric] = paired_bootstrap(
                values[metric], base[metric], n_resamples=n_resamples, confidence=confidence, seed=seed
            )
    return out


def format_interval(interval: Interval, *, digits: int = 1, signed: bool = True) -> str:
    """``−4.7 [−7.7, −1.9]`` (a proper minus sign; ``signed`` puts ``+`` on positive estimates)."""

    def num(value: float) -> str:
        if abs(value) < 0.5 * 10**-digits:
            value = 0.0  # no "−0.0"
        text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
        return text.replace("-", "−")

    return f"{num(interval.estimate)} [{num(interval.low)}, {num(interval.high)}]"
