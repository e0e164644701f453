"""Figures of a catalog's labels: class balance, answer counts, vote-fraction distributions,
how a question shares its parent's weight, correlations, label noise against the truth, the
three-class threshold, and pixel histograms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from galaxylab import labels, tree
from galaxylab.errors import GalaxyLabError
from galaxylab.plots.common import (
    COUNT_LABEL,
    FRACTION_LABEL,
    empty_panel,
    label_columns,
    new_axes,
    panel_grid,
    short,
)


def class_balance(
    labels: pd.Series,
    classes: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str = "Galaxies per class",
) -> Figure:
    """Bar chart of how many galaxies carry each class label, annotated with count and share."""
    if classes is None:
        classes = list(pd.unique(labels.dropna()))
    counts = labels.value_counts().reindex(list(classes), fill_value=0)
    fig, ax = new_axes(ax, (5.5, 3.8))
    colors = sns.color_palette("colorblind", len(counts))
    bars = ax.bar(counts.index.astype(str), counts.to_numpy(), color=colors)
    total = max(int(counts.sum()), 1)
    ax.bar_label(bars, labels=[f"{v}\n({100 * v / total:.0f}%)" for v in counts], padding=2)
    ax.set_ylim(0, max(counts.max(), 1) * 1.25)
    ax.set_xlabel("class")
    ax.set_ylabel(COUNT_LABEL)
    ax.set_title(title)
    return fig


def answer_counts(
    catalog: pd.DataFrame,
    threshold: float = 0.5,
    columns: Sequence[str] | None = None,
    ax: Axes | None = None,
    log: bool = False,
) -> Figure:
    """Horizontal bars: for each answer, the galaxies whose vote fraction exceeds ``threshold``.

    Bars are coloured by question, so the rare answers deep in the tree stand out.
    """
    columns = label_columns(catalog, columns)
    counts = [(catalog[c] > threshold).sum() for c in columns]
    fig, ax = new_axes(ax, (7.0, 0.24 * len(columns) + 1.4))
    palette = sns.color_palette("tab20", 11)
    colors = [palette[tree.QUESTION_OF_COLUMN[c] - 1] for c in columns]
    y = np.arange(len(columns))
    bars = ax.barh(y, counts, color=colors)
    ax.bar_label(bars, padding=2, fontsize=7)
    ax.set_yticks(y, [tree.answer_label(c) for c in columns], fontsize=7)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(f"galaxies with vote fraction > {threshold:g} (count)")
    ax.set_ylabel("answer")
    ax.set_title(f"Answers above {threshold:g}: out of {len(catalog)} galaxies")
    return fig


def vote_distributions(
    catalog: pd.DataFrame | Mapping[str, pd.DataFrame],
    columns: Sequence[str],
    kind: str = "hist",
    bins: int = 20,
    ncols: int = 3,
    title: str = "Vote-fraction distributions",
    xlabel: str = FRACTION_LABEL,
) -> Figure:
    """Distributions of vote fractions, one histogram panel per column (or one violin figure).

    Pass a mapping ``{name: catalog}`` to overlay several samples (e.g. real vs. synthetic);
    histograms are then normalised to densities so different sample sizes compare fairly.
    """
    catalogs = dict(catalog) if isinstance(catalog, Mapping) else {"catalog": catalog}
    for frame in catalogs.values():
        label_columns(frame, columns)
    columns = list(columns)
    if kind == "violin":
        long = pd.concat(
            [
                frame[columns].melt(var_name="answer", value_name="fraction").assign(sample=name)
                for name, frame in catalogs.items()
            ],
            ignore_index=True,
        ).dropna()
        long["answer"] = long["answer"].map(short)
        fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(columns) + 2), 4), layout="constrained")
        sns.violinplot(
            data=long,
            x="answer",
            y="fraction",
            hue="sample" if len(catalogs) > 1 else None,
            cut=0,
            density_norm="width",
            inner="quartile",
            ax=ax,
        )
        ax.set_ylim(0, 1)
        ax.set_xlabel("answer (Kaggle column Class…)")
        ax.set_ylabel(xlabel)
        ax.set_title(f"{title} per answer")
        return fig
    if kind != "hist":
        raise GalaxyLabError(f"vote_distributions kind must be 'hist' or 'violin', not {kind!r}")
    fig, axes = panel_grid(len(columns), ncols, (3.3, 2.6))
    density = len(catalogs) > 1
    edges = np.linspace(0, 1, bins + 1)
    for ax, column in zip(axes.flat, columns, strict=False):
        for name, frame in catalogs.items():
            ax.hist(frame[column].dropna(), bins=edges, density=density, alpha=0.6, label=name)
        ax.set_title(tree.answer_label(column), fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("density (per unit fraction)" if density else COUNT_LABEL, fontsize=8)
        if density:
            ax.legend(fontsize=7)
    for ax in axes.flat[len(columns) :]:
        empty_panel(ax)
    fig.suptitle(title)
    return fig


def tree_dependence(catalog: pd.DataFrame, question: int, ax: Axes | None = None) -> Figure:
    """Scatter each answer of ``question`` (and their sum) against its parent answer's value.

    The sum lies on the diagonal: the tree makes a child question share its parent's weight.
    """
    if question not in tree.QUESTION_BY_NUMBER:
        raise GalaxyLabError(f"no question {question}: the tree has questions 1 to 11")
    q = tree.QUESTION_BY_NUMBER[question]
    if q.parent is None:
        raise GalaxyLabError(f"Q{question} has no parent answer: its answers sum to 1")
    columns = label_columns(catalog, [q.parent, *q.columns])
    parent = catalog[columns[0]].to_numpy(float)
    fig, ax = new_axes(ax, (5.5, 4.5))
    for column in q.columns:
        ax.scatter(parent, catalog[column], s=6, alpha=0.5, label=tree.answer_label(column))
    total = catalog[q.columns].sum(axis=1, min_count=len(q.columns))
    ax.scatter(parent, total, s=8, color="black", marker="x", label=f"sum of Q{question}")
    ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1, label="y = x")
    ax.set_xlabel(f"{tree.answer_label(q.parent)} ({q.parent}, vote fraction 0–1)")
    ax.set_ylabel(f"Q{question} answers ({FRACTION_LABEL})")
    ax.set_title(f"Q{question} {q.short}: answers share the weight of {q.parent}")
    ax.legend(fontsize=7, markerscale=2)
    return fig


def correlation_heatmap(
    catalog: pd.DataFrame, columns: Sequence[str] | None = None, ax: Axes | None = None
) -> Figure:
    """Pearson correlations between label columns, with lines between questions."""
    columns = label_columns(catalog, columns)
    corr = catalog[columns].corr()
    size = 0.22 * len(columns) + 2.5
    fig, ax = new_axes(ax, (size + 1.0, size))
    labels = [short(c) for c in columns]
    sns.heatmap(
        corr.to_numpy(),
        vmin=-1,
        vmax=1,
        cmap="RdBu_r",
        square=True,
        ax=ax,
        xticklabels=labels,
        yticklabels=labels,
        cbar_kws={"label": "Pearson correlation (−1 to 1)"},
    )
    questions = [tree.QUESTION_OF_COLUMN[c] for c in columns]
    for i in range(1, len(questions)):
        if questions[i] != questions[i - 1]:
            ax.axhline(i, color="black", linewidth=0.6)
            ax.axvline(i, color="black", linewidth=0.6)
    ax.tick_params(labelsize=7)
    ax.set_xlabel("answer (Kaggle column Class…)")
    ax.set_ylabel("answer (Kaggle column Class…)")
    ax.set_title("Correlations between vote fractions")
    return fig


_REFERENCES = {"true_": "perfect observer", "expected_": "infinite crowd"}


def truth_vs_votes(
    catalog: pd.DataFrame,
    truth: pd.DataFrame,
    columns: Sequence[str],
    prefix: str = "true_",
    ncols: int = 3,
) -> Figure:
    """Volunteer vote fractions against noise-free ones (``<prefix><column>`` in ``truth``).

    ``truth`` holds one row per catalog row, in the same order (an ``id`` column, if present,
    must match). With ``prefix="expected_"`` the reference is an infinite crowd's fractions
    (a scatter about the diagonal); with ``"true_"`` a perfect observer's yes/no answers (a
    histogram of the votes for each). The RMSE in each title is label noise.
    """
    columns = label_columns(catalog, columns)
    missing = [f"{prefix}{c}" for c in columns if f"{prefix}{c}" not in truth.columns]
    if missing:
        raise GalaxyLabError(f"truth table has no column(s) {', '.join(missing)}")
    if len(truth) != len(catalog):
        raise GalaxyLabError(f"truth has {len(truth)} rows but the catalog {len(catalog)}")
    if "id" in truth.columns and "id" in catalog.columns:
        mismatch = np.flatnonzero(
            truth["id"].astype(str).to_numpy() != catalog["id"].astype(str).to_numpy()
        )
        if len(mismatch):
            raise GalaxyLabError(
                f"truth row {mismatch[0]} is not the catalog's galaxy "
                f"{catalog['id'].iloc[mismatch[0]]}: align them by id first"
            )
    reference = _REFERENCES.get(prefix, prefix.rstrip("_"))
    fig, axes = panel_grid(len(columns), ncols, (3.3, 3.2))
    for ax, column in zip(axes.flat, columns, strict=False):
        true = truth[f"{prefix}{column}"].to_numpy(float)
        seen = catalog[column].to_numpy(float)
        ok = np.isfinite(true) & np.isfinite(seen)
        rmse = float(np.sqrt(np.mean((true[ok] - seen[ok]) ** 2))) if ok.any() else np.nan
        ax.set_title(f"{tree.answer_label(column)}\nRMSE {rmse:.3f}", fontsize=9)
        if np.isin(true[ok], (0.0, 1.0)).all():
            # A yes/no reference: a scatter would be two stripes, histograms show the spread.
            edges = np.linspace(0, 1, 21)
            for value, name in ((0.0, "no"), (1.0, "yes")):
                ax.hist(
                    seen[ok & (true == value)], bins=edges, alpha=0.6, label=f"{reference}: {name}"
                )
            ax.legend(fontsize=7)
            ax.set_xlabel("volunteer fraction (0–1)", fontsize=8)
            ax.set_ylabel(COUNT_LABEL, fontsize=8)
            continue
        ax.scatter(true, seen, s=5, alpha=0.4)
        ax.plot([0, 1], [0, 1], color="0.4", linestyle="--", linewidth=1)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"{reference} fraction (0–1)", fontsize=8)
        ax.set_ylabel("volunteer fraction (0–1)", fontsize=8)
    for ax in axes.flat[len(columns) :]:
        empty_panel(ax)
    fig.suptitle(f"Label noise: volunteers' vote fractions against the {reference}")
    return fig


def threshold_curve(
    catalog: pd.DataFrame,
    thresholds: Sequence[float] | None = None,
    mark: float = labels.DEFAULT_THRESHOLD,
) -> Figure:
    """How many galaxies each class gets as the vote threshold moves (GZ1 uses 0.8)."""
    chosen = (
        np.round(np.arange(0.55, 1.0001, 0.05), 2).tolist()
        if thresholds is None
        else list(thresholds)
    )
    rows = [labels.three_class_counts(catalog, float(t)) for t in chosen]
    if rows[0] is None:
        raise GalaxyLabError("the catalog has no Class1.1/Class1.2 vote fractions")
    counts = pd.DataFrame(rows, index=chosen)
    fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    palette = sns.color_palette("colorblind", len(labels.THREE_CLASSES))
    for color, name in zip(palette, labels.THREE_CLASSES, strict=True):
        ax.plot(counts.index, counts[name], marker="o", color=color, label=name)
    ax.axvline(mark, color="0.4", linestyle="--", linewidth=1, label=f"GZ1 threshold {mark:g}")
    ax.set_xlabel("vote threshold t (fraction of volunteers, 0.5–1)")
    ax.set_ylabel(COUNT_LABEL)
    ax.set_title(f"Three classes against the vote threshold ({len(catalog)} galaxies)")
    ax.legend(fontsize=8)
    return fig


def channel_histograms(raw: np.ndarray, normalised: np.ndarray, bins: int = 60) -> Figure:
    """Pixel-value histograms per colour channel, before and after standardisation."""
    raw, normalised = np.asarray(raw), np.asarray(normalised)
    if raw.shape != normalised.shape or raw.ndim != 4:
        raise GalaxyLabError(
            f"expected two image batches of one shape (N, H, W, C), got "
            f"{raw.shape} and {normalised.shape}"
        )
    # an RGB composite's channel 0 is red (the reddest survey band), channel 2 blue
    names = ["red", "green", "blue"] if raw.shape[-1] == 3 else ["grey"]
    colors = ["tab:red", "tab:green", "tab:blue"] if raw.shape[-1] == 3 else ["0.3"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    for c, (name, color) in enumerate(zip(names, colors, strict=True)):
        for ax, images in zip(axes, (raw, normalised), strict=True):
            ax.hist(
                images[..., c].ravel(),
                bins=bins,
                histtype="step",
                color=color,
                label=f"channel {c} ({name})",
            )
    axes[0].set_xlabel("pixel value (0 = black, 1 = white)")
    axes[1].set_xlabel("standardised value (standard deviations from the channel mean)")
    for ax, what in zip(
        axes, ("as the pipeline gives them", "after the Normalization layer"), strict=True
    ):
        ax.set_yscale("log")
        ax.set_ylabel("pixels (count, log scale)")
        ax.set_title(what)
        ax.legend(fontsize=7)
    fig.suptitle(f"Pixel values of {len(raw)} training images")
    return fig
