"""Tables and figures for the training notebooks (02-05): predictions as catalog-like frames,
tree-sum errors and label noise; score bars, training curves, vote thresholds, pixel
histograms, image grids, prediction scatters, crosstabs and galleries of right and wrong
predictions.

The figure functions return a matplotlib Figure with a title, axis labels and units, as
:mod:`galaxylab.plots` does; the image functions take float32 images in [0, 1] shaped
``(N, height, width, channels)``, which is what :mod:`galaxylab.pipeline` (and
:func:`load_images`) gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from galaxylab import labels, plots, tree
from galaxylab.errors import GalaxyLabError

# --------------------------------------------------------------------------- tables


def load_images(catalog: pd.DataFrame, *, image_size: int, crop_fraction: float | None = None,
                greyscale: bool = False, batch_size: int = 64) -> np.ndarray:
    """The catalog's images as one float32 array (N, size, size, channels) in [0, 1].

    For the few hundred images an analysis looks at; training streams with tf.data instead.
    """
    from galaxylab import pipeline

    if crop_fraction is None:
        crop_fraction = pipeline.DEFAULT_CROP_FRACTION
    dataset = pipeline.make_dataset(catalog, image_size=image_size, crop_fraction=crop_fraction,
                                    greyscale=greyscale, batch_size=batch_size)
    return np.concatenate([batch.numpy() for batch in dataset], axis=0)


def as_frame(predictions: np.ndarray, ids: Sequence | pd.Series | None = None) -> pd.DataFrame:
    """37-column predictions as a catalog-like DataFrame (``id`` + Class1.1 … Class11.6).

    Such a frame works wherever a catalog's label columns do: labels.three_class, plots.
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    if predictions.ndim != 2 or predictions.shape[1] != len(tree.COLUMNS):
        raise GalaxyLabError(f"expected predictions of shape (N, {len(tree.COLUMNS)}), "
                             f"got {predictions.shape}")
    frame = pd.DataFrame(predictions, columns=list(tree.COLUMNS))
    if ids is not None:
        ids = list(ids)
        if len(ids) != len(frame):
            raise GalaxyLabError(f"{len(ids)} ids for {len(frame)} predictions")
        frame.insert(0, "id", [str(i) for i in ids])
    return frame


def truth_labels(truth: pd.DataFrame, prefix: str = "expected_") -> pd.DataFrame:
    """The truth table's noise-free label columns as a catalog-like frame (``id`` + 37 columns).

    ``prefix="expected_"``: the vote fractions of an infinite crowd of the same volunteers;
    ``"true_"``: a perfect observer's answers (0 or 1 along the galaxy's true path).
    """
    wanted = [f"{prefix}{c}" for c in tree.COLUMNS]
    missing = [c for c in wanted if c not in truth.columns]
    if missing:
        raise GalaxyLabError(f"truth table has no {missing[0]} column (prefix {prefix!r})")
    frame = truth[wanted].copy()
    frame.columns = list(tree.COLUMNS)
    if "id" in truth.columns:
        frame.insert(0, "id", truth["id"].astype(str).to_numpy())
    return frame.reset_index(drop=True)


def tree_sum_errors(predictions: np.ndarray | pd.DataFrame) -> pd.DataFrame:
    """How far each galaxy's answers miss the tree: per question, sum of answers − parent value.

    Returns an (N, 11) frame with columns "Q1" … "Q11" (Q1 and Q6 should sum to 1, the
    others to their parent answer). Zero everywhere means the predictions obey the tree.
    """
    if isinstance(predictions, pd.DataFrame):
        values = predictions[list(tree.COLUMNS)].to_numpy(dtype=np.float64)
    else:
        values = as_frame(predictions)[list(tree.COLUMNS)].to_numpy()
    out = {}
    for number, cols in tree.question_slices():
        parent = tree.parent_index(number)
        expected = 1.0 if parent is None else values[:, parent]
        out[f"Q{number}"] = values[:, cols].sum(axis=1) - expected
    return pd.DataFrame(out)


def label_noise(votes: pd.DataFrame, reference: pd.DataFrame,
                predictions: np.ndarray | pd.DataFrame) -> pd.DataFrame:
    """RMSE per question of three comparisons, and pooled over all columns ("all").

    ``votes`` are the volunteers' vote fractions, ``reference`` noise-free labels of the same
    galaxies (e.g. :func:`truth_labels`), ``predictions`` the model's. Columns: "model vs
    volunteers" (what the challenge scores), "model vs noise-free" and "volunteers vs
    noise-free" (the label noise itself). When the model's errors and the volunteers' noise
    are independent, (model vs volunteers)² ≈ (model vs noise-free)² + (volunteers vs
    noise-free)².
    """
    from galaxylab import metrics

    if isinstance(predictions, np.ndarray):
        predictions = as_frame(predictions)
    lengths = {len(votes), len(reference), len(predictions)}
    if len(lengths) != 1:
        raise GalaxyLabError(f"votes, reference and predictions differ in length: {lengths}")
    columns = metrics.scored_columns(votes[[c for c in tree.COLUMNS if c in votes]])
    pairs = {
        "model vs volunteers": (votes, predictions),
        "model vs noise-free": (reference, predictions),
        "volunteers vs noise-free": (reference, votes),
    }
    table = {}
    for name, (truth, guess) in pairs.items():
        per = metrics.rmse_per_question(truth[columns], guess[columns], columns)
        per["all"] = metrics.kaggle_rmse(truth[columns], guess[columns], columns)
        table[name] = per
    return pd.DataFrame(table)


