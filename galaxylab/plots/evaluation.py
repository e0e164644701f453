"""Figures of how well a model does: confusion matrices, score bars with their baselines,
predictions against votes, crosstabs, whether predictions obey the decision tree, and scores
under worse images.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from galaxylab import tree
from galaxylab.errors import GalaxyLabError
from galaxylab.plots.common import COUNT_LABEL, new_axes


def confusion_heatmaps(
    matrix: np.ndarray | Sequence[Sequence[int]],
    labels: Sequence[str],
    title: str = "Confusion matrix",
) -> Figure:
    """Counts and row-normalised confusion matrices side by side (rows = true class).

    The normalised panel names each row's number of galaxies, "elliptical (n = 33)", so a
    fraction that rests on a handful of galaxies shows as such.
    """
    counts = np.asarray(matrix, dtype=float)
    if counts.ndim != 2 or counts.shape != (len(labels), len(labels)):
        raise GalaxyLabError(
            f"confusion matrix of shape {counts.shape} does not match {len(labels)} labels"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = counts.sum(axis=1, keepdims=True)
        normalised = np.where(rows > 0, counts / rows, 0.0)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    sns.heatmap(
        counts,
        annot=True,
        fmt=".0f",
        cmap="Blues",
        ax=axes[0],
        xticklabels=labels,
        yticklabels=labels,
        cbar_kws={"label": COUNT_LABEL},
    )
    sns.heatmap(
        normalised,
        annot=True,
        fmt=".2f",
        cmap="Blues",
        vmin=0,
        vmax=1,
        ax=axes[1],
        xticklabels=labels,
        yticklabels=[f"{name}\n(n = {n:.0f})" for name, n in zip(labels, rows[:, 0], strict=True)],
        cbar_kws={"label": "fraction of the true class (0–1)"},
    )
    axes[1].tick_params(axis="y", labelrotation=0)
    axes[0].set_title("counts")
    axes[1].set_title("normalised by row (recall on the diagonal)")
    for ax in axes:
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
    fig.suptitle(title)
    return fig


def _row_label(key: object) -> str:
    """A bar group's label: "Q6" (or 6) becomes "Q6" plus the question's short text."""
    text = str(key)
    match = re.fullmatch(r"Q?(\d+)", text)
    if match is None:
        return text
    number = int(match.group(1))
    if number not in tree.QUESTION_BY_NUMBER:
        raise GalaxyLabError(f"score_bars: {key!r} is not a question (1–11 or 'Q1'…)")
    return f"Q{number}\n{tree.QUESTION_BY_NUMBER[number].short}"


def score_bars(
    scores: pd.DataFrame | Mapping[object, float],
    *,
    references: Mapping[str, float] | None = None,
    label: str = "score",
    title: str = "Scores",
    limits: tuple[float, float] | None = None,
    fmt: str = "%.3f",
    orientation: str = "horizontal",
    intervals: pd.DataFrame | Mapping[object, tuple[float, float]] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Labelled bars: one group per row of ``scores``, one bar per column, plus reference lines.

    ``scores`` is a DataFrame (rows = models, classes or questions; columns = scores) or a
    mapping name → one score. Row keys that name a question ("Q6", or 6) are labelled with the
    question's short text, e.g. for :func:`galaxylab.metrics.rmse_per_question`.
    ``references`` (name → value) are drawn as dashed lines, e.g. a baseline or the published
    challenge scores. ``label`` names the value axis with its unit, ``limits`` fixes its range.
    ``orientation`` is "horizontal" (bars grow to the right) or "vertical". ``intervals``
    shaped like ``scores`` holds (low, high) pairs, e.g. from
    :func:`galaxylab.metrics.bootstrap_interval`, drawn as error bars.
    """
    if orientation not in ("horizontal", "vertical"):
        raise GalaxyLabError(f"orientation must be 'horizontal' or 'vertical', not {orientation!r}")
    table = (
        scores
        if isinstance(scores, pd.DataFrame)
        else pd.DataFrame({label: pd.Series(dict(scores), dtype=float)})
    )
    if table.empty:
        raise GalaxyLabError("score_bars needs at least one score")
    spans = None
    if intervals is not None:
        spans = (
            intervals
            if isinstance(intervals, pd.DataFrame)
            else pd.DataFrame({table.columns[0]: pd.Series(dict(intervals))})
        )
        if list(spans.index) != list(table.index) or list(spans.columns) != list(table.columns):
            raise GalaxyLabError("score_bars: intervals must have the rows and columns of scores")
    rows = [_row_label(key) for key in table.index]
    questions = all("\n" in row for row in rows)
    cols = list(table.columns)
    width = 0.8 / len(cols)
    horizontal = orientation == "horizontal"
    size = (
        (7.5, len(rows) * (0.16 * len(cols) + 0.2) + 1.5)
        if horizontal
        else (max(5.0, 0.6 * len(rows) * len(cols) + 2.5), 3.8)
    )
    fig, ax = new_axes(ax, size)
    palette = sns.color_palette("colorblind", len(cols))
    where = np.arange(len(rows))
    for j, (col, color) in enumerate(zip(cols, palette, strict=True)):
        values = table[col].to_numpy(dtype=float)
        offsets = where - 0.4 + width * (j + 0.5)
        name = str(col) if len(cols) > 1 else "_nolegend_"
        error = None
        if spans is not None:
            low, high = np.array([list(pair) for pair in spans[col]], dtype=float).T
            error = np.vstack([values - low, high - values])
        style = {"color": color, "label": name, "capsize": 2, "error_kw": {"linewidth": 0.8}}
        bars = (
            ax.barh(offsets, values, height=width, xerr=error, **style)
            if horizontal
            else ax.bar(offsets, values, width=width, yerr=error, **style)
        )
        ax.bar_label(bars, fmt=fmt, fontsize=7, padding=2)
    ref_palette = sns.color_palette("dark", max(len(references or {}), 1))
    for color, (name, value) in zip(ref_palette, (references or {}).items(), strict=False):
        line = ax.axvline if horizontal else ax.axhline
        line(value, linestyle="--", linewidth=1, color=color, label=f"{name}: {value:.4g}")
    finite = table.to_numpy(dtype=float)
    if spans is not None:
        finite = np.concatenate([finite.ravel(), [p[1] for col in spans for p in spans[col]]])
    top = max(
        np.nanmax(finite) if np.isfinite(finite).any() else 1.0,
        max((references or {"": 0.0}).values()),
    )
    span = limits if limits is not None else (0, top * 1.18 if top > 0 else 1)
    if horizontal:
        ax.set_yticks(where, rows)
        ax.invert_yaxis()
        ax.set_xlim(span)
        ax.set_xlabel(label)
        ax.set_ylabel("question" if questions else "")
    else:
        ax.set_xticks(where, rows, fontsize=7)
        ax.set_ylim(span)
        ax.set_ylabel(label)
        ax.set_xlabel("question" if questions else "")
    if len(cols) > 1 or references:
        fig.legend(
            *ax.get_legend_handles_labels(),
            loc="outside lower center",
            ncols=2,
            fontsize=8,
            frameon=False,
        )
    ax.set_title(title)
    return fig


