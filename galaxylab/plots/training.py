"""Training curves: loss and metrics per epoch, for one run or several side by side; learning
curves: a score against the number of training labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from galaxylab.errors import GalaxyLabError
from galaxylab.plots.common import new_axes

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


def learning_curve(
    curves: Mapping[str, pd.DataFrame],
    *,
    references: Mapping[str, float] | None = None,
    xlabel: str = "training labels (log scale)",
    ylabel: str = "score",
    title: str = "Learning curve",
    ax: Axes | None = None,
) -> Figure:
    """Score against the number of training labels, one line per way of training.

    Each frame in ``curves`` has columns ``n`` (labels), ``score`` and optionally ``low`` and
    ``high`` (e.g. a bootstrap interval from :func:`galaxylab.metrics.bootstrap_interval`,
    drawn as error bars). ``references`` (name → value) are dashed horizontal lines, e.g. the
    majority baseline or a model trained without any of these labels.
    """
    if not curves:
        raise GalaxyLabError("learning_curve needs at least one curve")
    fig, ax = new_axes(ax, (7, 4.2))
    palette = sns.color_palette("colorblind", len(curves))
    shift = np.linspace(-0.03, 0.03, len(curves)) if len(curves) > 1 else [0.0]
    for (name, curve), color, dx in zip(curves.items(), palette, shift, strict=True):
        if not {"n", "score"} <= set(curve.columns):
            raise GalaxyLabError(f"learning_curve: curve {name!r} needs columns n and score")
        x = curve["n"].to_numpy(dtype=float) * 10**dx  # side by side, so error bars do not hide
        y = curve["score"].to_numpy(dtype=float)
        error = None
        if {"low", "high"} <= set(curve.columns):
            error = np.vstack([y - curve["low"].to_numpy(float), curve["high"].to_numpy(float) - y])
        ax.errorbar(x, y, yerr=error, marker="o", capsize=3, color=color, label=name)
    ref_palette = sns.color_palette("dark", max(len(references or {}), 1))
    for color, (name, value) in zip(ref_palette, (references or {}).items(), strict=False):
        ax.axhline(value, linestyle="--", linewidth=1, color=color, label=f"{name}: {value:.3f}")
    ax.set_xscale("log")
    ticks = sorted({int(n) for curve in curves.values() for n in curve["n"]})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    return fig