# --------------------------------------------------------------------------- figures


def score_bars(table: pd.DataFrame | Mapping[str, float], *,
               references: Mapping[str, float] | None = None,
               xlabel: str = "score", title: str = "Scores", xlim: tuple | None = None,
               fmt: str = "%.3f") -> Figure:
    """Grouped horizontal bars: one group per row of ``table``, one bar per column, labelled.

    ``table`` is a DataFrame (rows = models or classes, columns = scores) or a mapping
    name → one score. ``references`` (name → value) are drawn as dashed vertical lines, e.g.
    the published challenge scores or a baseline. ``fmt`` formats the bar labels.
    """
    if isinstance(table, Mapping):
        table = pd.DataFrame({xlabel: pd.Series(table, dtype=float)})
    if table.empty:
        raise GalaxyLabError("score_bars needs at least one score")
    rows, cols = list(table.index), list(table.columns)
    height = 0.8 / len(cols)
    fig, ax = plt.subplots(figsize=(7.5, len(rows) * (0.16 * len(cols) + 0.2) + 1.5),
                           layout="constrained")
    palette = sns.color_palette("colorblind", len(cols))
    y = np.arange(len(rows))
    for j, (col, color) in enumerate(zip(cols, palette, strict=True)):
        values = table[col].to_numpy(dtype=float)
        bars = ax.barh(y - 0.4 + height * (j + 0.5), values, height=height, color=color,
                       label=str(col) if len(cols) > 1 else "_nolegend_")
        ax.bar_label(bars, fmt=fmt, fontsize=7, padding=2)
    ref_palette = sns.color_palette("dark", max(len(references or {}), 1))
    for color, (name, value) in zip(ref_palette, (references or {}).items(), strict=False):
        ax.axvline(value, linestyle="--", linewidth=1, color=color, label=f"{name}: {value:.4g}")
    ax.set_yticks(y, [str(r) for r in rows])
    ax.invert_yaxis()
    finite = table.to_numpy(dtype=float)
    top = max(np.nanmax(finite) if np.isfinite(finite).any() else 1.0,
              max((references or {0: 0}).values()))
    ax.set_xlim(xlim if xlim is not None else (0, top * 1.18 if top > 0 else 1))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("")
    if len(cols) > 1 or references:
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2,
                   fontsize=8, frameon=False)
    ax.set_title(title)
    return fig


def compare_histories(histories: Mapping[str, pd.DataFrame],
                      metrics: Sequence[str] = ("loss", "accuracy"),
                      title: str = "Training curves",
                      ylabels: Mapping[str, str] | None = None) -> Figure:
    """One panel per metric; per run a solid validation curve and a dashed training curve.

    ``histories`` maps a run's name to its Keras history (one row per epoch, columns such as
    ``loss`` and ``val_loss``; pd.DataFrame(fit(...).history) or a RUN's history.csv).
    ``ylabels`` names a metric's axis with its unit, e.g. ``{"loss": "cross-entropy (nats)"}``.
    """
    if not histories:
        raise GalaxyLabError("compare_histories needs at least one history")
    for name, history in histories.items():
        missing = [m for m in metrics if m not in history.columns]
        if missing:
            raise GalaxyLabError(f"history {name!r} has no column(s) {', '.join(missing)}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.6), squeeze=False,
                             layout="constrained")
    palette = sns.color_palette("colorblind", len(histories))
    for ax, metric in zip(axes[0], metrics, strict=True):
        for color, (name, history) in zip(palette, histories.items(), strict=True):
            epochs = np.arange(1, len(history) + 1)
            ax.plot(epochs, history[metric], linestyle="--", color=color, alpha=0.6,
                    label=f"{name} (training)")
            if f"val_{metric}" in history:
                ax.plot(epochs, history[f"val_{metric}"], marker="o", markersize=3,
                        color=color, label=f"{name} (validation)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch (passes over the training set)")
        ax.set_ylabel((ylabels or {}).get(metric, metric.replace("_", " ")))
        ax.set_title(metric.replace("_", " "))
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=min(len(histories), 3),
               fontsize=8, frameon=False)
    fig.suptitle(title)
    return fig


