"""Figures for the course: galaxy galleries, class balance, vote fractions, the decision tree,
training curves, confusion matrices and per-question errors.

Every function returns the matplotlib Figure it drew (and takes an optional ``ax`` where one
panel is enough), so notebooks can show, save or restyle it. Every figure carries a title and
axis labels with units. Galleries read only the images they show.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch
from matplotlib.text import Text

from galaxylab import tree
from galaxylab.errors import GalaxyLabError

FRACTION_LABEL = "vote fraction (cumulative, 0–1)"
COUNT_LABEL = "galaxies (count)"


# --------------------------------------------------------------------------- helpers


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _label_columns(catalog: pd.DataFrame, columns: Sequence[str] | None = None) -> list[str]:
    """The requested label columns, or every one of the 37 the catalog carries."""
    if columns is None:
        columns = [c for c in tree.COLUMNS if c in catalog.columns]
    columns = list(columns)
    missing = [c for c in columns if c not in catalog.columns]
    if missing:
        raise GalaxyLabError(f"catalog has no column(s) {', '.join(missing)}")
    if not columns:
        raise GalaxyLabError("catalog carries none of the 37 Galaxy Zoo label columns")
    return columns


def _short(column: str) -> str:
    """``Class4.1`` → ``4.1``: compact tick labels."""
    return column.removeprefix("Class")


def pick(catalog: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows drawn without replacement by ``seed`` (all rows, in order, if there are fewer)."""
    if len(catalog) <= n:
        return catalog
    return catalog.sample(n=n, random_state=seed)


def question_shares(galaxy: pd.Series) -> np.ndarray:
    """One catalog row's 37 per-question shares (fraction of those who reached each question);
    NaN where a column is missing or its question was reached by nobody."""
    return tree.to_fractions(np.array([galaxy.get(c, np.nan) for c in tree.COLUMNS], float))


def to_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes and close it (widgets show figures as images)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def _show_image(ax: Axes, galaxy: pd.Series, crop: int | None = None) -> tuple[int, int]:
    from galaxylab import datasets  # image files and Galaxy10 .h5 rows alike

    pixels = datasets.load_image(galaxy)
    size = pixels.shape[1], pixels.shape[0]
    if crop is not None and crop < min(pixels.shape[:2]):
        top, left = (pixels.shape[0] - crop) // 2, (pixels.shape[1] - crop) // 2
        pixels = pixels[top : top + crop, left : left + crop]
    ax.imshow(pixels)
    ax.set_xticks([])
    ax.set_yticks([])
    return size


def _empty_panel(ax: Axes, text: str = "") -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if text:
        ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def _size_note(sizes: set[tuple[int, int]], crop: int | None = None) -> str:
    if len(sizes) != 1:
        return "images of several sizes (px)"
    width, height = next(iter(sizes))
    note = f"each image {width}×{height} px"
    if crop is not None and crop < min(width, height):
        note += f", central {crop}×{crop} px shown"
    return note


# --------------------------------------------------------------------------- galleries


