"""Training curves: loss and metrics per epoch, for one run or several side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from galaxylab.errors import GalaxyLabError

#: History columns that are not metrics to plot.
_NOT_METRICS = {"epoch", "lr", "learning_rate"}


def _epochs(history: pd.DataFrame) -> np.ndarray:
    """1-based epoch numbers: from Keras' 0-based ``epoch`` column when there is one."""
    if "epoch" in history:
        return history["epoch"].to_numpy() + 1
    return np.arange(len(history)) + 1


def training_curves(
    histories: pd.DataFrame | Mapping[str, pd.DataFrame],
    metrics: Sequence[str] | None = None,
    title: str | None = None,
    ylabels: Mapping[str, str] | None = None,
) -> Figure:
    """One panel per metric: training (dashed when several runs share a panel) and validation
    curves against the epoch.

    ``histories`` is one Keras history table (one row per epoch, columns such as ``loss``,
    ``val_loss``, ``accuracy``: ``pd.DataFrame(fit(...).history`` or a RUN's history.csv) or a
    mapping run name → history. ``metrics`` defaults to every training metric of the first
    history. ``ylabels`` names a metric's axis with its unit, e.g.
    ``{"loss": "cross-entropy (nats)"}``.
    """
    single = isinstance(histories, pd.DataFrame)
    runs: dict[str | None, pd.DataFrame] = (
        {None: histories} if isinstance(histories, pd.DataFrame) else dict(histories.items())
    )
    if not runs:
        raise GalaxyLabError("training_curves needs at least one history")
    if any(len(history) == 0 for history in runs.values()):
        raise GalaxyLabError("history has no epochs to plot")
    if metrics is None:
        first = next(iter(runs.values()))
        metrics = [c for c in first.columns if c not in _NOT_METRICS and not c.startswith("val_")]
    metrics = list(metrics)
    for name, history in runs.items():
        missing = [m for m in metrics if m not in history.columns]
        if missing or not metrics:
            which = "history" if name is None else f"history {name!r}"
            raise GalaxyLabError(f"{which} has no column(s) {', '.join(missing) or '(metrics)'}")
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(4.6 * len(metrics), 3.6), squeeze=False, layout="constrained"
    )
    palette = sns.color_palette("colorblind", max(len(runs), 2))
    for ax, metric in zip(axes[0], metrics, strict=True):
        for i, (name, history) in enumerate(runs.items()):
            epochs = _epochs(history)
            if single:
                ax.plot(
                    epochs,
                    history[metric],
                    marker="o",
                    markersize=3,
                    color=palette[0],
                    label="training",
                )
            else:
                ax.plot(
                    epochs,
                    history[metric],
                    linestyle="--",
                    color=palette[i],
                    alpha=0.6,
                    label=f"{name} (training)",
                )
            if f"val_{metric}" in history:
                ax.plot(
                    epochs,
                    history[f"val_{metric}"],
                    marker="o",
                    markersize=3,
                    color=palette[1] if single else palette[i],
                    label="validation" if single else f"{name} (validation)",
                )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch (passes over the training set)")
        ax.set_ylabel((ylabels or {}).get(metric, metric.replace("_", " ")))
        ax.set_title(metric.replace("_", " "))
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles,
        names,
        loc="outside lower center",
        ncols=min(len(names), 4),
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(title or ("Training history" if single else "Training curves"))
    return fig