def threshold_curve(catalog: pd.DataFrame, thresholds: Sequence[float] | None = None,
                    mark: float = labels.DEFAULT_THRESHOLD) -> Figure:
    """How many galaxies each class gets as the vote threshold moves (GZ1 uses 0.8)."""
    if thresholds is None:
        thresholds = np.round(np.arange(0.55, 1.0001, 0.05), 2)
    rows = [labels.three_class_counts(catalog, float(t)) for t in thresholds]
    if rows[0] is None:
        raise GalaxyLabError("the catalog has no Class1.1/Class1.2 vote fractions")
    counts = pd.DataFrame(rows, index=list(thresholds))
    fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    palette = sns.color_palette("colorblind", len(labels.THREE_CLASSES))
    for color, name in zip(palette, labels.THREE_CLASSES, strict=True):
        ax.plot(counts.index, counts[name], marker="o", color=color, label=name)
    ax.axvline(mark, color="0.4", linestyle="--", linewidth=1, label=f"GZ1 threshold {mark:g}")
    ax.set_xlabel("vote threshold t (fraction of volunteers, 0.5–1)")
    ax.set_ylabel(plots.COUNT_LABEL)
    ax.set_title(f"Three classes against the vote threshold ({len(catalog)} galaxies)")
    ax.legend(fontsize=8)
    return fig