def gallery(
    catalog: pd.DataFrame,
    n: int = 16,
    ncols: int = 4,
    column: str | None = None,
    titles: Sequence[str] | None = None,
    title: str = "Galaxies",
    seed: int = 0,
    panel_size: float = 2.2,
    crop: int | None = None,
) -> Figure:
    """A grid of galaxy images titled by id (and ``column``'s value), reading only the shown rows.

    ``n`` rows are drawn by ``seed`` when the catalog holds more; pass a pre-selected catalog
    (e.g. ``catalog.head(8)``) to choose them yourself. ``titles`` overrides the panel titles;
    ``crop`` shows only the central ``crop``×``crop`` pixels.
    """
    if len(catalog) == 0:
        raise GalaxyLabError("gallery needs at least one galaxy; the catalog is empty")
    if column is not None:
        _label_columns(catalog, [column])
    shown = pick(catalog, n, seed)
    if titles is not None and len(titles) != len(shown):
        raise GalaxyLabError(f"gallery got {len(titles)} titles for {len(shown)} galaxies")
    ncols = max(1, min(ncols, len(shown)))
    nrows = int(np.ceil(len(shown) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows + 0.6),
        squeeze=False, layout="constrained",
    )
    sizes = set()
    for i, ax in enumerate(axes.flat):
        if i >= len(shown):
            _empty_panel(ax)
            continue
        row = shown.iloc[i]
        sizes.add(_show_image(ax, row, crop))
        if titles is not None:
            label = titles[i]
        elif column is not None:
            label = f"{row['id']}\n{_short(column)} = {row[column]:.2f}"
        else:
            label = str(row["id"])
        ax.set_title(label, fontsize=9)
    fig.suptitle(f"{title} ({_size_note(sizes, crop)})")
    return fig


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
    columns = _label_columns(catalog, columns)
    fig, axes = plt.subplots(
        len(columns), n, figsize=(panel_size * n + 1.2, panel_size * len(columns) + 0.6),
        squeeze=False, layout="constrained",
    )
    sizes = set()
    for r, column in enumerate(columns):
        passing = catalog[catalog[column] >= threshold]
        shown = pick(passing, n, seed).sort_values(column, ascending=False, kind="stable")
        for c, ax in enumerate(axes[r]):
            if c < len(shown):
                row = shown.iloc[c]
                sizes.add(_show_image(ax, row, crop))
                ax.set_title(f"{_short(column)} = {row[column]:.2f}", fontsize=8)
            else:
                _empty_panel(ax, "" if c else f"none ≥ {threshold:g}")
        label = "\n".join(textwrap.wrap(tree.answer_label(column), 18))
        axes[r][0].set_ylabel(f"{label}\n({len(passing)} galaxies)", fontsize=9)
    fig.suptitle(
        f"Galaxies with vote fraction ≥ {threshold:g} for each answer "
        f"({_size_note(sizes, crop)})"
        if sizes else f"No galaxy reaches vote fraction {threshold:g} for these answers"
    )
    return fig


# --------------------------------------------------------------------------- class balance


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
    fig, ax = _new_axes(ax, (5.5, 3.8))
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
    columns = _label_columns(catalog, columns)
    counts = [(catalog[c] > threshold).sum() for c in columns]
    fig, ax = _new_axes(ax, (7.0, 0.24 * len(columns) + 1.4))
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


