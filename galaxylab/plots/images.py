"""Figures of galaxy images: galleries of catalog rows or pipeline arrays, one row per answer,
right and wrong predictions, saliency maps over their images, and one image at several levels
of noise or blur.

Galleries of catalog rows read only the images they show.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from galaxylab import labels, tree
from galaxylab.datasets.pixels import row_pixels
from galaxylab.errors import GalaxyLabError
from galaxylab.explain import PERTURBATIONS
from galaxylab.plots.common import empty_panel, label_columns, panel_grid, pick, short


def _show_image(ax: Axes, galaxy: pd.Series, crop: int | None = None) -> tuple[int, int]:
    pixels = row_pixels(galaxy)  # image files and Galaxy10 .h5 rows alike
    size = pixels.shape[1], pixels.shape[0]
    if crop is not None and crop < min(pixels.shape[:2]):
        top, left = (pixels.shape[0] - crop) // 2, (pixels.shape[1] - crop) // 2
        pixels = pixels[top : top + crop, left : left + crop]
    ax.imshow(pixels)
    ax.set_xticks([])
    ax.set_yticks([])
    return size


def _size_note(sizes: set[tuple[int, int]], crop: int | None = None) -> str:
    if len(sizes) != 1:
        return "images of several sizes (px)"
    width, height = next(iter(sizes))
    note = f"each image {width}×{height} px"
    if crop is not None and crop < min(width, height):
        note += f", central {crop}×{crop} px shown"
    return note


def _array_panels(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or len(images) == 0:
        raise GalaxyLabError(f"expected a batch of images (N, H, W, C), got shape {images.shape}")
    return images


def gallery(
    images: pd.DataFrame | np.ndarray,
    n: int | None = None,
    ncols: int = 4,
    column: str | None = None,
    titles: Sequence[str] | None = None,
    title: str | None = None,
    seed: int = 0,
    panel_size: float = 2.2,
    crop: int | None = None,
) -> Figure:
    """A grid of galaxy images: catalog rows (read from disk, only those shown) or an array.

    For a catalog, ``n`` rows (default 16) are drawn by ``seed`` when it holds more; pass a
    pre-selected catalog (e.g. ``catalog.head(8)``) to choose them yourself. Panels are titled
    by id and ``column``'s value; ``crop`` shows only the central ``crop``×``crop`` pixels. An
    array (N, H, W, C) in [0, 1], such as a batch from :mod:`galaxylab.pipeline`, is shown as
    the network sees it (the first ``n`` images, default all). ``titles`` overrides the panel
    titles.
    """
    is_array = not isinstance(images, pd.DataFrame)
    if is_array:
        shown = _array_panels(images)[:n]
    else:
        if len(images) == 0:
            raise GalaxyLabError("gallery needs at least one galaxy; the catalog is empty")
        if column is not None:
            label_columns(images, [column])
        shown = pick(images, 16 if n is None else n, seed)
    if titles is not None and len(titles) != len(shown):
        raise GalaxyLabError(f"gallery got {len(titles)} titles for {len(shown)} galaxies")
    fig, axes = panel_grid(len(shown), ncols, (panel_size, panel_size), extra_height=0.6)
    sizes = set()
    for i, ax in enumerate(axes.flat):
        if i >= len(shown):
            empty_panel(ax)
            continue
        if is_array:
            _show_array(ax, shown[i])
            label = titles[i] if titles is not None else ""
        else:
            row = shown.iloc[i]  # type: ignore[attr-defined]
            sizes.add(_show_image(ax, row, crop))
            if titles is not None:
                label = titles[i]
            elif column is not None:
                label = f"{row['id']}\n{short(column)} = {row[column]:.2f}"
            else:
                label = str(row["id"])
        if label:
            ax.set_title(label, fontsize=8 if is_array else 9)
    if is_array:
        side = shown.shape[1]
        fig.suptitle(f"{title or 'Images as the network sees them'} ({side}×{side} px)")
    else:
        fig.suptitle(f"{title or 'Galaxies'} ({_size_note(sizes, crop)})")
    return fig


def _show_array(ax: Axes, image: np.ndarray) -> None:
    """One pipeline image (H, W, C) in [0, 1], grey when it has one channel."""
    cmap = "gray" if image.shape[-1] == 1 else None
    ax.imshow(np.clip(image, 0, 1).squeeze(), cmap=cmap, vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


def answer_gallery(
    catalog: pd.DataFrame,
    columns: Sequence[str],
    threshold: float = 0.5,
    n: int = 5,
    seed: int = 0,
    panel_size: float = 1.9,
    crop: int | None = None,
) -> Figure:
    """One row per answer: ``n`` galaxies whose vote fraction for it is at least ``threshold``.

    The row label names the answer and how many galaxies pass, so a student sees both what an
    answer looks like and how rare it is. ``crop`` shows only the central pixels.
    """
    columns = label_columns(catalog, columns)
    fig, axes = plt.subplots(
        len(columns),
        n,
        figsize=(panel_size * n + 1.2, panel_size * len(columns) + 0.6),
        squeeze=False,
        layout="constrained",
    )
    sizes = set()
    for r, column in enumerate(columns):
        passing = catalog[catalog[column] >= threshold]
        shown = pick(passing, n, seed).sort_values(column, ascending=False, kind="stable")
        for c, ax in enumerate(axes[r]):
            if c < len(shown):
                row = shown.iloc[c]
                sizes.add(_show_image(ax, row, crop))
                ax.set_title(f"{short(column)} = {row[column]:.2f}", fontsize=8)
            else:
                empty_panel(ax, "" if c else f"none ≥ {threshold:g}")
        label = "\n".join(textwrap.wrap(tree.answer_label(column), 18))
        axes[r][0].set_ylabel(f"{label}\n({len(passing)} galaxies)", fontsize=9)
    fig.suptitle(
        f"Galaxies with vote fraction ≥ {threshold:g} for each answer ({_size_note(sizes, crop)})"
        if sizes
        else f"No galaxy reaches vote fraction {threshold:g} for these answers"
    )
    return fig


def outcome_gallery(
    catalog: pd.DataFrame,
    y_true: Sequence,
    y_pred: Sequence,
    *,
    which: str = "wrong",
    probabilities: np.ndarray | None = None,
    names: Sequence[str] = labels.THREE_CLASSES,
    n: int = 8,
    ncols: int = 4,
    seed: int = 0,
    crop: int | None = 207,
) -> Figure:
    """A gallery of correctly or wrongly classified galaxies, titled "true → predicted".

    ``y_true`` and ``y_pred`` hold class indices into ``names``; with ``probabilities`` (N,
    classes) each title also gives the model's probability for its chosen class. The most
    confident mistakes (or successes) come first when probabilities are given.
    """
    if which not in ("wrong", "correct"):
        raise GalaxyLabError(f"which must be 'wrong' or 'correct', not {which!r}")
    truth, guess = np.asarray(y_true), np.asarray(y_pred)
    if not len(truth) == len(guess) == len(catalog):
        raise GalaxyLabError(
            f"{len(catalog)} galaxies, {len(truth)} true labels and {len(guess)} predictions"
        )
    chosen = np.flatnonzero((truth == guess) == (which == "correct"))
    if len(chosen) == 0:
        raise GalaxyLabError(f"no {which} predictions to show")
    if probabilities is not None:
        confidence = np.asarray(probabilities)[chosen, guess[chosen]]
        chosen = chosen[np.argsort(-confidence, kind="stable")][:n]
    else:
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.permutation(chosen)[:n])
    titles = []
    for i in chosen:
        text = f"{names[int(truth[i])]} → {names[int(guess[i])]}"
        if probabilities is not None:
            text += f" ({probabilities[i, int(guess[i])]:.2f})"
        titles.append(text)
    shown = catalog.iloc[chosen]
    total = int(np.sum((truth == guess) == (which == "correct")))
    kind = "Wrong" if which == "wrong" else "Correct"
    fig = gallery(
        shown,
        n=len(shown),
        ncols=ncols,
        titles=titles,
        crop=crop,
        title=f"{kind} predictions ({len(shown)} of {total}; true → predicted (probability))",
    )
    return fig


def mistake_gallery(
    catalog: pd.DataFrame,
    y_true: Sequence,
    y_pred: Sequence,
    *,
    probabilities: np.ndarray | None = None,
    names: Sequence[str] = labels.THREE_CLASSES,
    per_kind: int = 4,
    notes: Sequence[str] | None = None,
    crop: int | None = 207,
) -> Figure:
    """Every kind of mistake, one row each: galaxies of each (true, predicted) pair that occurs.

    Rows are ordered by how often the mistake happens and labelled "true → predicted" with that
    count; with ``probabilities`` the most confident mistakes of a row come first and each
    title gives the model's probability for its choice. ``notes`` (one string per galaxy, e.g.
    its vote fraction) adds a line to each title.
    """
    truth, guess = np.asarray(y_true), np.asarray(y_pred)
    if not len(truth) == len(guess) == len(catalog):
        raise GalaxyLabError(
            f"{len(catalog)} galaxies, {len(truth)} true labels and {len(guess)} predictions"
        )
    if notes is not None and len(notes) != len(catalog):
        raise GalaxyLabError(f"{len(notes)} notes for {len(catalog)} galaxies")
    pairs, counts = np.unique(
        np.stack([truth, guess], axis=1)[truth != guess], axis=0, return_counts=True
    )
    if len(pairs) == 0:
        raise GalaxyLabError("no wrong predictions to show")
    order = np.argsort(-counts, kind="stable")
    fig, axes = plt.subplots(
        len(order),
        per_kind,
        squeeze=False,
        layout="constrained",
        figsize=(2.2 * per_kind + 0.6, 2.45 * len(order) + 0.6),
    )
    sizes = set()
    for row, k in enumerate(order):
        (t, g), count = pairs[k], int(counts[k])
        chosen = np.flatnonzero((truth == t) & (guess == g))
        if probabilities is not None:
            confidence = np.asarray(probabilities)[chosen, g]
            chosen = chosen[np.argsort(-confidence, kind="stable")]
        for j, ax in enumerate(axes[row]):
            if j >= len(chosen):
                empty_panel(ax)
                continue
            i = int(chosen[j])
            sizes.add(_show_image(ax, catalog.iloc[i], crop))
            lines = [f"p = {probabilities[i, g]:.2f}" if probabilities is not None else ""]
            lines += [notes[i]] if notes is not None else []
            ax.set_title("\n".join(line for line in lines if line), fontsize=8)
        galaxies = "galaxy" if count == 1 else "galaxies"
        axes[row, 0].set_ylabel(
            f"{names[int(t)]} → {names[int(g)]}\n({count} {galaxies})", fontsize=9
        )
    fig.suptitle(
        f"Every kind of mistake: true → predicted, {per_kind} per row at most "
        f"({_size_note(sizes, crop)})"
    )
    return fig


def saliency_figure(
    images: np.ndarray,
    maps: Mapping[str, np.ndarray],
    titles: Sequence[str] | None = None,
    title: str = "Where the network looks",
) -> Figure:
    """One column per image: the image, then each map (e.g. saliency, Grad-CAM) over it."""
    images = np.asarray(images)
    n = len(images)
    if any(len(m) != n for m in maps.values()):
        raise GalaxyLabError("every map needs one entry per image")
    rows = 1 + len(maps)
    fig, axes = plt.subplots(
        rows, n, figsize=(1.9 * n + 0.8, 1.9 * rows + 0.6), squeeze=False, layout="constrained"
    )
    grey = images.mean(axis=-1)
    size = images.shape[1]
    for j in range(n):
        axes[0, j].imshow(np.clip(images[j], 0, 1).squeeze())
        if titles is not None:
            axes[0, j].set_title(titles[j], fontsize=8)
        for r, (name, stack) in enumerate(maps.items(), 1):
            axes[r, j].imshow(grey[j], cmap="gray")
            shown = axes[r, j].imshow(stack[j], cmap="inferno", alpha=0.6, vmin=0, vmax=1)
            if j == 0:
                axes[r, j].set_ylabel(name)
        axes[0, 0].set_ylabel("image")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(
        shown, ax=axes[1:, :].ravel().tolist(), shrink=0.8, label="relevance (0–1, per image)"
    )
    fig.suptitle(f"{title} ({size}×{size} px inputs)")
    return fig


def perturbation_gallery(
    image: np.ndarray, kind: str, levels: Sequence[float], unit: str
) -> Figure:
    """One image at each perturbation level σ (in ``unit``), so the numbers on a robustness
    curve have a look."""
    if kind not in PERTURBATIONS:
        raise GalaxyLabError(f"kind must be one of {', '.join(PERTURBATIONS)}, not {kind!r}")
    shown = np.stack(
        [PERTURBATIONS[kind](np.asarray(image)[None], float(level))[0] for level in levels]
    )
    return gallery(
        shown,
        titles=[f"σ = {level:g}" for level in levels],
        ncols=len(levels),
        title=f"One galaxy with added {kind} (σ in {unit}), as the network sees it",
    )
