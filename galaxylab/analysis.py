"""Looking inside trained models: cached course runs, comparisons, mistakes, label noise,
saliency and Grad-CAM maps, and robustness to noise and blur (notebooks 02-05).

:func:`trained_run` gives notebooks 04 and 05 the same trained models: it trains with
:func:`galaxylab.train.train` once, into ``config.data_dir()/"runs"/<key>`` (the key names the
task, the mode and a hash of the settings), and reuses that RUN folder afterwards. The figure
functions return a matplotlib Figure with a title, axis labels and units, as
:mod:`galaxylab.plots` does; the array functions take float32 images in [0, 1] shaped
``(N, height, width, channels)``, which is what :mod:`galaxylab.pipeline` gives.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from galaxylab import __version__, config, labels, plots, runs, tree
from galaxylab.errors import GalaxyLabError

if TYPE_CHECKING:
    import keras

# --------------------------------------------------------------------------- lesson settings


@dataclass(frozen=True)
class Lesson:
    """Image size, epochs, batch size and seed the course notebooks train with."""

    image_size: int
    epochs: int
    batch_size: int = 32
    seed: int = 0


#: Quick mode (CI): tiny images and two epochs, so every notebook runs in well under a minute.
QUICK_LESSON = Lesson(image_size=32, epochs=2)
#: Default mode: 48-pixel crops and 6 epochs keep a notebook's training to a few minutes on a
#: two-core laptop (64 px doubles the cost of every epoch).
FULL_LESSON = Lesson(image_size=48, epochs=6)


def lesson() -> Lesson:
    """The settings for the current mode: QUICK_LESSON when GALAXYLAB_QUICK is on, else FULL."""
    return QUICK_LESSON if config.quick_mode() else FULL_LESSON


# --------------------------------------------------------------------------- cached runs

RUNS_DIR = "runs"


@dataclass
class Run:
    """A complete RUN folder written by :func:`galaxylab.train.train`, and what it holds."""

    path: Path
    config: dict
    metrics: dict
    history: pd.DataFrame

    @property
    def task(self) -> str:
        """"three-class" or "decision-tree"."""
        return self.config["task"]

    @property
    def image_options(self) -> dict:
        """The preprocessing the model was trained with (for pipeline.make_dataset)."""
        return {"image_size": int(self.config["image_size"]),
                "crop_fraction": float(self.config["crop_fraction"]),
                "greyscale": bool(self.config["greyscale"])}

    def model(self) -> keras.Model:
        """Load the trained model (a fresh copy at every call)."""
        from galaxylab import evaluate

        return evaluate.load_model(self.path / runs.MODEL)

    def part(self, catalog: pd.DataFrame, name: str = "test") -> pd.DataFrame:
        """The rows of ``catalog`` in the run's "train", "val" or "test" split, in split order.

        The catalog's ``attrs`` (source, root) are kept, so course.truth() works on the result.
        """
        if name not in self.config["split"]:
            raise GalaxyLabError(f"a run has the splits train, val and test, not {name!r}")
        ids = [str(i) for i in self.config["split"][name]]
        mapping = Path(self.config["data"]) / SAMPLE_IDS
        if mapping.is_file():  # trained on a sample source: back to the catalog's ids
            table = pd.read_csv(mapping, dtype=str)
            original = dict(zip(table["id"], table["original_id"], strict=True))
            ids = [original.get(i, i) for i in ids]
        by_id = catalog.assign(id=catalog["id"].astype(str)).set_index("id", drop=False)
        missing = [i for i in ids if i not in by_id.index]
        if missing:
            raise GalaxyLabError(f"{self.path}: galaxy {missing[0]} of the {name} split is not "
                                 "in this catalog; was the run trained on another source?")
        out = by_id.loc[ids].reset_index(drop=True)
        out.attrs = dict(catalog.attrs)
        return out


def read_run(path: str | os.PathLike) -> Run:
    """A complete RUN folder as a :class:`Run`; GalaxyLabError if it is not complete."""
    path = Path(path)
    if not runs.is_complete(path):
        raise GalaxyLabError(f"{path}: not a complete run (model, history, config, metrics)")
    return Run(path=path, config=runs.read_json(path / runs.CONFIG),
               metrics=runs.read_json(path / runs.METRICS),
               history=pd.read_csv(path / runs.HISTORY))


def run_settings(task: str, data: str | os.PathLike, *, balance: str | None = None,
                 architecture: str = "small", image_size: int | None = None,
                 epochs: int | None = None, seed: int | None = None,
                 batch_size: int | None = None) -> dict:
    """Every setting that decides a course run, with the current lesson's defaults filled in."""
    chosen = lesson()
    if balance is None:
        balance = "upsample" if task == "three-class" else "none"
    return {
        "task": task,
        "data": str(Path(data).expanduser().resolve()),
        "mode": "quick" if config.quick_mode() else "full",
        "balance": balance,
        "architecture": architecture if task == "decision-tree" else None,
        "image_size": int(image_size or chosen.image_size),
        "epochs": int(epochs or chosen.epochs),
        "seed": int(chosen.seed if seed is None else seed),
        "batch_size": int(batch_size or chosen.batch_size),
        "galaxylab": __version__,
    }