def prediction_scatter(
    votes: pd.DataFrame,
    predictions: pd.DataFrame,
    columns: Sequence[str],
    threshold: float | None = None,
) -> Figure:
    """Predicted against volunteer vote fractions, one panel per column, with the RMSE.

    ``threshold`` (e.g. the GZ1 0.8) is drawn on both axes, so the galaxies a threshold puts in
    a class on one side but not on the other stand out.
    """
    columns = list(columns)
    missing = [c for c in columns if c not in votes.columns or c not in predictions.columns]
    if missing:
        raise GalaxyLabError(f"no column(s) {', '.join(missing)} in votes or predictions")
    if len(votes) != len(predictions):
        raise GalaxyLabError(f"{len(votes)} galaxies with votes, {len(predictions)} predictions")
    fig, axes = plt.subplots(
        1, len(columns), figsize=(3.8 * len(columns), 3.9), squeeze=False, layout="constrained"
    )
    for ax, column in zip(axes[0], columns, strict=True):
        x = votes[column].to_numpy(float)
        y = predictions[column].to_numpy(float)
        ok = np.isfinite(x) & np.isfinite(y)
        rmse = float(np.sqrt(np.mean((x[ok] - y[ok]) ** 2))) if ok.any() else np.nan
        ax.scatter(x[ok], y[ok], s=6, alpha=0.5)
        ax.plot([0, 1], [0, 1], color="0.4", linestyle="--", linewidth=1, label="y = x")
        if threshold is not None:
            ax.axvline(threshold, color="tab:red", linewidth=0.8, linestyle=":")
            ax.axhline(
                threshold,
                color="tab:red",
                linewidth=0.8,
                linestyle=":",
                label=f"threshold {threshold:g}",
            )
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("volunteers' vote fraction (0–1)")
        ax.set_ylabel("predicted vote fraction (0–1)")
        ax.set_title(f"{tree.answer_label(column)}\nRMSE {rmse:.3f}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Predictions against the volunteers ({len(votes)} galaxies)")
    return fig