# --------------------------------------------------------------------------- vote fractions


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
        _label_columns(frame, columns)
    columns = list(columns)
    if kind == "violin":
        long = pd.concat(
            [
                frame[columns].melt(var_name="answer", value_name="fraction").assign(sample=name)
                for name, frame in catalogs.items()
            ],
            ignore_index=True,
        ).dropna()
        long["answer"] = long["answer"].map(_short)
        fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(columns) + 2), 4), layout="constrained")
        sns.violinplot(
            data=long, x="answer", y="fraction", hue="sample" if len(catalogs) > 1 else None,
            cut=0, density_norm="width", inner="quartile", ax=ax,
        )
        ax.set_ylim(0, 1)
        ax.set_xlabel("answer (Kaggle column Class…)")
        ax.set_ylabel(xlabel)
        ax.set_title(f"{title} per answer")
        return fig
    if kind != "hist":
        raise GalaxyLabError(f"vote_distributions kind must be 'hist' or 'violin', not {kind!r}")
    ncols = max(1, min(ncols, len(columns)))
    nrows = int(np.ceil(len(columns) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.3 * ncols, 2.6 * nrows + 0.5), squeeze=False,
        layout="constrained",
    )
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
    for ax in axes.flat[len(columns):]:
        _empty_panel(ax)
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
    columns = _label_columns(catalog, [q.parent, *q.columns])
    parent = catalog[columns[0]].to_numpy(float)
    fig, ax = _new_axes(ax, (5.5, 4.5))
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
    columns = _label_columns(catalog, columns)
    corr = catalog[columns].corr()
    size = 0.22 * len(columns) + 2.5
    fig, ax = _new_axes(ax, (size + 1.0, size))
    labels = [_short(c) for c in columns]
    sns.heatmap(
        corr.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r", square=True, ax=ax,
        xticklabels=labels, yticklabels=labels, cbar_kws={"label": "Pearson correlation (−1 to 1)"},
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
    columns = _label_columns(catalog, columns)
    missing = [f"{prefix}{c}" for c in columns if f"{prefix}{c}" not in truth.columns]
    if missing:
        raise GalaxyLabError(f"truth table has no column(s) {', '.join(missing)}")
    if len(truth) != len(catalog):
        raise GalaxyLabError(f"truth has {len(truth)} rows but the catalog {len(catalog)}")
    if "id" in truth.columns and "id" in catalog.columns:
        mismatch = np.flatnonzero(truth["id"].astype(str).to_numpy()
                                  != catalog["id"].astype(str).to_numpy())
        if len(mismatch):
            raise GalaxyLabError(f"truth row {mismatch[0]} is not the catalog's galaxy "
                                 f"{catalog['id'].iloc[mismatch[0]]}: align them by id first")
    reference = _REFERENCES.get(prefix, prefix.rstrip("_"))
    ncols = max(1, min(ncols, len(columns)))
    nrows = int(np.ceil(len(columns) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.3 * ncols, 3.2 * nrows + 0.5), squeeze=False,
        layout="constrained",
    )
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
                ax.hist(seen[ok & (true == value)], bins=edges, alpha=0.6,
                        label=f"{reference}: {name}")
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
    for ax in axes.flat[len(columns):]:
        _empty_panel(ax)
    fig.suptitle(f"Label noise: volunteers' vote fractions against the {reference}")
    return fig


# --------------------------------------------------------------------------- decision tree

#: Where each question sits in the diagram: (column, row). Chosen for legibility; the boxes,
#: answers and arrows come from :data:`galaxylab.tree.QUESTIONS`.
DIAGRAM_GRID: dict[int, tuple[float, int]] = {
    1: (1.5, 0), 7: (0.0, 1), 2: (2.0, 1), 9: (1.0, 2), 3: (3.0, 2),
    10: (2.0, 3), 4: (3.0, 3), 11: (2.0, 4), 5: (3.0, 4), 6: (1.5, 5), 8: (1.5, 6),
}

_LINE = 0.16  # height of one text line in the diagram, in inches (= data units)
_COLUMN_WIDTH = 2.7  # inches per grid column


def _question_box_text(q: tree.Question) -> str:
    header = rf"$\mathbf{{Q{q.number}}}$  {q.short}"
    text = "\n".join(textwrap.wrap(q.text, 30))
    answers = "\n".join(f"{_short(a.column)} {a.label}" for a in q.answers)
    return f"{header}\n{text}\n{answers}"


def _edges() -> list[tuple[int, int | None, list[str]]]:
    """(question, next question or None for end, answer columns taking that route)."""
    out = []
    for q in tree.QUESTIONS:
        routes: dict[int | None, list[str]] = {}
        for a in q.answers:
            routes.setdefault(a.next_question, []).append(a.column)
        out += [(q.number, nxt, cols) for nxt, cols in routes.items()]
    return out


def tree_diagram(ax: Axes | None = None) -> Figure:
    """The Galaxy Zoo 2 decision tree as a flow chart: 11 question boxes, arrows per answer route.

    An arrow is labelled with the answers that take it when the question has several routes.
    """
    missing = {q.number for q in tree.QUESTIONS} - DIAGRAM_GRID.keys()
    if missing:
        raise GalaxyLabError(f"DIAGRAM_GRID has no place for question(s) {sorted(missing)}")
    texts = {q.number: _question_box_text(q) for q in tree.QUESTIONS}
    n_rows = max(r for _, r in DIAGRAM_GRID.values()) + 1
    row_lines = [
        max(texts[n].count("\n") + 1 for n, (_, r) in DIAGRAM_GRID.items() if r == row)
        for row in range(n_rows)
    ]
    gap = 0.55
    row_height = [lines * _LINE + gap for lines in row_lines]
    row_centre = np.cumsum(row_height) - np.asarray(row_height) / 2
    total = float(sum(row_height))
    width = 4 * _COLUMN_WIDTH + 0.4
    fig, ax = _new_axes(ax, (width, total + 0.6))
    ax.set_xlim(-_COLUMN_WIDTH / 2 - 0.2, 3.5 * _COLUMN_WIDTH + 0.2)
    ax.set_ylim(total, 0)
    ax.set_axis_off()

    boxes = {}
    for number, (col, row) in DIAGRAM_GRID.items():
        boxes[number] = ax.text(
            col * _COLUMN_WIDTH, row_centre[row], texts[number], ha="center", va="center",
            fontsize=8, family="sans-serif", linespacing=1.15,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "#e8f0fb", "edgecolor": "#2b5d9c"},
        )
    end_style = {"boxstyle": "round4,pad=0.3", "facecolor": "#eeeeee", "edgecolor": "#777777"}
    edges = []
    for number, nxt, cols in _edges():
        source = boxes[number]
        if nxt is None:
            x0, y0 = source.get_position()
            target = ax.text(x0 + 0.95 * _COLUMN_WIDTH, y0, "end", ha="center", va="center",
                             fontsize=8, bbox=end_style)
        else:
            target = boxes[nxt]
        several = len(tree.QUESTION_BY_NUMBER[number].answers) != len(cols)
        label = "\n".join(
            f"{_short(c)} {tree.ANSWER_BY_COLUMN[c].label}" for c in cols
        ) if several else ""
        edges.append((source, target, label))

    # Box sizes are known only once text is laid out: labels go halfway along the visible arrow.
    renderer = fig.canvas.get_renderer()
    to_data = ax.transData.inverted()

    def half_size(box: Text) -> np.ndarray:
        corners = to_data.transform(box.get_window_extent(renderer).get_points())
        return np.abs(corners[1] - corners[0]) / 2 + 0.08

    style = {"arrowstyle": "-|>", "mutation_scale": 12, "color": "#333333", "linewidth": 1}
    for source, target, label in edges:
        start, stop = np.asarray(source.get_position()), np.asarray(target.get_position())
        ax.add_patch(FancyArrowPatch(
            tuple(start), tuple(stop), patchA=source.get_bbox_patch(),
            patchB=target.get_bbox_patch(), shrinkA=2, shrinkB=2, **style,
        ))
        if not label:
            continue
        step = np.abs(stop - start) + 1e-9
        leave = float(np.min(half_size(source) / step))
        enter = 1 - float(np.min(half_size(target) / step))
        x, y = start + (leave + enter) / 2 * (stop - start)
        vertical = abs(stop[0] - start[0]) < 0.1
        ax.text(x + 0.1 if vertical else x, y, label, ha="left" if vertical else "center",
                va="center", fontsize=7, color="#8a2b0f",
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none",
                      "alpha": 0.9})
    ax.set_title(
        "The Galaxy Zoo 2 decision tree: 11 questions, 37 answers "
        "(red labels: answers that take an arrow)"
    )
    return fig