def run_path(settings: dict) -> Path:
    """Where the run with these settings is cached: data_dir()/runs/<task>-<mode>-<hash>."""
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    name = f"{settings['task']}-{settings['mode']}-{settings['image_size']}px-{digest}"
    return config.data_dir() / RUNS_DIR / name


def _link(target: Path, link: Path) -> None:
    """Link ``link`` to the image ``target`` (a symbolic link, else a copy)."""
    try:
        link.symlink_to(Path(target).resolve())
    except OSError:  # e.g. Windows without the right to make symbolic links
        shutil.copyfile(target, link)


#: In a sample source: each galaxy's id there and its id in the catalog it was drawn from.
SAMPLE_IDS = "sample_ids.csv"


def _safe_name(galaxy_id: str) -> str:
    """An id as a plain file name: path separators and odd characters become "_"."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(galaxy_id)) or "galaxy"


def sample_source(catalog: pd.DataFrame) -> Path:
    """A data source holding exactly ``catalog``'s galaxies, for training on a sample of a source.

    Quick mode trains on course.catalog()'s random sample of a large real source, but
    :func:`galaxylab.train.train` reads a source folder; this writes one (once) under
    data_dir()/runs/samples: the Kaggle layout with the sample's vote fractions when it has any,
    else class folders named by the three-class label. Images are linked, not copied (Galaxy10
    rows, which live inside an .h5 file, are written as PNG files). SAMPLE_IDS maps the
    sample's ids back to the catalog's.
    """
    from PIL import Image

    from galaxylab import datasets

    ids = catalog["id"].astype(str).tolist()
    key = hashlib.sha1("\n".join([str(catalog.attrs.get("root")), *ids]).encode()).hexdigest()
    out = config.data_dir() / RUNS_DIR / "samples" / f"sample-{len(catalog)}-{key[:10]}"
    if (out / SAMPLE_IDS).is_file():
        return out
    columns = [c for c in tree.COLUMNS if c in catalog.columns and catalog[c].notna().any()]
    classes = labels.three_class(catalog)
    if not columns and classes.isna().all():
        raise GalaxyLabError(f"{catalog.attrs.get('root')}: the sample has neither vote "
                             "fractions nor three-class labels to train on")
    work = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    new_ids = []
    try:
        for (_, row), galaxy, label in zip(catalog.iterrows(), ids, classes, strict=True):
            if not columns and pd.isna(label):
                new_ids.append(None)
                continue
            h5 = pd.notna(row.get("h5_index", np.nan))
            suffix = ".png" if h5 else Path(str(row["image"])).suffix.lower()
            name = _safe_name(Path(galaxy).stem if not columns else galaxy)
            if columns:
                relative = Path("images_training_rev1") / f"{name}.jpg"
                new_ids.append(name)
            else:
                relative = Path(str(label)) / f"{name}{suffix}"
                new_ids.append(relative.as_posix())
            (work / relative).parent.mkdir(parents=True, exist_ok=True)
            if h5:
                Image.fromarray(datasets.load_image(row)).save(work / relative, format="PNG")
            else:
                _link(Path(str(row["image"])), work / relative)
        if columns:
            table = catalog[columns].assign(**{tree.ID_COLUMN: new_ids})
            table[[tree.ID_COLUMN, *columns]].to_csv(work / "training_solutions_rev1.csv",
                                                     index=False)
        pd.DataFrame({"id": new_ids, "original_id": ids}).dropna().to_csv(
            work / SAMPLE_IDS, index=False)
        os.replace(work, out)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
        if not (out / SAMPLE_IDS).is_file():  # another process may have written it first
            raise
    return out


def training_source(catalog: pd.DataFrame) -> Path:
    """The source folder (or file) to train on for ``catalog``: its own root, or, for quick
    mode's sample of a real source ($GALAXYLAB_SOURCE), a :func:`sample_source` of it."""
    from galaxylab import course

    root = catalog.attrs.get("root")
    if not root:
        raise GalaxyLabError("the catalog does not say which source it came from (attrs root)")
    if config.quick_mode() and course.source() is not None:
        return sample_source(catalog)
    return Path(root)


def trained_run(task: str, catalog: pd.DataFrame | None = None, *,
                balance: str | None = None, architecture: str = "small",
                image_size: int | None = None, epochs: int | None = None,
                seed: int | None = None, progress: bool = True) -> Run:
    """The course's trained model for ``task``: reused from the cache, else trained now.

    ``catalog`` defaults to ``course.catalog()`` (the synthetic universe, or $GALAXYLAB_SOURCE);
    image size, epochs and seed default to :func:`lesson`. Training goes through
    :func:`galaxylab.train.train`, so an interrupted run resumes where it stopped.
    """
    from galaxylab import course, train

    if catalog is None:
        catalog = course.catalog()
    data = training_source(catalog)
    settings = run_settings(task, data, balance=balance, architecture=architecture,
                            image_size=image_size, epochs=epochs, seed=seed)
    out = run_path(settings)
    if not runs.is_complete(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        train.train(task, settings["data"], out, epochs=settings["epochs"],
                    image_size=settings["image_size"], seed=settings["seed"],
                    batch_size=settings["batch_size"], architecture=architecture,
                    balance=settings["balance"], progress=progress)
    return read_run(out)


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


# --------------------------------------------------------------------------- saliency


def _output_index(predictions: np.ndarray, index: int | Sequence[int] | None) -> np.ndarray:
    if index is None:
        return np.argmax(predictions, axis=1)
    return np.broadcast_to(np.asarray(index, dtype=np.int64), (len(predictions),))


def saliency_maps(model: keras.Model, images: np.ndarray,
                  index: int | Sequence[int] | None = None) -> np.ndarray:
    """Vanilla gradient saliency: |∂ output / ∂ pixel|, maximum over colour channels.

    ``index`` picks the output (class or answer column) per image; None takes each image's
    highest output. Returns (N, height, width), each map scaled to a maximum of 1.
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(images)
        outputs = model(images, training=False)
        chosen = _output_index(outputs.numpy(), index)
        picked = tf.gather(outputs, chosen, axis=1, batch_dims=1)
    grads = tape.gradient(picked, images).numpy()
    maps = np.abs(grads).max(axis=-1)
    return maps / np.maximum(maps.max(axis=(1, 2), keepdims=True), 1e-12)


def last_conv_layer(model: keras.Model) -> str:
    """The last layer with an image-like (4-D) output that is not a pooling or input layer:
    Grad-CAM's default layer (the last convolution block of the course's own networks)."""
    import keras

    skip = (keras.layers.InputLayer, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    for layer in reversed(model.layers):
        shape = getattr(getattr(layer, "output", None), "shape", None)
        if shape is not None and len(shape) == 4 and not isinstance(layer, skip):
            return layer.name
    raise GalaxyLabError(f"model {model.name} has no convolutional layer for Grad-CAM")


def grad_cam(model: keras.Model, images: np.ndarray, index: int | Sequence[int] | None = None,
             layer: str | None = None) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017): where in the image a conv layer saw evidence for the
    chosen output. Returns (N, height, width) maps in [0, 1], upsampled to the image size.
    """
    import keras
    import tensorflow as tf

    layer = layer or last_conv_layer(model)
    probe = keras.Model(model.inputs, [model.get_layer(layer).output, model.outputs[0]])
    images = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    with tf.GradientTape() as tape:
        features, outputs = probe(images, training=False)
        chosen = _output_index(outputs.numpy(), index)
        picked = tf.gather(outputs, chosen, axis=1, batch_dims=1)
    grads = tape.gradient(picked, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))[..., None]
    cam = tf.image.resize(cam, images.shape[1:3], method="bilinear")[..., 0].numpy()
    return cam / np.maximum(cam.max(axis=(1, 2), keepdims=True), 1e-12)


def saliency_figure(images: np.ndarray, maps: Mapping[str, np.ndarray],
                    titles: Sequence[str] | None = None,
                    title: str = "Where the network looks") -> Figure:
    """One column per image: the image, then each map (e.g. saliency, Grad-CAM) over it."""
    images = np.asarray(images)
    n = len(images)
    if any(len(m) != n for m in maps.values()):
        raise GalaxyLabError("every map needs one entry per image")
    rows = 1 + len(maps)
    fig, axes = plt.subplots(rows, n, figsize=(1.9 * n + 0.8, 1.9 * rows + 0.6), squeeze=False,
                             layout="constrained")
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
    fig.colorbar(shown, ax=axes[1:, :].ravel().tolist(), shrink=0.8,
                 label="relevance (0–1, per image)")
    fig.suptitle(f"{title} ({size}×{size} px inputs)")
    return fig


# --------------------------------------------------------------------------- robustness


def add_noise(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Images plus Gaussian noise of standard deviation ``sigma`` (in [0, 1] pixel units),
    clipped back to [0, 1]; repeatable for a seed."""
    if sigma < 0:
        raise GalaxyLabError(f"noise sigma must be non-negative, got {sigma}")
    rng = np.random.default_rng(seed)
    noisy = images + rng.normal(0.0, sigma, size=np.shape(images)).astype(np.float32)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Images convolved with a Gaussian of ``sigma`` pixels (each channel), like a worse PSF."""
    from scipy.ndimage import gaussian_filter

    if sigma < 0:
        raise GalaxyLabError(f"blur sigma must be non-negative, got {sigma}")
    if sigma == 0:
        return np.asarray(images, dtype=np.float32)
    return gaussian_filter(np.asarray(images, dtype=np.float32), sigma=(0, sigma, sigma, 0),
                           mode="nearest")


PERTURBATIONS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "noise": add_noise,
    "blur": blur,
}


def robustness_curve(model: keras.Model, images: np.ndarray, y_true: np.ndarray,
                     score: Callable[[np.ndarray, np.ndarray], float], *,
                     kind: str = "noise", levels: Sequence[float] = (0, 0.02, 0.05, 0.1, 0.2),
                     batch_size: int = 64) -> pd.DataFrame:
    """The model's ``score(y_true, prediction)`` on images perturbed by ``kind`` at each level.

    ``kind`` is "noise" (Gaussian, sigma in [0, 1] pixel units) or "blur" (Gaussian, sigma in
    pixels). Returns a frame with columns ``level`` and ``score``.
    """
    if kind not in PERTURBATIONS:
        raise GalaxyLabError(f"kind must be one of {', '.join(PERTURBATIONS)}, not {kind!r}")
    rows = []
    for level in levels:
        perturbed = PERTURBATIONS[kind](images, float(level))
        prediction = model.predict(perturbed, batch_size=batch_size, verbose=0)
        rows.append({"level": float(level), "score": float(score(y_true, prediction))})
    return pd.DataFrame(rows)


def robustness_figure(curves: Mapping[str, pd.DataFrame], *, xlabel: str, ylabel: str,
                      title: str, baseline: float | None = None,
                      baseline_label: str = "baseline", ax: Axes | None = None) -> Figure:
    """Score against perturbation level, one line per curve (from :func:`robustness_curve`).

    Draws into ``ax`` when given (e.g. one panel per perturbation), else a new figure.
    """
    if not curves:
        raise GalaxyLabError("robustness_figure needs at least one curve")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    else:
        fig = ax.figure
    for name, curve in curves.items():
        ax.plot(curve["level"], curve["score"], marker="o", label=name)
    if baseline is not None:
        ax.axhline(baseline, color="0.4", linestyle="--", linewidth=1,
                   label=f"{baseline_label}: {baseline:.3f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def perturbation_gallery(image: np.ndarray, kind: str, levels: Sequence[float],
                         unit: str) -> Figure:
    """One image at each perturbation level σ (in ``unit``), so the numbers on a robustness
    curve have a look."""
    if kind not in PERTURBATIONS:
        raise GalaxyLabError(f"kind must be one of {', '.join(PERTURBATIONS)}, not {kind!r}")
    shown = np.stack([PERTURBATIONS[kind](np.asarray(image)[None], float(level))[0]
                      for level in levels])
    return image_grid(shown, [f"σ = {level:g}" for level in levels], ncols=len(levels),
                      title=f"One galaxy with added {kind} (σ in {unit}), as the network sees it")
