"""The trade-off curve as a PNG and a Markdown table (pure functions of a :class:`TradeoffResult`)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_rag.evaluation.bootstrap import Interval, format_interval

if TYPE_CHECKING:
    from lore_rag.evaluation.tradeoff import TradeoffResult
    from lore_rag.evaluation.tradeoff_rule import Rule

__all__ = ["format_tradeoff_table", "plot_tradeoff", "ratio_label", "tradeoff_tables"]

#: The panels: (x metric, y metric, caption); lower is better for N1.
PANELS = (
    ("candidates/plain/P@3", "candidates/rewritten/N1@3", "candidate sets: plain P@3 vs rewritten N1@3"),
    ("candidates/plain/P@3", "candidates/rewritten/P@3", "candidate sets: plain P@3 vs rewritten P@3"),
    ("corpus/plain/P@10", "corpus/rewritten/N1@3", "corpus-wide: plain P@10 vs rewritten N1@3"),
    ("corpus/plain/P@10", "corpus/rewritten/P@10", "corpus-wide: plain P@10 vs rewritten P@10"),
)


def ratio_label(ratio: float) -> str:
    """How a point of the curve is named in tables and plots: ``r=0.75``."""
    return f"r={ratio:g}"


def _short(metric: str) -> str:
    protocol, view, name = metric.split("/")
    return f"{'cand' if protocol == 'candidates' else 'corpus'} {view} {name}"


def format_tradeoff_table(result: TradeoffResult, metrics: Sequence[str]) -> str:
    """Means per point, then paired differences from the base model (r=0) with intervals; the chosen row marked."""
    choice = result.choice
    return tradeoff_tables(
        result.intervals,
        metrics,
        rule=result.rule,
        chosen=choice.ratio,
        feasible=choice.feasible,
        failed={ratio_label(r): misses for r, misses in choice.failed.items()},
    )


def tradeoff_tables(
    intervals: Mapping[str, Mapping[str, Mapping[str, Interval]]],
    metrics: Sequence[str],
    *,
    rule: Rule,
    chosen: float | None,
    feasible: Sequence[float],
    failed: Mapping[str, Sequence[str]],
) -> str:
    """The tables of :func:`format_tradeoff_table` from their parts (as ``tradeoff.json`` holds them).

    Args:
        intervals: ``{point: {metric: {"mean": Interval, "diff": Interval}}}``, the base model (r=0) first.
        metrics: The columns, ``PROTOCOL/VIEW/METRIC``.
        rule: The rule that chose.
        chosen: The chosen ratio (``None``: none met the constraints).
        feasible: The ratios that met every constraint.
        failed: ``{point label: [failing constraint, ...]}``.
    """
    label = ratio_label(chosen) if chosen is not None else None
    names = list(intervals)
    header = "| " + " | ".join(["point"] + [_short(m) for m in metrics]) + " |"
    rule_line = "|" + "|".join(["---"] + ["---:"] * len(metrics)) + "|"
    lines = [f"Rule: `{rule.text}`", "", header, rule_line]
    for name in names:
        cells = [f"**{name}** (chosen)" if name == label else name]
        cells += [f"{intervals[name][m]['mean'].estimate:.{_places(m)}f}" for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Paired difference from the base model ({ratio_label(0.0)}), {_ci_text(intervals)}:", ""]
    lines += [header, rule_line]
    for name in names[1:]:
        cells = [f"**{name}** (chosen)" if name == label else name]
        for m in metrics:
            diff = intervals[name][m].get("diff")
            cells.append(format_interval(diff, digits=_places(m)) if diff is not None else "–")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if chosen is None:
        lines.append("No ratio meets every constraint:")
        lines += [f"- {name}: " + "; ".join(misses) for name, misses in failed.items()]
    else:
        ok = ", ".join(ratio_label(r) for r in feasible)
        lines.append(f"Ratios meeting the constraints: {ok}; chosen: {label} ({rule.goal} {rule.objective}).")
    return "\n".join(lines)


def _places(metric: str) -> int:
    """Decimals of a metric in tables: 3 for MRR / nDCG (0-1), 1 for percentages."""
    return 3 if "MRR" in metric or "nDCG" in metric else 1


def _ci_text(intervals: Mapping[str, Mapping[str, Mapping[str, Interval]]]) -> str:
    first = next(iter(next(iter(intervals.values())).values()))["mean"]
    return f"{round(100 * first.confidence)} % paired bootstrap intervals over {first.n_questions} questions"


def plot_tradeoff(result: TradeoffResult, path: str | os.PathLike[str], *, title: str = "") -> Path:
    """Draw the interpolation curve in four panels (see :data:`PANELS`) to a PNG.

    Each ratio is a point on the curve, labelled with its ratio; the base model (r=0), the checkpoint (r=1) and
    the ``compare`` checkpoints are marked; the chosen ratio is circled. Bars are the bootstrap intervals of each
    mean, on both axes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios = sorted(result.ratios)
    fig, axes = plt.subplots(2, 2, figsize=(11, 8.5), constrained_layout=True)
    for ax, (xm, ym, caption) in zip(axes.ravel(), PANELS):
        if xm not in result.intervals[ratio_label(0.0)] or ym not in result.intervals[ratio_label(0.0)]:
            ax.set_visible(False)
            continue
        _draw_panel(ax, result, ratios, xm, ym, caption)
    if title:
        fig.suptitle(
            f"{title} — weight interpolation base → tuned (labels: ratio; bars: 95 % bootstrap CI)", fontsize=10
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: A point of a panel: x, y, and their error bars ``[below, above]``.
_Coords = tuple[float, float, list[float], list[float]]


def _coords(result: TradeoffResult, name: str, xm: str, ym: str) -> _Coords:
    x, y = result.intervals[name][xm]["mean"], result.intervals[name][ym]["mean"]
    return (
        x.estimate,
        y.estimate,
        [x.estimate - x.low, x.high - x.estimate],
        [y.estimate - y.low, y.high - y.estimate],
    )


def _draw_panel(ax: Any, result: TradeoffResult, ratios: list[float], xm: str, ym: str, caption: str) -> None:
    """One panel: the interpolation curve, the ``compare`` checkpoints, the chosen ratio, axes and legend."""
    coords = [_coords(result, ratio_label(r), xm, ym) for r in ratios]
    _draw_curve(ax, ratios, coords)
    x1, y1, _, _ = coords[-1] if ratios[-1] == 1.0 else _coords(result, ratio_label(1.0), xm, ym)
    ax.annotate("checkpoint", (x1, y1), textcoords="offset points", xytext=(5, -12), fontsize=8, color="#c44e52")
    for i, name in enumerate(result.others):
        x, y, xe, ye = _coords(result, name, xm, ym)
        ax.errorbar(
            x,
            y,
            xerr=[[xe[0]], [xe[1]]],
            yerr=[[ye[0]], [ye[1]]],
            fmt="s",
            ms=6,
            capsize=2,
            elinewidth=0.8,
            color=["#55a868", "#8172b2", "#ccb974", "#64b5cd"][i % 4],
            label=name,
            zorder=3,
        )
    if result.choice.ratio is not None:
        x, y, _, _ = _coords(result, ratio_label(result.choice.ratio), xm, ym)
        ax.scatter(
            [x],
            [y],
            s=220,
            facecolors="none",
            edgecolors="#dd8452",
            linewidths=2,
            zorder=4,
            label=f"chosen r={result.choice.ratio:g}",
        )
    ax.set_xlabel(f"{_short(xm)} (%) ↑")
    ax.set_ylabel(f"{_short(ym)} (%) {'↓' if '/N1' in ym else '↑'}")
    ax.set_title(caption, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _draw_curve(ax: Any, ratios: list[float], coords: list[_Coords]) -> None:
    """The interpolation curve: a line through the ratios, each a labelled point with its bars; r=0 named raw."""
    ax.plot([c[0] for c in coords], [c[1] for c in coords], "-", color="#4c72b0", zorder=1, label="interpolation")
    for r, (x, y, xe, ye) in zip(ratios, coords):
        color = "#333333" if r == 0.0 else "#c44e52" if r == 1.0 else "#4c72b0"
        ax.errorbar(
            x,
            y,
            xerr=[[xe[0]], [xe[1]]],
            yerr=[[ye[0]], [ye[1]]],
            fmt="o",
            color=color,
            ms=5,
            capsize=2,
            elinewidth=0.8,
            zorder=2,
        )
        ax.annotate(f"{r:g}", (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    x0, y0, _, _ = coords[0]
    ax.annotate("raw", (x0, y0), textcoords="offset points", xytext=(5, -12), fontsize=8, color="#333333")
