"""Markdown and JSON tables of evaluation results.

Candidate-set metrics with mean ± std over seeds (paper Table 1 layout), and paired differences against a baseline
with their bootstrap confidence intervals.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lore_rag.evaluation.bootstrap import Interval, format_interval
from lore_rag.evaluation.candidates import DEFAULT_KS

__all__ = ["aggregate_runs", "differences_to_json", "format_differences", "format_table", "to_jsonable", "write_json"]

#: Metrics where lower is better (distractors retrieved).
_LOWER_IS_BETTER = ("N1",)

ViewMetrics = Mapping[str, Mapping[str, float]]
#: One model's result: its metrics, or one set of metrics per seed.
ModelResult = ViewMetrics | Sequence[ViewMetrics]


def aggregate_runs(runs: Sequence[ViewMetrics]) -> dict[str, dict[str, dict[str, float]]]:
    """Mean and sample standard deviation of each metric over runs (seeds).

    Returns:
        ``{view: {metric: {"mean": m, "std": s, "n": runs}}}``.
    """
    if not runs:
        raise ValueError("no runs to aggregate")
    out: dict[str, dict[str, dict[str, float]]] = {}
    for view in runs[0]:
        out[view] = {}
        for metric in runs[0][view]:
            values = np.array([run[view][metric] for run in runs if view in run], dtype=float)
            std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            out[view][metric] = {"mean": float(values.mean()), "std": std, "n": float(len(values))}
    return out


def _cell(value: Any) -> str:
    if isinstance(value, Mapping):
        if value.get("n", 1) > 1:
            return f"{value['mean']:.1f} ± {value['std']:.1f}"
        value = value["mean"]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):.1f}"


def _normalise(result: ModelResult) -> Mapping[str, Mapping[str, Any]]:
    if isinstance(result, Sequence) and not isinstance(result, Mapping):
        return aggregate_runs(result)
    return result


def format_table(
    results: Mapping[str, ModelResult],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    title: str | None = None,
) -> str:
    """A Markdown table: one row per model, P@k and N1@k for rewritten queries, P@k for original ones.

    Args:
        results: ``{model_name: {view: metrics}}`` or ``{model_name: [per-seed {view: metrics}, ...]}``.
        ks: Cut-offs to show.
        title: Optional heading line above the table.

    Returns:
        The table text; N1@k is lower-is-better, P@k higher-is-better (both in percent).
    """
    models = {name: _normalise(r) for name, r in results.items()}
    views = [v for v in ("rewritten", "original") if any(v in m for m in models.values())]
    header = ["model"]
    columns: list[tuple[str, str]] = []
    for view in views:
        label = "rewritten" if view == "rewritten" else "original"
        for k in ks:
            columns.append((view, f"P@{k}"))
            header.append(f"{label} P@{k} ↑")
        if view == "rewritten":
            for k in ks:
                columns.append((view, f"N1@{k}"))
                header.append(f"{label} N1@{k} ↓")
    lines = []
    if title:
        lines += [title, ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for name, metrics in models.items():
        cells = [name]
        for view, metric in columns:
            cells.append(_cell(metrics.get(view, {}).get(metric)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_json(data: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``data`` as indented JSON (creating folders)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def _arrow(metric: str) -> str:
    return "↓" if metric.startswith(_LOWER_IS_BETTER) else "↑"


def format_differences(
    differences: Mapping[str, Mapping[str, Interval]],
    *,
    baseline: str,
    title: str | None = None,
    digits: Mapping[str, int] | None = None,
) -> str:
    """A Markdown table of paired differences ``model − baseline``, one row per model, one column per metric.

    Each cell reads ``−4.7 [−7.7, −1.9]``: the observed difference and its bootstrap percentile interval. An
    interval that excludes 0 is marked with ``*``.

    Args:
        differences: ``{model: {metric: Interval}}`` (from :func:`~lore_rag.evaluation.bootstrap.paired_differences`).
        baseline: The baseline's name, for the heading.
        title: Optional heading line above the table.
        digits: Decimals per metric (default 1; 3 for MRR and nDCG, which are in 0-1).
    """
    if not differences:
        return ""
    metrics = list(next(iter(differences.values())))
    first = next(iter(next(iter(differences.values())).values()), None)
    lines = []
    if title:
        lines += [title, ""]
    header = ["model"] + [f"Δ {m} {_arrow(m)}" for m in metrics]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * len(metrics)) + "|")
    for model, by_metric in differences.items():
        cells = [model]
        for metric in metrics:
            interval = by_metric.get(metric)
            if interval is None:
                cells.append("–")
                continue
            places = (digits or {}).get(metric, 3 if metric.startswith(("MRR", "nDCG")) else 1)
            mark = "*" if interval.excludes_zero else ""
            cells.append(format_interval(interval, digits=places) + mark)
        lines.append("| " + " | ".join(cells) + " |")
    if first is not None:
        seeds = {tuple(i.n_seeds) for m in differences.values() for i in m.values()}
        seed_text = ", ".join(f"{a} vs {b}" for a, b in sorted(seeds)) if all(len(s) == 2 for s in seeds) else ""
        lines.append("")
        lines.append(
            f"Paired difference vs {baseline} (model − {baseline}) over {first.n_questions} questions"
            + (f" (seeds: {seed_text})" if seed_text and seed_text != "1 vs 1" else "")
            + f"; {round(100 * first.confidence)} % bootstrap percentile interval, {first.n_resamples} resamples; "
            "* = the interval excludes 0."
        )
    return "\n".join(lines)


def differences_to_json(
    differences: Mapping[str, Mapping[str, Mapping[str, Interval]]],
) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """``{view: {model: {metric: Interval}}}`` as plain JSON values."""
    return {
        view: {model: {metric: i.to_dict() for metric, i in by_metric.items()} for model, by_metric in by_model.items()}
        for view, by_model in differences.items()
    }


def to_jsonable(data: Any) -> Any:
    """Numpy arrays and scalars, tuples and :class:`Interval` values turned into plain JSON values."""
    if isinstance(data, Interval):
        return data.to_dict()
    if isinstance(data, Mapping):
        return {str(k): to_jsonable(v) for k, v in data.items()}
    if isinstance(data, np.ndarray):
        return data.tolist()
    if isinstance(data, np.generic):
        return data.item()
    if isinstance(data, (list, tuple)):
        return [to_jsonable(v) for v in data]
    return data
