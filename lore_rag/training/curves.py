"""Training curves: loss and mean P / N1 / N2 similarity per step (paper Fig. 3)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_curves"]


def plot_curves(
    history: Mapping[str, Sequence[Mapping[str, Any]]],
    path: str | os.PathLike[str],
    *,
    title: str = "",
) -> Path:
    """Draw the loss and the mean cosine similarity of P, N1 and N2 chunks per step to a PNG.

    Args:
        history: ``{"steps": [{"step", "loss", "sim_P", "sim_N1", "sim_N2"}, ...]}`` as written by the trainer.
        path: Where to write the PNG.
        title: Figure title.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = list(history.get("steps", []))
    if not steps:
        raise ValueError("history has no steps to plot")
    xs = [s["step"] for s in steps]
    fig, (ax_loss, ax_sim) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    ax_loss.plot(xs, [s["loss"] for s in steps], color="#333333", label="loss")
    if any("anchor" in s for s in steps):
        ax_loss.plot(xs, [s.get("anchor", float("nan")) for s in steps], color="#999999", ls="--", label="anchor KL")
        ax_loss.legend(frameon=False)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("training loss")
    colours = {
        "sim_P": ("#1b7837", "P (positive)"),
        "sim_N1": ("#c51b7d", "N1 (distractor)"),
        "sim_N2": ("#4575b4", "N2 (negative)"),
    }
    for key, (colour, label) in colours.items():
        ax_sim.plot(xs, [s.get(key, float("nan")) for s in steps], color=colour, label=label)
    ax_sim.set_xlabel("step")
    ax_sim.set_ylabel("mean cosine similarity")
    ax_sim.set_title("query-chunk similarity by tier")
    ax_sim.legend(frameon=False)
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