# --------------------------------------------------------------------------- training and scores


def history_curves(history: pd.DataFrame, metrics: Sequence[str] | None = None) -> Figure:
    """Training and validation curves, one panel per metric, from a Keras history table.

    ``history`` has one row per epoch and columns like ``loss``, ``val_loss``, ``accuracy``;
    an ``epoch`` column (0-based, as Keras' CSVLogger writes it) sets the x axis.
    """
    if len(history) == 0:
        raise GalaxyLabError("history has no epochs to plot")
    skip = {"epoch", "lr", "learning_rate"}
    if metrics is None:
        metrics = [c for c in history.columns if c not in skip and not c.startswith("val_")]
    metrics = list(metrics)
    missing = [m for m in metrics if m not in history.columns]
    if missing or not metrics:
        raise GalaxyLabError(f"history has no column(s) {', '.join(missing) or '(metrics)'}")
    epochs = history["epoch"].to_numpy() + 1 if "epoch" in history else np.arange(len(history)) + 1
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False, layout="constrained"
    )
    for ax, metric in zip(axes[0], metrics, strict=True):
        ax.plot(epochs, history[metric], marker="o", markersize=3, label="training")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", markersize=3,
                    label="validation")
        ax.set_xlabel("epoch (passes over the training set)")
        ax.set_ylabel(metric.replace("_", " "))
        ax.set_title(metric.replace("_", " "))
        ax.legend(fontsize=8)
    fig.suptitle("Training history")
    return fig