def channel_histograms(raw: np.ndarray, normalised: np.ndarray, bins: int = 60) -> Figure:
    """Pixel-value histograms per colour channel, before and after standardisation."""
    raw, normalised = np.asarray(raw), np.asarray(normalised)
    if raw.shape != normalised.shape or raw.ndim != 4:
        raise GalaxyLabError(f"expected two image batches of one shape (N, H, W, C), got "
                             f"{raw.shape} and {normalised.shape}")
    names = ["g", "r", "i"] if raw.shape[-1] == 3 else ["grey"]
    colors = ["tab:blue", "tab:green", "tab:red"] if raw.shape[-1] == 3 else ["0.3"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    for c, (name, color) in enumerate(zip(names, colors, strict=True)):
        axes[0].hist(raw[..., c].ravel(), bins=bins, histtype="step", color=color,
                     label=f"channel {c} ({name}-like)")
        axes[1].hist(normalised[..., c].ravel(), bins=bins, histtype="step", color=color,
                     label=f"channel {c} ({name}-like)")
    axes[0].set_xlabel("pixel value (0 = black, 1 = white)")
    axes[1].set_xlabel("standardised value (standard deviations from the channel mean)")
    for ax, what in zip(axes, ("as the pipeline gives them", "after the Normalization layer"),
                        strict=True):
        ax.set_yscale("log")
        ax.set_ylabel("pixels (count, log scale)")
        ax.set_title(what)
        ax.legend(fontsize=7)
    fig.suptitle(f"Pixel values of {len(raw)} training images")
    return fig


def tree_sum_figure(errors: Mapping[str, pd.DataFrame], floor: float = 1e-8) -> Figure:
    """Box plots of |sum of a question's answers − parent value| per question, per model.

    Values below ``floor`` are drawn at ``floor`` so a log axis can show exact zeros.
    """
    if not errors:
        raise GalaxyLabError("tree_sum_figure needs at least one model's errors")
    long = pd.concat(
        [frame.abs().clip(lower=floor).melt(var_name="question", value_name="error")
         .assign(model=name) for name, frame in errors.items()], ignore_index=True)
    fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
    sns.boxplot(data=long, x="question", y="error", hue="model", ax=ax, fliersize=1.5,
                palette="colorblind", log_scale=True)
    ax.axhline(1e-3, color="0.4", linestyle=":", linewidth=1,
               label=f"tolerance of tree.check ({tree.DEFAULT_TOLERANCE:g})")
    ax.set_xlabel("question (its answers should sum to the parent answer's value)")
    ax.set_ylabel(f"|sum − parent| (vote fraction, log; < {floor:g} drawn at {floor:g})")
    ax.set_title("Do the predictions obey the decision tree?")
    ax.legend(fontsize=8)
    return fig


def image_grid(images: np.ndarray, titles: Sequence[str] | None = None, *, ncols: int = 8,
               title: str = "Images as the network sees them") -> Figure:
    """Pipeline images (N, H, W, C) in [0, 1] side by side, with optional panel titles."""
    images = np.asarray(images)
    if images.ndim != 4 or len(images) == 0:
        raise GalaxyLabError(f"expected a batch of images (N, H, W, C), got shape {images.shape}")
    if titles is not None and len(titles) != len(images):
        raise GalaxyLabError(f"{len(titles)} titles for {len(images)} images")
    ncols = max(1, min(ncols, len(images)))
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.7 * ncols, 1.8 * nrows + 0.5),
                             squeeze=False, layout="constrained")
    cmap = "gray" if images.shape[-1] == 1 else None
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(images):
            ax.set_axis_off()
            continue
        ax.imshow(np.clip(images[i], 0, 1).squeeze(), cmap=cmap, vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    size = images.shape[1]
    fig.suptitle(f"{title} ({size}×{size} px)")
    return fig


def prediction_scatter(votes: pd.DataFrame, predictions: pd.DataFrame,
                       columns: Sequence[str], threshold: float | None = None) -> Figure:
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
    fig, axes = plt.subplots(1, len(columns), figsize=(3.8 * len(columns), 3.9), squeeze=False,
                             layout="constrained")
    for ax, column in zip(axes[0], columns, strict=True):
        x = votes[column].to_numpy(float)
        y = predictions[column].to_numpy(float)
        ok = np.isfinite(x) & np.isfinite(y)
        rmse = float(np.sqrt(np.mean((x[ok] - y[ok]) ** 2))) if ok.any() else np.nan
        ax.scatter(x[ok], y[ok], s=6, alpha=0.5)
        ax.plot([0, 1], [0, 1], color="0.4", linestyle="--", linewidth=1, label="y = x")
        if threshold is not None:
            ax.axvline(threshold, color="tab:red", linewidth=0.8, linestyle=":")
            ax.axhline(threshold, color="tab:red", linewidth=0.8, linestyle=":",
                       label=f"threshold {threshold:g}")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("volunteers' vote fraction (0–1)")
        ax.set_ylabel("predicted vote fraction (0–1)")
        ax.set_title(f"{tree.answer_label(column)}\nRMSE {rmse:.3f}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Predictions against the volunteers ({len(votes)} galaxies)")
    return fig


def crosstab_heatmap(rows: Sequence, columns: Sequence, *, ylabel: str, xlabel: str,
                     title: str, normalise: bool = False) -> Figure:
    """A heatmap of how often each pair (row value, column value) occurs, e.g. a model's
    classes against the simulation's true galaxy types; ``normalise`` divides each row."""
    table = pd.crosstab(pd.Series(list(rows), name=ylabel), pd.Series(list(columns), name=xlabel),
                        normalize="index" if normalise else False)
    fig, ax = plt.subplots(figsize=(1.2 * table.shape[1] + 3, 0.6 * table.shape[0] + 2),
                           layout="constrained")
    sns.heatmap(table, annot=True, fmt=".2f" if normalise else "d", cmap="Blues", ax=ax,
                cbar_kws={"label": "fraction of the row (0–1)" if normalise
                          else plots.COUNT_LABEL})
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def outcome_gallery(catalog: pd.DataFrame, y_true: Sequence, y_pred: Sequence, *,
                    which: str = "wrong", probabilities: np.ndarray | None = None,
                    names: Sequence[str] = labels.THREE_CLASSES, n: int = 8, ncols: int = 4,
                    seed: int = 0, crop: int | None = 207) -> Figure:
    """A gallery of correctly or wrongly classified galaxies, titled "true → predicted".

    ``y_true`` and ``y_pred`` hold class indices into ``names``; with ``probabilities`` (N,
    classes) each title also gives the model's probability for its chosen class. The most
    confident mistakes (or successes) come first when probabilities are given.
    """
    if which not in ("wrong", "correct"):
        raise GalaxyLabError(f"which must be 'wrong' or 'correct', not {which!r}")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if not len(y_true) == len(y_pred) == len(catalog):
        raise GalaxyLabError(f"{len(catalog)} galaxies, {len(y_true)} true labels and "
                             f"{len(y_pred)} predictions")
    chosen = np.flatnonzero((y_true == y_pred) == (which == "correct"))
    if len(chosen) == 0:
        raise GalaxyLabError(f"no {which} predictions to show")
    if probabilities is not None:
        confidence = np.asarray(probabilities)[chosen, y_pred[chosen]]
        chosen = chosen[np.argsort(-confidence, kind="stable")][:n]
    else:
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.permutation(chosen)[:n])
    titles = []
    for i in chosen:
        text = f"{names[y_true[i]]} → {names[y_pred[i]]}"
        if probabilities is not None:
            text += f" ({probabilities[i, y_pred[i]]:.2f})"
        titles.append(text)
    shown = catalog.iloc[chosen]
    total = int(((y_true == y_pred) == (which == "correct")).sum())
    kind = "Wrong" if which == "wrong" else "Correct"
    fig = plots.gallery(shown, n=len(shown), ncols=ncols, titles=titles, crop=crop,
                        title=f"{kind} predictions ({len(shown)} of {total}; "
                              "true → predicted (probability))")
    return fig
