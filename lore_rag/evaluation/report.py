"""Markdown and JSON tables of candidate-set metrics, with mean ± std over seeds (paper Table 1 layout)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lore_rag.evaluation.candidates import DEFAULT_KS

__all__ = ["aggregate_runs", "format_table", "write_json"]

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