def confusion_heatmaps(
    matrix: np.ndarray | Sequence[Sequence[int]],
    labels: Sequence[str],
    title: str = "Confusion matrix",
) -> Figure:
    """Counts and row-normalised confusion matrices side by side (rows = true class)."""
    counts = np.asarray(matrix, dtype=float)
    if counts.ndim != 2 or counts.shape != (len(labels), len(labels)):
        raise GalaxyLabError(
            f"confusion matrix of shape {counts.shape} does not match {len(labels)} labels"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        rows = counts.sum(axis=1, keepdims=True)
        normalised = np.where(rows > 0, counts / rows, 0.0)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    sns.heatmap(counts, annot=True, fmt=".0f", cmap="Blues", ax=axes[0], xticklabels=labels,
                yticklabels=labels, cbar_kws={"label": COUNT_LABEL})
    sns.heatmap(normalised, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, ax=axes[1],
                xticklabels=labels, yticklabels=labels,
                cbar_kws={"label": "fraction of the true class (0–1)"})
    axes[0].set_title("counts")
    axes[1].set_title("normalised by row (recall on the diagonal)")
    for ax in axes:
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
    fig.suptitle(title)
    return fig


def rmse_bars(
    rmse_per_question: Mapping[int | str, float],
    references: Mapping[str, float] | None = None,
    ax: Axes | None = None,
    title: str = "RMSE per question",
) -> Figure:
    """Bars of RMSE per question (keys 1–11 or "Q1"…), with optional reference lines.

    ``references`` maps a name to an RMSE, e.g. ``{"all zeros": 0.2716}``, drawn as dashed lines.
    """
    if not rmse_per_question:
        raise GalaxyLabError("rmse_bars needs at least one question")
    numbers = []
    for key in rmse_per_question:
        text = str(key).removeprefix("Q")
        if not text.isdigit() or int(text) not in tree.QUESTION_BY_NUMBER:
            raise GalaxyLabError(f"rmse_bars: {key!r} is not a question (1–11 or 'Q1'…)")
        numbers.append(int(text))
    values = list(rmse_per_question.values())
    fig, ax = _new_axes(ax, (7.5, 3.8))
    ticks = [f"Q{n}\n{tree.QUESTION_BY_NUMBER[n].short}" for n in numbers]
    bars = ax.bar(range(len(values)), values, color=sns.color_palette("colorblind")[0])
    ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
    ax.set_xticks(range(len(values)), ticks, fontsize=7)
    palette = sns.color_palette("dark", max(len(references or {}), 1))
    for color, (name, value) in zip(palette, (references or {}).items(), strict=False):
        ax.axhline(value, linestyle="--", linewidth=1, color=color, label=f"{name}: {value:.4f}")
    if references:
        ax.legend(fontsize=8)
    ax.set_xlabel("question")
    ax.set_ylabel("RMSE (vote fraction, 0–1)")
    ax.set_title(title)
    return fig


def path_votes(
    galaxy: pd.Series, chosen: Sequence[str], title: str = "Your answers and the crowd's"
) -> Figure:
    """For each question on a volunteer's path, the crowd's vote shares with the chosen answer
    highlighted: share = fraction of the volunteers who reached that question (0–1).

    ``galaxy`` is one catalog row; ``chosen`` the answer columns picked, in order.
    """
    if not chosen:
        raise GalaxyLabError("path_votes needs at least one answered question")
    shares = question_shares(galaxy)
    questions = [tree.QUESTION_BY_NUMBER[tree.QUESTION_OF_COLUMN[c]] for c in chosen]
    height = 0.34 * sum(len(q.answers) for q in questions) + 0.75 * len(chosen) + 0.6
    fig, axes = plt.subplots(
        len(chosen), 1, figsize=(6.4, height), squeeze=False, layout="constrained"
    )
    highlight, other = sns.color_palette("colorblind")[1], "0.7"
    for ax, column, q in zip(axes[:, 0], chosen, questions, strict=True):
        values = [shares[tree.COLUMN_INDEX[c]] for c in q.columns]
        known = np.nan_to_num(values, nan=0.0)
        colors = [highlight if c == column else other for c in q.columns]
        bars = ax.barh(range(len(values)), known, color=colors)
        ax.bar_label(bars, labels=["?" if np.isnan(v) else f"{v:.2f}" for v in values],
                     padding=2, fontsize=7)
        ax.set_yticks(range(len(values)), [a.label for a in q.answers], fontsize=8)
        for tick, c in zip(ax.get_yticklabels(), q.columns, strict=True):
            if c == column:  # visible even when the crowd gave this answer no votes
                tick.set_fontweight("bold")
                tick.set_color(highlight)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.1)
        ax.set_title(f"Q{q.number} {q.text}", fontsize=9, loc="left")
        ax.set_xlabel("share of the crowd at this question (0–1)", fontsize=8)
        ax.set_ylabel("answer", fontsize=8)
    fig.suptitle(f"{title}\n(highlighted: the answer chosen; ?: votes not in this catalog)",
                 fontsize=10)
    return fig