def threshold_scatter(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    groups: Sequence[str],
    *,
    threshold: float,
    band: tuple[float, float] | None = None,
    band_label: str = "band",
    xlabel: str,
    ylabel: str,
    title: str,
) -> Figure:
    """Galaxies as points coloured by group (e.g. correct, or each kind of mistake) against a
    quantity a threshold cuts, such as the vote fraction behind a class flag.

    ``threshold`` is drawn as a line; ``band`` (low, high) is shaded and named ``band_label``,
    e.g. the threshold ± the spread a new crowd of the same size would give, where a re-vote
    could flip a label. The legend gives each group's count, the most common group first.
    """
    xs, ys, names = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.asarray(groups)
    if not len(xs) == len(ys) == len(names):
        raise GalaxyLabError(f"{len(xs)} x, {len(ys)} y and {len(names)} group values")
    if len(xs) == 0:
        raise GalaxyLabError("threshold_scatter needs at least one point")
    fig, ax = plt.subplots(figsize=(7, 4.4), layout="constrained")
    if band is not None:
        ax.axvspan(
            *band, color="0.85", zorder=0, label=f"{band_label}: {band[0]:.2f}–{band[1]:.2f}"
        )
    ax.axvline(
        threshold, color="tab:red", linestyle="--", linewidth=1, label=f"threshold {threshold:g}"
    )
    kinds, counts = np.unique(names, return_counts=True)
    kinds = kinds[np.argsort(-counts, kind="stable")]  # the most common group first
    palette = sns.color_palette("colorblind", len(kinds))
    markers = "o^sDvP*X"
    for j, (kind, color) in enumerate(zip(kinds, palette, strict=True)):
        mine = names == kind
        ax.scatter(
            xs[mine],
            ys[mine],
            s=20,
            alpha=0.8,
            color=color,
            marker=markers[j % len(markers)],
            label=f"{kind} ({int(mine.sum())})",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    return fig


def crosstab_heatmap(
    rows: Sequence,
    columns: Sequence,
    *,
    ylabel: str,
    xlabel: str,
    title: str,
    normalise: bool = False,
) -> Figure:
    """A heatmap of how often each pair (row value, column value) occurs, e.g. a model's
    classes against the simulation's true galaxy types; ``normalise`` divides each row and
    names each row's number of galaxies, "merger (n = 4)", so thin rows show as such."""
    table = pd.crosstab(
        pd.Series(list(rows), name=ylabel),
        pd.Series(list(columns), name=xlabel),
        normalize="index" if normalise else False,
    )
    if normalise:
        sizes = pd.Series(list(rows)).value_counts()
        table.index = [f"{name} (n = {sizes[name]})" for name in table.index]
        table.index.name = ylabel
    fig, ax = plt.subplots(
        figsize=(1.2 * table.shape[1] + 3, 0.6 * table.shape[0] + 2), layout="constrained"
    )
    sns.heatmap(
        table,
        annot=True,
        fmt=".2f" if normalise else "d",
        cmap="Blues",
        ax=ax,
        cbar_kws={"label": "fraction of the row (0–1)" if normalise else COUNT_LABEL},
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def tree_sum_figure(errors: Mapping[str, pd.DataFrame], floor: float = 1e-8) -> Figure:
    """Box plots of |sum of a question's answers − parent value| per question, per model.

    Values below ``floor`` are drawn at ``floor`` so a log axis can show exact zeros.
    """
    if not errors:
        raise GalaxyLabError("tree_sum_figure needs at least one model's errors")
    long = pd.concat(
        [
            frame.abs()
            .clip(lower=floor)
            .melt(var_name="question", value_name="error")
            .assign(model=name)
            for name, frame in errors.items()
        ],
        ignore_index=True,
    )
    fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
    sns.boxplot(
        data=long,
        x="question",
        y="error",
        hue="model",
        ax=ax,
        fliersize=1.5,
        palette="colorblind",
        log_scale=True,
    )
    ax.axhline(
        1e-3,
        color="0.4",
        linestyle=":",
        linewidth=1,
        label=f"tolerance of tree.check ({tree.DEFAULT_TOLERANCE:g})",
    )
    ax.set_xlabel("question (its answers should sum to the parent answer's value)")
    ax.set_ylabel(f"|sum − parent| (vote fraction, log)\nvalues < {floor:g} drawn at {floor:g}")
    ax.set_title("Do the predictions obey the decision tree?")
    ax.legend(fontsize=8)
    return fig


def robustness_figure(
    curves: Mapping[str, pd.DataFrame],
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    baseline: float | None = None,
    baseline_label: str = "baseline",
    ax: Axes | None = None,
) -> Figure:
    """Score against perturbation level, one line per curve (from :func:`robustness_curve`).

    Draws into ``ax`` when given (e.g. one panel per perturbation), else a new figure.
    """
    if not curves:
        raise GalaxyLabError("robustness_figure needs at least one curve")
    fig, ax = new_axes(ax, (6.5, 4))
    for name, curve in curves.items():
        ax.plot(curve["level"], curve["score"], marker="o", label=name)
    if baseline is not None:
        ax.axhline(
            baseline,
            color="0.4",
            linestyle="--",
            linewidth=1,
            label=f"{baseline_label}: {baseline:.3f}",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig
