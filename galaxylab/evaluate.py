"""Scoring a trained model: ``galaxylab evaluate`` and the challenge submission file.

:func:`evaluate` loads a RUN's model and reads the preprocessing from the ``config.json``
beside it (falling back to the model's input shape), so images are prepared exactly as in
training. When the data is the run's own training source, only the held-out test galaxies are
scored (``"split": "test"``): scoring images the model trained on would flatter it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from galaxylab import datasets, labels, metrics, tree
from galaxylab.backend import import_tensorflow_quietly
from galaxylab.choices import SPLITS
from galaxylab.datasets.catalog import fingerprint
from galaxylab.errors import GalaxyLabError
from galaxylab.preprocessing import Preprocessing
from galaxylab.train import runs

if TYPE_CHECKING:
    import keras

# TensorFlow (keras, galaxylab.models, galaxylab.inference) is imported inside the functions
# that need it, so a bad --model or --data path fails before the slow import.


def baseline(task: str, train_targets: np.ndarray) -> dict:
    """What the dummy predictor learns from the training targets (JSON-ready).

    three-class: the majority class; decision-tree: each column's training mean (None where
    no training galaxy knows the column).
    """
    if task == "three-class":
        majority = int(metrics.majority_baseline(np.asarray(train_targets), 1)[0])
        return {"majority_class": labels.THREE_CLASSES[majority]}
    y = np.asarray(train_targets, dtype=np.float64)
    means = metrics.mean_baseline(y, y[:1])[0]
    known = np.asarray(~np.isnan(y).all(axis=0))
    return {"mean": {c: float(means[i]) if known[i] else None for i, c in enumerate(tree.COLUMNS)}}


def _baseline_scores(task: str, y_true: np.ndarray, base: dict | None) -> dict:
    if not base:
        return {}
    if task == "three-class":
        majority = labels.THREE_CLASSES.index(base["majority_class"])
        summary = metrics.classification_summary(
            y_true, np.full(len(y_true), majority), labels.THREE_CLASSES
        )
        return {"baseline_accuracy": summary["accuracy"], "baseline_macro_f1": summary["macro_f1"]}
    means = np.array(
        [np.nan if base["mean"].get(c) is None else base["mean"][c] for c in tree.COLUMNS]
    )
    columns = metrics.scored_columns(y_true)
    if any(np.isnan(means[tree.COLUMN_INDEX[c]]) for c in columns):
        return {}  # the training set never saw some scored column: no fair baseline
    prediction = np.tile(means, (len(y_true), 1))
    return {"baseline_rmse": metrics.kaggle_rmse(y_true, prediction, columns)}


def score(
    task: str,
    model: keras.Model,
    catalog: pd.DataFrame,
    y_true: np.ndarray,
    *,
    train_targets: np.ndarray | None = None,
    baseline_of: dict | None = None,
    tta: bool = False,
    preprocessing: Preprocessing | None = None,
) -> dict:
    """The task's metrics for ``model`` on ``catalog`` (targets ``y_true``), JSON-ready.

    three-class: labels, accuracy, macro_f1, per_class, confusion_matrix (rows = true, in
    labels order); decision-tree: rmse, columns_scored, rmse_per_question. Beside them the
    dummy baseline, from ``train_targets`` or an already computed ``baseline_of``.
    """
    from galaxylab.inference import predict

    prediction = predict(model, catalog, tta=tta, preprocessing=preprocessing)
    base = baseline(task, train_targets) if train_targets is not None else baseline_of
    out: dict[str, Any] = {"task": task, "n": int(len(catalog))}
    if task == "three-class":
        if prediction.ndim != 2 or prediction.shape[1] != len(labels.THREE_CLASSES):
            raise GalaxyLabError(
                f"the model gives {prediction.shape[1:]} outputs, not the "
                f"{len(labels.THREE_CLASSES)} of the three-class task"
            )
        summary = metrics.classification_summary(
            y_true, prediction.argmax(axis=1), labels.THREE_CLASSES
        )
        out.update(
            {
                key: summary[key]
                for key in ("labels", "accuracy", "macro_f1", "confusion_matrix", "per_class")
            }
        )
    else:
        if prediction.ndim != 2 or prediction.shape[1] != len(tree.COLUMNS):
            raise GalaxyLabError(
                f"the model gives {prediction.shape[1:]} outputs, not the "
                f"{len(tree.COLUMNS)} of the decision-tree task"
            )
        columns = metrics.scored_columns(y_true)
        out.update(
            {
                "rmse": metrics.kaggle_rmse(y_true, prediction, columns),
                "columns_scored": columns,
                "rmse_per_question": metrics.rmse_per_question(y_true, prediction, columns),
            }
        )
    out.update(_baseline_scores(task, y_true, base))
    if tta:
        out["tta"] = "mean over the 8 dihedral views"
    return out


def _check_model_file(model_path: str | os.PathLike) -> None:
    """Refuse a missing model file before any slow import."""
    path = Path(model_path)
    if not path.is_file():
        raise GalaxyLabError(f"{path}: model file not found (is {path.parent} a complete run?)")
    runs.check_finished(path)


def _load(model_path: str | os.PathLike) -> keras.Model:
    import_tensorflow_quietly()
    from galaxylab.models import load_model

    return load_model(model_path)


def _same_path(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and os.path.realpath(a) == os.path.realpath(b)


def _learned_columns(
    config: dict | None, catalog: pd.DataFrame, y_true: np.ndarray, model_path: str | os.PathLike
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Mask the label columns the model was not trained on (its config's label_columns), with
    one warning, and drop galaxies left with nothing to score; returns the columns ignored.

    A model without a config is scored on every column it is given.
    """
    learned = (config or {}).get("label_columns")
    if not learned:
        return catalog, y_true, []
    given = metrics.scored_columns(y_true)
    ignored = [c for c in given if c not in learned]
    if not ignored:
        return catalog, y_true, []
    warnings.warn(
        f"{model_path} was trained on {len(learned)} label columns; ignoring the "
        f"{len(ignored)} others of {catalog.attrs.get('root', 'the data')} "
        f"({', '.join(ignored[:3])}{', ...' if len(ignored) > 3 else ''})",
        stacklevel=3,
    )
    y_true = y_true.copy()
    y_true[:, [tree.COLUMN_INDEX[c] for c in ignored]] = np.nan
    keep = ~np.isnan(y_true).all(axis=1)
    if not keep.any():
        raise GalaxyLabError(
            f"{catalog.attrs.get('root', 'the data')}: knows none of the label columns "
            f"{model_path} was trained on ({', '.join(learned[:3])}, ...)"
        )
    kept = catalog.loc[keep].reset_index(drop=True)
    kept.attrs = dict(catalog.attrs)
    return kept, y_true[keep], ignored


def _warn_single_class(task: str, y_true: np.ndarray, data: str | os.PathLike) -> None:
    """One warning when every scored galaxy is of one class: accuracy then says little."""
    present = np.unique(y_true)
    if task == "three-class" and len(present) == 1:
        warnings.warn(
            f"{data}: all {len(y_true)} scored galaxies are "
            f"{labels.THREE_CLASSES[int(present[0])]}, a single class; accuracy and "
            "macro-F1 say little about telling classes apart",
            stacklevel=3,
        )


def evaluate(
    model_path: str | os.PathLike,
    data: str | os.PathLike,
    *,
    split: str = "auto",
    tta: bool = False,
    drop_bad: bool = False,
) -> dict:
    """Score a trained model on a data source; returns the dict ``galaxylab evaluate`` prints.

    Keys: task, n, split, and for three-class labels, accuracy, macro_f1, confusion_matrix
    (rows = true, in labels order), per_class; for decision-tree rmse, columns_scored,
    rmse_per_question; plus the dummy baseline of the run's training set when known.
    ``split="auto"`` scores only the run's test galaxies when ``data`` is its training
    source (the same galaxies, wherever the folder lies now), "test" insists on that, "all"
    scores every galaxy.
    """
    if split not in SPLITS:
        raise GalaxyLabError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    _check_model_file(model_path)
    config = runs.config_for_model(model_path)
    catalog = datasets.load(data, on_bad="drop" if drop_bad else "error", check_images=True)
    gz1_labels = (config or {}).get("gz1_labels") or "flags"  # as the run was trained
    if config:  # a source unfit for the task fails early
        labels.targets(config["task"], catalog, gz1_labels=gz1_labels)
    model = _load(model_path)
    task, preprocessing = runs.model_settings(model, config, model_path)
    catalog, y_true = labels.targets(task, catalog, gz1_labels=gz1_labels)
    chosen = "all"
    same_source = config is not None and (
        config.get("ids_sha1") == fingerprint(catalog)
        or _same_path(catalog.attrs.get("root"), config.get("data"))
    )
    if split == "test" and not same_source:
        raise GalaxyLabError(
            f"{data}: is not the training source of {model_path}, so it has "
            "no test split; use --split all"
        )
    if split != "all" and config is not None and same_source and config["split"]["test"]:
        keep = catalog["id"].astype(str).isin(set(config["split"]["test"])).to_numpy()
        if not keep.any():
            raise GalaxyLabError(f"{data}: none of the run's test galaxies are in it any more")
        catalog, y_true, chosen = catalog.loc[keep].reset_index(drop=True), y_true[keep], "test"
    ignored: list[str] = []
    if task == "decision-tree":
        catalog, y_true, ignored = _learned_columns(config, catalog, y_true, model_path)
    _warn_single_class(task, y_true, data)
    base = config.get("train_baseline") if config else None
    from galaxylab.train.fit import reading

    with reading(data, "evaluation stopped"):
        result = score(
            task, model, catalog, y_true, baseline_of=base, tta=tta, preprocessing=preprocessing
        )
    if task == "decision-tree":
        result["columns_ignored"] = ignored
    result["split"] = chosen
    return result


def write_submission(
    model_path: str | os.PathLike,
    images_dir: str | os.PathLike,
    out_csv: str | os.PathLike,
    *,
    tta: bool = True,
) -> Path:
    """Write a challenge submission (GalaxyID + the 37 columns) for a folder of images.

    Predictions are averaged over the 8 dihedral views (``tta``), as the winning entries did;
    the CSV is written to a temporary sibling and renamed, so it is never half-written.
    """
    from galaxylab.images import IMAGE_EXTENSIONS, check_image

    images_dir, out_csv = Path(images_dir), Path(out_csv)
    if not images_dir.is_dir():
        raise GalaxyLabError(f"{images_dir}: no such folder")
    files = sorted(
        p for p in images_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        raise GalaxyLabError(f"{images_dir}: holds no .jpg or .png images")
    for path in files:
        result = check_image(path)
        if not result.ok:
            raise GalaxyLabError(f"{path}: {result.problem}")
    _check_model_file(model_path)
    model = _load(model_path)
    task, preprocessing = runs.model_settings(model, runs.config_for_model(model_path), model_path)
    if task != "decision-tree":
        raise GalaxyLabError(
            f"{model_path}: a submission needs a decision-tree model, not a {task} model"
        )
    catalog = pd.DataFrame({"id": [p.stem for p in files], "image": [str(p) for p in files]})
    from galaxylab.inference import predict

    prediction = predict(model, catalog, tta=tta, preprocessing=preprocessing)
    table = pd.DataFrame(prediction, columns=list(tree.COLUMNS))
    table.insert(0, tree.ID_COLUMN, catalog["id"])
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = runs.temporary_sibling(out_csv)
    try:
        table.to_csv(tmp, index=False, float_format="%.6f")
        os.replace(tmp, out_csv)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_csv
